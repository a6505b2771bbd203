# Part of recurring payments for Odoo. License LGPL-3.
import logging
from datetime import timedelta, timezone

import requests

from odoo import api, fields, models
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY

from recurring_payments_core.retry import Attempt, Decline, FailureCategory

from ..const import (
    ATTEMPT_STATES,
    FAILURE_CATEGORIES,
    RETRY_ACTIONS,
    SENDING_REPAIR_MINUTES,
    SEPA_PROVIDER_CODE,
)

_logger = logging.getLogger(__name__)


class RecurringPaymentAttempt(models.Model):
    _name = "recurring.payment.attempt"
    _description = "Payment Attempt"
    _order = "attempt_date desc, id desc"
    _rec_name = "reference"
    _check_company_auto = True

    invoice_id = fields.Many2one(
        comodel_name="account.move",
        required=True,
        index=True,
        readonly=True,
        ondelete="cascade",
    )
    attempt_number = fields.Integer(string="Attempt", required=True, readonly=True)
    reference = fields.Char(required=True, readonly=True, index=True)
    subscription_id = fields.Many2one(
        related="invoice_id.recurring_subscription_id", store=True, index=True
    )
    partner_id = fields.Many2one(related="invoice_id.partner_id", store=True, string="Customer")
    company_id = fields.Many2one(related="invoice_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="invoice_id.currency_id", store=True)
    amount = fields.Monetary(readonly=True)
    attempt_date = fields.Datetime(
        string="Date", required=True, readonly=True, default=fields.Datetime.now, index=True
    )
    transaction_id = fields.Many2one(comodel_name="payment.transaction", readonly=True, index=True)
    token_id = fields.Many2one(
        comodel_name="payment.token", string="Payment Method", readonly=True, index=True
    )
    provider_code = fields.Selection(related="transaction_id.provider_code")
    idempotency_key = fields.Char(
        readonly=True,
        help="Sent with the charge: a pure function of the database, the invoice and the "
        "attempt number, so a replayed request is charged once.",
    )
    state = fields.Selection(
        selection=ATTEMPT_STATES, required=True, default="sending", readonly=True, index=True
    )
    failure_category = fields.Selection(selection=FAILURE_CATEGORIES, readonly=True)
    failure_reason = fields.Char(
        string="Rule", readonly=True, help="The classification rule that decided the category."
    )
    decision = fields.Selection(selection=RETRY_ACTIONS, string="Next Step", readonly=True)
    decision_reason = fields.Char(readonly=True)
    decline_code = fields.Char(readonly=True)
    advice_code = fields.Char(readonly=True)
    network_advice_code = fields.Char(readonly=True)
    network_decline_code = fields.Char(readonly=True)
    provider_message = fields.Char(readonly=True)
    next_retry_at = fields.Datetime(string="Next Retry", readonly=True)
    needs_customer = fields.Boolean(compute="_compute_needs_customer", store=True)

    _sql_constraints = [
        (
            "invoice_attempt_uniq",
            "UNIQUE(invoice_id, attempt_number)",
            "An invoice has one payment attempt per number.",
        ),
    ]

    @api.depends("decision")
    def _compute_needs_customer(self):
        for attempt in self:
            attempt.needs_customer = attempt.decision in ("wait_customer", "stop")

    def _recurring_core_attempt(self):
        """Return the core ``Attempt`` of this record (for the retry rules)."""
        self.ensure_one()
        return Attempt(
            at=self.attempt_date.replace(tzinfo=timezone.utc),
            payment_method=f"token:{self.token_id.id}",
            category=FailureCategory(self.failure_category) if self.failure_category else None,
            invoice=f"invoice:{self.invoice_id.id}",
        )

    # === BUSINESS METHODS === #

    def _recurring_send(self, can_commit):
        """Send each attempt's charge to its provider and record the outcome.

        A provider that does not answer leaves the attempt pending, never failed (C-7).
        Each outcome is committed on its own when ``can_commit``. When another worker
        changed the same rows meanwhile, the outcome is rolled back and the attempt,
        still ``sending``, is sent again later with the same idempotency key (C-3).
        """
        for attempt in self:
            try:
                attempt._recurring_send_one()
            except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
                if not can_commit:
                    raise
                _logger.info(
                    "Concurrent update while charging %s: repaired later", attempt.reference
                )
                self.env.cr.rollback()
                continue
            except Exception:
                # Recording the outcome failed after the provider answered: nothing of it is
                # kept, and the attempt, still "sending", is sent again later with the same
                # idempotency key, which the provider answers with the same result (C-3).
                if not can_commit:
                    raise
                _logger.exception(
                    "Recording the outcome of %s failed: repaired later", attempt.reference
                )
                self.env.cr.rollback()
                continue
            if can_commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit

    def _recurring_send_one(self):
        self.ensure_one()
        transaction = self.transaction_id
        try:
            # Only the provider call is in here: the outcome is recorded and post-processed
            # after it, so that an error of ours is never mistaken for a refused charge.
            with self.env.cr.savepoint():
                transaction.with_context(recurring_sending=True)._send_payment_request()
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
            raise
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as error:
            _logger.info("No answer from the provider for %s: %s", self.reference, error)
            self._recurring_set_unanswered(str(error))
        except Exception as error:  # noqa: BLE001 - the provider refused the request
            _logger.info("The provider refused %s: %s", self.reference, error)
            self._recurring_apply_decline(
                Decline(provider=transaction.provider_code, message=str(error), timeout=True)
            )
        else:
            self._recurring_sync()

    def _recurring_set_unanswered(self, message):
        """Keep the attempt pending: its outcome is asked again from the provider later."""
        self.ensure_one()
        retry_at = fields.Datetime.now() + timedelta(minutes=SENDING_REPAIR_MINUTES)
        self.write({"state": "pending", "provider_message": message, "next_retry_at": retry_at})
        self.invoice_id.write({"recurring_charge_state": "pending"})

    def _recurring_sync(self):
        """Record the state of the attempt's transaction on the attempt and its invoice."""
        for attempt in self.filtered(lambda a: a.state in ("sending", "pending")):
            transaction = attempt.transaction_id
            invoice = attempt.invoice_id
            if transaction.state == "done":
                attempt.write({"state": "done", "next_retry_at": False})
                transaction._recurring_post_process_once()
                invoice.write({"recurring_charge_state": "paid", "recurring_next_charge_at": False})
                invoice.recurring_subscription_id._recurring_payment_succeeded(attempt)
                invoice._recurring_notify_customer("receipt")
            elif transaction.state in ("pending", "authorized"):
                attempt.write({"state": "pending"})
                invoice.write({"recurring_charge_state": "pending"})
            elif transaction.state in ("error", "cancel"):
                attempt._recurring_apply_decline(transaction._recurring_decline())
            elif transaction.state == "draft" and attempt.state == "sending":
                # The provider asks for the customer (3-D Secure): never retried blindly.
                attempt._recurring_apply_decline(
                    Decline(
                        provider=transaction.provider_code,
                        code="authentication_required",
                        message=transaction.state_message,
                    )
                )

    def _recurring_apply_decline(self, decline):
        self.ensure_one()
        return self.invoice_id._recurring_apply_failure(self, decline)

    @api.model
    def _recurring_repair_sending(self, can_commit):
        """Repair the attempts a crash left ``sending`` (C-3).

        The transaction was committed before the provider was called, so it is sent
        again with the same reference, hence the same idempotency key: a provider that
        already accepted the charge answers with the same result and the customer is
        charged once. A transaction whose outcome arrived meanwhile is only recorded.
        """
        limit = fields.Datetime.now() - timedelta(minutes=SENDING_REPAIR_MINUTES)
        stale = self.sudo().search(
            [
                ("state", "in", ("sending", "pending")),
                ("attempt_date", "<=", limit),
                # A queued SEPA direct debit waits for its batch and the bank, not for a
                # provider's answer: the batch settles it, a bank return fails it.
                "|",
                "|",
                "|",
                ("state", "=", "sending"),
                ("transaction_id", "=", False),
                ("transaction_id.state", "!=", "pending"),
                ("transaction_id.provider_id.code", "!=", SEPA_PROVIDER_CODE),
            ]
        )
        for attempt in stale:
            if (
                attempt.state == "pending"
                and attempt.next_retry_at
                and (attempt.next_retry_at > fields.Datetime.now())
            ):
                continue
            transaction = attempt.transaction_id
            if transaction.state == "draft":
                attempt._recurring_send(can_commit)
            else:
                attempt._recurring_sync()
                if can_commit:
                    self.env.cr.commit()  # pylint: disable=invalid-commit
        return stale
