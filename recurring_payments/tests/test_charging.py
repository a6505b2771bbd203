# Part of recurring payments for Odoo. License LGPL-3.
from datetime import date, datetime
from unittest.mock import patch

import requests
from freezegun import freeze_time

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user, tagged

from recurring_payments_core.retry import Decline, idempotency_key

from .common import RecurringPaymentsCommon


@tagged("post_install", "-at_install")
class TestCharging(RecurringPaymentsCommon):
    """Charging saved payment methods with Odoo's payment_demo provider."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if "demo_simulated_state" not in cls.env["payment.token"]._fields:
            cls.skipTest(cls, "payment_demo is not installed")
        demo = cls.env.ref("payment.payment_provider_demo").sudo()
        cls.provider = demo.copy({"company_id": cls.env.company.id})
        cls.provider.state = "test"
        cls.method = cls.env.ref("payment_demo.payment_method_demo")
        cls.env.company.partner_id.tz = "Europe/Paris"

    def _token(self, simulated_state="done", partner=None):
        return self.env["payment.token"].create(
            {
                "provider_id": self.provider.id,
                "payment_method_id": self.method.id,
                "partner_id": (partner or self.customer).id,
                "provider_ref": f"demo-token-{simulated_state}",
                "payment_details": "4242",
                "demo_simulated_state": simulated_state,
            }
        )

    def _card_subscription(self, simulated_state="done", start=date(2025, 1, 1)):
        token = self._token(simulated_state)
        subscription = self._create_subscription(
            start=start, payment_mode="token", payment_token_id=token.id
        )
        return subscription, token

    def _charge(self):
        return self.env["account.move"]._cron_charge_invoices()

    @freeze_time("2025-01-01 08:00:00")
    def test_success_is_reconciled_once(self):
        """A successful charge pays the invoice through Odoo's payment post-processing."""
        subscription, token = self._card_subscription("done")
        self.env["recurring.subscription"]._cron_generate_invoices()
        invoice = self._invoices(subscription)
        self.assertEqual(invoice.recurring_charge_state, "to_charge")
        self.assertEqual(self._charge(), 1)
        attempt = invoice.recurring_attempt_ids
        self.assertEqual(attempt.state, "done")
        self.assertEqual(attempt.attempt_number, 1)
        self.assertEqual(attempt.transaction_id.state, "done")
        self.assertEqual(attempt.transaction_id.operation, "offline")
        self.assertEqual(attempt.transaction_id.token_id, token)
        self.assertEqual(attempt.transaction_id.invoice_ids, invoice)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(invoice.recurring_charge_state, "paid")
        # C-9: the cron's post-processing coming after changes nothing.
        attempt.transaction_id._post_process()
        self.env["payment.transaction"]._cron_post_process()
        self.assertEqual(len(attempt.transaction_id.payment_id), 1)
        self.assertEqual(
            self.env["account.payment"].search_count(
                [("payment_transaction_id", "=", attempt.transaction_id.id)]
            ),
            1,
        )
        self.assertEqual(self._charge(), 0, "a paid invoice is not charged again")

    @freeze_time("2025-01-01 08:00:00")
    def test_idempotency_key_is_pure(self):
        """C-2: the key is a pure function of (database, invoice, attempt) and the reference too."""
        subscription, _token = self._card_subscription("done")
        self.env["recurring.subscription"]._cron_generate_invoices()
        invoice = self._invoices(subscription)
        self._charge()
        attempt = invoice.recurring_attempt_ids
        uuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid")
        self.assertEqual(attempt.idempotency_key, idempotency_key(uuid, invoice.id, 1))
        self.assertEqual(attempt.transaction_id.reference, f"{invoice.name}-1")

    @freeze_time("2025-01-01 08:00:00")
    def test_soft_decline_retried_on_schedule(self):
        """C-5: a soft decline is retried on its schedule, at 10:00 in the company's time zone."""
        subscription, token = self._card_subscription("error")
        self.env["recurring.subscription"]._cron_generate_invoices()
        invoice = self._invoices(subscription)
        self._charge()
        attempt = invoice.recurring_attempt_ids
        self.assertEqual(attempt.state, "failed")
        self.assertEqual(attempt.failure_category, "soft")
        self.assertEqual(attempt.decision, "retry")
        # First soft retry: the next day at 10:00 Paris time, 09:00 UTC in winter.
        self.assertEqual(attempt.next_retry_at, datetime(2025, 1, 2, 9, 0))
        self.assertEqual(invoice.recurring_charge_state, "retry")
        self.assertEqual(invoice.recurring_next_charge_at, datetime(2025, 1, 2, 9, 0))
        self.assertEqual(subscription.state, "active", "not past due while retries remain")
        with freeze_time("2025-01-02 08:59:00"):
            self.assertEqual(self._charge(), 0)
        token.demo_simulated_state = "done"
        with freeze_time("2025-01-02 09:00:00"):
            self.assertEqual(self._charge(), 1)
        self.assertEqual(
            invoice.recurring_attempt_ids.sorted("attempt_number").mapped("attempt_number"), [1, 2]
        )
        self.assertEqual(invoice.recurring_charge_state, "paid")

    @freeze_time("2025-01-01 08:00:00")
    def test_hard_decline_stops_at_once(self):
        """C-4: a hard decline stops the schedule: no further call, the customer is needed."""
        subscription, _token = self._card_subscription("cancel")
        self.env["recurring.subscription"]._cron_generate_invoices()
        invoice = self._invoices(subscription)
        self._charge()
        attempt = invoice.recurring_attempt_ids
        self.assertEqual(attempt.failure_category, "hard")
        self.assertEqual(attempt.decision, "stop")
        self.assertTrue(attempt.needs_customer)
        self.assertEqual(invoice.recurring_charge_state, "stopped")
        self.assertFalse(invoice.recurring_next_charge_at)
        self.assertEqual(subscription.state, "past_due")
        self.assertTrue(subscription.activity_ids)
        with freeze_time("2025-01-20 10:00:00"):
            self.assertEqual(self._charge(), 0)
        self.assertEqual(len(invoice.recurring_attempt_ids), 1)

    @freeze_time("2025-01-01 08:00:00")
    def test_each_category_decides(self):
        """C-4, C-6: each failure category leads the invoice where its rule says."""
        expectations = {
            "demo_hard": ("hard", "stop", "stopped"),
            "demo_expired_card": ("new_payment_method", "wait_customer", "waiting_customer"),
            "demo_authentication_required": (
                "authentication_required",
                "wait_customer",
                "waiting_customer",
            ),
            "demo_insufficient_funds": ("insufficient_funds", "retry", "retry"),
            "demo_technical": ("technical", "retry", "retry"),
        }
        for code, (category, decision, charge_state) in expectations.items():
            with self.subTest(code=code):
                subscription, _token = self._card_subscription("pending")
                self.env["recurring.subscription"]._cron_generate_invoices()
                invoice = self._invoices(subscription)
                attempt = invoice._recurring_start_attempts()
                invoice._recurring_apply_failure(attempt, Decline(provider="demo", code=code))
                self.assertEqual(
                    (attempt.failure_category, attempt.decision, invoice.recurring_charge_state),
                    (category, decision, charge_state),
                )

    @freeze_time("2025-01-01 08:00:00")
    def test_pending_stays_pending(self):
        subscription, _token = self._card_subscription("pending")
        self.env["recurring.subscription"]._cron_generate_invoices()
        invoice = self._invoices(subscription)
        self._charge()
        self.assertEqual(invoice.recurring_attempt_ids.state, "pending")
        self.assertEqual(invoice.recurring_charge_state, "pending")
        self.assertEqual(self._charge(), 0)
        self.assertEqual(len(invoice.recurring_attempt_ids), 1)

    @freeze_time("2025-01-01 08:00:00")
    def test_timeout_stays_pending_and_is_resolved_later(self):
        """C-7 and C-3: a timeout leaves the attempt pending; the same transaction is sent again."""
        subscription, _token = self._card_subscription("done")
        self.env["recurring.subscription"]._cron_generate_invoices()
        invoice = self._invoices(subscription)
        transaction_class = type(self.env["payment.transaction"])

        def no_answer(self_):
            raise requests.exceptions.ReadTimeout("no answer")

        with patch.object(transaction_class, "_send_payment_request", no_answer):
            self._charge()
        attempt = invoice.recurring_attempt_ids
        self.assertEqual(attempt.state, "pending")
        self.assertFalse(attempt.failure_category, "a timeout is never a decline")
        self.assertEqual(invoice.recurring_charge_state, "pending")
        with freeze_time("2025-01-01 08:05:00"):
            self.assertEqual(self._charge(), 0)
        with freeze_time("2025-01-01 08:11:00"):
            self._charge()
        self.assertEqual(len(invoice.recurring_attempt_ids), 1)
        self.assertEqual(attempt.state, "done")
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))

    @freeze_time("2025-01-01 08:00:00")
    def test_crash_before_sending_is_repaired_once(self):
        """C-3: an attempt committed but never sent (a crash) is sent once by the next run."""
        subscription, _token = self._card_subscription("done")
        self.env["recurring.subscription"]._cron_generate_invoices()
        invoice = self._invoices(subscription)
        invoice._recurring_start_attempts()  # the run dies here
        self.assertEqual(invoice.recurring_attempt_ids.state, "sending")
        self.assertEqual(self._charge(), 0, "not charged a second time while it may be in flight")
        with freeze_time("2025-01-01 08:11:00"):
            self._charge()
        self.assertEqual(len(invoice.recurring_attempt_ids), 1)
        self.assertEqual(invoice.recurring_attempt_ids.state, "done")
        self.assertEqual(len(invoice.recurring_attempt_ids.transaction_id.payment_id), 1)

    @freeze_time("2025-01-01 08:00:00")
    def test_new_payment_method_retries_at_once(self):
        """C-8: a new payment method added by the customer retries the open invoice at once."""
        subscription, _token = self._card_subscription("cancel")
        self.env["recurring.subscription"]._cron_generate_invoices()
        invoice = self._invoices(subscription)
        self._charge()
        self.assertEqual(invoice.recurring_charge_state, "stopped")
        new_token = self._token("done")
        self.assertEqual(subscription.payment_token_id, new_token)
        self.assertEqual(invoice.recurring_charge_state, "to_charge")
        self._charge()
        self.assertEqual(invoice.recurring_charge_state, "paid")
        self.assertEqual(
            invoice.recurring_attempt_ids.sorted("attempt_number")[-1].token_id, new_token
        )
        self.assertEqual(subscription.state, "active", "back in good standing once paid")

    @freeze_time("2025-01-01 08:00:00")
    def test_charge_now_uses_the_same_path(self):
        subscription, _token = self._card_subscription("done")
        self.env["recurring.subscription"]._cron_generate_invoices()
        invoice = self._invoices(subscription)
        invoice.action_recurring_charge_now()
        self.assertEqual(invoice.recurring_charge_state, "paid")
        self.assertEqual(invoice.recurring_attempt_count, 1)

    @freeze_time("2025-01-01 08:00:00")
    def test_manual_subscriptions_are_not_charged(self):
        subscription = self._create_subscription(start=date(2025, 1, 1))
        self.env["recurring.subscription"]._cron_generate_invoices()
        self.assertFalse(self._invoices(subscription).recurring_charge_state)
        self.assertEqual(self._charge(), 0)

    @freeze_time("2025-01-01 08:00:00")
    def test_card_details_and_expiry(self):
        token = self._token("done")
        token.write(
            {"recurring_exp_month": 2, "recurring_exp_year": 2028, "recurring_card_brand": "visa"}
        )
        self.assertEqual(token.recurring_expiry_date, date(2028, 2, 29))

    def _customer_messages(self, record):
        """The emails queued for the customer about ``record``, oldest first."""
        return (
            self.env["mail.mail"]
            .sudo()
            .search([("model", "=", record._name), ("res_id", "=", record.id)], order="id")
            .filtered(lambda mail: self.customer in mail.recipient_ids)
        )

    @freeze_time("2025-01-01 08:00:00")
    def test_customer_messages(self):
        """A receipt for a success, one message for a soft decline, none for a technical failure (C-7)."""  # noqa: E501
        paid, _token = self._card_subscription("done")
        soft, _token = self._card_subscription("error")
        self.env["recurring.subscription"]._cron_generate_invoices()
        self._charge()
        receipt = self._customer_messages(self._invoices(paid))
        self.assertEqual(len(receipt), 1)
        self.assertIn("payment received", receipt.subject)
        soft_invoice = self._invoices(soft)
        self.assertEqual(len(self._customer_messages(soft_invoice)), 1)
        self.assertIn("did not go through", self._customer_messages(soft_invoice).subject)
        with freeze_time("2025-01-02 09:00:00"):
            self._charge()
        self.assertEqual(len(soft_invoice.recurring_attempt_ids), 2)
        self.assertEqual(
            len(self._customer_messages(soft_invoice)), 1, "told once, not at each retry"
        )
        technical, _token = self._card_subscription("pending")
        self.env["recurring.subscription"]._cron_generate_invoices()
        invoice = self._invoices(technical)
        attempt = invoice._recurring_start_attempts()
        invoice._recurring_apply_failure(attempt, Decline(provider="demo", timeout=True))
        self.assertFalse(self._customer_messages(invoice), "a timeout is never a declined card")

    @freeze_time("2025-01-01 08:00:00")
    def test_authentication_link(self):
        """C-6: authentication required is not retried; the customer gets a link to pay."""
        subscription, _token = self._card_subscription("pending")
        self.env["recurring.subscription"]._cron_generate_invoices()
        invoice = self._invoices(subscription)
        attempt = invoice._recurring_start_attempts()
        invoice._recurring_apply_failure(
            attempt, Decline(provider="demo", code="demo_authentication_required")
        )
        self.assertEqual(invoice.recurring_charge_state, "waiting_customer")
        message = self._customer_messages(invoice)
        self.assertIn("confirm your payment", message.subject)
        self.assertIn(invoice.get_portal_url().split("?")[0], message.body_html)
        with freeze_time("2025-01-20 10:00:00"):
            self.assertEqual(self._charge(), 0, "never retried automatically")

    @freeze_time("2025-01-01 08:00:00")
    def test_plan_retry_policy(self):
        """The plan's retry policy replaces the company default."""
        policy = self.env["recurring.retry.policy"].create(
            {"name": "Patient", "soft_days": "4, 8", "retry_hour": 14}
        )
        self.plan_monthly.write({"company_id": self.env.company.id, "retry_policy_id": policy.id})
        subscription, _token = self._card_subscription("error")
        self.env["recurring.subscription"]._cron_generate_invoices()
        self._charge()
        # 14:00 in Paris on 5 January is 13:00 UTC.
        self.assertEqual(
            self._invoices(subscription).recurring_next_charge_at, datetime(2025, 1, 5, 13, 0)
        )

    def test_invalid_policy_refused(self):
        with self.assertRaises(ValidationError):
            self.env["recurring.retry.policy"].create({"name": "Broken", "soft_days": "5, 2"})
        with self.assertRaises(ValidationError):
            self.env["recurring.retry.policy"].create({"name": "Broken", "retry_hour": 25})

    @freeze_time("2025-01-01 08:00:00")
    def test_card_expiry_notices(self):
        subscription, token = self._card_subscription("done")
        token.write({"recurring_exp_month": 1, "recurring_exp_year": 2025})  # expires 31 January
        Subscription = self.env["recurring.subscription"]
        self.assertEqual(Subscription._cron_notify_card_expiry(), subscription)
        self.assertEqual(subscription.card_expiry_notified, 30)
        self.assertFalse(Subscription._cron_notify_card_expiry(), "once per notice period")
        with freeze_time("2025-01-24 08:00:00"):
            self.assertEqual(Subscription._cron_notify_card_expiry(), subscription)
        self.assertEqual(subscription.card_expiry_notified, 7)
        messages = self._customer_messages(subscription)
        self.assertEqual(len(messages), 2)
        self.assertIn("expires soon", messages[0].subject)
        new_token = self._token("done")
        self.assertEqual(subscription.payment_token_id, token, "a working card is not replaced")
        subscription.payment_token_id = new_token
        self.assertEqual(subscription.card_expiry_notified, 0, "a new card starts afresh")

    @freeze_time("2025-01-01 08:00:00")
    def test_upcoming_charge_notice(self):
        self.plan_monthly.pre_charge_notice_days = 3
        subscription, _token = self._card_subscription("done")
        self.env["recurring.subscription"]._cron_generate_invoices()
        Subscription = self.env["recurring.subscription"]
        self.assertEqual(subscription.next_invoice_date, date(2025, 2, 1))
        with freeze_time("2025-01-28 08:00:00"):
            self.assertFalse(Subscription._cron_notify_upcoming_charges())
        with freeze_time("2025-01-29 08:00:00"):
            self.assertEqual(Subscription._cron_notify_upcoming_charges(), subscription)
            self.assertFalse(Subscription._cron_notify_upcoming_charges(), "once per invoice")
        self.assertIn("your next payment", self._customer_messages(subscription).subject)

    @freeze_time("2025-01-01 08:00:00")
    def test_replay_after_rollback_sends_the_same_key(self):
        """C-2: an attempt rolled back and started again carries the same reference and key."""
        subscription, _token = self._card_subscription("done")
        self.env["recurring.subscription"]._cron_generate_invoices()
        invoice = self._invoices(subscription)
        with self.assertRaises(ZeroDivisionError), self.env.cr.savepoint():
            first = invoice._recurring_start_attempts()
            reference, key = first.transaction_id.reference, first.idempotency_key
            raise ZeroDivisionError  # the run dies before its commit
        self.env.invalidate_all()
        again = invoice._recurring_start_attempts()
        self.assertEqual((again.transaction_id.reference, again.idempotency_key), (reference, key))

    @freeze_time("2025-01-01 08:00:00")
    def test_attempts_access_rights(self):
        subscription, _token = self._card_subscription("done")
        self.env["recurring.subscription"]._cron_generate_invoices()
        self._charge()
        attempt = self._invoices(subscription).recurring_attempt_ids
        billing = new_test_user(
            self.env, login="rp_billing_attempts", groups="account.group_account_invoice"
        )
        self.assertEqual(attempt.with_user(billing).state, "done")
        with self.assertRaises(AccessError):
            attempt.with_user(billing).write({"state": "failed"})
        with self.assertRaises(AccessError):
            self.env["recurring.payment.attempt"].with_user(billing).create(
                {"invoice_id": attempt.invoice_id.id, "attempt_number": 9, "reference": "x"}
            )
        self.assertEqual(subscription.payment_attempt_count, 1)
        action = subscription.action_view_payment_attempts()
        self.assertEqual(self.env["recurring.payment.attempt"].search(action["domain"]), attempt)

    @freeze_time("2025-01-01 08:00:00")
    def test_error_after_acceptance_is_not_a_decline(self):
        """C-3: an error of ours after the provider accepted is never taken for a decline.

        The outcome is not recorded and the attempt stays "sending": the next run sends the
        same transaction again (same reference, same idempotency key), never a second one.
        """
        subscription, _token = self._card_subscription("done")
        self.env["recurring.subscription"]._cron_generate_invoices()
        invoice = self._invoices(subscription)
        attempt = invoice._recurring_start_attempts()
        transaction_class = type(self.env["payment.transaction"])

        def broken(self_):
            raise ValueError("post-processing failed")

        with (
            patch.object(transaction_class, "_recurring_post_process_once", broken),
            self.assertRaises(ValueError),
            self.env.cr.savepoint(),
        ):
            attempt._recurring_send(can_commit=False)
        self.env.invalidate_all()
        self.assertEqual(attempt.state, "sending")
        self.assertFalse(attempt.failure_category)
        with freeze_time("2025-01-01 08:11:00"):
            self._charge()
        self.assertEqual(len(invoice.recurring_attempt_ids), 1)
        self.assertEqual(attempt.state, "done")
        self.assertEqual(len(attempt.transaction_id.payment_id), 1)
