# Part of recurring payments for Odoo. License LGPL-3.
from odoo import api, fields, models

from recurring_payments_core.billing import LineAmount

from ..const import BILLABLE_STATES
from ..utils import to_decimal


class RecurringInvoicingPreview(models.TransientModel):
    _name = "recurring.invoicing.preview"
    _description = "Dry Run of the Invoicing Cron"

    date = fields.Date(string="Run Date", required=True, default=fields.Date.context_today)
    line_ids = fields.One2many(
        comodel_name="recurring.invoicing.preview.line",
        inverse_name="preview_id",
        string="Invoices to Create",
        readonly=True,
    )
    invoice_count = fields.Integer(compute="_compute_totals")
    subscription_count = fields.Integer(compute="_compute_totals")

    @api.depends("line_ids")
    def _compute_totals(self):
        for preview in self:
            preview.invoice_count = len(preview.line_ids)
            preview.subscription_count = len(preview.line_ids.subscription_id)

    def _compute_lines(self):
        """Fill the preview with every invoice the cron would create on ``date``."""
        self.ensure_one()
        subscriptions = self.env["recurring.subscription"].search(
            [
                ("next_invoice_date", "<=", self.date),
                ("state", "in", BILLABLE_STATES + ("cancelled", "closed")),
            ],
            order="next_invoice_date, id",
        )
        commands = [fields.Command.clear()]
        for subscription in subscriptions:
            currency = subscription.currency_id
            for event in subscription._recurring_due_events(self.date):
                amount = sum(
                    LineAmount(
                        to_decimal(line.quantity, currency),
                        to_decimal(line.price_unit, currency),
                        to_decimal(line.discount, currency),
                    ).prorated(event.fraction, currency.decimal_places)
                    for line in subscription.line_ids
                    if not line.display_type
                )
                commands.append(
                    fields.Command.create(
                        {
                            "subscription_id": subscription.id,
                            "period_start": event.period.start,
                            "period_end": event.period.end,
                            "amount_untaxed": float(amount),
                            "prorated": event.fraction != 1,
                        }
                    )
                )
        self.line_ids = commands

    def action_refresh(self):
        self._compute_lines()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }


class RecurringInvoicingPreviewLine(models.TransientModel):
    _name = "recurring.invoicing.preview.line"
    _description = "Invoice of the Next Invoicing Run"
    _order = "subscription_id, period_start"

    preview_id = fields.Many2one(
        comodel_name="recurring.invoicing.preview", required=True, ondelete="cascade"
    )
    subscription_id = fields.Many2one(
        comodel_name="recurring.subscription", required=True, ondelete="cascade"
    )
    partner_id = fields.Many2one(related="subscription_id.partner_id")
    currency_id = fields.Many2one(related="subscription_id.currency_id")
    period_start = fields.Date(string="From")
    period_end = fields.Date(string="To")
    amount_untaxed = fields.Monetary(string="Untaxed Amount")
    prorated = fields.Boolean()
