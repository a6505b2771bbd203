# Part of recurring payments for Odoo. License LGPL-3.
from urllib.parse import urljoin

from odoo import fields, models

from recurring_payments_core.stripe_adapter import StripeAdapter

from ..const import SEPA_PROVIDER_CODE

#: System parameter overriding the address of Stripe's API (tests point it at localstripe).
STRIPE_API_BASE_PARAM = "recurring_payments.stripe_api_base"
#: Route receiving the Stripe events of a provider; ``%s`` is the provider's id.
STRIPE_WEBHOOK_ROUTE = "/recurring_payments/stripe/webhook/%s"


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

    def _compute_recurring_webhook_url(self):
        for provider in self:
            if provider.id and provider.code == "stripe":
                provider.recurring_webhook_url = urljoin(
                    provider.get_base_url(), STRIPE_WEBHOOK_ROUTE % provider.id
                )
            else:
                provider.recurring_webhook_url = False

    # === BUSINESS METHODS === #

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
