# Part of recurring payments for Odoo. License LGPL-3.
from datetime import date

from freezegun import freeze_time

from odoo import Command
from odoo.tests import tagged

from .common import RecurringPaymentsCommon


@tagged("post_install", "-at_install")
class TestMultiCompany(RecurringPaymentsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other_currency = cls.setup_other_currency("EUR", rates=[("2024-01-01", 2.0)])
        cls.company_2_data = cls.setup_other_company(name="Company Two")
        cls.company_2 = cls.company_2_data["company"]

    @freeze_time("2025-01-01")
    def test_foreign_currency_invoice_and_mrr(self):
        """Invoices in the subscription's currency; MRR in the company's currency."""
        pricelist = self.env["product.pricelist"].create(
            {"name": "EUR", "currency_id": self.other_currency.id}
        )
        subscription = self._create_subscription(
            pricelist_id=pricelist.id, lines=[(self.product_hosting, 1, 100.0)]
        )
        self.assertEqual(subscription.currency_id, self.other_currency)
        # 100 EUR at 2 EUR per company unit is 50 in the company's currency.
        self.assertAlmostEqual(subscription.recurring_monthly, 50.0)
        self.env["recurring.subscription"]._cron_generate_invoices()
        invoice = self._invoices(subscription)
        self.assertEqual(invoice.currency_id, self.other_currency)
        self.assertEqual(invoice.amount_untaxed, 100.0)
        self.assertEqual(invoice.amount_untaxed_signed, 50.0)

    @freeze_time("2025-01-01")
    def test_taxes_through_fiscal_position(self):
        """Line taxes are mapped by the customer's fiscal position and invoiced as mapped."""
        product = self._create_product(
            name="Taxed",
            list_price=100.0,
            recurring_ok=True,
            taxes_id=[Command.set(self.tax_sale_a.ids)],
        )
        customer_abroad = self.env["res.partner"].create(
            {"name": "Abroad", "property_account_position_id": self.fiscal_pos_a.id}
        )
        subscription = self.env["recurring.subscription"].create(
            {
                "partner_id": customer_abroad.id,
                "plan_id": self.plan_monthly.id,
                "date_start": date(2025, 1, 1),
                "line_ids": [Command.create({"product_id": product.id, "quantity": 1})],
            }
        )
        self.assertEqual(subscription.fiscal_position_id, self.fiscal_pos_a)
        self.assertEqual(subscription.line_ids.tax_ids, self.tax_sale_b)
        subscription.action_confirm()
        self.env["recurring.subscription"]._cron_generate_invoices()
        invoice = self._invoices(subscription)
        self.assertEqual(invoice.fiscal_position_id, self.fiscal_pos_a)
        self.assertEqual(invoice.invoice_line_ids.tax_ids, self.tax_sale_b)
        self.assertAlmostEqual(invoice.amount_tax, subscription.amount_tax)
        domestic = self._create_subscription(lines=[(product, 1, 100.0)])
        self.assertEqual(domestic.line_ids.tax_ids, self.tax_sale_a)

    @freeze_time("2025-01-01")
    def test_invoices_in_each_company(self):
        product_2 = self._create_product(
            name="Company 2 product",
            company_id=self.company_2.id,
            taxes_id=[Command.clear()],
            property_account_income_id=self.company_2_data["default_account_revenue"].id,
            property_account_expense_id=self.company_2_data["default_account_expense"].id,
        )
        sub_1 = self._create_subscription()
        sub_2 = (
            self.env["recurring.subscription"]
            .with_company(self.company_2)
            .create(
                {
                    "partner_id": self.customer.id,
                    "plan_id": self.plan_monthly.id,
                    "company_id": self.company_2.id,
                    "date_start": date(2025, 1, 1),
                    "line_ids": [Command.create({"product_id": product_2.id, "price_unit": 10.0})],
                }
            )
        )
        sub_2.action_confirm()
        self.assertTrue(sub_2.name.startswith("SUB/"))
        self.env["recurring.subscription"]._cron_generate_invoices()
        self.assertEqual(self._invoices(sub_1).company_id, self.env.company)
        invoice_2 = self._invoices(sub_2)
        self.assertEqual(invoice_2.company_id, self.company_2)
        self.assertEqual(invoice_2.journal_id.company_id, self.company_2)

    def test_plan_journal_and_terms_used(self):
        journal = self.company_data["default_journal_sale"].copy(
            {"name": "Subscriptions", "code": "SUBS"}
        )
        self.plan_monthly.write(
            {
                "company_id": self.env.company.id,
                "journal_id": journal.id,
                "payment_term_id": self.pay_terms_b.id,
            }
        )
        with freeze_time("2025-01-01"):
            subscription = self._create_subscription()
            self.env["recurring.subscription"]._cron_generate_invoices()
        invoice = self._invoices(subscription)
        self.assertEqual(invoice.journal_id, journal)
        self.assertEqual(invoice.invoice_payment_term_id, self.pay_terms_b)
