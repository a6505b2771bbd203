# Part of recurring payments for Odoo. License LGPL-3.
from odoo import fields, models


class RecurringSepaReturnImport(models.TransientModel):
    _name = "recurring.sepa.return.import"
    _description = "Import a SEPA Bank Return"

    file = fields.Binary(required=True)
    file_name = fields.Char()
