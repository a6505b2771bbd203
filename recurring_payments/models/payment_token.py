# Part of recurring payments for Odoo. License LGPL-3.
from datetime import date

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models


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
        """Override of `payment` to retry at once the open invoices of the customer (C-8)."""
        tokens = super().create(vals_list)
        tokens._recurring_retry_open_invoices()
        return tokens

    def _recurring_retry_open_invoices(self):
        """Make the customer's invoices waiting for a payment method due now on this token.

        The subscriptions paid automatically by the customer switch to the new token and
        their unpaid invoices are charged by the next run of the charging cron, which is
        triggered at once.
        """
        moves = self.env["account.move"]
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
            if not subscriptions:
                continue
            subscriptions.payment_token_id = token
            moves |= subscriptions.invoice_ids.filtered(
                lambda m: (
                    m.recurring_charge_state in ("waiting_customer", "stopped", "exhausted")
                    and m.payment_state in ("not_paid", "partial")
                    and m.state == "posted"
                )
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
