# Part of recurring payments for Odoo. License LGPL-3.
from datetime import date

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import RecurringPaymentsCommon


@tagged("post_install", "-at_install")
class TestProration(RecurringPaymentsCommon):
    @freeze_time("2025-01-15")
    def test_mid_period_start_bills_the_used_fraction(self):
        """B-7: a start on 15 January with billing on the 1st bills 17/31 of the month, to the cent."""  # noqa: E501
        subscription = self._create_subscription(
            plan=self.plan_monthly_first,
            start=date(2025, 1, 15),
            lines=[(self.product_hosting, 3, 10.0), (self.product_seat, 1, 12.5)],
        )
        self.env["recurring.subscription"]._cron_generate_invoices()
        invoice = self._invoices(subscription)
        self.assertEqual(
            (invoice.recurring_period_start, invoice.recurring_period_end),
            (date(2025, 1, 15), date(2025, 1, 31)),
        )
        # 30.00 × 17/31 = 16.4516… → 16.45 ; 12.50 × 17/31 = 6.8548… → 6.85
        self.assertEqual(invoice.invoice_line_ids.mapped("price_subtotal"), [16.45, 6.85])
        self.assertEqual(invoice.amount_untaxed, 23.30)
        self.assertIn("17 of 31 days", invoice.invoice_line_ids[0].name)
        with freeze_time("2025-02-01"):
            self.env["recurring.subscription"]._cron_generate_invoices()
        february = self._invoices(subscription)[1]
        self.assertEqual(february.amount_untaxed, 42.50)

    @freeze_time("2025-04-16")
    def test_quantity_change_in_advance(self):
        """B-7: a quantity change on day 16 of a 30-day period bills 15/30 of the difference."""
        subscription = self._create_subscription(
            plan=self.plan_monthly_first,
            start=date(2025, 4, 1),
            lines=[(self.product_seat, 2, 15.0)],
        )
        subscription._recurring_create_invoices(date(2025, 4, 1))
        wizard = self.env["recurring.subscription.change.wizard"].create(
            {"subscription_id": subscription.id, "date": date(2025, 4, 16)}
        )
        wizard.line_ids.quantity = 3
        wizard.action_apply()
        adjustment = self._invoices(subscription).filtered("recurring_adjustment")
        self.assertEqual(adjustment.move_type, "out_invoice")
        # (45.00 - 30.00) × 15/30 = 7.50
        self.assertEqual(adjustment.amount_untaxed, 7.50)
        self.assertEqual(subscription.line_ids.quantity, 3)
        self.assertEqual(subscription.amount_untaxed, 45.0)

    @freeze_time("2025-04-11")
    def test_price_decrease_in_advance_is_credited(self):
        """B-7: a downgrade credits the unused days at the old price, to the cent."""
        subscription = self._create_subscription(
            plan=self.plan_monthly_first,
            start=date(2025, 4, 1),
            lines=[(self.product_hosting, 1, 31.0)],
        )
        subscription._recurring_create_invoices(date(2025, 4, 1))
        wizard = self.env["recurring.subscription.change.wizard"].create(
            {"subscription_id": subscription.id, "date": date(2025, 4, 11)}
        )
        wizard.line_ids.price_unit = 19.0
        wizard.action_apply()
        credit = self._invoices(subscription, "out_refund")
        # (19 - 31) × 20/30 = -8.00
        self.assertEqual(credit.amount_untaxed, 8.00)
        self.assertTrue(credit.recurring_adjustment)

    @freeze_time("2025-04-21")
    def test_change_in_arrears(self):
        """B-7: in arrears the whole period is billed at the new amount and the used days corrected."""  # noqa: E501
        subscription = self._create_subscription(
            plan=self.plan_arrears, start=date(2025, 4, 1), lines=[(self.product_seat, 1, 30.0)]
        )
        wizard = self.env["recurring.subscription.change.wizard"].create(
            {"subscription_id": subscription.id, "date": date(2025, 4, 21)}
        )
        wizard.line_ids.quantity = 2
        wizard.action_apply()
        credit = self._invoices(subscription, "out_refund")
        # The 20 days at the old amount: (30 - 60) × 20/30 = -20.00
        self.assertEqual(credit.amount_untaxed, 20.0)
        with freeze_time("2025-05-01"):
            self.env["recurring.subscription"]._cron_generate_invoices()
        april = self._invoices(subscription).filtered(lambda m: not m.recurring_adjustment)
        self.assertEqual(april.amount_untaxed, 60.0)
        # 60 - 20 = 40 = 20 days at 30 + 10 days at 60, exactly.
        self.assertEqual(april.amount_untaxed - credit.amount_untaxed, 40.0)

    @freeze_time("2025-04-01")
    def test_change_without_proration_applies_next_period(self):
        subscription = self._create_subscription(
            plan=self.plan_monthly_first,
            start=date(2025, 4, 1),
            lines=[(self.product_seat, 1, 30.0)],
        )
        subscription._recurring_create_invoices(date(2025, 4, 1))
        wizard = self.env["recurring.subscription.change.wizard"].create(
            {"subscription_id": subscription.id, "date": date(2025, 4, 1), "prorate": False}
        )
        wizard.line_ids.quantity = 4
        wizard.action_apply()
        self.assertFalse(self._invoices(subscription).filtered("recurring_adjustment"))
        self.assertEqual(subscription.amount_untaxed, 120.0)

    @freeze_time("2025-04-11")
    def test_cancellation_credits_the_unused_days(self):
        """B-7: cancelling on 11 April credits 20/30 of April, per line, to the cent."""
        subscription = self._create_subscription(
            plan=self.plan_monthly_first,
            start=date(2025, 4, 1),
            lines=[(self.product_hosting, 1, 29.99), (self.product_seat, 2, 12.5)],
        )
        subscription._recurring_create_invoices(date(2025, 4, 1))
        self._transition(
            subscription, "cancel", date(2025, 4, 11), self.reason_cancel, credit_unused=True
        )
        credit = self._invoices(subscription, "out_refund")
        # 29.99 × 20/30 = 19.9933… → 19.99 ; 25.00 × 20/30 = 16.666… → 16.67
        self.assertEqual(credit.invoice_line_ids.mapped("price_subtotal"), [19.99, 16.67])
        self.assertEqual(credit.state, "posted")
        self.assertEqual(subscription.state, "cancelled")
        self.assertIn(credit.name, subscription.message_ids[0].body)

    @freeze_time("2025-01-01")
    def test_prorated_line_keeps_discount_exact(self):
        subscription = self._create_subscription(
            plan=self.plan_monthly_first,
            start=date(2025, 1, 20),
            lines=[(self.product_seat, 3, 9.99)],
        )
        subscription.line_ids.discount = 15.0
        with freeze_time("2025-01-20"):
            self.env["recurring.subscription"]._cron_generate_invoices()
        invoice = self._invoices(subscription)
        # 3 × 9.99 × 0.85 = 25.4745 ; × 12/31 = 9.861… → 9.86
        self.assertEqual(invoice.amount_untaxed, 9.86)

    def test_section_lines_are_not_prorated(self):
        subscription = self._create_subscription(
            confirm=False, plan=self.plan_monthly_first, start=date(2025, 1, 20)
        )
        subscription.line_ids = [Command.create({"display_type": "line_note", "name": "Note"})]
        self.assertEqual(subscription.amount_untaxed, 30.0)

    @freeze_time("2025-04-16")
    def test_plan_change_in_advance(self):
        """B-7: a plan change on day 16 credits the old plan's 15 unused days and starts the new plan."""  # noqa: E501
        subscription = self._create_subscription(
            plan=self.plan_monthly_first,
            start=date(2025, 4, 1),
            lines=[(self.product_seat, 1, 30.0)],
        )
        subscription._recurring_create_invoices(date(2025, 4, 1))
        wizard = self.env["recurring.subscription.change.wizard"].create(
            {"subscription_id": subscription.id, "date": date(2025, 4, 16)}
        )
        wizard.plan_id = self.plan_quarterly
        wizard.line_ids.price_unit = 90.0
        wizard.action_apply()
        self.assertEqual(subscription.plan_id, self.plan_quarterly)
        self.assertEqual(subscription.date_schedule_start, date(2025, 4, 16))
        credit = self._invoices(subscription, "out_refund")
        # 30.00 × 15/30 = 15.00: the old plan is paid for 15 days exactly.
        self.assertEqual(credit.amount_untaxed, 15.0)
        self.env["recurring.subscription"]._cron_generate_invoices()
        new = self._invoices(subscription).filtered(
            lambda m: m.recurring_plan_id == self.plan_quarterly
        )
        self.assertEqual(
            (new.recurring_period_start, new.recurring_period_end),
            (date(2025, 4, 16), date(2025, 7, 15)),
        )
        self.assertEqual(new.amount_untaxed, 90.0)
        self.assertEqual(subscription.next_invoice_date, date(2025, 7, 16))
        self.assertIn("Plan changed", subscription.message_ids[0].body)

    @freeze_time("2025-04-21")
    def test_plan_change_in_arrears(self):
        """B-7: in arrears a plan change invoices the 20 used days of the old plan at once."""
        subscription = self._create_subscription(
            plan=self.plan_arrears, start=date(2025, 4, 1), lines=[(self.product_seat, 1, 30.0)]
        )
        subscription._recurring_change_plan(self.plan_monthly, date(2025, 4, 21))
        old = self._invoices(subscription)
        self.assertEqual(
            (old.recurring_period_start, old.recurring_period_end),
            (date(2025, 4, 1), date(2025, 4, 20)),
        )
        # 30.00 × 20/30 = 20.00
        self.assertEqual(old.amount_untaxed, 20.0)
        self.assertEqual(subscription.billed_until, date(2025, 4, 20))
        self.assertEqual(subscription.next_invoice_date, date(2025, 4, 21))

    @freeze_time("2025-04-01")
    def test_plan_change_on_the_first_day_of_a_billed_period(self):
        """Changing plan on a billed period's first day credits it all; the new plan bills from it."""  # noqa: E501
        subscription = self._create_subscription(
            plan=self.plan_monthly_first,
            start=date(2025, 4, 1),
            lines=[(self.product_seat, 1, 30.0)],
        )
        subscription._recurring_create_invoices(date(2025, 4, 1))
        subscription._recurring_change_plan(self.plan_monthly, date(2025, 4, 1))
        self.assertEqual(self._invoices(subscription, "out_refund").amount_untaxed, 30.0)
        self.env["recurring.subscription"]._cron_generate_invoices()
        invoices = self._invoices(subscription).filtered(lambda m: not m.recurring_adjustment)
        self.assertEqual(len(invoices), 2, "same period start, different plan: both allowed once")

    @freeze_time("2025-04-10")
    def test_plan_change_refused_in_the_future_or_when_ended(self):
        subscription = self._create_subscription(start=date(2025, 4, 1))
        with self.assertRaises(UserError):
            subscription._recurring_change_plan(self.plan_quarterly, date(2025, 4, 20))
        with self.assertRaises(UserError):
            subscription._recurring_change_plan(self.plan_quarterly, date(2025, 3, 20))
        self._transition(subscription, "cancel", date(2025, 4, 10), self.reason_cancel)
        with self.assertRaises(UserError):
            subscription._recurring_change_plan(self.plan_quarterly, date(2025, 4, 10))
