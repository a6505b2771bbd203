# Part of recurring payments for Odoo. License LGPL-3.
from odoo import fields, models


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    recurring_period_start = fields.Date(string="Billed From", copy=False)
    recurring_period_end = fields.Date(string="Billed To", copy=False)
