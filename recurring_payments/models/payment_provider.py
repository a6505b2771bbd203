# Part of recurring payments for Odoo. License LGPL-3.
from urllib.parse import urljoin

from odoo import _lt, api, fields, models

from odoo.addons.payment import utils as payment_utils

from recurring_payments_core.sepa.calendar import prenotification_date
from recurring_payments_core.stripe_adapter import StripeAdapter

from ..const import SEPA_PROVIDER_CODE

#: System parameter overriding the address of Stripe's API (tests point it at localstripe).
STRIPE_API_BASE_PARAM = "recurring_payments.stripe_api_base"
#: Route receiving the Stripe events of a provider; ``%s`` is the provider's id.
STRIPE_WEBHOOK_ROUTE = "/recurring_payments/stripe/webhook/%s"

# SEPA Direct Debit with the company's own creditor identifier (provider code
# ``recurring_sepa``). Like every payment provider, it belongs to one company: the data
# record ``payment_provider_recurring_sepa`` is the main company's. Another company gets
# its own by duplicating it and setting the company (what Odoo's payment onboarding does
# for Stripe, ``res.company._run_payment_onboarding_step``), then enabling it; its
# collections are paid on that company's direct debit bank journal.

#: Payment methods activated with the SEPA Direct Debit provider.
SEPA_DEFAULT_PAYMENT_METHOD_CODES = {"sepa_direct_debit"}
#: Context key of the flows that pay with an existing mandate's token (see
#: ``_get_compatible_providers``).
SEPA_TOKEN_FLOW_CONTEXT_KEY = "recurring_sepa_token_flow"
#: Why the checkout does not offer the provider (payment availability report).
SEPA_NOT_AVAILABLE_REASON = _lt("collected only with a signed SEPA mandate")


class PaymentProvider(models.Model):
    _inherit = "payment.provider"

    code = fields.Selection(
        selection_add=[(SEPA_PROVIDER_CODE, "SEPA Direct Debit")],
        ondelete={SEPA_PROVIDER_CODE: "set default"},
    )

    recurring_webhook_secret = fields.Char(
        string="Recurring Webhook Signing Secret",
        help="For Stripe: the signing secret (whsec_...) of a webhook endpoint pointing to the "
        "Recurring Webhook URL. Without it, every event sent to that URL is refused.",
        groups="base.group_system",
        copy=False,
    )
    recurring_webhook_url = fields.Char(
        string="Recurring Webhook URL",
        compute="_compute_recurring_webhook_url",
        help="Address of the webhook endpoint to declare in Stripe, for the card updates "
        "(payment_method.automatically_updated, payment_method.updated, "
        "payment_method.attached).",
    )

    # === COMPUTE METHODS === #

    def _compute_feature_support_fields(self):
        """Override of `payment` to declare what SEPA Direct Debit supports.

        Debits are made with a mandate's token only; there is no express checkout, and a
        refund is a credit transfer made outside the provider.
        """
        res = super()._compute_feature_support_fields()
        self.filtered(lambda p: p.code == SEPA_PROVIDER_CODE).update(
            {
                "support_express_checkout": False,
                "support_manual_capture": None,
                "support_refund": "none",
                "support_tokenization": True,
            }
        )
        return res

    @api.depends("code", "state", "company_id", "company_id.recurring_sepa_journal_id")
    def _compute_journal_id(self):
        """Override of `account_payment` to post SEPA collections on the company's direct
        debit bank journal, the account whose IBAN the pain.008 files carry."""
        res = super()._compute_journal_id()
        for provider in self.filtered(
            lambda p: p.code == SEPA_PROVIDER_CODE and p.state != "disabled"
        ):
            sepa_journal = provider.company_id.recurring_sepa_journal_id
            if sepa_journal and provider.journal_id != sepa_journal:
                provider.journal_id = sepa_journal
                if provider.id:
                    provider._ensure_payment_method_line()
        return res

    def _compute_recurring_webhook_url(self):
        for provider in self:
            if provider.id and provider.code == "stripe":
                provider.recurring_webhook_url = urljoin(
                    provider.get_base_url(), STRIPE_WEBHOOK_ROUTE % provider.id
                )
            else:
                provider.recurring_webhook_url = False

    # === BUSINESS METHODS === #

    @api.model
    def _get_compatible_providers(self, *args, report=None, **kwargs):
        """Override of `payment` to keep SEPA Direct Debit out of the checkout.

        A direct debit needs a signed mandate, which the checkout form cannot collect: the
        provider is only offered to the flows paying with an existing mandate's token,
        which say so with the context key ``recurring_sepa_token_flow``. Offline charges of
        the charging cron do not go through this method.
        """
        providers = super()._get_compatible_providers(*args, report=report, **kwargs)
        if not self.env.context.get(SEPA_TOKEN_FLOW_CONTEXT_KEY):
            sepa_providers = providers.filtered(lambda p: p.code == SEPA_PROVIDER_CODE)
            if sepa_providers:
                providers -= sepa_providers
                payment_utils.add_to_report(
                    report, sepa_providers, available=False, reason=SEPA_NOT_AVAILABLE_REASON
                )
        return providers

    def _get_supported_currencies(self):
        """Override of `payment` to restrict SEPA Direct Debit to euros."""
        supported_currencies = super()._get_supported_currencies()
        if self.code == SEPA_PROVIDER_CODE:
            supported_currencies = supported_currencies.filtered(lambda c: c.name == "EUR")
        return supported_currencies

    def _get_default_payment_method_codes(self):
        """Override of `payment` to return the default payment method codes.

        Activating the provider (state ``test`` or ``enabled``) activates them through
        `payment`'s ``_activate_default_pms``.
        """
        default_codes = super()._get_default_payment_method_codes()
        if self.code != SEPA_PROVIDER_CODE:
            return default_codes
        return SEPA_DEFAULT_PAYMENT_METHOD_CODES

    def _recurring_charge_date(self, due_date, company):
        """Return the day on which the charge of an invoice due on ``due_date`` is sent.

        Cards and other providers are charged on the due date. A SEPA direct debit is
        queued the company's notice period (calendar days) plus its bank lead time
        (TARGET2 business days) earlier, so that the pre-notification sent that day still
        allows a collection on the due date (S-7); never before today.

        :param date due_date: the invoice's due date.
        :param company: the invoice's company (`res.company`), for the SEPA settings.
        :return: the day the charge is due.
        :rtype: date
        """
        if self.code != SEPA_PROVIDER_CODE:
            return due_date
        day = prenotification_date(
            due_date,
            notice_days=company.recurring_sepa_notice_days,
            lead_days=company.recurring_sepa_lead_days,
        )
        return max(day, fields.Date.context_today(self))

    def _recurring_stripe_adapter(self):
        """Return a core ``StripeAdapter`` for this provider's Stripe account.

        Unlike ``payment_stripe``, which always calls ``api.stripe.com``, the adapter
        honours the system parameter ``recurring_payments.stripe_api_base`` (tests point it
        at localstripe or a local server). ``payment_stripe`` is not a dependency: without
        it (or without a secret key) the adapter refuses with ``NOT_CONFIGURED``.

        The caller closes the adapter (``adapter.close()``) when done.

        :return: The adapter.
        :rtype: recurring_payments_core.stripe_adapter.StripeAdapter
        :raise StripeAdapterError: ``NOT_CONFIGURED`` when the provider has no secret key.
        """
        self.ensure_one()
        secret_key = ""
        if "stripe_secret_key" in self._fields and self.code == "stripe":
            secret_key = self.sudo().stripe_secret_key or ""
        api_base = self.env["ir.config_parameter"].sudo().get_param(STRIPE_API_BASE_PARAM)
        return StripeAdapter(secret_key, api_base=api_base or None)
