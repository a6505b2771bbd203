# Part of recurring payments for Odoo. License LGPL-3.
from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..const import TRANSITIONS

#: Reason type asked for by each transition (None: no reason asked).
TRANSITION_REASON_TYPE = {
    "pause": "pause",
    "suspend": "suspend",
    "cancel": "cancel",
    "resume": None,
    "reinstate": None,
}


class RecurringSubscriptionTransitionWizard(models.TransientModel):
    _name = "recurring.subscription.transition.wizard"
    _description = "Change the Status of Subscriptions"

    subscription_ids = fields.Many2many(
        comodel_name="recurring.subscription",
        relation="recurring_subscription_transition_wizard_rel",
        string="Subscriptions",
        required=True,
    )
    transition = fields.Selection(selection=TRANSITIONS, required=True)
    date = fields.Date(
        string="Effective Date",
        required=True,
        default=fields.Date.context_today,
        help="Pause and suspension: first day without service. Resume and reinstatement: "
        "first day of service again. Cancellation: first day without service.",
    )
    reason_type = fields.Char(compute="_compute_reason_type")
    reason_id = fields.Many2one(
        comodel_name="recurring.reason",
        domain="[('reason_type', '=', reason_type)]",
    )
    note = fields.Char()
    credit_unused = fields.Boolean(
        string="Credit the Unused Part",
        help="Issue a credit note for the days already invoiced after the cancellation date.",
    )

    @api.depends("transition")
    def _compute_reason_type(self):
        for wizard in self:
            wizard.reason_type = TRANSITION_REASON_TYPE.get(wizard.transition) or False

    def action_apply(self):
        self.ensure_one()
        subscriptions = self.subscription_ids
        today = fields.Date.context_today(self)
        if self.reason_type and not self.reason_id:
            raise UserError(_("Please give a reason."))
        labels = dict(self._fields["transition"]._description_selection(self.env))
        label = labels[self.transition]
        if self.transition in ("pause", "suspend", "resume", "reinstate") and self.date > today:
            raise UserError(_("A pause, suspension or resumption cannot be dated in the future."))
        if self.transition == "pause":
            subscriptions._recurring_pause(self.date, self.reason_id, self.note, kind="pause")
            label = _("Paused from %(date)s", date=self.date)
        elif self.transition == "suspend":
            subscriptions._recurring_pause(self.date, self.reason_id, self.note, kind="suspension")
            label = _("Suspended from %(date)s", date=self.date)
        elif self.transition == "resume":
            subscriptions._recurring_resume(self.date, "paused")
            label = _("Resumed on %(date)s", date=self.date)
        elif self.transition == "reinstate":
            subscriptions._recurring_resume(self.date, "suspended")
            label = _("Reinstated on %(date)s", date=self.date)
        elif self.transition == "cancel":
            credit_notes = subscriptions._recurring_cancel(
                self.date, self.reason_id, credit_unused=self.credit_unused
            )
            label = _("Cancelled from %(date)s", date=self.date)
            if credit_notes:
                label = _(
                    "%(label)s; credit note %(notes)s issued for the unused days",
                    label=label,
                    notes=", ".join(credit_notes.mapped("name")),
                )
        subscriptions._recurring_post_transition(label, self.reason_id, self.note)
        return {"type": "ir.actions.act_window_close"}
