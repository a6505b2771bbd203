# Part of recurring payments for Odoo. License LGPL-3.
import logging
import threading
from collections import defaultdict
from datetime import timedelta

from odoo import _, api, fields, models, modules
from odoo.exceptions import UserError, ValidationError
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tools import format_date, formatLang

from recurring_payments_core.billing import LineAmount, monthly_factor
from recurring_payments_core.retry import card_expiry_notice, upcoming_charge_notice_due
from recurring_payments_core.schedule import (
    Period,
    ScheduleError,
    cancellation_credit,
    due_billing_events,
    next_billing_event,
)

from ..const import (
    BILLABLE_STATES,
    INVOICING_BATCH_SIZE,
    INVOICING_TIME_BUDGET,
    PAYMENT_MODES,
    RUNNING_STATES,
    SUBSCRIPTION_STATES,
)
from ..utils import (
    run_cron_batches,
    schedule_error_message,
    send_customer_mail,
    subscription_terms,
    to_decimal,
)

_logger = logging.getLogger(__name__)


class RecurringSubscription(models.Model):
    _name = "recurring.subscription"
    _description = "Subscription"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "id desc"
    _check_company_auto = True

    name = fields.Char(
        string="Reference",
        required=True,
        readonly=True,
        copy=False,
        index="trigram",
        default=lambda self: _("New"),
    )
    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
    )
    partner_id = fields.Many2one(
        comodel_name="res.partner",
        string="Customer",
        required=True,
        index=True,
        tracking=True,
        check_company=True,
    )
    commercial_partner_id = fields.Many2one(
        related="partner_id.commercial_partner_id",
        store=True,
        index=True,
        string="Commercial Entity",
    )
    partner_invoice_id = fields.Many2one(
        comodel_name="res.partner",
        string="Invoice Address",
        compute="_compute_partner_invoice_id",
        store=True,
        precompute=True,
        readonly=False,
        required=True,
        check_company=True,
        tracking=True,
    )
    plan_id = fields.Many2one(
        comodel_name="recurring.plan",
        required=True,
        tracking=True,
        check_company=True,
        ondelete="restrict",
    )
    user_id = fields.Many2one(
        comodel_name="res.users",
        string="Responsible",
        tracking=True,
        default=lambda self: self.env.user,
        domain="[('share', '=', False)]",
    )
    pricelist_id = fields.Many2one(
        comodel_name="product.pricelist",
        compute="_compute_pricelist_id",
        store=True,
        precompute=True,
        readonly=False,
        check_company=True,
        tracking=True,
    )
    currency_id = fields.Many2one(
        comodel_name="res.currency",
        compute="_compute_currency_id",
        store=True,
        precompute=True,
        readonly=False,
        required=True,
        tracking=True,
    )
    company_currency_id = fields.Many2one(
        related="company_id.currency_id", string="Company Currency"
    )
    fiscal_position_id = fields.Many2one(
        comodel_name="account.fiscal.position",
        compute="_compute_fiscal_position_id",
        store=True,
        precompute=True,
        readonly=False,
        check_company=True,
        help="Maps the taxes and accounts of the lines, for example for customers abroad.",
    )
    line_ids = fields.One2many(
        comodel_name="recurring.subscription.line",
        inverse_name="subscription_id",
        string="Lines",
        copy=True,
    )
    date_start = fields.Date(
        string="Start Date",
        required=True,
        tracking=True,
        default=fields.Date.context_today,
    )
    date_end = fields.Date(
        string="End Date",
        tracking=True,
        copy=False,
        help="Last day of service. Leave empty for a subscription that renews until cancelled.",
    )
    date_schedule_start = fields.Date(
        string="Current Plan Since",
        readonly=True,
        copy=False,
        help="Start of the billing schedule of the current plan: the start date, or the "
        "date of the last plan change.",
    )
    date_trial_end = fields.Date(
        string="Trial Ends",
        compute="_compute_date_trial_end",
        store=True,
        help="First billed day, after the free trial.",
    )
    billed_until = fields.Date(
        readonly=True,
        copy=False,
        help="Last day of the last period invoiced.",
    )
    next_invoice_date = fields.Date(
        string="Next Invoice",
        compute="_compute_next_invoice_date",
        store=True,
        index=True,
        copy=False,
    )
    state = fields.Selection(
        selection=SUBSCRIPTION_STATES,
        string="Status",
        required=True,
        readonly=True,
        copy=False,
        index=True,
        tracking=True,
        default="draft",
        group_expand=True,
    )
    reason_id = fields.Many2one(
        comodel_name="recurring.reason",
        readonly=True,
        copy=False,
        tracking=True,
        help="Reason of the last pause, suspension or cancellation.",
    )
    pause_ids = fields.One2many(
        comodel_name="recurring.subscription.pause",
        inverse_name="subscription_id",
        string="Pauses",
        readonly=True,
        copy=False,
    )
    payment_mode = fields.Selection(
        selection=PAYMENT_MODES,
        string="Payment Method",
        required=True,
        default="manual",
        tracking=True,
    )
    payment_token_id = fields.Many2one(
        comodel_name="payment.token",
        string="Saved Payment Method",
        tracking=True,
        check_company=True,
        domain="[('partner_id', 'child_of', commercial_partner_id),"
        " ('company_id', '=', company_id)]",
    )
    amount_untaxed = fields.Monetary(
        string="Untaxed Amount", compute="_compute_amounts", store=True, tracking=True
    )
    amount_tax = fields.Monetary(string="Taxes", compute="_compute_amounts", store=True)
    amount_total = fields.Monetary(string="Total", compute="_compute_amounts", store=True)
    recurring_monthly = fields.Monetary(
        string="MRR",
        compute="_compute_recurring_monthly",
        store=True,
        currency_field="company_currency_id",
        help="Monthly recurring revenue, untaxed, in the company's currency.",
    )
    invoice_ids = fields.One2many(
        comodel_name="account.move",
        inverse_name="recurring_subscription_id",
        string="Invoices",
        readonly=True,
        copy=False,
    )
    invoice_count = fields.Integer(compute="_compute_invoice_count")
    invoicing_error = fields.Text(
        readonly=True,
        copy=False,
        help="Why the last automatic invoicing of this subscription failed.",
    )
    invoicing_error_date = fields.Date(readonly=True, copy=False)
    payment_attempt_count = fields.Integer(compute="_compute_payment_attempt_count")
    pre_charge_notified_for = fields.Date(
        readonly=True,
        copy=False,
        help="Next invoice date for which the customer was told what will be charged.",
    )
    card_expiry_notified = fields.Integer(
        string="Card Expiry Notice",
        readonly=True,
        copy=False,
        help="Days before expiry of the last card expiry notice sent for the current card.",
    )
    note = fields.Html(string="Terms and Conditions")

    _sql_constraints = [
        (
            "name_company_uniq",
            "UNIQUE(name, company_id)",
            "A subscription reference must be unique per company.",
        ),
        (
            "date_end_after_start",
            "CHECK(date_end IS NULL OR date_end >= date_start)",
            "The end date of a subscription cannot be before its start date.",
        ),
    ]

    # === COMPUTE METHODS === #

    @api.depends("partner_id")
    def _compute_partner_invoice_id(self):
        for subscription in self:
            subscription.partner_invoice_id = (
                subscription.partner_id.address_get(["invoice"])["invoice"]
                if subscription.partner_id
                else False
            )

    @api.depends("partner_id", "company_id")
    def _compute_pricelist_id(self):
        for subscription in self:
            if not subscription.partner_id:
                subscription.pricelist_id = False
                continue
            subscription.pricelist_id = subscription.partner_id.with_company(
                subscription.company_id
            ).property_product_pricelist

    @api.depends("pricelist_id", "company_id")
    def _compute_currency_id(self):
        for subscription in self:
            subscription.currency_id = (
                subscription.pricelist_id.currency_id or subscription.company_id.currency_id
            )

    @api.depends("partner_id", "partner_invoice_id", "company_id")
    def _compute_fiscal_position_id(self):
        for subscription in self:
            if not subscription.partner_id:
                subscription.fiscal_position_id = False
                continue
            subscription.fiscal_position_id = (
                self.env["account.fiscal.position"]
                .with_company(subscription.company_id)
                ._get_fiscal_position(
                    subscription.partner_invoice_id or subscription.partner_id,
                )
            )

    @api.depends("date_start", "plan_id.trial_interval", "plan_id.trial_unit")
    def _compute_date_trial_end(self):
        for subscription in self:
            if not (subscription.date_start and subscription.plan_id):
                subscription.date_trial_end = False
                continue
            subscription.date_trial_end = subscription._recurring_terms().billing_start

    @api.depends(
        "state",
        "date_start",
        "date_schedule_start",
        "date_end",
        "billed_until",
        "pause_ids.date_start",
        "pause_ids.date_end",
        "plan_id.period_unit",
        "plan_id.period_interval",
        "plan_id.billing_mode",
        "plan_id.billing_day",
        "plan_id.trial_interval",
        "plan_id.trial_unit",
    )
    def _compute_next_invoice_date(self):
        for subscription in self:
            if subscription.state in ("draft", "paused", "suspended") or not (
                subscription.plan_id and subscription.date_start
            ):
                subscription.next_invoice_date = False
                continue
            event = next_billing_event(
                subscription._recurring_terms(), billed_until=subscription.billed_until or None
            )
            subscription.next_invoice_date = event.invoice_date if event else False

    @api.depends("line_ids.price_subtotal", "line_ids.price_tax", "line_ids.price_total")
    def _compute_amounts(self):
        for subscription in self:
            lines = subscription.line_ids
            subscription.amount_untaxed = sum(lines.mapped("price_subtotal"))
            subscription.amount_tax = sum(lines.mapped("price_tax"))
            subscription.amount_total = sum(lines.mapped("price_total"))

    @api.depends(
        "amount_untaxed",
        "currency_id",
        "company_id",
        "state",
        "plan_id.period_unit",
        "plan_id.period_interval",
    )
    def _compute_recurring_monthly(self):
        for subscription in self:
            if (
                subscription.state not in ("trial", "active", "past_due")
                or not subscription.plan_id
            ):
                subscription.recurring_monthly = 0.0
                continue
            factor = monthly_factor(
                subscription.plan_id.period_unit, subscription.plan_id.period_interval
            )
            monthly = subscription.amount_untaxed * float(factor)
            subscription.recurring_monthly = subscription.currency_id._convert(
                monthly,
                subscription.company_id.currency_id,
                subscription.company_id,
                fields.Date.context_today(subscription),
            )

    def _compute_invoice_count(self):
        counts = dict(
            self.env["account.move"]._read_group(
                [("recurring_subscription_id", "in", self.ids)],
                ["recurring_subscription_id"],
                ["__count"],
            )
        )
        for subscription in self:
            subscription.invoice_count = counts.get(subscription, 0)

    def _compute_payment_attempt_count(self):
        counts = dict(
            self.env["recurring.payment.attempt"]._read_group(
                [("subscription_id", "in", self.ids)], ["subscription_id"], ["__count"]
            )
        )
        for subscription in self:
            subscription.payment_attempt_count = counts.get(subscription, 0)

    # === CONSTRAINT METHODS === #

    def write(self, vals):
        if "payment_token_id" in vals:
            vals = dict(vals, card_expiry_notified=0)
        return super().write(vals)

    @api.constrains("payment_mode", "payment_token_id", "partner_id", "company_id")
    def _check_payment_token(self):
        for subscription in self:
            token = subscription.payment_token_id
            if subscription.payment_mode == "token" and not token and subscription.state != "draft":
                raise ValidationError(
                    _(
                        "Subscription %(name)s is paid with a saved payment method: choose one.",
                        name=subscription.name,
                    )
                )
            if (
                token
                and token.partner_id.commercial_partner_id != subscription.commercial_partner_id
            ):
                raise ValidationError(
                    _(
                        "The payment method %(token)s does not belong to the customer %(customer)s.",  # noqa: E501
                        token=token.display_name,
                        customer=subscription.commercial_partner_id.display_name,
                    )
                )

    @api.constrains("date_start", "date_end", "plan_id")
    def _check_schedule(self):
        for subscription in self:
            try:
                subscription._recurring_terms()
            except ScheduleError as error:
                raise ValidationError(schedule_error_message(self.env, error)) from error

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", _("New")) == _("New"):
                company = self.env["res.company"].browse(vals.get("company_id")) or self.env.company
                vals["name"] = self.env["ir.sequence"].with_company(company).next_by_code(
                    "recurring.subscription"
                ) or _("New")
        return super().create(vals_list)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_invoiced(self):
        for subscription in self:
            if subscription.state != "draft" or subscription.invoice_ids:
                raise UserError(
                    _(
                        "Only draft subscriptions that were never invoiced can be deleted; "
                        "cancel %(name)s instead.",
                        name=subscription.name,
                    )
                )

    # === ACTION METHODS === #

    def action_confirm(self):
        """Start the subscription: in trial while its free trial runs, then active."""
        today = fields.Date.context_today(self)
        for subscription in self:
            if subscription.state != "draft":
                raise UserError(_("Only draft subscriptions can be started."))
            if not subscription.line_ids:
                raise UserError(
                    _(
                        "Add at least one line to subscription %(name)s before starting it.",
                        name=subscription.name,
                    )
                )
            in_trial = subscription.date_trial_end and subscription.date_trial_end > max(
                today, subscription.date_start
            )
            subscription.state = "trial" if in_trial else "active"
        return True

    def action_set_active(self):
        """Back in good standing (from past due)."""
        for subscription in self:
            if subscription.state != "past_due":
                raise UserError(_("Only past due subscriptions can be set back to active."))
        self.state = "active"
        return True

    def action_draft(self):
        for subscription in self:
            if subscription.state != "cancelled" or subscription.invoice_ids:
                raise UserError(
                    _(
                        "Only cancelled subscriptions that were never invoiced can be reset to draft."  # noqa: E501
                    )
                )
        self.write({"state": "draft", "reason_id": False, "date_end": False})
        return True

    def _recurring_open_transition(self, transition):
        return {
            "type": "ir.actions.act_window",
            "name": _("Change Subscription Status"),
            "res_model": "recurring.subscription.transition.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {
                "default_subscription_ids": self.ids,
                "default_transition": transition,
            },
        }

    def action_pause(self):
        return self._recurring_open_transition("pause")

    def action_resume(self):
        return self._recurring_open_transition("resume")

    def action_suspend(self):
        return self._recurring_open_transition("suspend")

    def action_reinstate(self):
        return self._recurring_open_transition("reinstate")

    def action_cancel(self):
        return self._recurring_open_transition("cancel")

    def action_change(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Change Plan, Quantities or Prices"),
            "res_model": "recurring.subscription.change.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_subscription_id": self.id},
        }

    def action_generate_invoice(self):
        """Invoice every due period now, or the next period ahead of time when none is due.

        Uses the same code path as the invoicing cron.
        """
        today = fields.Date.context_today(self)
        for subscription in self:
            if subscription.state not in BILLABLE_STATES + ("cancelled", "closed"):
                raise UserError(
                    _(
                        "Subscription %(name)s cannot be invoiced in its current status.",
                        name=subscription.name,
                    )
                )
            if not subscription.next_invoice_date:
                raise UserError(
                    _("Subscription %(name)s has nothing left to invoice.", name=subscription.name)
                )
        self.env.cr.execute(
            "SELECT id FROM recurring_subscription WHERE id IN %s FOR NO KEY UPDATE",
            [tuple(self.ids)],
        )
        self.invalidate_recordset()
        moves = self.env["account.move"]
        for subscription in self:
            up_to = max(today, subscription.next_invoice_date)
            moves |= subscription._recurring_create_invoices(up_to)
            subscription.invoicing_error = False
        return self._recurring_action_view_invoices(moves)

    def action_view_payment_attempts(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "recurring_payments.recurring_payment_attempt_action"
        )
        action["domain"] = [("subscription_id", "=", self.id)]
        return action

    def action_view_invoices(self):
        self.ensure_one()
        return self._recurring_action_view_invoices(self.invoice_ids)

    def _recurring_action_view_invoices(self, moves):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "account.action_move_out_invoice_type"
        )
        action["domain"] = [("id", "in", moves.ids)]
        action["context"] = {"default_move_type": "out_invoice", "create": False}
        if len(moves) == 1:
            action["views"] = [(self.env.ref("account.view_move_form").id, "form")]
            action["res_id"] = moves.id
        return action

    @api.model
    def action_invoicing_preview(self):
        """Open the dry run: what the next invoicing run would create, without creating it."""
        preview = self.env["recurring.invoicing.preview"].create({})
        preview._compute_lines()
        return {
            "type": "ir.actions.act_window",
            "name": _("Next Invoicing Run"),
            "res_model": "recurring.invoicing.preview",
            "res_id": preview.id,
            "view_mode": "form",
            "target": "new",
        }

    # === BUSINESS METHODS: core adapters === #

    def _recurring_terms(self, end_date=None):
        """Return the core billing terms of the subscription."""
        self.ensure_one()
        return subscription_terms(self, end_date=end_date)

    def _recurring_due_events(self, today, end_date=None):
        """Return the core billing events due on ``today`` that are not invoiced yet."""
        self.ensure_one()
        return due_billing_events(
            self._recurring_terms(end_date=end_date),
            billed_until=self.billed_until or None,
            today=today,
        )

    # === BUSINESS METHODS: invoicing === #

    def _recurring_prepare_invoice_vals(self, event, invoice_date):
        """Return the values of the invoice of one billing event.

        :param event: a core ``BillingEvent``
        :param date invoice_date: the issue date of the invoice
        """
        self.ensure_one()
        plan = self.plan_id
        # Invoice texts are written in the customer's language, whoever runs the cron.
        customer_env = self.with_context(lang=self.partner_invoice_id.lang or self.env.lang).env
        period_label = customer_env._(
            "Period: %(start)s to %(end)s",
            start=format_date(customer_env, event.period.start),
            end=format_date(customer_env, event.period.end),
        )
        prorated = event.fraction != 1
        decimals = self.currency_id.decimal_places
        line_commands = []
        for line in self.line_ids:
            if line.display_type:
                line_commands.append(
                    fields.Command.create({"display_type": line.display_type, "name": line.name})
                )
                continue
            line_vals = {
                "product_id": line.product_id.id,
                "product_uom_id": line.product_uom_id.id,
                "name": f"{line.name}\n{period_label}",
                "quantity": line.quantity,
                "price_unit": line.price_unit,
                "discount": line.discount,
                "tax_ids": [fields.Command.set(line.tax_ids.ids)],
                "recurring_period_start": event.period.start,
                "recurring_period_end": event.period.end,
            }
            if prorated:
                amount = LineAmount(
                    to_decimal(line.quantity, self.currency_id),
                    to_decimal(line.price_unit, self.currency_id),
                    to_decimal(line.discount, self.currency_id),
                ).prorated(event.fraction, decimals)
                line_vals.update(
                    {
                        "name": customer_env._(
                            "%(line)s\n%(period)s (prorated: %(used)s of %(total)s days, "
                            "%(quantity)s × %(price)s)",
                            line=line.name,
                            period=period_label,
                            used=event.period.days,
                            total=event.full_period.days,
                            quantity=formatLang(
                                customer_env, line.quantity, dp="Product Unit of Measure"
                            ),
                            price=formatLang(
                                customer_env, line.price_unit, currency_obj=self.currency_id
                            ),
                        ),
                        "quantity": 1.0,
                        "price_unit": float(amount),
                        "discount": 0.0,
                    }
                )
            line_commands.append(fields.Command.create(line_vals))
        vals = {
            "move_type": "out_invoice",
            "company_id": self.company_id.id,
            "partner_id": self.partner_invoice_id.id,
            "currency_id": self.currency_id.id,
            "fiscal_position_id": self.fiscal_position_id.id,
            "invoice_date": invoice_date,
            "invoice_origin": self.name,
            "invoice_user_id": self.user_id.id,
            "narration": self.note,
            "recurring_subscription_id": self.id,
            "recurring_plan_id": plan.id,
            "recurring_period_start": event.period.start,
            "recurring_period_end": event.period.end,
            "invoice_line_ids": line_commands,
        }
        if plan.journal_id:
            vals["journal_id"] = plan.journal_id.id
        if plan.payment_term_id:
            vals["invoice_payment_term_id"] = plan.payment_term_id.id
        return vals

    def _recurring_create_invoices(self, today, end_date=None):
        """Create and post the invoices of every period of ``self`` due on ``today``.

        The subscriptions' ``billed_until`` advances in the same transaction as the
        invoices, so a re-run finds nothing left to invoice (B-2), and a unique index on
        (subscription, period start) refuses a second invoice for a period whatever
        happens. Invoices are created per company in one ``create`` call.

        :return: the posted invoices
        """
        vals_by_company = defaultdict(list)
        billed = {}
        invoice_date = fields.Date.context_today(self)
        for subscription in self:
            events = subscription._recurring_due_events(today, end_date=end_date)
            for event in events:
                vals_by_company[subscription.company_id].append(
                    subscription._recurring_prepare_invoice_vals(event, invoice_date)
                )
            if events:
                billed[subscription] = events[-1].period.end
        moves = self.env["account.move"]
        for company, vals_list in vals_by_company.items():
            moves |= (
                self.env["account.move"]
                .with_company(company)
                .with_context(default_move_type="out_invoice", check_move_validity=False)
                .create(vals_list)
            )
        if not moves:
            return moves
        moves.action_post()
        moves._recurring_schedule_charge()
        for subscription, billed_until in billed.items():
            vals = {"billed_until": billed_until}
            if subscription.state == "trial":
                vals["state"] = "active"
            if subscription.invoicing_error:
                vals.update({"invoicing_error": False, "invoicing_error_date": False})
            subscription.write(vals)
        moves._recurring_queue_sending()
        return moves

    @api.model
    def _recurring_can_commit(self):
        """Whether the invoicing cron may commit its batches (never inside a test)."""
        if self.env.context.get("recurring_commit") is not None:
            return bool(self.env.context["recurring_commit"])
        testing = getattr(threading.current_thread(), "testing", False)
        return not (testing or modules.module.current_test)

    @api.model
    def _recurring_claim_due(self, today, limit):
        """Lock and return up to ``limit`` subscriptions due on ``today``.

        Rows locked by another worker are skipped, so several cron workers share the work.
        Subscriptions that failed today wait for tomorrow or for a person.
        """
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT id
              FROM recurring_subscription
             WHERE next_invoice_date <= %(today)s
               AND state NOT IN ('draft', 'paused', 'suspended')
               AND (invoicing_error_date IS NULL OR invoicing_error_date < %(today)s)
             ORDER BY next_invoice_date, id
             LIMIT %(limit)s
               FOR NO KEY UPDATE SKIP LOCKED
            """,
            {"today": today, "limit": limit},
            log_exceptions=False,  # a lost race is retried by the caller, not an error
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        subscriptions = self.browse(ids)
        # Another worker may have committed these rows between our snapshot and our lock.
        subscriptions.invalidate_recordset()
        return subscriptions

    @api.model
    def _recurring_count_due(self, today):
        self.env.cr.execute(
            """
            SELECT COUNT(*)
              FROM recurring_subscription
             WHERE next_invoice_date <= %(today)s
               AND state NOT IN ('draft', 'paused', 'suspended')
               AND (invoicing_error_date IS NULL OR invoicing_error_date < %(today)s)
            """,
            {"today": today},
        )
        return self.env.cr.fetchone()[0]

    def _recurring_invoice_batch(self, today):
        """Invoice a claimed batch; isolate the subscriptions that fail.

        The batch is first invoiced at once. If that fails, each subscription is invoiced
        in a savepoint of its own: the ones that fail are rolled back alone, flagged for a
        person to see, and the others are kept (B-5).

        :return: (invoices, failed subscriptions)
        """
        try:
            with self.env.cr.savepoint():
                return self._recurring_create_invoices(today), self.browse()
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
            raise  # the transaction is lost: the caller retries the batch
        except Exception:  # noqa: BLE001 - isolated below, one subscription at a time
            _logger.info("Invoicing batch failed; invoicing its subscriptions one by one")
        moves = self.env["account.move"]
        failed = self.browse()
        for subscription in self:
            try:
                with self.env.cr.savepoint():
                    moves |= subscription._recurring_create_invoices(today)
            except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
                raise
            except Exception as error:  # noqa: BLE001 - flagged for a person to see
                _logger.warning(
                    "Invoicing subscription %s failed", subscription.name, exc_info=True
                )
                failed |= subscription
                subscription._recurring_flag_invoicing_error(error, today)
        return moves, failed

    def _recurring_flag_invoicing_error(self, error, today):
        self.ensure_one()
        if isinstance(error, (UserError, ValidationError)):
            message = error.args[0]
        else:
            message = _("Unexpected error: %(error)s", error=error)
        self.write({"invoicing_error": message, "invoicing_error_date": today})
        self.activity_schedule(
            "mail.mail_activity_data_warning",
            summary=_("Automatic invoicing failed"),
            note=message,
            user_id=(
                self.user_id
                or self.env.ref("base.user_admin", raise_if_not_found=False)
                or self.env.user
            ).id,
        )

    @api.model
    def _cron_generate_invoices(
        self, batch_size=INVOICING_BATCH_SIZE, time_budget=INVOICING_TIME_BUDGET
    ):
        """Invoice every due subscription, in committed batches, on any number of workers.

        Each batch is claimed with ``FOR NO KEY UPDATE SKIP LOCKED``, invoiced, reported
        with ``ir.cron._notify_progress`` and committed. After ``time_budget`` seconds the
        call returns and the scheduler calls again while work remains.
        """
        today = fields.Date.context_today(self)
        can_commit = self._recurring_can_commit()
        self._recurring_update_states(today)
        if can_commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit
        return run_cron_batches(
            self.env,
            claim=lambda: self._recurring_claim_due(today, batch_size),
            process=lambda subscriptions: subscriptions._recurring_invoice_batch(today),
            count_remaining=lambda: self._recurring_count_due(today),
            can_commit=can_commit,
            time_budget=time_budget,
        )

    @api.model
    def _recurring_update_states(self, today):
        """Start billing trials that ended and end subscriptions past their end date."""
        ended_trials = self.search([("state", "=", "trial"), ("date_trial_end", "<=", today)])
        ended_trials.write({"state": "active"})
        ended = self.search(
            [
                ("state", "in", RUNNING_STATES),
                ("date_end", "<", today),
                ("next_invoice_date", "=", False),
            ]
        )
        for subscription in ended:
            cancelled = subscription.reason_id.reason_type == "cancel"
            subscription.state = "cancelled" if cancelled else "closed"

    # === BUSINESS METHODS: card expiry === #

    @api.model
    def _recurring_card_expiry_notice_days(self):
        """Return the days before expiry at which customers are warned, largest first."""
        text = (
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("recurring_payments.card_expiry_notice_days", "30,7")
        )
        days = sorted(
            {int(part) for part in text.split(",") if part.strip().isdigit()}, reverse=True
        )
        return days or [30, 7]

    @api.model
    def _cron_notify_card_expiry(self):
        """Warn customers whose card expires within a notice period, once per period."""
        today = fields.Date.context_today(self)
        notice_days = self._recurring_card_expiry_notice_days()
        template = self.env.ref("recurring_payments.mail_template_card_expiry")
        subscriptions = self.search(
            [
                ("state", "in", ("trial", "active", "past_due")),
                ("payment_mode", "=", "token"),
                ("payment_token_id.recurring_expiry_date", "!=", False),
                ("payment_token_id.recurring_expiry_date", ">=", today),
                (
                    "payment_token_id.recurring_expiry_date",
                    "<=",
                    today + timedelta(days=notice_days[0]),
                ),
            ]
        )
        sent = self.browse()
        for subscription in subscriptions:
            threshold = card_expiry_notice(
                subscription.payment_token_id.recurring_expiry_date,
                today,
                notice_days,
                subscription.card_expiry_notified or None,
            )
            if not threshold:
                continue
            send_customer_mail(subscription, template)
            subscription.card_expiry_notified = threshold
            sent |= subscription
        return sent

    @api.model
    def _cron_notify_upcoming_charges(self):
        """Tell customers paying by saved payment method what their next invoice will charge.

        Sent once per invoice date, the plan's notice period before it.
        """
        today = fields.Date.context_today(self)
        template = self.env.ref("recurring_payments.mail_template_upcoming_charge")
        candidates = self.search(
            [
                ("state", "in", ("trial", "active")),
                ("payment_mode", "=", "token"),
                ("plan_id.pre_charge_notice_days", ">", 0),
                ("next_invoice_date", ">", today),
            ]
        )
        sent = self.browse()
        for subscription in candidates:
            if not upcoming_charge_notice_due(
                subscription.next_invoice_date,
                today,
                subscription.plan_id.pre_charge_notice_days,
                subscription.pre_charge_notified_for or None,
            ):
                continue
            send_customer_mail(subscription, template)
            subscription.pre_charge_notified_for = subscription.next_invoice_date
            sent |= subscription
        return sent

    # === BUSINESS METHODS: payments === #

    def _recurring_payment_failed(self, attempt):
        """The automatic payment of an invoice stopped: the subscription is past due.

        A person is given an activity when the schedule is used up or the card refused
        for good; the customer's part (a new payment method, an authentication) follows
        the attempt's decision.
        """
        for subscription in self:
            if subscription.state in ("trial", "active"):
                subscription.state = "past_due"
            subscription.message_post(
                body=_(
                    "Automatic payment of %(invoice)s stopped: %(decision)s (%(category)s).",
                    invoice=attempt.invoice_id.display_name,
                    decision=dict(attempt._fields["decision"]._description_selection(self.env)).get(
                        attempt.decision
                    ),
                    category=dict(
                        attempt._fields["failure_category"]._description_selection(self.env)
                    ).get(attempt.failure_category),
                )
            )
            if attempt.decision in ("stop", "exhausted"):
                subscription.activity_schedule(
                    "mail.mail_activity_data_todo",
                    summary=_("Payment failed: contact the customer"),
                    note=attempt.provider_message,
                    user_id=(subscription.user_id or self.env.user).id,
                )

    def _recurring_payment_succeeded(self, attempt):
        """A payment went through: a past due subscription with nothing else open is active."""
        for subscription in self.filtered(lambda s: s.state == "past_due"):
            open_invoices = subscription.invoice_ids.filtered(
                lambda m: (
                    m.recurring_charge_state
                    in ("retry", "waiting_customer", "stopped", "exhausted")
                    and m.payment_state in ("not_paid", "partial")
                )
            )
            if not open_invoices:
                subscription.state = "active"
                subscription.message_post(
                    body=_("Payment received: the subscription is in good standing again.")
                )

    # === BUSINESS METHODS: transitions === #

    def _recurring_post_transition(self, label, reason=None, note=None):
        body = label
        if reason:
            body = _("%(transition)s — reason: %(reason)s", transition=label, reason=reason.name)
        if note:
            body = f"{body}\n{note}"
        for subscription in self:
            subscription.message_post(body=body)

    def _recurring_pause(self, date, reason=None, note=None, kind="pause"):
        """Stop service and billing from ``date`` until resumed; the periods are shifted."""
        for subscription in self:
            if subscription.state not in RUNNING_STATES:
                raise UserError(
                    _(
                        "Subscription %(name)s is not running and cannot be paused or suspended.",
                        name=subscription.name,
                    )
                )
            if subscription.date_end and date > subscription.date_end:
                raise UserError(
                    _(
                        "The pause starts after the end of subscription %(name)s.",
                        name=subscription.name,
                    )
                )
            last_pause = subscription.pause_ids.sorted("date_end")[-1:]
            if last_pause and last_pause.date_end and date < last_pause.date_end:
                raise UserError(_("A pause cannot start before the end of the previous pause."))
        self.env["recurring.subscription.pause"].create(
            [
                {
                    "subscription_id": subscription.id,
                    "date_start": date,
                    "kind": kind,
                    "reason_id": reason.id if reason else False,
                    "note": note,
                    "state_before": subscription.state,
                }
                for subscription in self
            ]
        )
        self.write(
            {
                "state": "paused" if kind == "pause" else "suspended",
                "reason_id": reason.id if reason else False,
            }
        )

    def _recurring_resume(self, date, expected_state):
        """End the open pause (or suspension) on ``date``: service and billing go on."""
        for subscription in self:
            if subscription.state != expected_state:
                raise UserError(
                    _(
                        "Subscription %(name)s is not %(state)s.",
                        name=subscription.name,
                        state=dict(self._fields["state"]._description_selection(self.env))[
                            expected_state
                        ],
                    )
                )
            pause = subscription.pause_ids.filtered(lambda p: not p.date_end)[:1]
            if pause and date <= pause.date_start:
                raise UserError(
                    _(
                        "The resume date must be after the start of the pause (%(date)s).",
                        date=format_date(self.env, pause.date_start),
                    )
                )
            if pause:
                pause.date_end = date
            state = pause.state_before if pause and pause.state_before else "active"
            if (
                state == "trial"
                and subscription.date_trial_end
                and subscription.date_trial_end <= date
            ):
                state = "active"
            subscription.write({"state": state, "reason_id": False})

    def _recurring_cancel(self, date, reason=None, credit_unused=False):
        """Cancel from ``date`` (first day without service).

        A cancellation in the future keeps the subscription running until then. With
        ``credit_unused``, the part of the periods already invoiced after ``date`` is
        credited, to the cent.

        :return: the credit notes created
        """
        today = fields.Date.context_today(self)
        credit_notes = self.env["account.move"]
        for subscription in self:
            if subscription.state not in RUNNING_STATES + ("paused", "suspended", "draft"):
                raise UserError(
                    _("Subscription %(name)s is already ended.", name=subscription.name)
                )
            if date < subscription.date_start:
                raise UserError(_("A subscription cannot be cancelled before it starts."))
            vals = {"reason_id": reason.id if reason else False}
            if subscription.state == "draft":
                vals["state"] = "cancelled"
                subscription.write(vals)
                continue
            vals["date_end"] = max(date - timedelta(days=1), subscription.date_start)
            open_pause = subscription.pause_ids.filtered(lambda p: not p.date_end)
            if open_pause and date <= today:
                open_pause.date_end = max(date, open_pause.date_start + timedelta(days=1))
            if date <= today:
                # What is left to invoice in arrears is billed by the cron all the same.
                vals["state"] = "cancelled"
            subscription.write(vals)
            if credit_unused:
                credit_notes |= subscription._recurring_credit_unused(date)
        return credit_notes

    def _recurring_change_plan(self, plan, date):
        """Move to ``plan`` from ``date`` (its first day on the new plan).

        The old plan is billed exactly up to the day before: what it still owes is
        invoiced (in arrears, the used part of the current period), what was invoiced
        beyond is credited (in advance). The new plan's schedule starts on ``date``.

        :return: the invoices and credit notes created
        """
        self.ensure_one()
        if plan == self.plan_id:
            return self.env["account.move"]
        if self.state == "draft":
            self.plan_id = plan
            return self.env["account.move"]
        if self.state not in RUNNING_STATES:
            raise UserError(
                _(
                    "The plan of subscription %(name)s cannot be changed in its current status.",
                    name=self.name,
                )
            )
        if date < (self.date_schedule_start or self.date_start):
            raise UserError(_("The plan cannot be changed before the start of the current plan."))
        if date > fields.Date.context_today(self):
            raise UserError(_("A plan change cannot be dated in the future."))
        last_day = date - timedelta(days=1)
        moves = self.env["account.move"]
        if last_day >= (self.date_schedule_start or self.date_start):
            moves |= self._recurring_create_invoices(date, end_date=last_day)
        if self.billed_until and self.billed_until >= date:
            moves |= self._recurring_credit_unused(date)
        old_plan = self.plan_id
        self.write({"plan_id": plan.id, "date_schedule_start": date, "billed_until": last_day})
        self.message_post(
            body=_(
                "Plan changed from %(old)s to %(new)s on %(date)s.",
                old=old_plan.display_name,
                new=plan.display_name,
                date=format_date(self.env, date),
            )
        )
        return moves

    def _recurring_credit_unused(self, date):
        """Credit the invoiced days from ``date`` on, to the cent (cancellation)."""
        self.ensure_one()
        decimals = self.currency_id.decimal_places
        invoices = self.invoice_ids.filtered(
            lambda m: (
                m.move_type == "out_invoice"
                and m.state == "posted"
                and not m.recurring_adjustment
                and m.recurring_period_end
                and m.recurring_period_end >= date
            )
        )
        items = []
        for invoice in invoices:
            period = Period(invoice.recurring_period_start, invoice.recurring_period_end)
            cancel_from = max(date, period.start)
            product_lines = invoice.invoice_line_ids.filtered(
                lambda aml: aml.display_type == "product"
            )
            for line in product_lines:
                credit = cancellation_credit(
                    period,
                    cancel_from,
                    to_decimal(line.price_subtotal, self.currency_id),
                    decimals=decimals,
                )
                if credit:
                    items.append(
                        (
                            line.product_id,
                            line.name.split("\n")[0],
                            line.tax_ids,
                            -credit,
                            Period(cancel_from, period.end),
                        )
                    )
        return self._recurring_create_adjustment(items, date, unused=True)

    def _recurring_create_adjustment(self, items, date, unused=False):
        """Create and post the prorated adjustment of a change or a cancellation.

        :param items: tuples (product, description, taxes, amount, core Period); a positive
            amount is invoiced, a negative one credited.
        :return: the posted invoice or credit note (empty when there is nothing to adjust)
        """
        self.ensure_one()
        items = [item for item in items if item[3]]
        if not items:
            return self.env["account.move"]
        total = sum(item[3] for item in items)
        sign = 1 if total > 0 else -1
        customer_env = self.with_context(lang=self.partner_invoice_id.lang or self.env.lang).env
        date_label = format_date(customer_env, date)
        if unused:
            label = customer_env._("Unused from %(date)s", date=date_label)
        else:
            label = customer_env._("Change from %(date)s", date=date_label)
        line_commands = [
            fields.Command.create(
                {
                    "product_id": product.id,
                    "name": f"{name}\n{label}",
                    "quantity": 1.0,
                    "price_unit": float(amount) * sign,
                    "tax_ids": [fields.Command.set(taxes.ids)],
                    "recurring_period_start": period.start,
                    "recurring_period_end": period.end,
                }
            )
            for product, name, taxes, amount, period in items
        ]
        move = (
            self.env["account.move"]
            .with_company(self.company_id)
            .create(
                {
                    "move_type": "out_invoice" if sign > 0 else "out_refund",
                    "company_id": self.company_id.id,
                    "partner_id": self.partner_invoice_id.id,
                    "currency_id": self.currency_id.id,
                    "fiscal_position_id": self.fiscal_position_id.id,
                    "invoice_date": fields.Date.context_today(self),
                    "invoice_origin": self.name,
                    "invoice_user_id": self.user_id.id,
                    "recurring_subscription_id": self.id,
                    "recurring_adjustment": True,
                    "invoice_line_ids": line_commands,
                }
            )
        )
        move.action_post()
        return move
