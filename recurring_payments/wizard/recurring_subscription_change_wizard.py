# Part of recurring payments for Odoo. License LGPL-3.
from odoo import _, api, fields, models
from odoo.exceptions import UserError

from recurring_payments_core.billing import LineAmount, mid_period_change
from recurring_payments_core.schedule import BillingMode, Period, ScheduleError, iter_billing_events

from ..utils import schedule_error_message, to_decimal


class RecurringSubscriptionChangeWizard(models.TransientModel):
    _name = "recurring.subscription.change.wizard"
    _description = "Change the Plan, Quantities or Prices of a Subscription"

    subscription_id = fields.Many2one(comodel_name="recurring.subscription", required=True)
    currency_id = fields.Many2one(related="subscription_id.currency_id")
    current_plan_id = fields.Many2one(related="subscription_id.plan_id", string="Current Plan")
    plan_id = fields.Many2one(
        comodel_name="recurring.plan",
        compute="_compute_plan_id",
        store=True,
        precompute=True,
        readonly=False,
        required=True,
        help="Choose another plan to move the subscription to it from the effective date: "
        "the old plan is billed exactly up to the day before.",
    )
    date = fields.Date(
        string="Effective Date",
        required=True,
        default=fields.Date.context_today,
        help="First day at the new quantities and prices.",
    )
    line_ids = fields.One2many(
        comodel_name="recurring.subscription.change.wizard.line",
        inverse_name="wizard_id",
        string="Lines",
        compute="_compute_line_ids",
        store=True,
        readonly=False,
    )
    prorate = fields.Boolean(
        string="Prorate the Current Period",
        default=True,
        help="Invoice (or credit) the difference for the current period, to the cent.",
    )

    @api.depends("subscription_id")
    def _compute_plan_id(self):
        for wizard in self:
            wizard.plan_id = wizard.subscription_id.plan_id

    @api.depends("subscription_id")
    def _compute_line_ids(self):
        for wizard in self:
            wizard.line_ids = [fields.Command.clear()] + [
                fields.Command.create(
                    {
                        "subscription_line_id": line.id,
                        "quantity": line.quantity,
                        "price_unit": line.price_unit,
                    }
                )
                for line in wizard.subscription_id.line_ids
                if not line.display_type
            ]

    def _current_period(self):
        """Return the core period containing the effective date, or None."""
        subscription = self.subscription_id
        try:
            terms = subscription._recurring_terms()
            for event in iter_billing_events(terms):
                if event.period.start > self.date:
                    return None
                if self.date in event.period:
                    return event.full_period if event.fraction == 1 else event.period
        except ScheduleError as error:
            raise UserError(schedule_error_message(self.env, error)) from error
        return None

    def action_apply(self):
        self.ensure_one()
        subscription = self.subscription_id
        if subscription.state not in ("trial", "active", "past_due", "draft"):
            raise UserError(_("Only running subscriptions can be changed."))
        if self.plan_id != subscription.plan_id:
            return self._apply_plan_change()
        currency = subscription.currency_id
        decimals = currency.decimal_places
        mode = BillingMode(subscription.plan_id.billing_mode)
        period = self._current_period() if self.prorate and subscription.state != "draft" else None
        billed = bool(
            subscription.billed_until and period and period.end <= subscription.billed_until
        )
        adjustment_lines = []
        for wizard_line in self.line_ids:
            line = wizard_line.subscription_line_id
            if wizard_line.quantity < 0:
                raise UserError(_("A quantity cannot be negative."))
            if period and (mode == BillingMode.ARREARS or billed):
                old = LineAmount(
                    to_decimal(line.quantity, currency),
                    to_decimal(line.price_unit, currency),
                    to_decimal(line.discount, currency),
                ).subtotal(decimals)
                new = LineAmount(
                    to_decimal(wizard_line.quantity, currency),
                    to_decimal(wizard_line.price_unit, currency),
                    to_decimal(line.discount, currency),
                ).subtotal(decimals)
                amount = mid_period_change(
                    Period(period.start, period.end), self.date, old, new, mode, decimals=decimals
                )
                if amount:
                    adjustment_lines.append(
                        (
                            line.product_id,
                            line.name,
                            line.tax_ids,
                            amount,
                            Period(max(self.date, period.start), period.end),
                        )
                    )
            line.write({"quantity": wizard_line.quantity, "price_unit": wizard_line.price_unit})
        moves = self.env["account.move"]
        if adjustment_lines:
            moves = subscription._recurring_create_adjustment(adjustment_lines, self.date)
        subscription.message_post(
            body=_("Quantities and prices changed from %(date)s.", date=self.date)
        )
        if moves:
            return subscription._recurring_action_view_invoices(moves)
        return {"type": "ir.actions.act_window_close"}

    def _apply_plan_change(self):
        """Bill the old plan up to the effective date, then apply the new plan and lines."""
        subscription = self.subscription_id
        moves = subscription._recurring_change_plan(self.plan_id, self.date)
        for wizard_line in self.line_ids:
            if wizard_line.quantity < 0:
                raise UserError(_("A quantity cannot be negative."))
            wizard_line.subscription_line_id.write(
                {"quantity": wizard_line.quantity, "price_unit": wizard_line.price_unit}
            )
        if moves:
            return subscription._recurring_action_view_invoices(moves)
        return {"type": "ir.actions.act_window_close"}


class RecurringSubscriptionChangeWizardLine(models.TransientModel):
    _name = "recurring.subscription.change.wizard.line"
    _description = "Change of a Subscription Line"

    wizard_id = fields.Many2one(
        comodel_name="recurring.subscription.change.wizard", required=True, ondelete="cascade"
    )
    subscription_line_id = fields.Many2one(
        comodel_name="recurring.subscription.line", required=True, ondelete="cascade"
    )
    name = fields.Text(related="subscription_line_id.name")
    quantity = fields.Float(string="New Quantity", digits="Product Unit of Measure")
    price_unit = fields.Float(string="New Unit Price", digits="Product Price")
