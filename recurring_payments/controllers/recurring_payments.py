# Part of recurring payments for Odoo. License LGPL-3.
import logging
import time

from odoo import http
from odoo.exceptions import UserError
from odoo.http import request

from recurring_payments_core.stripe_adapter import WebhookError, WebhookErrorCode, verify_webhook

_logger = logging.getLogger(__name__)


class RecurringPaymentsController(http.Controller):
    _stripe_webhook_url = "/recurring_payments/stripe/webhook/<int:provider_id>"

    @http.route(
        _stripe_webhook_url,
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,  # A webhook carries no CSRF token: its signature is checked instead.
        save_session=False,
    )
    def recurring_stripe_webhook(self, provider_id):
        """Apply an event sent by Stripe, once, after checking its signature.

        W-1: without a signing secret on the provider every delivery is refused (403);
        a missing header, a bad signature or a stale timestamp is refused (400). Nothing
        is written for a refused delivery. W-2: a replayed event changes nothing.

        :param int provider_id: the Stripe ``payment.provider`` the endpoint belongs to.
        :return: An empty response: 200 for a handled, repeated or ignored event, 4xx for a
            refused delivery, 503 when Stripe must deliver it again later.
        """
        provider_sudo = request.env["payment.provider"].sudo().browse(provider_id).exists()
        if not provider_sudo or provider_sudo.code != "stripe":
            return request.make_response("", status=404)
        try:
            event = verify_webhook(
                request.httprequest.get_data(),
                request.httprequest.headers.get("Stripe-Signature"),
                provider_sudo.recurring_webhook_secret,
                now=int(time.time()),
            )
        except WebhookError as error:
            _logger.warning("Refused a Stripe event for provider %s: %s", provider_sudo.id, error)
            status = 403 if error.code == WebhookErrorCode.NO_SECRET else 400
            return request.make_response("", status=status)
        if not isinstance(event.get("id"), str) or not event["id"]:
            _logger.warning("Refused a Stripe event without id for provider %s", provider_sudo.id)
            return request.make_response("", status=400)

        try:
            with request.env.cr.savepoint():
                outcome = (
                    request.env["recurring.webhook.event"]
                    .sudo()
                    ._process_stripe_event(provider_sudo, event)
                )
        except UserError as error:
            # Nothing was kept (the event is not marked as processed): Stripe sends it again.
            _logger.warning("Could not apply the Stripe event %s: %s", event["id"], error)
            return request.make_response("", status=503)
        _logger.info("Stripe event %s (%s): %s", event["id"], event.get("type"), outcome)
        return request.make_response("", status=200)
