# Part of recurring payments for Odoo. License LGPL-3.
from odoo import api, fields, models

from ..const import SEPA_REASON_ACTIONS, SEPA_RETURN_LINE_STATUSES, SEPA_RETURN_STATES


class RecurringSepaReturn(models.Model):
    _name = "recurring.sepa.return"
    _description = "SEPA Bank Return"
    _inherit = ["mail.thread"]
    _order = "create_date desc, id desc"
    _check_company_auto = True

    name = fields.Char(string="Message Identifier", readonly=True)
    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        readonly=True,
        default=lambda self: self.env.company,
        index=True,
    )
    file_kind = fields.Selection(
        selection=[("pain.002", "pain.002 status report"), ("camt.054", "camt.054 notification")],
        string="Kind",
        readonly=True,
    )
    file_name = fields.Char(readonly=True)
    file_id = fields.Many2one(comodel_name="ir.attachment", readonly=True)
    original_message_id = fields.Char(readonly=True)
    batch_id = fields.Many2one(
        comodel_name="recurring.sepa.batch", readonly=True, check_company=True
    )
    state = fields.Selection(
        selection=SEPA_RETURN_STATES, required=True, default="draft", readonly=True
    )
    line_ids = fields.One2many(
        comodel_name="recurring.sepa.return.line", inverse_name="return_id", readonly=True
    )
    unmatched_count = fields.Integer(compute="_compute_counts", store=True)
    returned_count = fields.Integer(compute="_compute_counts", store=True)

    @api.depends("line_ids.transaction_id", "line_ids.status")
    def _compute_counts(self):
        for bank_return in self:
            lines = bank_return.line_ids
            bank_return.unmatched_count = len(lines.filtered(lambda line: not line.transaction_id))
            bank_return.returned_count = len(
                lines.filtered(lambda line: line.status in ("rejected", "returned"))
            )


class RecurringSepaReturnLine(models.Model):
    _name = "recurring.sepa.return.line"
    _description = "SEPA Bank Return Line"
    _order = "return_id, id"

    return_id = fields.Many2one(
        comodel_name="recurring.sepa.return", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="return_id.company_id", store=True)
    end_to_end_id = fields.Char(string="End-to-End Id", required=True, readonly=True)
    status = fields.Selection(selection=SEPA_RETURN_LINE_STATUSES, required=True, readonly=True)
    reason_code = fields.Char(readonly=True)
    action = fields.Selection(selection=SEPA_REASON_ACTIONS, readonly=True)
    amount = fields.Float(readonly=True)
    currency_name = fields.Char(string="Currency", readonly=True)
    transaction_id = fields.Many2one(
        comodel_name="payment.transaction", string="Collection", readonly=True, index=True
    )
    invoice_id = fields.Many2one(comodel_name="account.move", readonly=True)
    partner_id = fields.Many2one(related="transaction_id.partner_id", string="Customer", store=True)
