# Part of recurring payments for Odoo. License LGPL-3.
from datetime import date

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import RecurringPaymentsCommon


@tagged("post_install", "-at_install")
class TestSubscriptionLifecycle(RecurringPaymentsCommon):
    def test_reference_from_sequence(self):
        first = self._create_subscription(confirm=False)
        second = self._create_subscription(confirm=False)
        self.assertTrue(first.name.startswith("SUB/"))
        self.assertNotEqual(first.name, second.name)

    @freeze_time("2025-01-01")
    def test_confirm_without_trial_is_active(self):
        subscription = self._create_subscription(confirm=False)
        self.assertEqual(subscription.state, "draft")
        self.assertFalse(subscription.next_invoice_date)
        subscription.action_confirm()
        self.assertEqual(subscription.state, "active")
        self.assertEqual(subscription.next_invoice_date, date(2025, 1, 1))

    @freeze_time("2025-01-01")
    def test_trial_then_active(self):
        subscription = self._create_subscription(plan=self.plan_trial)
        self.assertEqual(subscription.state, "trial")
        self.assertEqual(subscription.date_trial_end, date(2025, 1, 15))
        self.assertEqual(subscription.next_invoice_date, date(2025, 1, 15))
        with freeze_time("2025-01-14"):
            self.env["recurring.subscription"]._cron_generate_invoices()
            self.assertEqual(subscription.state, "trial")
            self.assertFalse(self._invoices(subscription))
        with freeze_time("2025-01-15"):
            self.env["recurring.subscription"]._cron_generate_invoices()
            self.assertEqual(subscription.state, "active")
            invoice = self._invoices(subscription)
            self.assertEqual(invoice.recurring_period_start, date(2025, 1, 15))
            self.assertEqual(invoice.recurring_period_end, date(2025, 2, 14))

    def test_confirm_needs_lines_and_draft(self):
        subscription = self.env["recurring.subscription"].create(
            {"partner_id": self.customer.id, "plan_id": self.plan_monthly.id}
        )
        with self.assertRaises(UserError):
            subscription.action_confirm()
        active = self._create_subscription()
        with self.assertRaises(UserError):
            active.action_confirm()

    @freeze_time("2025-01-20")
    def test_pause_and_resume_shift_the_next_periods(self):
        subscription = self._create_subscription(start=date(2025, 1, 1))
        self.env["recurring.subscription"]._cron_generate_invoices()
        self.assertEqual(subscription.billed_until, date(2025, 1, 31))
        self._transition(subscription, "pause", date(2025, 1, 20), self.reason_pause)
        self.assertEqual(subscription.state, "paused")
        self.assertEqual(subscription.reason_id, self.reason_pause)
        self.assertFalse(subscription.next_invoice_date, "a paused subscription is not invoiced")
        with freeze_time("2025-02-09"):
            self._transition(subscription, "resume", date(2025, 2, 9))
        self.assertEqual(subscription.state, "active")
        self.assertEqual(subscription.pause_ids.days, 20)
        # The period paid in advance is extended by the 20 days of pause.
        self.assertEqual(subscription.next_invoice_date, date(2025, 2, 21))
        self.assertIn("Resumed", subscription.message_ids[0].body)

    @freeze_time("2025-01-20")
    def test_pause_refused_in_wrong_state_or_future(self):
        subscription = self._create_subscription(confirm=False)
        with self.assertRaises(UserError):
            self._transition(subscription, "pause", date(2025, 1, 20), self.reason_pause)
        subscription.action_confirm()
        with self.assertRaises(UserError):
            self._transition(subscription, "pause", date(2025, 1, 25), self.reason_pause)
        with self.assertRaises(UserError, msg="a pause needs a reason"):
            self._transition(subscription, "pause", date(2025, 1, 20))
        with self.assertRaises(UserError):
            self._transition(subscription, "resume", date(2025, 1, 20))

    @freeze_time("2025-03-10")
    def test_suspend_and_reinstate(self):
        subscription = self._create_subscription(start=date(2025, 3, 1))
        subscription._recurring_create_invoices(date(2025, 3, 10))
        subscription.state = "past_due"
        self._transition(subscription, "suspend", date(2025, 3, 10), self.reason_suspend)
        self.assertEqual(subscription.state, "suspended")
        self.assertEqual(subscription.pause_ids.kind, "suspension")
        self.assertFalse(subscription.next_invoice_date)
        with freeze_time("2025-03-15"):
            self._transition(subscription, "reinstate", date(2025, 3, 15))
        self.assertEqual(
            subscription.state, "past_due", "reinstated in the state it was suspended from"
        )
        subscription.action_set_active()
        self.assertEqual(subscription.state, "active")
        self.assertEqual(subscription.next_invoice_date, date(2025, 4, 6))

    def test_set_active_only_from_past_due(self):
        subscription = self._create_subscription()
        with self.assertRaises(UserError):
            subscription.action_set_active()

    @freeze_time("2025-02-10")
    def test_cancel_now_without_credit(self):
        subscription = self._create_subscription(start=date(2025, 1, 1))
        self.env["recurring.subscription"]._cron_generate_invoices()
        self._transition(subscription, "cancel", date(2025, 2, 10), self.reason_cancel)
        self.assertEqual(subscription.state, "cancelled")
        self.assertEqual(subscription.date_end, date(2025, 2, 9))
        self.assertEqual(subscription.reason_id, self.reason_cancel)
        self.assertFalse(subscription.next_invoice_date)
        self.assertFalse(self._invoices(subscription, "out_refund"))
        with self.assertRaises(UserError):
            self._transition(subscription, "cancel", date(2025, 2, 10), self.reason_cancel)

    @freeze_time("2025-01-10")
    def test_cancel_in_the_future_closes_later(self):
        subscription = self._create_subscription(start=date(2025, 1, 1))
        self.env["recurring.subscription"]._cron_generate_invoices()
        self._transition(subscription, "cancel", date(2025, 3, 1), self.reason_cancel)
        self.assertEqual(subscription.state, "active")
        self.assertEqual(subscription.date_end, date(2025, 2, 28))
        with freeze_time("2025-02-01"):
            self.env["recurring.subscription"]._cron_generate_invoices()
        self.assertEqual(len(self._invoices(subscription)), 2)
        with freeze_time("2025-03-01"):
            self.env["recurring.subscription"]._cron_generate_invoices()
        self.assertEqual(subscription.state, "cancelled")
        self.assertEqual(len(self._invoices(subscription)), 2)

    @freeze_time("2025-01-01")
    def test_end_date_closes(self):
        subscription = self._create_subscription(start=date(2025, 1, 1), date_end=date(2025, 1, 31))
        self.env["recurring.subscription"]._cron_generate_invoices()
        with freeze_time("2025-02-01"):
            self.env["recurring.subscription"]._cron_generate_invoices()
        self.assertEqual(subscription.state, "closed")
        self.assertEqual(len(self._invoices(subscription)), 1)

    def test_draft_reset_and_unlink(self):
        subscription = self._create_subscription(confirm=False)
        self._transition(subscription, "cancel", subscription.date_start, self.reason_cancel)
        self.assertEqual(subscription.state, "cancelled")
        subscription.action_draft()
        self.assertEqual(subscription.state, "draft")
        subscription.unlink()
        self.assertFalse(subscription.exists())

    @freeze_time("2025-01-01")
    def test_unlink_refused_when_invoiced(self):
        subscription = self._create_subscription()
        self.env["recurring.subscription"]._cron_generate_invoices()
        with self.assertRaises(UserError):
            subscription.unlink()

    def test_end_before_start_refused(self):
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self._create_subscription(start=date(2025, 2, 1), date_end=date(2025, 1, 1))

    def test_token_of_another_customer_refused(self):
        provider = self.env["payment.provider"].search(
            [("code", "=", "none")], limit=1
        ) or self.env["payment.provider"].create({"name": "Test provider", "code": "none"})
        other = self.env["res.partner"].create({"name": "Someone else"})
        token = self.env["payment.token"].create(
            {
                "provider_id": provider.id,
                "payment_method_id": self.env.ref("payment.payment_method_unknown").id,
                "partner_id": other.id,
                "provider_ref": "ref-other",
                "payment_details": "4242",
            }
        )
        subscription = self._create_subscription()
        with self.assertRaises(ValidationError):
            subscription.write({"payment_mode": "token", "payment_token_id": token.id})

    def test_partner_smart_button(self):
        subscription = self._create_subscription()
        self.assertEqual(self.customer.recurring_subscription_count, 1)
        action = self.customer.action_view_recurring_subscriptions()
        self.assertEqual(self.env["recurring.subscription"].search(action["domain"]), subscription)

    @freeze_time("2025-03-01")
    def test_mrr_of_quarterly_plan(self):
        subscription = self._create_subscription(
            plan=self.plan_quarterly, lines=[(self.product_hosting, 1, 90.0)]
        )
        self.assertAlmostEqual(subscription.recurring_monthly, 30.0)
        self._transition(subscription, "cancel", date(2025, 3, 1), self.reason_cancel)
        self.assertEqual(subscription.recurring_monthly, 0.0)
