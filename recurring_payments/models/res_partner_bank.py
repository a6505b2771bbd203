# Part of recurring payments for Odoo. License LGPL-3.
from odoo import models


class ResPartnerBank(models.Model):
    _inherit = "res.partner.bank"
