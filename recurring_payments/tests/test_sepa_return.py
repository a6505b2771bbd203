# Part of recurring payments for Odoo. License LGPL-3.
