#!/usr/bin/env python3
"""Charging benchmark: the recurring_payments charging cron beside Odoo's bare floor.

For each size N (1,000 and 10,000 by default), N posted, unpaid invoices of customers
who each have a saved ``payment_demo`` card (token in state ``done``) are charged and
paid by

* **floor**: Odoo's own API and nothing else: ``payment.transaction.create([...])`` of
  the same transactions (operation ``offline``, the customer's token, the invoice in
  ``invoice_ids``), ``_send_payment_request()`` on each in a loop, then Odoo's own
  ``_post_process()`` (which creates and posts the payment and reconciles it with the
  invoice), a new cursor and one commit per batch of 50 (the cron's batch size);
* **recurring_payments**: ``account.move._cron_charge_invoices()`` called the way Odoo's
  scheduler calls it (a new cursor per call, the cron's progress record in the context,
  ``recurring_commit=True``) until it returns 0.

Both run in one database where ``recurring_payments`` and ``payment_demo`` are
installed, each on invoices of its own (customers, tokens and product are shared). The
data setup is not timed: the invoices are created with ``account.move.create([...])`` +
``action_post()`` in batches; those of recurring_payments belong to a subscription paid
by token and are queued for charging (``recurring_charge_state='to_charge'``) with SQL.
Queries are counted with ``odoo.sql_db.sql_counter``. After each run the script checks
that exactly N invoices were paid, by N transactions in state ``done`` and N payments.

Usage::

    python3 bench/bench_charging.py --config /path/odoo.conf --db bench_charging \\
        --sizes 1000 10000 [--profile 1000] [--own-cluster] [--write docs/benchmarks.md]

The database must not exist (``--reuse-db`` to run again on one that does); it is
dropped at the end unless ``--keep-db``. ``--own-cluster`` starts a throw-away
PostgreSQL cluster with the default durability settings (fsync and synchronous_commit
on) and runs there.
"""

import argparse
import datetime
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_invoicing import (  # noqa: E402 pylint: disable=wrong-import-position
    CRON_LIMIT,
    QUIET,
    add_run_arguments,
    call_cron_until_done,
    callee_tables,
    configure_odoo,
    db_exists,
    drop_db,
    log,
    machine_facts,
    odoo_install,
    profile_headline,
    profile_stats,
    queries,
    run_with_cluster,
    short,
    where,
    write_section,
)

MARK_START = "<!-- bench_charging:start -->"
MARK_END = "<!-- bench_charging:end -->"
OUR_ADDON = "recurring_payments"
MODULES = [OUR_ADDON, "payment_demo"]
WARM_UP = 20  # invoices per contender before the measured runs


class Bench:
    """Data setup and contenders, on one registry."""

    def __init__(self, registry, batch_size, time_budget):
        self.registry = registry
        self.batch_size = batch_size
        self.time_budget = time_budget
        self.partner_ids = []
        self.token_ids = []
        self.subscription_ids = []

    def env(self, cr, context=None):
        from odoo import SUPERUSER_ID, api  # pylint: disable=import-outside-toplevel

        return api.Environment(cr, SUPERUSER_ID, dict(context or {}))

    # --- setup (not timed) ---

    def setup_common(self, max_size):
        from odoo import Command, fields  # pylint: disable=import-outside-toplevel

        with self.registry.cursor() as cr:
            env = self.env(cr, QUIET)
            company = env.company
            self.company_id = company.id
            self.currency_id = company.currency_id.id
            Journal = env["account.journal"]
            self.journal_id = Journal.search(
                [("type", "=", "sale"), ("company_id", "=", company.id)], limit=1
            ).id
            bank = Journal.search([("type", "=", "bank"), ("company_id", "=", company.id)], limit=1)
            if not (self.journal_id and bank):
                sys.exit("The main company needs a sales journal and a bank journal")
            provider = env.ref("payment.payment_provider_demo")
            provider.write({"state": "test", "company_id": company.id})
            # Setting the journal creates the provider's payment method line.
            provider.journal_id = bank
            self.provider_id = provider.id
            self.method_id = env.ref("payment_demo.payment_method_demo").id
            product = env["product.product"].create(
                {
                    "name": "Bench subscription",
                    "type": "service",
                    "list_price": 10.0,
                    "taxes_id": [Command.clear()],
                }
            )
            self.product_id = product.id
            self.plan_id = (
                env["recurring.plan"]
                .create({"name": "Bench monthly", "period_unit": "month", "auto_send": False})
                .id
            )
            self.today = fields.Date.context_today(product)
            for start in range(0, max_size, 1000):
                stop = min(max_size, start + 1000)
                partners = env["res.partner"].create(
                    [{"name": f"Bench customer {i:05d}"} for i in range(start, stop)]
                )
                tokens = env["payment.token"].create(
                    [
                        {
                            "provider_id": self.provider_id,
                            "payment_method_id": self.method_id,
                            "partner_id": partner.id,
                            "provider_ref": f"bench-{partner.id}",
                            "payment_details": "4242",
                            "demo_simulated_state": "done",
                        }
                        for partner in partners
                    ]
                )
                subscriptions = env["recurring.subscription"].create(
                    [
                        {
                            "partner_id": partner.id,
                            "plan_id": self.plan_id,
                            "date_start": self.today,
                            "payment_mode": "token",
                            "payment_token_id": token.id,
                            "line_ids": [
                                Command.create({"product_id": self.product_id, "quantity": 1})
                            ],
                        }
                        for partner, token in zip(partners, tokens, strict=True)
                    ]
                )
                subscriptions.action_confirm()
                env.flush_all()
                self.partner_ids += partners.ids
                self.token_ids += tokens.ids
                self.subscription_ids += subscriptions.ids
                env.invalidate_all()
            cr.commit()
            self.settings = {}
            for name in (
                "server_version",
                "fsync",
                "synchronous_commit",
                "full_page_writes",
                "shared_buffers",
            ):
                cr.execute(f"SHOW {name}")
                self.settings[name] = cr.fetchone()[0]

    @staticmethod
    def price(index):
        return 10.0 + index % 50

    def setup_invoices(self, size, ours):
        """Create and post ``size`` invoices; queue them for our cron when ``ours``."""
        from odoo import Command  # pylint: disable=import-outside-toplevel

        ids = []
        with self.registry.cursor() as cr:
            env = self.env(cr, QUIET)
            Move = env["account.move"].with_context(default_move_type="out_invoice")
            for start in range(0, size, 500):
                vals_list = []
                for i in range(start, min(size, start + 500)):
                    vals = {
                        "move_type": "out_invoice",
                        "partner_id": self.partner_ids[i],
                        "journal_id": self.journal_id,
                        "invoice_date": self.today,
                        "invoice_line_ids": [
                            Command.create(
                                {
                                    "product_id": self.product_id,
                                    "quantity": 1.0,
                                    "price_unit": self.price(i),
                                    "tax_ids": [Command.clear()],
                                }
                            )
                        ],
                    }
                    if ours:
                        vals["recurring_subscription_id"] = self.subscription_ids[i]
                        vals["recurring_plan_id"] = self.plan_id
                    vals_list.append(vals)
                moves = Move.create(vals_list)
                moves.action_post()
                env.flush_all()
                ids += moves.ids
                cr.commit()
                env.invalidate_all()
            if ours:
                cr.execute(
                    "UPDATE account_move SET recurring_charge_state = 'to_charge', "
                    "recurring_next_charge_at = (NOW() AT TIME ZONE 'UTC') - INTERVAL '1 minute' "
                    "WHERE id = ANY(%s)",
                    [ids],
                )
                cr.commit()
        return ids

    def check_paid(self, invoice_ids, label):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT payment_state, count(*) FROM account_move WHERE id = ANY(%s) "
                "GROUP BY payment_state",
                [invoice_ids],
            )
            states = dict(cr.fetchall())
            cr.execute(
                """
                SELECT count(DISTINCT t.id), count(DISTINCT p.id),
                       count(DISTINCT t.id) FILTER (WHERE t.state = 'done')
                  FROM account_invoice_transaction_rel r
                  JOIN payment_transaction t ON t.id = r.transaction_id
             LEFT JOIN account_payment p ON p.payment_transaction_id = t.id
                 WHERE r.invoice_id = ANY(%s)
                """,
                [invoice_ids],
            )
            transactions, payments, done = cr.fetchone()
        size = len(invoice_ids)
        paid = states.get("paid", 0) + states.get("in_payment", 0)
        if not (paid == transactions == payments == done == size):
            sys.exit(
                f"{label}: expected {size} paid invoices, transactions and payments; "
                f"found payment states {states}, {transactions} transactions ({done} done), "
                f"{payments} payments"
            )

    # --- contenders (timed) ---

    def run_floor(self, invoice_ids):
        from odoo import Command  # pylint: disable=import-outside-toplevel

        calls = []
        q0 = queries()
        t0 = time.perf_counter()
        for start in range(0, len(invoice_ids), self.batch_size):
            t_call = time.perf_counter()
            with self.registry.cursor() as cr:
                env = self.env(cr)
                moves = env["account.move"].browse(invoice_ids[start : start + self.batch_size])
                Transaction = env["payment.transaction"].sudo()
                # One create per transaction: Odoo's constraint on the token
                # (``_check_token_is_active``) does not accept several at once.
                transactions = Transaction
                for move in moves:
                    transactions |= Transaction.create(
                        {
                            "provider_id": self.provider_id,
                            "payment_method_id": self.method_id,
                            "reference": f"{move.name}-1",
                            "amount": move.amount_residual,
                            "currency_id": move.currency_id.id,
                            "partner_id": move.partner_id.id,
                            "token_id": self.token_by_partner[move.partner_id.id],
                            "operation": "offline",
                            "invoice_ids": [Command.set(move.ids)],
                        }
                    )
                for transaction in transactions:
                    transaction._send_payment_request()
                transactions._post_process()
                cr.commit()
            calls.append(time.perf_counter() - t_call)
        wall = time.perf_counter() - t0
        count = queries() - q0
        self.check_paid(invoice_ids, "floor")
        return {"wall": wall, "queries": count, "calls": len(calls), "longest": max(calls)}

    def run_ours(self, invoice_ids):
        calls, processed, wall, count = call_cron_until_done(
            self,
            f"{OUR_ADDON}.account_move_cron_charge",
            lambda env: env["account.move"]._cron_charge_invoices(
                batch_size=self.batch_size, time_budget=self.time_budget
            ),
        )
        if processed != len(invoice_ids):
            sys.exit(
                f"recurring_payments charged {processed} invoices, expected {len(invoice_ids)}"
            )
        self.check_paid(invoice_ids, "recurring_payments")
        working = calls[:-1] if len(calls) > 1 else calls
        return {"wall": wall, "queries": count, "calls": len(working), "longest": max(working)}


# --- profile --------------------------------------------------------------------------------


def profile_report(bench, size):
    """Profile a run of ``size`` of the floor and of our cron; say where the extra time goes."""
    log(f"profile: setting up {size} invoices per contender")
    floor_ids = bench.setup_invoices(size, ours=False)
    our_ids = bench.setup_invoices(size, ours=True)
    log("profile: floor")
    floor_wall, floor = profile_stats(lambda: bench.run_floor(floor_ids))
    log("profile: recurring_payments")
    ours_wall, ours = profile_stats(lambda: bench.run_ours(our_ids))

    own_code = sum(value[2] for key, value in ours.items() if where(key[0]) == "recurring_payments")
    rows = [profile_headline(size, floor_wall, ours_wall, own_code)]

    rows += callee_tables(
        (
            (
                "Where the floor's time goes (callees of the floor loop)",
                floor,
                "run_floor",
                "bench_charging",
            ),
            (
                "Where recurring_payments' time goes: callees of `_cron_charge_invoices`",
                ours,
                "_cron_charge_invoices",
                OUR_ADDON,
            ),
            (
                "... callees of `_recurring_send` (one call per batch)",
                ours,
                "_recurring_send",
                OUR_ADDON,
            ),
            (
                "... callees of `_recurring_sync` (from the state change, once per charge)",
                ours,
                "_recurring_sync",
                OUR_ADDON,
            ),
            (
                "... callees of `_recurring_start_attempts` (one call per batch)",
                ours,
                "_recurring_start_attempts",
                OUR_ADDON,
            ),
        )
    )
    # The same Odoo work sits under different callers in the two contenders (ours
    # post-processes inside the state change, the floor after the loop): compare the
    # functions that do it, by name.
    key_functions = [
        ("payment/models/payment_transaction.py", "create"),
        ("payment_demo/models/payment_transaction.py", "_send_payment_request"),
        ("account_payment/models/payment_transaction.py", "_post_process"),
        ("account_payment/models/payment_transaction.py", "_create_payment"),
        ("account/models/account_move.py", "action_post"),
        ("account/models/account_move_line.py", "reconcile"),
        ("mail/models/mail_thread.py", "message_post"),
        ("odoo/sql_db.py", "commit"),
    ]
    rows += [
        "",
        "The same Odoo work in both (cumulative seconds of the functions that do it):",
        "",
        "| function | calls (ours / floor) | s (ours) | s (floor) |",
        "|---|---:|---:|---:|",
    ]
    for filename, name in key_functions:
        found = {}
        for label, stats in (("ours", ours), ("floor", floor)):
            calls = seconds = 0
            for key, value in stats.items():
                if key[2] == name and key[0].endswith(filename):
                    calls += value[1]
                    seconds += value[3]
            found[label] = (calls, seconds)
        rows.append(
            f"| `{filename.split('/')[0]}…{name}` | {found['ours'][0]:,} / "
            f"{found['floor'][0]:,} | {found['ours'][1]:.2f} | {found['floor'][1]:.2f} |"
        )
    ours_own = {key: value[2] for key, value in ours.items()}
    floor_own = {key: value[2] for key, value in floor.items()}
    rows += [
        "",
        "Functions with the largest growth of own time (recurring_payments minus floor):",
        "",
        "| function | own s (ours) | own s (floor) | difference s | calls (ours / floor) |",
        "|---|---:|---:|---:|---:|",
    ]
    growth = sorted(ours, key=lambda key: -(ours_own[key] - floor_own.get(key, 0.0)))[:12]
    for key in growth:
        rows.append(
            f"| `{short(key)}` | {ours_own[key]:.2f} | {floor_own.get(key, 0.0):.2f} | "
            f"{ours_own[key] - floor_own.get(key, 0.0):+.2f} | "
            f"{ours[key][1]:,} / {floor.get(key, (0, 0))[1]:,} |"
        )
    return "\n".join(rows)


# --- report ---------------------------------------------------------------------------------


def table(results):
    rows = [
        "| contender | N | wall s | charges/s | queries/charge | × floor time | "
        "cron calls | longest call s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, contenders in results.items():
        floor = contenders["floor"]["wall"]
        for label, result in contenders.items():
            rows.append(
                f"| {label} | {size:,} | {result['wall']:.1f} | {size / result['wall']:.1f} | "
                f"{result['queries'] / size:.1f} | {result['wall'] / floor:.2f} | "
                f"{result['calls'] if label != 'floor' else '–'} | "
                f"{result['longest']:.1f} |"
            )
    return "\n".join(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="Odoo configuration file")
    parser.add_argument("--db", default="bench_charging", help="database to create and use")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--time-budget", type=float, default=60)
    parser.add_argument(
        "--profile", type=int, metavar="N", help="also profile a run of N of both contenders"
    )
    add_run_arguments(parser)
    run_with_cluster(parser.parse_args(), run, "rp-bench-charging-")


def run(args, config, own_cluster):
    import odoo  # pylint: disable=import-outside-toplevel

    addons_path = configure_odoo(config, args.db)
    if db_exists(args.db) and not args.reuse_db:
        sys.exit(f"Database {args.db} exists: drop it or pass --reuse-db")
    sizes = sorted(set(args.sizes))
    t_start = time.perf_counter()
    try:
        if not db_exists(args.db):
            odoo_install(config, args.db, addons_path, MODULES)
        registry = odoo.modules.registry.Registry.new(args.db)
        bench = Bench(registry, args.batch_size, args.time_budget)
        largest = max(sizes + [args.profile or 0, WARM_UP])
        log(f"setup: {largest} customers with a demo card and a subscription each")
        bench.setup_common(largest)
        bench.token_by_partner = dict(zip(bench.partner_ids, bench.token_ids, strict=True))
        log(f"warm-up: {WARM_UP} charges per contender")
        bench.run_floor(bench.setup_invoices(WARM_UP, ours=False))
        bench.run_ours(bench.setup_invoices(WARM_UP, ours=True))
        results = {}
        for size in sizes:
            log(f"N={size}: setting up {size} invoices per contender")
            floor_ids = bench.setup_invoices(size, ours=False)
            our_ids = bench.setup_invoices(size, ours=True)
            contenders = {}
            log(f"N={size}: floor")
            contenders["floor"] = bench.run_floor(floor_ids)
            log(f"N={size}: recurring_payments cron")
            contenders["recurring_payments"] = bench.run_ours(our_ids)
            results[size] = contenders
            for label, result in contenders.items():
                log(f"  {label}: {result}")
            print(table({size: contenders}), flush=True)
        profile = profile_report(bench, args.profile) if args.profile else None
        settings = bench.settings
    finally:
        if not args.keep_db:
            drop_db(args.db)
            log(f"dropped {args.db}")
    log(f"total {time.perf_counter() - t_start:.0f} s")

    facts = machine_facts()
    server = (
        "throw-away cluster started by the benchmark"
        if own_cluster
        else "server of the given configuration"
    )
    lines = [
        f"Run of {datetime.date.today().isoformat()}: `python3 bench/bench_charging.py "
        f"--sizes {' '.join(map(str, args.sizes))}"
        f"{' --own-cluster' if own_cluster else ''}"
        f"{f' --profile {args.profile}' if args.profile else ''}`",
        "",
        f"- Machine: {facts['cpus']} CPUs ({facts['cpu']}), {facts['ram']} RAM, {facts['os']}",
        f"- PostgreSQL {settings['server_version']} ({server}): fsync={settings['fsync']}, "
        f"synchronous_commit={settings['synchronous_commit']}, "
        f"full_page_writes={settings['full_page_writes']}, "
        f"shared_buffers={settings['shared_buffers']}",
        f"- Python {facts['python']}, Odoo {odoo.release.version}, provider payment_demo "
        f"(tokens in state done)",
        f"- Batch size {args.batch_size} (floor: one commit per batch), time budget per cron "
        f"call {args.time_budget:g} s",
        "",
        table(results),
    ]
    for size, contenders in results.items():
        ours = contenders["recurring_payments"]
        lines.append("")
        lines.append(
            f"N={size:,}: recurring_payments needed {ours['calls']} cron call(s) with work "
            f"(+1 that found nothing left), the longest {ours['longest']:.1f} s "
            f"({'under' if ours['longest'] < CRON_LIMIT else 'OVER'} the {CRON_LIMIT} s limit)."
        )
    if profile:
        lines += ["", profile]
    text = "\n".join(lines)
    print("\n" + text)
    if args.write:
        write_section(args.write, text, MARK_START, MARK_END)
        log(f"wrote {args.write}")


if __name__ == "__main__":
    main()
