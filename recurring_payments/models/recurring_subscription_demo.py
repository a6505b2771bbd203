# Part of recurring payments for Odoo. License LGPL-3.
from dateutil.relativedelta import relativedelta
from schwifty import IBAN

from odoo import api, fields, models

#: (customer name, city, country code, plan xmlid, product xmlids and quantities,
#:  months since start, state to reach)
DEMO_SUBSCRIPTIONS = [
    ("Atelier Dubois", "Lyon", "FR", "monthly", [("basic", 1)], 5, "active"),
    ("Boulangerie Martin", "Paris", "FR", "monthly_first", [("pro", 1), ("seat", 2)], 8, "active"),
    ("Cabinet Leroy", "Lille", "FR", "quarterly", [("pro", 2)], 7, "active"),
    ("Domaine Moreau", "Bordeaux", "FR", "yearly", [("magazine", 1)], 14, "active"),
    ("Éditions Petit", "Nantes", "FR", "monthly", [("basic", 1), ("seat", 1)], 3, "active"),
    ("Fromagerie Roux", "Annecy", "FR", "usage", [("seat", 4)], 4, "active"),
    ("Garage Fournier", "Rennes", "FR", "monthly", [("basic", 1)], 2, "paused"),
    ("Hôtel Girard", "Nice", "FR", "monthly_first", [("pro", 1)], 6, "past_due"),
    ("Imprimerie Bonnet", "Tours", "FR", "quarterly", [("basic", 3)], 9, "suspended"),
    ("Jardins Lambert", "Dijon", "FR", "monthly", [("basic", 1)], 10, "cancelled"),
    ("Kiosque Fontaine", "Metz", "FR", "monthly", [("magazine", 1)], 0, "trial"),
    ("Librairie Chevalier", "Caen", "FR", "monthly", [("seat", 3)], 0, "draft"),
    ("Müller Bau GmbH", "München", "DE", "monthly_first", [("pro", 1), ("seat", 5)], 11, "active"),
    ("Schmidt & Söhne", "Berlin", "DE", "yearly", [("pro", 1)], 20, "active"),
    ("Van Dijk Logistiek", "Utrecht", "NL", "quarterly", [("pro", 1)], 5, "active"),
    ("Rossi Ristorante", "Milano", "IT", "monthly", [("basic", 2)], 7, "active"),
    ("García Diseño", "Madrid", "ES", "usage", [("seat", 2)], 3, "active"),
    ("Peeters Consult", "Gent", "BE", "monthly", [("basic", 1)], 12, "closed"),
    ("Nordic Wood AB", "Malmö", "SE", "yearly", [("magazine", 2)], 2, "active"),
    ("Café Mercier", "Toulouse", "FR", "monthly", [("basic", 1)], 1, "active"),
    ("Pharmacie Blanc", "Grenoble", "FR", "monthly_first", [("seat", 1)], 4, "active"),
    ("Studio Garnier", "Marseille", "FR", "quarterly", [("pro", 1), ("seat", 2)], 2, "active"),
    ("Transports Faure", "Reims", "FR", "monthly", [("pro", 1)], 6, "active"),
    ("Vignobles André", "Colmar", "FR", "yearly", [("magazine", 1)], 6, "active"),
]

#: The creditor identifier and the account credited by the demo's direct debits.
DEMO_CREDITOR_IDENTIFIER = "FR72ZZZ123456"
DEMO_CREDITOR_IBAN = "FR7630004000031234567890143"
#: Bank and account codes of the demo debtors' IBANs, by country.
DEMO_DEBTOR_ACCOUNTS = {
    "FR": ("30004", "00031234567"),
    "DE": ("37040044", "0532013000"),
    "NL": ("ABNA", "0417164300"),
    "IT": ("0306909606", "100000063218"),
    "BE": ("539", "0075470"),
}


class RecurringSubscription(models.Model):
    _inherit = "recurring.subscription"

    @api.model
    def _recurring_demo_populate(self):
        """Create the demo customers and subscriptions, dated relative to today."""
        today = fields.Date.context_today(self)
        countries = {c.code: c for c in self.env["res.country"].search([])}
        reasons = {
            "pause": self.env.ref("recurring_payments.recurring_reason_pause_holiday"),
            "suspend": self.env.ref("recurring_payments.recurring_reason_suspend_unpaid"),
            "cancel": self.env.ref("recurring_payments.recurring_reason_cancel_price"),
        }
        for index, (name, city, country, plan, products, months, state) in enumerate(
            DEMO_SUBSCRIPTIONS
        ):
            partner = self.env["res.partner"].create(
                {
                    "name": name,
                    "is_company": True,
                    "city": city,
                    "country_id": countries[country].id if country in countries else False,
                    "email": f"billing+{index}@example.com",
                    "lang": "fr_FR"
                    if country == "FR" and self.env["res.lang"]._lang_get("fr_FR")
                    else False,
                }
            )
            start = today - relativedelta(months=months, days=index % 9)
            subscription = self.create(
                {
                    "partner_id": partner.id,
                    "plan_id": self.env.ref(f"recurring_payments.recurring_demo_plan_{plan}").id,
                    "date_start": start,
                    "line_ids": [
                        fields.Command.create(
                            {
                                "product_id": self.env.ref(
                                    f"recurring_payments.recurring_demo_product_{product}"
                                ).id,
                                "quantity": quantity,
                            }
                        )
                        for product, quantity in products
                    ],
                }
            )
            if state == "draft":
                continue
            if state == "closed":
                subscription.date_end = start + relativedelta(months=6, days=-1)
            subscription.action_confirm()
            if state in ("active", "trial"):
                continue
            # Invoice what is due before changing the status, as the cron would have.
            subscription._recurring_create_invoices(today - relativedelta(days=10))
            if state == "paused":
                subscription._recurring_pause(today - relativedelta(days=5), reasons["pause"])
            elif state == "past_due":
                subscription.state = "past_due"
            elif state == "suspended":
                subscription._recurring_pause(
                    today - relativedelta(days=3), reasons["suspend"], kind="suspension"
                )
            elif state == "cancelled":
                subscription._recurring_cancel(today - relativedelta(days=2), reasons["cancel"])
            elif state == "closed":
                self._recurring_update_states(today)

    @api.model
    def _recurring_demo_add_payment_tokens(self):
        """Give the demo's card-paying customers a ``payment_demo`` card.

        Called by the demo command once ``payment_demo`` is installed (the addon does not
        depend on it). Returns the number of subscriptions now paid by card.
        """
        provider = self.env.ref("payment.payment_provider_demo", raise_if_not_found=False)
        method = self.env.ref("payment_demo.payment_method_demo", raise_if_not_found=False)
        if (
            not provider
            or not method
            or "demo_simulated_state" not in self.env["payment.token"]._fields
        ):
            return 0
        if provider.state == "disabled":
            provider.state = "test"
        subscriptions = self.search(
            [("state", "in", ("trial", "active", "past_due")), ("payment_mode", "=", "manual")],
            order="id",
        )
        count = 0
        # Most cards work; one is declined softly (retried on schedule), one for good
        # (the customer is asked for a new payment method).
        outcomes = {1: "error", 4: "cancel"}
        for index, subscription in enumerate(subscriptions):
            if index % 3 == 2:
                continue  # a third of the customers pay by transfer
            partner = subscription.commercial_partner_id
            token = self.env["payment.token"].create(
                {
                    "provider_id": provider.id,
                    "payment_method_id": method.id,
                    "partner_id": partner.id,
                    "provider_ref": f"demo-{partner.id}",
                    "payment_details": f"{4242 + index:04d}"[-4:],
                    "demo_simulated_state": outcomes.get(index, "done"),
                }
            )
            subscription.write({"payment_mode": "token", "payment_token_id": token.id})
            count += 1
        return count

    @api.model
    def _recurring_demo_add_sepa_mandates(self, limit=4):
        """Have a few demo customers of the SEPA area pay by direct debit.

        Called by the demo command after the cards are given. The company gets a creditor
        identifier and a bank account for its collections, the SEPA Direct Debit provider is
        enabled in test mode, and up to ``limit`` active subscriptions still paid by
        transfer, of customers in the EEA, are switched to euros and to a signed, valid
        mandate. Returns the number of subscriptions now paid by SEPA direct debit.
        """
        provider = self.env.ref(
            "recurring_payments.payment_provider_recurring_sepa", raise_if_not_found=False
        )
        method = self.env.ref("payment.payment_method_sepa_direct_debit", raise_if_not_found=False)
        if not provider or not method:
            return 0
        company = self.env.company
        euro = self.env.ref("base.EUR")
        euro.active = True
        journal = self.env["account.journal"].search(
            [("type", "=", "bank"), ("company_id", "=", company.id)], limit=1
        )
        if journal.bank_account_id.acc_type != "iban":
            journal.bank_account_id = self.env["res.partner.bank"].create(
                {"acc_number": DEMO_CREDITOR_IBAN, "partner_id": company.partner_id.id}
            )
        company.write(
            {
                "recurring_sepa_creditor_identifier": DEMO_CREDITOR_IDENTIFIER,
                "recurring_sepa_journal_id": journal.id,
            }
        )
        # Enabling the provider activates its payment method.
        provider.write({"company_id": company.id, "state": "test"})
        pricelist = self.env["product.pricelist"].create(
            {"name": "Euro (SEPA)", "currency_id": euro.id, "company_id": company.id}
        )
        subscriptions = self.search(
            [
                ("state", "=", "active"),
                ("payment_mode", "=", "manual"),
                ("invoice_ids", "=", False),
                ("partner_id.country_id.code", "in", list(DEMO_DEBTOR_ACCOUNTS)),
            ],
            order="date_start desc, id",
            limit=limit,
        )
        for index, subscription in enumerate(subscriptions):
            partner = subscription.commercial_partner_id
            bank_code, account_code = DEMO_DEBTOR_ACCOUNTS[partner.country_id.code]
            account = self.env["res.partner.bank"].create(
                {
                    "acc_number": str(
                        IBAN.generate(
                            partner.country_id.code,
                            bank_code=bank_code,
                            account_code=account_code[: -len(str(index))] + str(index),
                        )
                    ),
                    "partner_id": partner.id,
                }
            )
            mandate = self.env["recurring.sepa.mandate"].create(
                {
                    "partner_id": partner.id,
                    "partner_bank_id": account.id,
                    "signature_date": subscription.date_start,
                    "signature_place": partner.city,
                    "scheme": "CORE",
                    "mandate_type": "recurrent",
                    "consent_text": "Signed on paper at the customer's premises.",
                }
            )
            mandate.action_validate()
            subscription.write(
                {
                    "pricelist_id": pricelist.id,
                    "payment_mode": "token",
                    "payment_token_id": mandate.payment_token_id.id,
                }
            )
        return len(subscriptions)
