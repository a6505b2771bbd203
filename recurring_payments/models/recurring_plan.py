# Part of recurring payments for Odoo. License LGPL-3.
from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from recurring_payments_core.schedule import ScheduleError

from ..const import BILLING_MODES, PERIOD_UNITS
from ..utils import plan_recurrence, plan_trial, schedule_error_message


class RecurringPlan(models.Model):
    _name = "recurring.plan"
    _description = "Subscription Plan"
    _order = "sequence, id"
    _check_company_auto = True

    name = fields.Char(string="Plan", required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        comodel_name="res.company",
        help="Leave empty to share the plan between companies.",
    )
    period_unit = fields.Selection(
        selection=PERIOD_UNITS,
        required=True,
        default="month",
    )
    period_interval = fields.Integer(
        string="Every",
        required=True,
        default=1,
        help="Number of units in one billing period: 3 months for a quarterly plan.",
    )
    billing_mode = fields.Selection(
        selection=BILLING_MODES,
        string="Invoicing",
        required=True,
        default="advance",
        help="In advance: a period is invoiced on its first day.\n"
        "In arrears: a period is invoiced the day after it ends.",
    )
    billing_day = fields.Integer(
        help="Day of the month on which monthly and yearly periods start (1-31; the last day "
        "of shorter months is used). The first period of a subscription starting on another "
        "day is prorated. Leave empty to start periods on the subscription's start date.",
    )
    trial_interval = fields.Integer(
        string="Trial Length",
        default=0,
        help="Free trial before the first billed period. 0 for no trial.",
    )
    trial_unit = fields.Selection(
        selection=PERIOD_UNITS,
        required=True,
        default="day",
    )
    customer_can_pause = fields.Boolean(
        string="Customers Can Pause",
        help="Customers may pause and resume their subscription themselves from the portal.",
    )
    customer_can_cancel = fields.Boolean(
        string="Customers Can Cancel",
        default=True,
        help="Customers may cancel their subscription themselves from the portal.",
    )
    journal_id = fields.Many2one(
        comodel_name="account.journal",
        string="Invoicing Journal",
        domain="[('type', '=', 'sale')]",
        check_company=True,
        help="Sales journal of the invoices. Leave empty to use the company's default.",
    )
    payment_term_id = fields.Many2one(
        comodel_name="account.payment.term",
        string="Payment Terms",
        check_company=True,
    )
    retry_policy_id = fields.Many2one(
        comodel_name="recurring.retry.policy",
        check_company=True,
        help="How failed automatic payments are retried. Leave empty to use the company's "
        "default policy.",
    )
    pre_charge_notice_days = fields.Integer(
        string="Notice Before Charging (Days)",
        default=0,
        help="For subscriptions paid with a saved payment method: tell the customer this many "
        "days before each invoice what will be charged. 0 sends no notice.",
    )
    auto_send = fields.Boolean(
        string="Send Invoices by Email",
        default=True,
        help="Posted invoices are sent to the customer by email in the background.",
    )
    description = fields.Html(translate=True)
    period_label = fields.Char(string="Billing Period", compute="_compute_period_label")
    subscription_ids = fields.One2many(
        comodel_name="recurring.subscription",
        inverse_name="plan_id",
        string="Subscriptions",
    )
    subscription_count = fields.Integer(compute="_compute_subscription_count")

    _sql_constraints = [
        (
            "period_interval_positive",
            "CHECK(period_interval >= 1)",
            "The billing period of a plan must be at least one unit long.",
        ),
        (
            "trial_interval_positive",
            "CHECK(trial_interval >= 0)",
            "The trial length cannot be negative.",
        ),
        (
            "billing_day_range",
            "CHECK(billing_day IS NULL OR billing_day BETWEEN 0 AND 31)",
            "The billing day must be between 1 and 31.",
        ),
    ]

    # === COMPUTE METHODS === #

    @api.depends("period_unit", "period_interval")
    def _compute_period_label(self):
        labels = {
            "day": (_("Daily"), _("Every %(count)s days")),
            "week": (_("Weekly"), _("Every %(count)s weeks")),
            "month": (_("Monthly"), _("Every %(count)s months")),
            "year": (_("Yearly"), _("Every %(count)s years")),
        }
        for plan in self:
            single, several = labels[plan.period_unit or "month"]
            if plan.period_interval == 1:
                plan.period_label = single
            else:
                plan.period_label = several % {"count": plan.period_interval}

    def _compute_subscription_count(self):
        counts = dict(
            self.env["recurring.subscription"]._read_group(
                [("plan_id", "in", self.ids)], ["plan_id"], ["__count"]
            )
        )
        for plan in self:
            plan.subscription_count = counts.get(plan, 0)

    # === CONSTRAINT METHODS === #

    @api.constrains("period_unit", "period_interval", "trial_unit", "trial_interval", "billing_day")
    def _check_recurrence(self):
        for plan in self:
            if plan.period_interval < 1:
                raise ValidationError(
                    _(
                        "The billing period of plan %(plan)s must be at least one unit long.",
                        plan=plan.name,
                    )
                )
            if plan.trial_interval < 0:
                raise ValidationError(_("The trial length cannot be negative."))
            if plan.billing_day and not 1 <= plan.billing_day <= 31:
                raise ValidationError(_("The billing day must be between 1 and 31."))
            try:
                plan_recurrence(plan)
                plan_trial(plan)
            except ScheduleError as error:
                raise ValidationError(schedule_error_message(self.env, error)) from error

    # === ACTION METHODS === #

    def action_open_subscriptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "recurring_payments.recurring_subscription_action"
        )
        action["domain"] = [("plan_id", "=", self.id)]
        action["context"] = {"default_plan_id": self.id}
        return action
