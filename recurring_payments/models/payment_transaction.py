# Part of recurring payments for Odoo. License LGPL-3.
from datetime import timezone

from odoo import fields, models

from recurring_payments_core.retry import Decline
from recurring_payments_core.stripe_adapter import StripeAdapterError

from ..const import SEPA_SEQUENCE_TYPES

#: Seconds before the transaction's creation from which its PaymentIntent is looked for.
STRIPE_LOOKUP_MARGIN = 300


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    recurring_attempt_ids = fields.One2many(
        comodel_name="recurring.payment.attempt",
        inverse_name="transaction_id",
        string="Payment Attempts",
        readonly=True,
    )
    # === SEPA Direct Debit (provider ``recurring_sepa``) === #
    recurring_sepa_mandate_id = fields.Many2one(
        comodel_name="recurring.sepa.mandate",
        string="SEPA Mandate",
        readonly=True,
        index="btree_not_null",
    )
    recurring_sepa_batch_id = fields.Many2one(
        comodel_name="recurring.sepa.batch",
        string="Direct Debit Batch",
        readonly=True,
        index="btree_not_null",
    )
    recurring_sepa_collection_date = fields.Date(string="Collection Date", readonly=True)
    recurring_sepa_sequence_type = fields.Selection(
        selection=SEPA_SEQUENCE_TYPES, string="Sequence Type", readonly=True
    )
    recurring_sepa_prenotified_on = fields.Date(string="Pre-notified On", readonly=True)
    recurring_sepa_end_to_end_id = fields.Char(
        string="End-to-End Id", readonly=True, index="btree_not_null"
    )
    recurring_sepa_return_reason = fields.Char(string="Return Reason Code", readonly=True)

    def _update_state(self, allowed_states, target_state, state_message):
        """Override of `payment` to record the outcome on the payment attempts.

        Outcomes that arrive later (a webhook, a provider's notification) reach the
        attempt here; a late failure never undoes a success (W-2): Odoo refuses the
        transition and the attempt of a paid invoice is final.
        """
        changed = super()._update_state(allowed_states, target_state, state_message)
        if not self.env.context.get("recurring_sending"):
            # While a charge is being sent, its outcome is recorded by the sender itself.
            self.recurring_attempt_ids._recurring_sync()
        return changed

    def _post_process(self):
        """Override of `payment` to post-process the transactions of attempts once (C-9).

        The rows are locked first: when the cron's post-processing and a webhook arrive
        together, the second waits, sees the first's work and does nothing (or, if the
        first committed meanwhile, fails to serialize and is retried later).
        """
        to_process = self
        recurring = self.filtered("recurring_attempt_ids")
        if recurring:
            self.env.flush_all()
            self.env.cr.execute(
                "SELECT id FROM payment_transaction WHERE id IN %s FOR NO KEY UPDATE",
                [tuple(recurring.ids)],
            )
            recurring.invalidate_recordset(["is_post_processed", "payment_id"])
            to_process = self - recurring.filtered("is_post_processed")
        return super(PaymentTransaction, to_process)._post_process()

    def _recurring_post_process_once(self):
        """Post-process now (payment and reconciliation) unless it was done already."""
        self._post_process()

    def _recurring_decline(self):
        """Return the core ``Decline`` describing why this transaction failed."""
        self.ensure_one()
        message = self.state_message or ""
        if self.provider_code == "demo":
            code = "cancel" if self.state == "cancel" else "error"
            # ``demo_<category>`` in the message simulates each category with payment_demo.
            for word in message.replace(":", " ").split():
                if word.startswith("demo_"):
                    code = word
            return Decline(provider="demo", code=code, message=message)
        if self.provider_code == "stripe":
            # payment_stripe keeps only Stripe's message: the codes the retry rules need
            # are read from the PaymentIntent. A provider that does not answer is a
            # timeout, never a decline (C-7).
            try:
                adapter = self.provider_id._recurring_stripe_adapter()
                try:
                    intent_id = self.provider_reference
                    if not (intent_id or "").startswith("pi_") and self.token_id.provider_ref:
                        # A declined off-session charge leaves no reference on the
                        # transaction: find its PaymentIntent, described by our reference.
                        created = self.create_date.replace(tzinfo=timezone.utc).timestamp()
                        intents = adapter.find_payment_intents(
                            customer=self.token_id.provider_ref,
                            created_after=int(created) - STRIPE_LOOKUP_MARGIN,
                        )
                        intent_id = next(
                            (i["id"] for i in intents if i.get("description") == self.reference),
                            None,
                        )
                    details = adapter.decline_details(intent_id) if intent_id else None
                finally:
                    adapter.close()
            except StripeAdapterError as error:
                return Decline(provider="stripe", message=message, timeout=error.retryable)
            if details:
                return Decline(
                    provider="stripe",
                    code=details.decline_code or details.code,
                    advice_code=details.advice_code,
                    network_advice_code=details.network_advice_code,
                    network_decline_code=details.network_decline_code,
                    card_network=details.card_network,
                    message=details.message or message,
                )
            return Decline(provider="stripe", message=message)
        return Decline(provider=self.provider_code or "unknown", message=message)
