# Part of recurring payments for Odoo. License LGPL-3.
from datetime import date

from odoo import Command

from odoo.addons.account.tests.common import AccountTestInvoicingCommon


class RecurringPaymentsCommon(AccountTestInvoicingCommon):
    """Plans, products and a customer shared by the recurring_payments tests (no demo data)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.currency = cls.company_data["currency"]
        cls.product_hosting = cls._create_product(
            name="Hosting", list_price=30.0, recurring_ok=True, taxes_id=[Command.clear()]
        )
        cls.product_seat = cls._create_product(
            name="Seat", list_price=12.5, recurring_ok=True, taxes_id=[Command.clear()]
        )
        cls.plan_monthly = cls.env["recurring.plan"].create(
            {"name": "Monthly", "period_unit": "month", "period_interval": 1, "auto_send": False}
        )
        cls.plan_monthly_first = cls.env["recurring.plan"].create(
            {
                "name": "Monthly on the 1st",
                "period_unit": "month",
                "billing_day": 1,
                "auto_send": False,
            }
        )
        cls.plan_quarterly = cls.env["recurring.plan"].create(
            {"name": "Quarterly", "period_unit": "month", "period_interval": 3, "auto_send": False}
        )
        cls.plan_arrears = cls.env["recurring.plan"].create(
            {
                "name": "Monthly in arrears",
                "period_unit": "month",
                "billing_mode": "arrears",
                "auto_send": False,
            }
        )
        cls.plan_trial = cls.env["recurring.plan"].create(
            {
                "name": "Monthly with trial",
                "period_unit": "month",
                "trial_interval": 14,
                "trial_unit": "day",
                "auto_send": False,
            }
        )
        cls.customer = cls.env["res.partner"].create(
            {"name": "Zoë Customer", "email": "zoe@example.com", "company_id": False}
        )
        cls.reason_cancel = cls.env.ref("recurring_payments.recurring_reason_cancel_price")
        cls.reason_pause = cls.env.ref("recurring_payments.recurring_reason_pause_holiday")
        cls.reason_suspend = cls.env.ref("recurring_payments.recurring_reason_suspend_unpaid")

    @classmethod
    def _create_subscription(
        cls, plan=None, start=date(2025, 1, 1), lines=None, confirm=True, **vals
    ):
        """Create (and start) a subscription; ``lines`` are (product, quantity, price) tuples."""
        lines = lines or [(cls.product_hosting, 1, 30.0)]
        subscription = cls.env["recurring.subscription"].create(
            {
                "partner_id": cls.customer.id,
                "plan_id": (plan or cls.plan_monthly).id,
                "date_start": start,
                "line_ids": [
                    Command.create(
                        {"product_id": product.id, "quantity": quantity, "price_unit": price}
                    )
                    for product, quantity, price in lines
                ],
                **vals,
            }
        )
        if confirm:
            subscription.action_confirm()
        return subscription

    def _transition(self, subscriptions, transition, when, reason=None, **vals):
        wizard = self.env["recurring.subscription.transition.wizard"].create(
            {
                "subscription_ids": [Command.set(subscriptions.ids)],
                "transition": transition,
                "date": when,
                "reason_id": reason.id if reason else False,
                **vals,
            }
        )
        return wizard.action_apply()

    def _invoices(self, subscription, move_type="out_invoice"):
        return self.env["account.move"].search(
            [("recurring_subscription_id", "=", subscription.id), ("move_type", "=", move_type)],
            order="recurring_period_start, id",
        )
