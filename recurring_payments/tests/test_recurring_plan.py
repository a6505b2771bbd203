# Part of recurring payments for Odoo. License LGPL-3.
from psycopg2 import IntegrityError

from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import RecurringPaymentsCommon


@tagged("post_install", "-at_install")
class TestRecurringPlan(RecurringPaymentsCommon):
    def test_period_label(self):
        self.assertEqual(self.plan_monthly.period_label, "Monthly")
        self.assertEqual(self.plan_quarterly.period_label, "Every 3 months")

    def test_zero_interval_refused(self):
        """A plan with a zero interval gets a clear error and is not written."""
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"):
            with self.env.cr.savepoint():
                self.env["recurring.plan"].create(
                    {"name": "Broken", "period_unit": "month", "period_interval": 0}
                )
        self.assertFalse(self.env["recurring.plan"].search([("name", "=", "Broken")]))

    def test_billing_day_range(self):
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"):
            with self.env.cr.savepoint():
                self.env["recurring.plan"].create(
                    {"name": "Broken day", "period_unit": "month", "billing_day": 32}
                )

    def test_subscription_count_and_action(self):
        subscription = self._create_subscription(plan=self.plan_quarterly)
        self.assertEqual(self.plan_quarterly.subscription_count, 1)
        action = self.plan_quarterly.action_open_subscriptions()
        self.assertEqual(self.env["recurring.subscription"].search(action["domain"]), subscription)

    def test_zero_interval_refused_on_write(self):
        """Changing a plan to a zero interval gets a clear, translated error; nothing is written."""
        with self.assertRaises(ValidationError), self.env.cr.savepoint():
            self.plan_monthly.period_interval = 0
        self.env.invalidate_all()
        self.assertEqual(self.plan_monthly.period_interval, 1)
