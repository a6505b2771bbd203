# Part of recurring payments for Odoo. License LGPL-3.
import logging
from datetime import datetime, timedelta, timezone

from odoo import api, fields, models
from odoo.tools import SQL

from recurring_payments_core.stripe_adapter import CARD_EVENT_TYPES, card_details_from_event

_logger = logging.getLogger(__name__)

#: Days a processed event is remembered (Stripe delivers an event again for up to 3 days).
WEBHOOK_EVENT_RETENTION_DAYS = 30


class RecurringWebhookEvent(models.Model):
    _name = "recurring.webhook.event"
    _description = "Processed Webhook Event"
    _order = "received_at desc, id desc"
    _rec_name = "event_id"

    provider_id = fields.Many2one(
        comodel_name="payment.provider",
        required=True,
        readonly=True,
        index=True,
        ondelete="cascade",
    )
    event_id = fields.Char(
        string="Event ID", required=True, readonly=True, help="The provider's id of the event."
    )
    event_type = fields.Char(readonly=True)
    event_created_at = fields.Datetime(
        string="Created At", readonly=True, help="When the provider created the event."
    )
    received_at = fields.Datetime(
        required=True, readonly=True, default=fields.Datetime.now, index=True
    )

    _sql_constraints = [
        (
            "provider_event_uniq",
            "UNIQUE(provider_id, event_id)",
            "An event of a provider is processed once.",
        ),
    ]

    # === BUSINESS METHODS === #

    @api.model
    def _claim(self, provider, event_id, event_type, created_at):
        """Record that an event is being processed, unless it was already (W-2).

        The unique constraint on (provider, event id) decides: a replayed event inserts
        nothing, and a delivery arriving while another one of the same event is being
        processed waits for it, then inserts nothing either.

        :param provider: the ``payment.provider`` the event was sent for.
        :param str event_id: the provider's id of the event.
        :param str event_type: the type of the event.
        :param datetime created_at: when the provider created the event (naive UTC).
        :return: The new event record, or an empty recordset when it was processed already.
        :rtype: recordset of `recurring.webhook.event`
        """
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO recurring_webhook_event
                    (provider_id, event_id, event_type, event_created_at, received_at,
                     create_uid, create_date, write_uid, write_date)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (provider_id, event_id) DO NOTHING
                RETURNING id
                """,
                provider.id,
                event_id,
                event_type,
                created_at,
                now,
                self.env.uid,
                now,
                self.env.uid,
                now,
            )
        )
        row = self.env.cr.fetchone()
        return self.browse(row[0]) if row else self.browse()

    @api.model
    def _process_stripe_event(self, provider, event):
        """Apply a verified Stripe event once, and tell whether it changed anything.

        Card events refresh the matching tokens (W-2: a replay is a no-op, and the card
        details of an event older than those stored are not written); other events are
        ignored.

        :param provider: the Stripe ``payment.provider`` the event was sent for.
        :param dict event: the event, as returned by the core's ``verify_webhook``.
        :return: ``"processed"``, ``"duplicate"`` or ``"ignored"``.
        :rtype: str
        """
        event_type = event.get("type")
        if event_type not in CARD_EVENT_TYPES:
            return "ignored"
        created = event.get("created")
        if isinstance(created, int) and not isinstance(created, bool):
            created_at = datetime.fromtimestamp(created, tz=timezone.utc).replace(tzinfo=None)
        else:
            created_at = fields.Datetime.now()
        if not self._claim(provider, str(event["id"]), event_type, created_at):
            _logger.info("Stripe event %s was already processed", event["id"])
            return "duplicate"

        payment_method = event.get("data", {}).get("object") or {}
        details = card_details_from_event(event)
        payment_method_id = details.payment_method_id if details else payment_method.get("id")
        if (
            not payment_method_id
            or "stripe_payment_method" not in self.env["payment.token"]._fields
        ):
            return "processed"
        tokens = self.env["payment.token"].search(
            [
                ("provider_id", "=", provider.id),
                ("stripe_payment_method", "=", payment_method_id),
            ]
        )
        if details:
            tokens._recurring_update_card_details(details, created_at)
        elif payment_method.get("type", "card") == "card":
            # A card event that does not carry the card: read it from Stripe.
            tokens._recurring_fetch_stripe_card_details()
        return "processed"

    # === AUTOVACUUM === #

    @api.autovacuum
    def _gc_old_events(self):
        """Forget the events received long after Stripe stopped delivering them again."""
        limit = fields.Datetime.now() - timedelta(days=WEBHOOK_EVENT_RETENTION_DAYS)
        self.search([("received_at", "<", limit)]).unlink()
