# Part of recurring payments for Odoo. License LGPL-3.
"""Charging on two real database connections (C-1).

These tests commit on cursors of their own (the test transaction cannot see or lock what
other connections do), charge with Odoo's ``payment_demo`` provider, and remove what they
committed at the end.
"""

import threading
from collections import Counter
from unittest.mock import patch

from odoo import SUPERUSER_ID, Command, api, fields
from odoo.tests import TransactionCase, tagged

QUIET = {
    "tracking_disable": True,
    "mail_notrack": True,
    "mail_create_nolog": True,
    "mail_create_nosubscribe": True,
}


@tagged("post_install", "-at_install")
class TestChargingConcurrency(TransactionCase):
    COUNT = 12

    def setUp(self):
        super().setUp()
        self.tag = f"rp-charging-concurrency-{id(self)}"
        self.ids = {}
        self.subscription_ids = []
        self.threads = []
        self.invoice_ids = []
        # Registered first: whatever the setup committed is removed, even if it fails later.
        self.addCleanup(self._cleanup)
        # Real dates: time is not frozen, threads would share a frozen clock.
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, QUIET)
            if "demo_simulated_state" not in env["payment.token"]._fields:
                self.skipTest("payment_demo is not installed")
            env.cr.execute(
                "SELECT 1 FROM account_move WHERE recurring_charge_state IN ('to_charge', 'retry') "
                "AND recurring_next_charge_at <= NOW() AT TIME ZONE 'UTC' LIMIT 1"
            )
            if env.cr.fetchone():
                # The charging runs of these tests commit: they would charge those too.
                self.skipTest("other invoices of this database are due for charging")
            company = env.ref("base.main_company")
            Journal = env["account.journal"]
            if not Journal.search([("type", "=", "sale"), ("company_id", "=", company.id)]):
                self.skipTest("the main company has no sales journal")
            bank_journal = Journal.search(
                [("type", "=", "bank"), ("company_id", "=", company.id)], limit=1
            )
            if not bank_journal:
                self.skipTest("the main company has no bank journal")
            provider = env.ref("payment.payment_provider_demo").copy(
                {"company_id": company.id, "name": self.tag}
            )
            provider.state = "test"
            # Setting the journal creates the provider's payment method line, without which
            # Odoo's post-processing cannot create the payment (the copy has none).
            provider.journal_id = bank_journal
            partner = env["res.partner"].create({"name": self.tag})
            token = env["payment.token"].create(
                {
                    "provider_id": provider.id,
                    "payment_method_id": env.ref("payment_demo.payment_method_demo").id,
                    "partner_id": partner.id,
                    "provider_ref": self.tag,
                    "payment_details": "4242",
                    "demo_simulated_state": "done",
                }
            )
            product = env["product.product"].create(
                {
                    "name": self.tag,
                    "type": "service",
                    "list_price": 10.0,
                    "taxes_id": [Command.clear()],
                }
            )
            plan = env["recurring.plan"].create(
                {"name": self.tag, "period_unit": "month", "auto_send": False}
            )
            self.ids = {
                "provider": provider.id,
                "partner": partner.id,
                "token": token.id,
                "product_tmpl": product.product_tmpl_id.id,
                "plan": plan.id,
            }
            subscriptions = env["recurring.subscription"].create(
                [
                    {
                        "partner_id": partner.id,
                        "plan_id": plan.id,
                        "company_id": company.id,
                        "date_start": fields.Date.context_today(plan),
                        "payment_mode": "token",
                        "payment_token_id": token.id,
                        "line_ids": [Command.create({"product_id": product.id, "quantity": 1})],
                    }
                    for _i in range(self.COUNT)
                ]
            )
            subscriptions.action_confirm()
            self.subscription_ids = subscriptions.ids
            invoices = subscriptions._recurring_create_invoices(fields.Date.context_today(plan))
            self.invoice_ids = invoices.ids
            # Committed on leaving the block: the invoices are posted and queued for charging.
        self.assertEqual(len(self.invoice_ids), self.COUNT)
        self.assertEqual(set(self._charge_states().values()), {"to_charge"})
        # Count the calls to the provider, whatever the connection or thread that makes them.
        self.sent = []
        sent_lock = threading.Lock()
        Transaction = self.registry["payment.transaction"]
        send = Transaction._send_payment_request

        def counting_send(transaction):
            with sent_lock:
                self.sent.append(transaction.reference)
            return send(transaction)

        patcher = patch.object(Transaction, "_send_payment_request", counting_send)
        patcher.start()
        self.addCleanup(patcher.stop)

    def _cleanup(self):
        """Remove with SQL everything the test committed, in foreign-key order."""
        if not self.ids:
            return
        for thread in self.threads:
            # A run that outlived its test (a failure) finishes before its data is removed.
            thread.join(timeout=60)
        with self.registry.cursor() as cr:
            token_id, provider_id = self.ids["token"], self.ids["provider"]
            cr.execute(
                "SELECT id FROM account_move WHERE recurring_subscription_id = ANY(%s)",
                [self.subscription_ids],
            )
            invoice_ids = [row[0] for row in cr.fetchall()]
            cr.execute(
                """
                SELECT id FROM payment_transaction WHERE token_id = %(token)s
                                                      OR provider_id = %(provider)s
                 UNION
                SELECT transaction_id FROM account_invoice_transaction_rel
                 WHERE invoice_id = ANY(%(invoices)s)
                """,
                {"token": token_id, "provider": provider_id, "invoices": invoice_ids},
            )
            transaction_ids = [row[0] for row in cr.fetchall()]
            cr.execute(
                "SELECT id FROM account_payment WHERE payment_transaction_id = ANY(%s) "
                "OR payment_token_id = %s",
                [transaction_ids, token_id],
            )
            payment_ids = [row[0] for row in cr.fetchall()]
            cr.execute(
                "SELECT move_id FROM account_payment WHERE id = ANY(%(payments)s) "
                "AND move_id IS NOT NULL "
                "UNION SELECT id FROM account_move WHERE origin_payment_id = ANY(%(payments)s)",
                {"payments": payment_ids},
            )
            move_ids = invoice_ids + [row[0] for row in cr.fetchall()]
            cr.execute(
                "DELETE FROM recurring_payment_attempt WHERE invoice_id = ANY(%s) "
                "OR token_id = %s OR transaction_id = ANY(%s)",
                [invoice_ids, token_id, transaction_ids],
            )
            cr.execute(
                "SELECT DISTINCT full_reconcile_id FROM account_move_line "
                "WHERE move_id = ANY(%s) AND full_reconcile_id IS NOT NULL",
                [move_ids],
            )
            full_reconcile_ids = [row[0] for row in cr.fetchall()]
            cr.execute("SELECT id FROM account_move_line WHERE move_id = ANY(%s)", [move_ids])
            line_ids = [row[0] for row in cr.fetchall()]
            cr.execute(
                "DELETE FROM account_partial_reconcile "
                "WHERE debit_move_id = ANY(%(lines)s) OR credit_move_id = ANY(%(lines)s)",
                {"lines": line_ids},
            )
            cr.execute(
                "DELETE FROM account_full_reconcile WHERE id = ANY(%s)", [full_reconcile_ids]
            )
            cr.execute(
                "UPDATE payment_transaction SET payment_id = NULL WHERE id = ANY(%s)",
                [transaction_ids],
            )
            cr.execute("DELETE FROM account_payment WHERE id = ANY(%s)", [payment_ids])
            cr.execute("DELETE FROM account_move WHERE id = ANY(%s)", [move_ids])
            cr.execute("DELETE FROM payment_transaction WHERE id = ANY(%s)", [transaction_ids])
            cr.execute(
                "DELETE FROM recurring_subscription WHERE id = ANY(%s)", [self.subscription_ids]
            )
            cr.execute("DELETE FROM payment_token WHERE id = %s", [token_id])
            cr.execute(
                "DELETE FROM account_payment_method_line WHERE payment_provider_id = %s",
                [provider_id],
            )
            cr.execute("DELETE FROM payment_provider WHERE id = %s", [provider_id])
            cr.execute("DELETE FROM product_template WHERE id = %s", [self.ids["product_tmpl"]])
            cr.execute("DELETE FROM recurring_plan WHERE id = %s", [self.ids["plan"]])
            for model, res_ids in (
                ("account.move", move_ids),
                ("account.payment", payment_ids),
                ("payment.transaction", transaction_ids),
                ("recurring.subscription", self.subscription_ids),
                ("res.partner", [self.ids["partner"]]),
            ):
                cr.execute(
                    "DELETE FROM mail_message WHERE model = %s AND res_id = ANY(%s)",
                    [model, res_ids],
                )
                cr.execute(
                    "DELETE FROM mail_followers WHERE res_model = %s AND res_id = ANY(%s)",
                    [model, res_ids],
                )
            cr.execute("DELETE FROM res_partner WHERE id = %s", [self.ids["partner"]])

    # --- helpers ---

    def _charge_states(self):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT id, recurring_charge_state FROM account_move WHERE id = ANY(%s)",
                [self.invoice_ids],
            )
            return dict(cr.fetchall())

    def _assert_charged_once(self):
        """One attempt, one transaction, one provider call and one payment per invoice."""
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            invoices = env["account.move"].browse(self.invoice_ids)
            attempts = env["recurring.payment.attempt"].search(
                [("invoice_id", "in", self.invoice_ids)]
            )
            self.assertEqual(
                Counter(attempts.invoice_id.ids),
                Counter(self.invoice_ids),
                "exactly one payment attempt per invoice",
            )
            self.assertEqual(set(attempts.mapped("attempt_number")), {1})
            self.assertEqual(set(attempts.mapped("state")), {"done"})
            transactions = env["payment.transaction"].search(
                [("invoice_ids", "in", self.invoice_ids)]
            )
            self.assertEqual(
                Counter(transactions.invoice_ids.ids),
                Counter(self.invoice_ids),
                "exactly one payment transaction per invoice",
            )
            self.assertEqual(len(transactions), self.COUNT)
            self.assertEqual(transactions, attempts.transaction_id)
            self.assertEqual(set(transactions.mapped("state")), {"done"})
            self.assertEqual(
                Counter(self.sent),
                Counter(transactions.mapped("reference")),
                "exactly one charge at the provider per transaction",
            )
            for transaction in transactions:
                payments = env["account.payment"].search(
                    [("payment_transaction_id", "=", transaction.id)]
                )
                self.assertEqual(len(payments), 1, f"{transaction.reference}: one payment")
                self.assertEqual(transaction.payment_id, payments)
            self.assertEqual(set(invoices.mapped("payment_state")) - {"paid", "in_payment"}, set())
            self.assertEqual(set(invoices.mapped("recurring_charge_state")), {"paid"})

    def _run_cron_in_thread(self, barrier, results, errors):
        """One charging run as the scheduler starts it: a connection of its own, commits."""
        try:
            with self.registry.cursor() as cr:
                # The test runner holds the registry lock: hand the registry over directly.
                cr.transaction = api.Transaction(self.registry)
                env = api.Environment(cr, SUPERUSER_ID, {"recurring_commit": True})
                if barrier:
                    barrier.wait(timeout=30)
                results.append(env["account.move"]._cron_charge_invoices(batch_size=3))
                cr.commit()  # pylint: disable=invalid-commit
        except Exception as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    def _start_runs(self, count):
        """Start ``count`` charging runs at once, each in a thread; return their results."""
        barrier = threading.Barrier(count) if count > 1 else None
        results, errors = [], []
        threads = [
            threading.Thread(target=self._run_cron_in_thread, args=(barrier, results, errors))
            for _i in range(count)
        ]
        self.threads += threads
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        # A run waiting on the other worker's locks fails the test instead of hanging it.
        self.assertFalse(any(thread.is_alive() for thread in threads), "a charging run is stuck")
        self.assertFalse(errors, errors)
        return results

    # --- tests ---

    def test_two_workers_charge_each_invoice_once(self):
        """C-1: two charging runs started together on two connections charge each invoice once.

        Exactly one attempt, one payment transaction, one call to the provider and one
        payment per invoice; every invoice is paid.
        """
        results = self._start_runs(2)
        self.assertEqual(sum(results), self.COUNT, f"work shared as {results}")
        self._assert_charged_once()

    def test_locked_invoices_are_skipped(self):
        """C-1: invoices claimed by an uncommitted worker are skipped by the other, never charged twice."""  # noqa: E501
        with self.registry.cursor() as cr_a:
            env_a = api.Environment(cr_a, SUPERUSER_ID, {"recurring_commit": True})
            # Worker A claims 4 invoices and starts their attempts, without committing.
            claimed = env_a["account.move"]._recurring_claim_to_charge(fields.Datetime.now(), 4)
            self.assertEqual(len(claimed), 4)
            attempts_a = claimed._recurring_start_attempts()
            self.assertEqual(len(attempts_a), 4)
            # Worker B runs the whole cron on its own connection: it charges the others
            # and skips A's rows.
            self.assertEqual(self._start_runs(1), [self.COUNT - 4])
            self.assertEqual(len(self.sent), self.COUNT - 4)
            self.assertFalse(set(self.sent) & set(attempts_a.mapped("reference")))
            # A sends its charges and commits.
            attempts_a._recurring_send(can_commit=True)
            cr_a.commit()
        # B runs again: nothing is left to charge.
        self.assertEqual(self._start_runs(1), [0])
        self._assert_charged_once()
