# Part of recurring payments for Odoo. License LGPL-3.
from odoo import fields, models


class ProductTemplate(models.Model):
    _inherit = "product.template"

    recurring_ok = fields.Boolean(
        string="Recurring",
        help="Sold by subscription: offered first on subscription lines.",
    )
