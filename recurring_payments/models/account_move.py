# Part of recurring payments for Odoo. License LGPL-3.
import logging
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from recurring_payments_core.retry import (
    DEFAULT_POLICY,
    RetryAction,
    classify,
    customer_notice,
    idempotency_key,
    next_retry,
)

from ..const import (
    CHARGE_STATES,
    CHARGING_BATCH_SIZE,
    INVOICING_TIME_BUDGET,
)
from ..utils import run_cron_batches, send_customer_mail

_logger = logging.getLogger(__name__)


#: Charge states whose invoice the charging cron takes when their time has come.
CHARGEABLE_STATES = ("to_charge", "retry")


class AccountMove(models.Model):
    _inherit = "account.move"

    recurring_subscription_id = fields.Many2one(
        comodel_name="recurring.subscription",
        string="Subscription",
        index="btree_not_null",
        readonly=True,
        copy=False,
        ondelete="restrict",
    )
    recurring_plan_id = fields.Many2one(
        comodel_name="recurring.plan",
        string="Subscription Plan",
        readonly=True,
        copy=False,
        ondelete="restrict",
    )
    recurring_period_start = fields.Date(string="Billed From", readonly=True, copy=False)
    recurring_period_end = fields.Date(string="Billed To", readonly=True, copy=False)
    recurring_adjustment = fields.Boolean(
        string="Subscription Adjustment",
        readonly=True,
        copy=False,
        help="Prorated adjustment of a subscription (change or cancellation), not a period.",
    )
    recurring_charge_state = fields.Selection(
        selection=CHARGE_STATES,
        string="Automatic Payment",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Where the invoice stands in the automatic charging of its subscription's "
        "saved payment method.",
    )
    recurring_next_charge_at = fields.Datetime(
        string="Next Charge", readonly=True, copy=False, index="btree_not_null"
    )
    recurring_attempt_ids = fields.One2many(
        comodel_name="recurring.payment.attempt",
        inverse_name="invoice_id",
        string="Payment Attempts",
        readonly=True,
    )
    recurring_attempt_count = fields.Integer(
        string="Attempts", compute="_compute_recurring_attempt_count"
    )

    def init(self):
        res = super().init()
        # B-2: one invoice per subscription, plan and period, whatever runs concurrently.
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS account_move_recurring_period_uniq
                ON account_move (
                    recurring_subscription_id, recurring_plan_id, recurring_period_start
                )
             WHERE recurring_subscription_id IS NOT NULL
               AND move_type = 'out_invoice'
               AND recurring_adjustment IS NOT TRUE
            """
        )
        return res

    def _compute_recurring_attempt_count(self):
        counts = dict(
            self.env["recurring.payment.attempt"]._read_group(
                [("invoice_id", "in", self.ids)], ["invoice_id"], ["__count"]
            )
        )
        for move in self:
            move.recurring_attempt_count = counts.get(move, 0)

    # === ACTION METHODS === #

    def action_recurring_view_attempts(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "recurring_payments.recurring_payment_attempt_action"
        )
        action["domain"] = [("invoice_id", "=", self.id)]
        action["context"] = {"create": False}
        return action

    def action_recurring_charge_now(self):
        """Charge the saved payment method now, with the same code path as the cron."""
        for move in self:
            if not move._recurring_chargeable():
                raise UserError(
                    _(
                        "Invoice %(name)s cannot be charged: it must be posted, unpaid and "
                        "belong to a subscription paid with a saved payment method.",
                        name=move.display_name,
                    )
                )
            if move.recurring_charge_state == "pending":
                raise UserError(
                    _("A payment of invoice %(name)s is already pending.", name=move.display_name)
                )
        self.env.cr.execute(
            "SELECT id FROM account_move WHERE id IN %s FOR NO KEY UPDATE", [tuple(self.ids)]
        )
        self.invalidate_recordset()
        attempts = self._recurring_start_attempts()
        attempts._recurring_send(can_commit=False)
        return True

    # === BUSINESS METHODS: sending invoices === #

    def _recurring_queue_sending(self):
        """Hand posted invoices whose plan says so to Odoo's background sending."""
        to_send = self.filtered(
            lambda m: m.recurring_subscription_id.plan_id.auto_send and m.partner_id.email
        )
        if not to_send:
            return
        user = self.env.user
        to_send.sending_data = {
            "author_user_id": user.id,
            "author_partner_id": user.partner_id.id,
            "sending_methods": ["email"],
        }
        self.env.ref("account.ir_cron_account_move_send")._trigger()

    # === BUSINESS METHODS: charging === #

    def _recurring_chargeable(self):
        self.ensure_one()
        subscription = self.recurring_subscription_id
        return bool(
            self.move_type == "out_invoice"
            and self.state == "posted"
            and self.payment_state in ("not_paid", "partial")
            and subscription.payment_mode == "token"
            and subscription.payment_token_id.active
        )

    def _recurring_schedule_charge(self):
        """Queue the posted invoices of automatically paid subscriptions for charging.

        Cards are charged on the due date by the charging cron. A SEPA direct debit is
        queued earlier, by the company's notice period and bank lead time (never before
        today), so that after the pre-notification it can still be collected on the due
        date (see ``payment.provider._recurring_charge_date``).
        """
        for move in self.filtered(
            lambda m: (
                m.recurring_subscription_id.payment_mode == "token"
                and m.move_type == "out_invoice"
                and m.state == "posted"
            )
        ):
            due = move.invoice_date_due or move.invoice_date
            provider = move.recurring_subscription_id.payment_token_id.provider_id
            charge_on = provider._recurring_charge_date(due, move.company_id) if provider else due
            move.write(
                {
                    "recurring_charge_state": "to_charge",
                    "recurring_next_charge_at": datetime.combine(charge_on, time.min),
                }
            )

    @api.model
    def _recurring_claim_to_charge(self, now, limit):
        """Lock and return up to ``limit`` invoices whose charge is due at ``now``."""
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT m.id
              FROM account_move m
              JOIN recurring_subscription s ON s.id = m.recurring_subscription_id
             WHERE m.recurring_charge_state IN %(states)s
               AND m.recurring_next_charge_at <= %(now)s
               AND m.state = 'posted'
               AND m.payment_state IN ('not_paid', 'partial')
               AND s.payment_mode = 'token'
               AND s.payment_token_id IS NOT NULL
             ORDER BY m.recurring_next_charge_at, m.id
             LIMIT %(limit)s
               FOR NO KEY UPDATE OF m SKIP LOCKED
            """,
            {"states": CHARGEABLE_STATES, "now": now, "limit": limit},
            log_exceptions=False,  # a lost race is retried by the caller, not an error
        )
        moves = self.browse([row[0] for row in self.env.cr.fetchall()])
        moves.invalidate_recordset()
        return moves

    def _recurring_start_attempts(self):
        """Create the next payment attempt and its transaction for each invoice of ``self``.

        The transaction's reference, hence the provider's idempotency key, is a pure
        function of the database, the invoice and the attempt number (C-2). The invoices
        leave the chargeable states in the same transaction, so once this is committed no
        other worker takes them again (C-1).

        :return: the attempts, state ``sending``
        """
        database_uuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid")
        Attempt = self.env["recurring.payment.attempt"].sudo()
        attempts = Attempt
        now = fields.Datetime.now()
        for move in self:
            token = move.recurring_subscription_id.payment_token_id
            number = max(move.recurring_attempt_ids.mapped("attempt_number"), default=0) + 1
            key = idempotency_key(database_uuid, move.id, number)
            reference = f"{move.name}-{number}"
            transaction = (
                self.env["payment.transaction"]
                .sudo()
                .create(
                    {
                        "provider_id": token.provider_id.id,
                        "payment_method_id": token.payment_method_id.id,
                        "reference": reference,
                        "amount": move.amount_residual,
                        "currency_id": move.currency_id.id,
                        "partner_id": move.partner_id.id,
                        "token_id": token.id,
                        "operation": "offline",
                        "invoice_ids": [fields.Command.set(move.ids)],
                    }
                )
            )
            attempts |= Attempt.create(
                {
                    "invoice_id": move.id,
                    "attempt_number": number,
                    "reference": transaction.reference,
                    "amount": move.amount_residual,
                    "transaction_id": transaction.id,
                    "token_id": token.id,
                    "idempotency_key": key,
                    "attempt_date": now,
                }
            )
        self.write({"recurring_charge_state": "pending", "recurring_next_charge_at": False})
        return attempts

    @api.model
    def _cron_charge_invoices(
        self, batch_size=CHARGING_BATCH_SIZE, time_budget=INVOICING_TIME_BUDGET
    ):
        """Charge every invoice due for an automatic payment, in committed batches.

        A batch is claimed with ``FOR NO KEY UPDATE SKIP LOCKED`` and its attempts and
        transactions are committed before any provider is called; each charge is then
        sent and its outcome committed on its own. Attempts left ``sending`` by a crash
        are repaired first (C-3).
        """
        can_commit = self.env["recurring.subscription"]._recurring_can_commit()
        self.env["recurring.payment.attempt"]._recurring_repair_sending(can_commit)
        return run_cron_batches(
            self.env,
            claim=lambda: self._recurring_claim_to_charge(fields.Datetime.now(), batch_size),
            process=lambda moves: moves._recurring_start_attempts(),
            # The attempts and transactions are committed before any provider is called.
            after=lambda attempts: attempts._recurring_send(can_commit),
            count_remaining=self._recurring_count_to_charge,
            can_commit=can_commit,
            time_budget=time_budget,
        )

    @api.model
    def _recurring_count_to_charge(self):
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT COUNT(*) FROM account_move WHERE recurring_charge_state IN %s "
            "AND recurring_next_charge_at <= %s",
            [CHARGEABLE_STATES, fields.Datetime.now()],
        )
        return self.env.cr.fetchone()[0]

    def _recurring_retry_policy(self):
        """Return the core retry policy: the plan's, else the company's default."""
        self.ensure_one()
        policy = self.recurring_subscription_id.plan_id.retry_policy_id
        if not policy:
            policy = (
                self.env["recurring.retry.policy"]
                .sudo()
                .search(
                    [("company_id", "=", self.company_id.id), ("is_default", "=", True)], limit=1
                )
            )
        return policy._recurring_core_policy() if policy else DEFAULT_POLICY

    def _recurring_timezone(self):
        self.ensure_one()
        name = self.company_id.partner_id.tz or self.env.user.tz or "UTC"
        return ZoneInfo(name)

    def _recurring_apply_failure(self, attempt, decline):
        """Classify a failed attempt, decide the next step and record both."""
        self.ensure_one()
        classification = classify(decline)
        tz = self._recurring_timezone()
        now = datetime.now(timezone.utc)
        policy = self._recurring_retry_policy()
        # The failing attempt counts with its category.
        attempt.failure_category = classification.category.value
        invoice_attempts = [
            other._recurring_core_attempt()
            for other in self.recurring_attempt_ids.sorted("attempt_number")
            if other.state != "sending" or other == attempt
        ]
        window_start = fields.Datetime.now() - timedelta(days=policy.cap_window_days)
        card_attempts = [
            other._recurring_core_attempt()
            for other in self.env["recurring.payment.attempt"]
            .sudo()
            .search([("token_id", "=", attempt.token_id.id), ("attempt_date", ">=", window_start)])
        ]
        decision = next_retry(
            policy,
            classification,
            invoice_attempts=invoice_attempts,
            card_attempts=card_attempts,
            now=now,
            tz=tz,
        )
        attempt.write(
            {
                "state": "failed",
                "failure_reason": classification.reason,
                "decision": decision.action.value,
                "decision_reason": decision.reason,
                "decline_code": decline.code,
                "advice_code": decline.advice_code,
                "network_advice_code": decline.network_advice_code,
                "network_decline_code": decline.network_decline_code,
                "provider_message": decline.message,
                "next_retry_at": decision.at.astimezone(timezone.utc).replace(tzinfo=None)
                if decision.at
                else False,
            }
        )
        charge_state = {
            RetryAction.RETRY: "retry",
            RetryAction.WAIT_CUSTOMER: "waiting_customer",
            RetryAction.STOP: "stopped",
            RetryAction.EXHAUSTED: "exhausted",
        }[decision.action]
        self.write(
            {
                "recurring_charge_state": charge_state,
                "recurring_next_charge_at": attempt.next_retry_at,
            }
        )
        if decision.action != RetryAction.RETRY:
            self.recurring_subscription_id._recurring_payment_failed(attempt)
        self._recurring_notify_failure(classification, decision, invoice_attempts)
        return decision

    def _recurring_notify_failure(self, classification, decision, invoice_attempts):
        """Tell the customer in plain words what the core says to tell them, if anything."""
        self.ensure_one()
        notice = customer_notice(classification, decision, invoice_attempts)
        if notice:
            self._recurring_notify_customer(notice.value)

    def _recurring_notify_customer(self, purpose):
        """Post the ``mail_template_payment_<purpose>`` message to the invoice's customer."""
        self.ensure_one()
        template = self.env.ref(
            f"recurring_payments.mail_template_payment_{purpose}", raise_if_not_found=False
        )
        if not template:
            return None
        return send_customer_mail(self, template)
