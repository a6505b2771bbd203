# Part of recurring payments for Odoo. License LGPL-3.
from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    recurring_subscription_count = fields.Integer(
        string="Subscriptions",
        compute="_compute_recurring_subscription_count",
        groups="recurring_payments.recurring_payments_group_user",
    )

    recurring_sepa_mandate_count = fields.Integer(
        string="SEPA Mandates",
        compute="_compute_recurring_sepa_mandate_count",
        groups="recurring_payments.recurring_payments_group_user",
    )

    def _compute_recurring_sepa_mandate_count(self):
        counts = dict(
            self.env["recurring.sepa.mandate"]._read_group(
                [("partner_id", "in", self.commercial_partner_id.ids)], ["partner_id"], ["__count"]
            )
        )
        for partner in self:
            partner.recurring_sepa_mandate_count = counts.get(partner.commercial_partner_id, 0)

    def _compute_recurring_subscription_count(self):
        all_partners = self.with_context(active_test=False).search_fetch(
            [("id", "child_of", self.ids)], ["parent_id"]
        )
        groups = self.env["recurring.subscription"]._read_group(
            [("partner_id", "in", all_partners.ids)], ["partner_id"], ["__count"]
        )
        self.recurring_subscription_count = 0
        for partner, count in groups:
            while partner:
                if partner in self:
                    partner.recurring_subscription_count += count
                partner = partner.parent_id

    def action_view_recurring_subscriptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "recurring_payments.recurring_subscription_action"
        )
        action["domain"] = [("commercial_partner_id", "=", self.commercial_partner_id.id)]
        action["context"] = {"default_partner_id": self.id}
        return action

    def action_view_recurring_sepa_mandates(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "recurring_payments.recurring_sepa_mandate_action"
        )
        action["domain"] = [("partner_id", "=", self.commercial_partner_id.id)]
        action["context"] = {"default_partner_id": self.commercial_partner_id.id}
        return action
