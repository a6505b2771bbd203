# Part of recurring payments for Odoo. License LGPL-3.
from datetime import date

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import RecurringPaymentsCommon


@tagged("post_install", "-at_install")
class TestAccessRights(RecurringPaymentsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_2 = cls.setup_other_company(name="Company Two")["company"]
        cls.invoicing_user = new_test_user(
            cls.env, login="rp_billing", groups="account.group_account_invoice"
        )
        cls.subscription_user = new_test_user(
            cls.env, login="rp_user", groups="recurring_payments.recurring_payments_group_user"
        )
        cls.subscription_manager = new_test_user(
            cls.env,
            login="rp_manager",
            groups="recurring_payments.recurring_payments_group_manager",
        )
        cls.other_company_user = new_test_user(
            cls.env,
            login="rp_other",
            groups="recurring_payments.recurring_payments_group_manager",
            company_id=cls.company_2.id,
            company_ids=[Command.set(cls.company_2.ids)],
        )
        cls.subscription = cls._create_subscription(confirm=False)

    def test_invoicing_user_reads_only(self):
        record = self.subscription.with_user(self.invoicing_user)
        self.assertEqual(record.name, self.subscription.name)
        with self.assertRaises(AccessError):
            record.write({"date_end": date(2030, 1, 1)})
        with self.assertRaises(AccessError):
            self.env["recurring.subscription"].with_user(self.invoicing_user).create(
                {"partner_id": self.customer.id, "plan_id": self.plan_monthly.id}
            )

    def test_user_manages_subscriptions_not_plans(self):
        Subscription = self.env["recurring.subscription"].with_user(self.subscription_user)
        created = Subscription.create(
            {
                "partner_id": self.customer.id,
                "plan_id": self.plan_monthly.id,
                "line_ids": [Command.create({"product_id": self.product_seat.id})],
            }
        )
        created.action_confirm()
        self.assertEqual(created.state, "active")
        with self.assertRaises(AccessError):
            created.unlink()
        with self.assertRaises(AccessError):
            self.plan_monthly.with_user(self.subscription_user).write({"name": "Renamed"})

    def test_manager_configures_and_deletes(self):
        self.plan_monthly.with_user(self.subscription_manager).write({"billing_day": 5})
        self.subscription.with_user(self.subscription_manager).unlink()
        self.assertFalse(self.subscription.exists())

    def test_other_company_cannot_see(self):
        Subscription = self.env["recurring.subscription"].with_user(self.other_company_user)
        self.assertFalse(Subscription.search([("id", "=", self.subscription.id)]))
        with self.assertRaises(AccessError):
            Subscription.browse(self.subscription.id).read(["name"])

    def test_portal_and_public_have_no_access(self):
        portal = new_test_user(self.env, login="rp_portal", groups="base.group_portal")
        with self.assertRaises(AccessError):
            self.env["recurring.subscription"].with_user(portal).search([])
