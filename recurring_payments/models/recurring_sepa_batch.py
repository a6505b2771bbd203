# Part of recurring payments for Odoo. License LGPL-3.
from odoo import _, api, fields, models

from ..const import SEPA_BATCH_STATES, SEPA_PAIN_VERSIONS, SEPA_SCHEMES, SEPA_SEQUENCE_TYPES


class RecurringSepaBatch(models.Model):
    _name = "recurring.sepa.batch"
    _description = "SEPA Direct Debit Batch"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "collection_date desc, id desc"
    _check_company_auto = True

    name = fields.Char(
        string="Message Identifier",
        required=True,
        copy=False,
        readonly=True,
        default=lambda self: _("New"),
    )
    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        readonly=True,
        default=lambda self: self.env.company,
        index=True,
    )
    currency_id = fields.Many2one(
        comodel_name="res.currency",
        required=True,
        readonly=True,
        default=lambda self: self.env.ref("base.EUR"),
    )
    collection_date = fields.Date(required=True, readonly=True, index=True, tracking=True)
    sequence_type = fields.Selection(selection=SEPA_SEQUENCE_TYPES, required=True, readonly=True)
    scheme = fields.Selection(selection=SEPA_SCHEMES, required=True, readonly=True)
    pain_version = fields.Selection(
        selection=SEPA_PAIN_VERSIONS,
        readonly=True,
        default=lambda self: self.env.company.recurring_sepa_pain_version,
    )
    state = fields.Selection(
        selection=SEPA_BATCH_STATES,
        required=True,
        default="draft",
        readonly=True,
        tracking=True,
        index=True,
        copy=False,
    )
    transaction_ids = fields.One2many(
        comodel_name="payment.transaction",
        inverse_name="recurring_sepa_batch_id",
        string="Collections",
        readonly=True,
    )
    transaction_count = fields.Integer(
        string="Number of Collections", compute="_compute_totals", store=True
    )
    amount_total = fields.Monetary(
        string="Control Sum", compute="_compute_totals", store=True, currency_field="currency_id"
    )
    file_id = fields.Many2one(comodel_name="ir.attachment", readonly=True)
    generated_at = fields.Datetime(readonly=True, copy=False)
    sent_at = fields.Datetime(readonly=True, copy=False)
    settled_at = fields.Datetime(readonly=True, copy=False)

    @api.depends("transaction_ids.amount")
    def _compute_totals(self):
        for batch in self:
            batch.transaction_count = len(batch.transaction_ids)
            batch.amount_total = sum(batch.transaction_ids.mapped("amount"))

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if not vals.get("name") or vals["name"] == _("New"):
                vals["name"] = self.env["ir.sequence"].next_by_code("recurring.sepa.batch")
        return super().create(vals_list)
