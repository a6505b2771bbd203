# Part of recurring payments for Odoo. License LGPL-3.
import logging
from datetime import date

from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from recurring_payments_core.stripe_adapter import StripeAdapterError, StripeAdapterErrorCode

_logger = logging.getLogger(__name__)


class PaymentToken(models.Model):
    _inherit = "payment.token"

    recurring_card_brand = fields.Char(string="Card Brand", readonly=True)
    recurring_exp_month = fields.Integer(string="Expiry Month", readonly=True)
    recurring_exp_year = fields.Integer(string="Expiry Year", readonly=True)
    recurring_funding = fields.Char(
        string="Funding", readonly=True, help="credit, debit or prepaid, as the provider says."
    )
    recurring_expiry_date = fields.Date(
        string="Expires On",
        compute="_compute_recurring_expiry_date",
        store=True,
        help="Last day of the card's expiry month.",
    )
    recurring_card_updated_at = fields.Datetime(
        string="Card Details Updated On",
        readonly=True,
        help="When the provider said what the card details are (the creation time of the "
        "event, or the time they were read): older news never overwrite them.",
    )
    recurring_sepa_mandate_id = fields.Many2one(
        comodel_name="recurring.sepa.mandate",
        string="SEPA Mandate",
        readonly=True,
        index="btree_not_null",
        help="The SEPA Direct Debit mandate this payment method debits under.",
    )

    @api.depends("recurring_exp_month", "recurring_exp_year")
    def _compute_recurring_expiry_date(self):
        for token in self:
            if token.recurring_exp_year and 1 <= token.recurring_exp_month <= 12:
                first = date(token.recurring_exp_year, token.recurring_exp_month, 1)
                token.recurring_expiry_date = first + relativedelta(months=1, days=-1)
            else:
                token.recurring_expiry_date = False

    @api.model_create_multi
    def create(self, vals_list):
        """Override of `payment` to read the card's details and retry at once the open
        invoices of the customer (C-8)."""
        tokens = super().create(vals_list)
        for token in tokens:
            try:
                with self.env.cr.savepoint():
                    token._recurring_fetch_stripe_card_details()
            except UserError as error:
                # The card works without its details; the webhook or the button fills them.
                _logger.info("Card details of token %s not read: %s", token.id, error)
        tokens._recurring_retry_open_invoices()
        return tokens

    def _recurring_retry_open_invoices(self):
        """Charge at once, on this new token, the invoices waiting for the customer (C-8).

        The customer's automatically paid subscriptions whose payment is stuck (waiting
        for the customer, stopped or exhausted) or whose token was archived switch to the
        new token; their unpaid invoices are charged by the charging cron, triggered now.
        Subscriptions whose card works are left alone.
        """
        moves = self.env["account.move"]
        stuck_states = ("waiting_customer", "stopped", "exhausted")
        for token in self.filtered("active"):
            subscriptions = (
                self.env["recurring.subscription"]
                .sudo()
                .search(
                    [
                        ("commercial_partner_id", "=", token.partner_id.commercial_partner_id.id),
                        ("company_id", "=", token.company_id.id),
                        ("payment_mode", "=", "token"),
                        ("state", "in", ("active", "past_due", "trial")),
                    ]
                )
            )
            stuck_moves = subscriptions.invoice_ids.filtered(
                lambda m: (
                    m.recurring_charge_state in stuck_states
                    and m.payment_state in ("not_paid", "partial")
                    and m.state == "posted"
                )
            )
            to_switch = subscriptions.filtered(
                lambda s, stuck=stuck_moves: (
                    not s.payment_token_id.active or s in stuck.recurring_subscription_id
                )
            )
            if not to_switch:
                continue
            to_switch.payment_token_id = token
            moves |= stuck_moves.filtered(
                lambda m, switched=to_switch: m.recurring_subscription_id in switched
            )
        if moves:
            moves.write(
                {
                    "recurring_charge_state": "to_charge",
                    "recurring_next_charge_at": fields.Datetime.now(),
                }
            )
            self.env.ref("recurring_payments.account_move_cron_charge")._trigger()
        return moves

    # === ACTION METHODS === #

    def action_recurring_refresh_card_details(self):
        """Read the card details of the Stripe tokens from Stripe and store them."""
        self._recurring_fetch_stripe_card_details()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": _("The card details were read from the provider."),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    # === BUSINESS METHODS === #

    def _recurring_update_card_details(self, details, updated_at):
        """Store card details known as of ``updated_at``, unless newer ones are stored (W-2).

        Stripe may deliver events late and out of order: details older than those of a
        token are not written on it. Values the provider left out are kept.

        :param details: the core ``CardDetails`` (brand, expiry, funding, last 4 digits).
        :param datetime updated_at: when the provider said so (naive UTC).
        :return: The tokens written.
        :rtype: recordset of `payment.token`
        """
        tokens = self.filtered(
            lambda t: not t.recurring_card_updated_at or t.recurring_card_updated_at <= updated_at
        )
        vals = {
            field: value
            for field, value in (
                ("payment_details", details.last4),
                ("recurring_card_brand", details.brand),
                ("recurring_exp_month", details.exp_month),
                ("recurring_exp_year", details.exp_year),
                ("recurring_funding", details.funding),
            )
            if value is not None
        }
        if tokens:
            tokens.write({**vals, "recurring_card_updated_at": updated_at})
        return tokens

    def _recurring_fetch_stripe_card_details(self):
        """Read the card of each Stripe token from Stripe and store its details.

        Tokens of other providers, and Stripe tokens without a PaymentMethod id (made
        before SCA), are left alone.

        :return: The tokens written.
        :rtype: recordset of `payment.token`
        :raise UserError: when Stripe could not be asked or refused to answer.
        """
        written = self.browse()
        if "stripe_payment_method" not in self._fields:
            return written
        for token in self.filtered(
            lambda t: t.provider_code == "stripe" and t.stripe_payment_method
        ):
            try:
                adapter = token.provider_id._recurring_stripe_adapter()
                try:
                    details = adapter.card_details(token.stripe_payment_method)
                finally:
                    adapter.close()
            except StripeAdapterError as error:
                raise UserError(token._recurring_stripe_error_message(error)) from error
            written |= token._recurring_update_card_details(details, fields.Datetime.now())
        return written

    def _recurring_stripe_error_message(self, error):
        """Return a translated message explaining why Stripe gave no card details."""
        self.ensure_one()
        if error.code == StripeAdapterErrorCode.NOT_CONFIGURED:
            return _(
                "The provider %(provider)s has no Stripe secret key.",
                provider=self.provider_id.name,
            )
        if error.code == StripeAdapterErrorCode.NOT_A_CARD:
            return _("The payment method %(token)s is not a card.", token=self.display_name)
        if error.retryable:
            return _(
                "Stripe did not answer about the payment method %(token)s. Try again later.",
                token=self.display_name,
            )
        return _(
            "Stripe refused to give the details of the payment method %(token)s (%(code)s).",
            token=self.display_name,
            code=error.code.value,
        )
