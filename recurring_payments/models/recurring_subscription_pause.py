# Part of recurring payments for Odoo. License LGPL-3.
from odoo import api, fields, models

from ..const import SUBSCRIPTION_STATES


class RecurringSubscriptionPause(models.Model):
    _name = "recurring.subscription.pause"
    _description = "Subscription Pause"
    _order = "subscription_id, date_start"

    subscription_id = fields.Many2one(
        comodel_name="recurring.subscription",
        required=True,
        index=True,
        ondelete="cascade",
    )
    company_id = fields.Many2one(related="subscription_id.company_id", store=True)
    kind = fields.Selection(
        selection=[("pause", "Pause"), ("suspension", "Suspension")],
        required=True,
        default="pause",
    )
    date_start = fields.Date(string="From", required=True, help="First day without service.")
    date_end = fields.Date(string="Resumed On", help="First day of service again.")
    days = fields.Integer(compute="_compute_days")
    reason_id = fields.Many2one(comodel_name="recurring.reason")
    note = fields.Char()
    state_before = fields.Selection(selection=SUBSCRIPTION_STATES, string="Status Before")

    _sql_constraints = [
        (
            "dates_ordered",
            "CHECK(date_end IS NULL OR date_end > date_start)",
            "A pause must end after it starts.",
        ),
    ]

    @api.depends("date_start", "date_end")
    def _compute_days(self):
        for pause in self:
            pause.days = (pause.date_end - pause.date_start).days if pause.date_end else 0
