# Part of recurring payments for Odoo. License LGPL-3.
"""Invoicing on two real database connections.

These tests commit on cursors of their own (the test transaction cannot see or lock what
other connections do), and remove what they committed at the end.
"""

import threading

from odoo import SUPERUSER_ID, Command, api, fields
from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestInvoicingConcurrency(TransactionCase):
    COUNT = 24

    def setUp(self):
        super().setUp()
        self.tag = f"rp-concurrency-{id(self)}"
        # Real dates: time is not frozen, threads would share a frozen clock.
        self.today = fields.Date.today()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            company = env.ref("base.main_company")
            if not env["account.journal"].search(
                [("type", "=", "sale"), ("company_id", "=", company.id)]
            ):
                self.skipTest("the main company has no chart of accounts")
            product = env["product.product"].create(
                {"name": self.tag, "list_price": 10.0, "taxes_id": [Command.clear()]}
            )
            plan = env["recurring.plan"].create(
                {"name": self.tag, "period_unit": "month", "auto_send": False}
            )
            partner = env["res.partner"].create({"name": self.tag})
            subscriptions = env["recurring.subscription"].create(
                [
                    {
                        "partner_id": partner.id,
                        "plan_id": plan.id,
                        "company_id": company.id,
                        "date_start": self.today,
                        "line_ids": [Command.create({"product_id": product.id, "quantity": 1})],
                    }
                    for _i in range(self.COUNT)
                ]
            )
            subscriptions.write({"state": "active"})
            self.subscription_ids = subscriptions.ids
            self.ids = {"product": product.id, "plan": plan.id, "partner": partner.id}
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT id FROM account_move WHERE recurring_subscription_id = ANY(%s)",
                [self.subscription_ids],
            )
            move_ids = [row[0] for row in cr.fetchall()]
            if move_ids:
                cr.execute(
                    "DELETE FROM account_partial_reconcile WHERE debit_move_id IN "
                    "(SELECT id FROM account_move_line WHERE move_id = ANY(%s))",
                    [move_ids],
                )
                cr.execute("DELETE FROM account_move WHERE id = ANY(%s)", [move_ids])
            cr.execute(
                "DELETE FROM recurring_subscription WHERE id = ANY(%s)", [self.subscription_ids]
            )
            cr.execute("DELETE FROM recurring_plan WHERE id = %s", [self.ids["plan"]])
            cr.execute("DELETE FROM product_product WHERE id = %s", [self.ids["product"]])
            cr.execute("DELETE FROM res_partner WHERE id = %s", [self.ids["partner"]])

    def _invoice_counts(self):
        with self.registry.cursor() as cr:
            cr.execute(
                """
                SELECT s.id, COUNT(m.id)
                  FROM recurring_subscription s
             LEFT JOIN account_move m ON m.recurring_subscription_id = s.id
                 WHERE s.id = ANY(%s)
              GROUP BY s.id
                """,
                [self.subscription_ids],
            )
            return dict(cr.fetchall())

    def _run_cron_in_thread(self, barrier, results, errors):
        try:
            with self.registry.cursor() as cr:
                # The test runner holds the registry lock: hand the registry over directly.
                cr.transaction = api.Transaction(self.registry)
                env = api.Environment(cr, SUPERUSER_ID, {"recurring_commit": True})
                barrier.wait(timeout=30)
                results.append(
                    env["recurring.subscription"]
                    .with_context(recurring_commit=True)
                    ._cron_generate_invoices(batch_size=3)
                )
        except Exception as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    def test_two_workers_invoice_each_subscription_once(self):
        """B-4: two cron runs started together on two connections invoice each due period once."""
        barrier = threading.Barrier(2)
        results, errors = [], []
        threads = [
            threading.Thread(target=self._run_cron_in_thread, args=(barrier, results, errors))
            for _i in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        self.assertFalse(errors, errors)
        self.assertEqual(sum(results), self.COUNT, f"work shared as {results}")
        counts = self._invoice_counts()
        self.assertEqual(set(counts.values()), {1}, counts)

    def test_locked_rows_are_skipped(self):
        """B-4: rows claimed by an uncommitted worker are skipped by the other, never billed twice."""  # noqa: E501
        with self.registry.cursor() as cr_a, self.registry.cursor() as cr_b:
            env_a = api.Environment(cr_a, SUPERUSER_ID, {"recurring_commit": True})
            env_b = api.Environment(cr_b, SUPERUSER_ID, {"recurring_commit": True})
            claimed = env_a["recurring.subscription"]._recurring_claim_due(self.today, 5)
            self.assertEqual(len(claimed), 5)
            done_b = env_b["recurring.subscription"]._cron_generate_invoices(batch_size=4)
            self.assertEqual(done_b, self.COUNT - 5)
            claimed._recurring_invoice_batch(self.today)
            cr_a.commit()
            # Worker B runs again: everything is billed, it finds nothing.
            self.assertEqual(
                env_b["recurring.subscription"]._cron_generate_invoices(batch_size=4), 0
            )
        counts = self._invoice_counts()
        self.assertEqual(set(counts.values()), {1}, counts)
