# Part of recurring payments for Odoo. License LGPL-3.
from odoo import fields, models


class AccountMove(models.Model):
    _inherit = "account.move"

    recurring_subscription_id = fields.Many2one(
        comodel_name="recurring.subscription",
        string="Subscription",
        index="btree_not_null",
        readonly=True,
        copy=False,
        ondelete="restrict",
    )
    recurring_plan_id = fields.Many2one(
        comodel_name="recurring.plan",
        string="Subscription Plan",
        readonly=True,
        copy=False,
        ondelete="restrict",
    )
    recurring_period_start = fields.Date(string="Billed From", readonly=True, copy=False)
    recurring_period_end = fields.Date(string="Billed To", readonly=True, copy=False)
    recurring_adjustment = fields.Boolean(
        string="Subscription Adjustment",
        readonly=True,
        copy=False,
        help="Prorated adjustment of a subscription (change or cancellation), not a period.",
    )

    def init(self):
        res = super().init()
        # B-2: one invoice per subscription, plan and period, whatever runs concurrently.
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS account_move_recurring_period_uniq
                ON account_move (
                    recurring_subscription_id, recurring_plan_id, recurring_period_start
                )
             WHERE recurring_subscription_id IS NOT NULL
               AND move_type = 'out_invoice'
               AND recurring_adjustment IS NOT TRUE
            """
        )
        return res

    def _recurring_queue_sending(self):
        """Hand posted invoices whose plan says so to Odoo's background sending."""
        to_send = self.filtered(
            lambda m: m.recurring_subscription_id.plan_id.auto_send and m.partner_id.email
        )
        if not to_send:
            return
        user = self.env.user
        to_send.sending_data = {
            "author_user_id": user.id,
            "author_partner_id": user.partner_id.id,
            "sending_methods": ["email"],
        }
        self.env.ref("account.ir_cron_account_move_send")._trigger()
