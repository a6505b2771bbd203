# Part of recurring payments for Odoo. License LGPL-3.
from odoo import fields, models

from ..const import REASON_TYPES


class RecurringReason(models.Model):
    _name = "recurring.reason"
    _description = "Subscription Transition Reason"
    _order = "sequence, id"

    name = fields.Char(string="Reason", required=True, translate=True)
    reason_type = fields.Selection(
        selection=REASON_TYPES,
        string="Used For",
        required=True,
        default="cancel",
    )
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
