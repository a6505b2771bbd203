# Part of recurring payments for Odoo. License LGPL-3.
from datetime import date

from .common import RecurringPaymentsCommon

#: The creditor identifier of the test company (valid check digits).
SEPA_CREDITOR_IDENTIFIER = "FR72ZZZ123456"
#: The IBAN of the test company's bank journal (the creditor account).
SEPA_CREDITOR_IBAN = "FR7630004000031234567890143"
SEPA_CREDITOR_BIC = "BNPAFRPP"


class SepaCommon(RecurringPaymentsCommon):
    """A French company in euros collecting SEPA Direct Debits with its own creditor
    identifier, and helpers making debtors, valid mandates and subscriptions they pay.

    The company is created in France and in euros (generic chart of accounts); its bank
    journal holds the creditor account and is the company's SEPA journal; the provider
    ``recurring_payments.payment_provider_recurring_sepa`` belongs to it, in test mode.
    """

    chart_template = "generic_coa"

    @classmethod
    def setup_independent_company(cls, **kwargs):
        euro = cls._enable_currency("EUR")
        kwargs = {
            "country_id": cls.env.ref("base.fr").id,
            "currency_id": euro.id,
            **kwargs,
        }
        return super().setup_independent_company(**kwargs)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.company_data["company"]
        cls.company.partner_id.write(
            {
                "name": "SEPA Creditor SAS",
                "street": "1 rue de la Paix",
                "zip": "75002",
                "city": "Paris",
                "country_id": cls.env.ref("base.fr").id,
            }
        )
        cls.sepa_creditor_bank = cls.env["res.bank"].create(
            {"name": "BNP Paribas", "bic": SEPA_CREDITOR_BIC}
        )
        cls.sepa_journal = cls.company_data["default_journal_bank"]
        cls.sepa_journal.bank_account_id = cls.env["res.partner.bank"].create(
            {
                "acc_number": SEPA_CREDITOR_IBAN,
                "partner_id": cls.company.partner_id.id,
                "bank_id": cls.sepa_creditor_bank.id,
            }
        )
        cls.company.write(
            {
                "recurring_sepa_creditor_identifier": SEPA_CREDITOR_IDENTIFIER,
                "recurring_sepa_journal_id": cls.sepa_journal.id,
            }
        )
        cls.sepa_provider = cls.env.ref("recurring_payments.payment_provider_recurring_sepa")
        cls.sepa_provider.sudo().write({"company_id": cls.company.id, "state": "test"})
        cls.sepa_method = cls.env.ref("payment.payment_method_sepa_direct_debit")
        cls.sepa_method.sudo().active = True

    @classmethod
    def _sepa_partner(cls, name, iban, **vals):
        """Create a commercial partner (a company by default) with a bank account.

        :param str name: the partner's name.
        :param str iban: the account number of its ``res.partner.bank``.
        :param vals: values of the partner (``is_company``, ``city``, ``country_id``…).
        :return: the partner; its account is ``partner.bank_ids``.
        """
        partner = cls.env["res.partner"].create(
            {
                "name": name,
                "email": f"{name.lower().replace(' ', '.')}@example.com",
                "is_company": True,
                "company_id": False,
                **vals,
            }
        )
        cls.env["res.partner.bank"].create({"acc_number": iban, "partner_id": partner.id})
        return partner

    @classmethod
    def _sepa_mandate(cls, partner, validate=True, **vals):
        """Create a mandate of ``partner`` on its first bank account and validate it.

        :param bool validate: validate the mandate (creates its payment token).
        :param vals: values of the mandate (``scheme``, ``mandate_type``,
            ``signature_date``, ``partner_bank_id``…).
        :return: the mandate.
        """
        mandate = cls.env["recurring.sepa.mandate"].create(
            {
                "partner_id": partner.id,
                "partner_bank_id": partner.bank_ids[:1].id,
                "signature_date": date(2025, 1, 1),
                "signature_place": "Paris",
                **vals,
            }
        )
        if validate:
            mandate.action_validate()
        return mandate

    @classmethod
    def _sepa_subscription(cls, mandate, amount, **vals):
        """Create and start a monthly subscription of the mandate's debtor, paid by the
        mandate's payment token, with one line of ``amount`` (no tax).

        :param vals: values of the subscription (``plan_id``, ``date_start``…); ``plan``,
            ``start`` and ``lines`` are passed to ``_create_subscription``.
        """
        return cls._create_subscription(
            plan=vals.pop("plan", None),
            start=vals.pop("start", date(2025, 1, 1)),
            lines=vals.pop("lines", None) or [(cls.product_hosting, 1, amount)],
            partner_id=mandate.partner_id.id,
            payment_mode="token",
            payment_token_id=mandate.payment_token_id.id,
            **vals,
        )
