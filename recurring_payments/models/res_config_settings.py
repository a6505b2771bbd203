# Part of recurring payments for Odoo. License LGPL-3.
from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    recurring_sepa_creditor_identifier = fields.Char(
        related="company_id.recurring_sepa_creditor_identifier", readonly=False
    )
    recurring_sepa_scheme = fields.Selection(
        related="company_id.recurring_sepa_scheme", readonly=False
    )
    recurring_sepa_pain_version = fields.Selection(
        related="company_id.recurring_sepa_pain_version", readonly=False
    )
    recurring_sepa_batch_booking = fields.Boolean(
        related="company_id.recurring_sepa_batch_booking", readonly=False
    )
    recurring_sepa_journal_id = fields.Many2one(
        related="company_id.recurring_sepa_journal_id", readonly=False
    )
    recurring_sepa_notice_days = fields.Integer(
        related="company_id.recurring_sepa_notice_days", readonly=False
    )
    recurring_sepa_lead_days = fields.Integer(
        related="company_id.recurring_sepa_lead_days", readonly=False
    )
    recurring_sepa_rcur_from_first = fields.Boolean(
        related="company_id.recurring_sepa_rcur_from_first", readonly=False
    )
