# Part of recurring payments for Odoo. License LGPL-3.
from odoo import api, models

from recurring_payments_core.sepa.identifiers import mask_iban

#: Groups that see full account numbers (X-4).
FULL_ACCOUNT_NUMBER_GROUPS = "account.group_account_user,account.group_account_manager"


class ResPartnerBank(models.Model):
    _inherit = "res.partner.bank"

    # === COMPUTE METHODS === #

    @api.depends_context("uid")
    def _compute_display_name(self):
        """Override of `account` to show account numbers masked to users outside the
        accounting groups (X-4): only the country, check digits and last four characters
        stay visible."""
        super()._compute_display_name()
        # The user's groups decide, even in sudo: the web client reads the names of
        # related records in sudo.
        if self.env.user.has_groups(FULL_ACCOUNT_NUMBER_GROUPS):
            return
        for account in self:
            if not account.acc_number:
                continue
            # Replace the number only, keeping what account adds (bank, trust label).
            account.display_name = (account.display_name or "").replace(
                account.acc_number, mask_iban(account.acc_number), 1
            )

    # === CRUD METHODS === #

    def write(self, vals):
        """Override to amend the valid SEPA mandates debiting an account whose number
        changes (S-8): the mandates keep their reference, their next collection tells
        the bank the former account, and their payment methods show the new one."""
        mandates = self.env["recurring.sepa.mandate"]
        if "acc_number" in vals:
            new_number = vals["acc_number"] or ""
            changed = self.filtered(
                lambda b: (
                    "".join((b.acc_number or "").split()).upper()
                    != "".join(new_number.split()).upper()
                )
            )
            if changed:
                mandates = (
                    self.env["recurring.sepa.mandate"]
                    .sudo()
                    .search([("partner_bank_id", "in", changed.ids), ("state", "=", "valid")])
                )
                mandates._recurring_sepa_prepare_iban_change(new_number)
        result = super().write(vals)
        for mandate in mandates:
            mandate._recurring_sepa_check_debtor()
        mandates._recurring_sepa_update_token()
        return result
