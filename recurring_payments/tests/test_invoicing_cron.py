# Part of recurring payments for Odoo. License LGPL-3.
from datetime import date
from unittest.mock import patch

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..models.recurring_subscription import RecurringSubscription
from .common import RecurringPaymentsCommon


@tagged("post_install", "-at_install")
class TestInvoicingCron(RecurringPaymentsCommon):
    def _run_cron(self, **kwargs):
        return self.env["recurring.subscription"]._cron_generate_invoices(**kwargs)

    @freeze_time("2025-01-01")
    def test_invoice_content(self):
        subscription = self._create_subscription(
            lines=[(self.product_hosting, 2, 30.0), (self.product_seat, 3, 12.5)],
        )
        subscription.line_ids[1].discount = 10.0
        self._run_cron()
        invoice = self._invoices(subscription)
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(invoice.partner_id, self.customer)
        self.assertEqual(invoice.invoice_origin, subscription.name)
        self.assertEqual(invoice.invoice_date, date(2025, 1, 1))
        self.assertEqual(
            (invoice.recurring_period_start, invoice.recurring_period_end),
            (date(2025, 1, 1), date(2025, 1, 31)),
        )
        self.assertRecordValues(
            invoice.invoice_line_ids,
            [
                {
                    "product_id": self.product_hosting.id,
                    "quantity": 2.0,
                    "price_subtotal": 60.0,
                    "recurring_period_start": date(2025, 1, 1),
                    "recurring_period_end": date(2025, 1, 31),
                },
                {
                    "product_id": self.product_seat.id,
                    "quantity": 3.0,
                    "price_subtotal": 33.75,
                    "recurring_period_start": date(2025, 1, 1),
                    "recurring_period_end": date(2025, 1, 31),
                },
            ],
        )
        self.assertEqual(invoice.amount_untaxed, 93.75)
        self.assertEqual(subscription.invoice_count, 1)
        self.assertEqual(subscription.billed_until, date(2025, 1, 31))
        self.assertEqual(subscription.next_invoice_date, date(2025, 2, 1))

    @freeze_time("2025-01-15")
    def test_rerun_same_day_creates_nothing(self):
        """B-2: re-running the cron on the same day creates no new invoice."""
        subscription = self._create_subscription(start=date(2025, 1, 15))
        self.assertEqual(self._run_cron(), 1)
        self.assertEqual(self._run_cron(), 0)
        self.assertEqual(len(self._invoices(subscription)), 1)

    @freeze_time("2025-01-15")
    def test_second_invoice_for_a_period_is_impossible(self):
        """B-2: a database constraint refuses a second invoice for the same subscription and period."""  # noqa: E501
        subscription = self._create_subscription(start=date(2025, 1, 15))
        self._run_cron()
        event = subscription._recurring_terms()
        from recurring_payments_core.schedule import iter_billing_events

        first = next(iter_billing_events(event))
        vals = subscription._recurring_prepare_invoice_vals(first, date(2025, 1, 15))
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.env["account.move"].create(vals)
            self.env.flush_all()

    @freeze_time("2025-01-15")
    def test_rollback_after_invoicing_rebills_once(self):
        """B-2: invoice and billing date move together; a rollback undoes both."""
        subscription = self._create_subscription(start=date(2025, 1, 15))
        with self.assertRaises(ZeroDivisionError), self.env.cr.savepoint():
            subscription._recurring_create_invoices(date(2025, 1, 15))
            self.assertEqual(subscription.billed_until, date(2025, 2, 14))
            raise ZeroDivisionError  # a crash before the commit
        self.env.invalidate_all()
        self.assertFalse(subscription.billed_until)
        self.assertFalse(self._invoices(subscription))
        self._run_cron()
        self.assertEqual(len(self._invoices(subscription)), 1)

    @freeze_time("2025-05-10")
    def test_catch_up_missed_periods(self):
        """B-3: k missed periods give k invoices, one per period, in order, in one run."""
        subscription = self._create_subscription(start=date(2025, 1, 10))
        self._run_cron()
        invoices = self._invoices(subscription)
        self.assertEqual(len(invoices), 5)
        self.assertEqual(
            [(m.recurring_period_start, m.recurring_period_end) for m in invoices],
            [
                (date(2025, 1, 10), date(2025, 2, 9)),
                (date(2025, 2, 10), date(2025, 3, 9)),
                (date(2025, 3, 10), date(2025, 4, 9)),
                (date(2025, 4, 10), date(2025, 5, 9)),
                (date(2025, 5, 10), date(2025, 6, 9)),
            ],
        )
        self.assertEqual(
            invoices.mapped("name"),
            sorted(invoices.mapped("name")),
            "numbered in the order of the periods",
        )
        self.assertEqual(subscription.next_invoice_date, date(2025, 6, 10))

    @freeze_time("2025-04-01")
    def test_arrears_invoiced_after_the_period(self):
        subscription = self._create_subscription(plan=self.plan_arrears, start=date(2025, 1, 1))
        self._run_cron()
        self.assertEqual(
            [
                (m.recurring_period_start, m.recurring_period_end)
                for m in self._invoices(subscription)
            ],
            [
                (date(2025, 1, 1), date(2025, 1, 31)),
                (date(2025, 2, 1), date(2025, 2, 28)),
                (date(2025, 3, 1), date(2025, 3, 31)),
            ],
        )
        self.assertEqual(subscription.next_invoice_date, date(2025, 5, 1))

    @freeze_time("2025-01-01")
    def test_partial_failure_isolated(self):
        """B-5: one failing subscription is rolled back alone, flagged, and the run goes on."""
        subscriptions = self.env["recurring.subscription"]
        for _i in range(5):
            subscriptions |= self._create_subscription(start=date(2025, 1, 1))
        bad = subscriptions[2]
        original = RecurringSubscription._recurring_prepare_invoice_vals

        def prepare(self_, event, invoice_date):
            if self_ == bad:
                raise UserError("The customer has no invoice address.")  # pylint: disable=translation-required
            return original(self_, event, invoice_date)

        with (
            patch.object(RecurringSubscription, "_recurring_prepare_invoice_vals", prepare),
            mute_logger("odoo.addons.recurring_payments.models.recurring_subscription"),
        ):
            done = self._run_cron(batch_size=2)
        self.assertEqual(done, 5)
        for subscription in subscriptions - bad:
            self.assertEqual(len(self._invoices(subscription)), 1)
            self.assertFalse(subscription.invoicing_error)
        self.assertFalse(self._invoices(bad))
        self.assertFalse(bad.billed_until)
        self.assertEqual(bad.invoicing_error, "The customer has no invoice address.")
        self.assertEqual(bad.invoicing_error_date, date(2025, 1, 1))
        self.assertEqual(bad.activity_ids.summary, "Automatic invoicing failed")
        # Not taken again today; retried the next day, then the flag is cleared.
        self.assertEqual(self._run_cron(), 0)
        with freeze_time("2025-01-02"):
            self.assertEqual(self._run_cron(), 1)
        self.assertEqual(len(self._invoices(bad)), 1)
        self.assertFalse(bad.invoicing_error)

    @freeze_time("2025-01-01")
    def test_progress_per_batch(self):
        """B-6: with 3 × batch + 1 due subscriptions one call reports progress per batch."""
        batch = 3
        count = 3 * batch + 1
        subscriptions = self.env["recurring.subscription"]
        for _i in range(count):
            subscriptions |= self._create_subscription(start=date(2025, 1, 1))
        cron = self.env.ref("recurring_payments.recurring_subscription_cron_generate_invoices")
        progress = self.env["ir.cron.progress"].create(
            {"cron_id": cron.id, "done": 0, "remaining": 0}
        )
        reports = []
        IrCron = type(self.env["ir.cron"])
        original = IrCron._notify_progress

        def notify(self_, *, done, remaining, deactivate=False):
            reports.append((done, remaining))
            return original(self_, done=done, remaining=remaining, deactivate=deactivate)

        with patch.object(IrCron, "_notify_progress", notify):
            self.env["recurring.subscription"].with_context(
                ir_cron_progress_id=progress.id
            )._cron_generate_invoices(batch_size=batch)
        self.assertEqual(reports, [(3, 7), (6, 4), (9, 1), (10, 0)])
        self.assertEqual((progress.done, progress.remaining), (10, 0))
        self.assertEqual(
            self.env["account.move"].search_count(
                [("recurring_subscription_id", "in", subscriptions.ids)]
            ),
            count,
        )

    @freeze_time("2025-01-01")
    def test_time_budget_hands_back_to_the_scheduler(self):
        """Past its time budget a call stops after the batch and reports what remains."""
        for _i in range(4):
            self._create_subscription(start=date(2025, 1, 1))
        done = self._run_cron(batch_size=3, time_budget=-1)
        self.assertEqual(done, 3)
        self.assertEqual(
            self.env["recurring.subscription"]._recurring_count_due(date(2025, 1, 1)), 1
        )
        self.assertEqual(self._run_cron(batch_size=3), 1)

    @freeze_time("2025-01-01")
    def test_queries_per_subscription_bounded(self):
        """P-1: invoicing 2× more subscriptions costs at most a constant number of queries each."""

        def queries_for(count):
            for _i in range(count):
                self._create_subscription(start=date(2025, 1, 1))
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            self._run_cron(batch_size=100)
            return self.env.cr.sql_log_count - before

        small = queries_for(10)
        large = queries_for(20)
        per_subscription = (large - small) / 10
        self.assertLess(per_subscription, 45, f"{small} queries for 10, {large} for 20")

    @freeze_time("2025-01-01")
    def test_states_not_invoiced(self):
        draft = self._create_subscription(confirm=False)
        paused = self._create_subscription()
        self._transition(paused, "pause", date(2025, 1, 1), self.reason_pause)
        self._run_cron()
        self.assertFalse(self._invoices(draft))
        self.assertFalse(self._invoices(paused))

    @freeze_time("2025-01-01")
    def test_sending_queued_when_plan_says_so(self):
        self.plan_monthly.auto_send = True
        subscription = self._create_subscription()
        self._run_cron()
        invoice = self._invoices(subscription)
        self.assertTrue(invoice.sending_data)
        self.assertEqual(invoice.sending_data["sending_methods"], ["email"])
        self.plan_quarterly.auto_send = False
        quiet = self._create_subscription(plan=self.plan_quarterly)
        self._run_cron()
        self.assertFalse(self._invoices(quiet).sending_data)

    @freeze_time("2025-01-10")
    def test_generate_now(self):
        """ "Generate invoice now" bills what is due, else the next period ahead of time."""
        subscription = self._create_subscription(start=date(2025, 1, 10))
        subscription.action_generate_invoice()
        self.assertEqual(len(self._invoices(subscription)), 1)
        action = subscription.action_generate_invoice()
        invoices = self._invoices(subscription)
        self.assertEqual(len(invoices), 2)
        self.assertEqual(invoices[1].recurring_period_start, date(2025, 2, 10))
        self.assertEqual(action["res_id"], invoices[1].id)
        self.assertEqual(subscription.next_invoice_date, date(2025, 3, 10))
        self.assertEqual(self._run_cron(), 0, "the cron does not bill again what was billed early")

    @freeze_time("2025-01-10")
    def test_generate_now_refused_when_ended_or_draft(self):
        draft = self._create_subscription(confirm=False)
        with self.assertRaises(UserError):
            draft.action_generate_invoice()

    @freeze_time("2025-03-10")
    def test_dry_run_matches_the_run(self):
        subscription = self._create_subscription(start=date(2025, 1, 10))
        other = self._create_subscription(
            plan=self.plan_quarterly, start=date(2025, 3, 10), lines=[(self.product_seat, 2, 12.5)]
        )
        action = self.env["recurring.subscription"].action_invoicing_preview()
        preview = self.env["recurring.invoicing.preview"].browse(action["res_id"])
        self.assertEqual(preview.invoice_count, 4)
        self.assertEqual(preview.subscription_count, 2)
        self.assertFalse(self._invoices(subscription), "a dry run creates nothing")
        expected = sorted(
            (line.subscription_id.id, line.period_start, line.amount_untaxed)
            for line in preview.line_ids
        )
        self._run_cron()
        created = sorted(
            (m.recurring_subscription_id.id, m.recurring_period_start, m.amount_untaxed)
            for m in self._invoices(subscription) | self._invoices(other)
        )
        self.assertEqual(created, expected)

    @freeze_time("2025-01-01")
    def test_cron_record_runs_the_method(self):
        cron = self.env.ref("recurring_payments.recurring_subscription_cron_generate_invoices")
        subscription = self._create_subscription()
        cron.method_direct_trigger()
        self.assertEqual(len(self._invoices(subscription)), 1)

    @freeze_time("2025-01-01")
    def test_invoice_lines_follow_sections(self):
        subscription = self._create_subscription()
        subscription.line_ids = [
            Command.create({"display_type": "line_section", "name": "Services", "sequence": 1})
        ]
        self._run_cron()
        invoice = self._invoices(subscription)
        self.assertEqual(
            invoice.invoice_line_ids.mapped("display_type"), ["line_section", "product"]
        )

    @freeze_time("2025-01-15")
    def test_invoice_texts_in_the_customer_language(self):
        """Invoice lines are written in the customer's language, not the cron user's."""
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(
            ["recurring_payments"], ["fr_FR"], overwrite=True
        )
        self.customer.lang = "fr_FR"
        subscription = self._create_subscription(
            plan=self.plan_monthly_first, start=date(2025, 1, 15)
        )
        self.env["recurring.subscription"].with_context(lang="en_US")._cron_generate_invoices()
        name = self._invoices(subscription).invoice_line_ids.name
        self.assertIn("Période : du 15/01/2025 au 31/01/2025", name)
        self.assertIn("au prorata : 17 jours sur 31", name)
