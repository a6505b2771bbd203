#!/usr/bin/env python3
"""Invoicing benchmark: the recurring_payments cron against two references.

For each size N (1,000 and 10,000 by default), N due subscriptions (one line each,
monthly, billed in advance from today) are invoiced and posted by

* **floor (batched)**: Odoo's own ``account.move.create([...])`` + ``action_post()``
  for the same partners, product, amounts, taxes and journal, no subscription logic,
  in batches of the cron's batch size with a commit per batch;
* **floor (one transaction)**: the same, all N invoices in one ``create`` + one
  ``action_post`` + one commit;
* **recurring_payments**: ``recurring.subscription._cron_generate_invoices()`` called
  the way Odoo's scheduler calls it (a new cursor per call, the progress record of the
  cron in the context) until it returns 0;
* **OCA contract 18.0**: ``contract.contract.cron_recurring_create_invoice()`` in one
  call, as its cron does, then ``action_post()`` of the drafts it created (its cron
  leaves them in draft), in its own transaction.

All contenders run in one database where recurring_payments and contract are both
installed, each on data of its own (the partners and the product are shared). The
data setup is not timed. Queries are counted with ``odoo.sql_db.sql_counter``.

Usage::

    python3 bench/bench_invoicing.py --config /path/odoo.conf --db bench_invoicing \\
        --sizes 1000 10000 [--skip-contract] [--contract-path DIR] [--profile 1000] \\
        [--own-cluster] [--write docs/benchmarks.md]

The database must not exist (``--reuse-db`` to run again on one that does); it is
dropped at the end unless ``--keep-db``. OCA contract is installed with
``pip install --no-deps --target`` into a temporary folder (never into the Python
environment) unless ``--contract-path`` gives a folder holding the ``contract`` addon.
``--own-cluster`` starts a throw-away PostgreSQL cluster with the default durability
settings (fsync and synchronous_commit on) and runs there.
"""

import argparse
import configparser
import cProfile
import datetime
import io
import os
import platform
import pstats
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MARK_START = "<!-- bench_invoicing:start -->"
MARK_END = "<!-- bench_invoicing:end -->"
CONTRACT_REQUIREMENT = "odoo-addon-contract==18.0.*"
OUR_ADDON = "recurring_payments"
WARM_UP = 20  # invoices per contender before the measured runs
#: Context of the set-up: no chatter, no tracking (not what is measured).
QUIET = {
    "tracking_disable": True,
    "mail_notrack": True,
    "mail_create_nolog": True,
    "mail_create_nosubscribe": True,
}
CRON_LIMIT = 120  # seconds: Odoo's default limit_time_real for one cron call


# --- environment outside Odoo -----------------------------------------------------------


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def contract_addons_dir(args):
    """The folder holding the ``contract`` addon, fetched with pip --target if needed."""
    if args.contract_path:
        folder = Path(args.contract_path).resolve()
        for candidate in (folder, folder / "odoo" / "addons"):
            if (candidate / "contract" / "__manifest__.py").exists():
                return candidate
        sys.exit(f"No contract addon under {folder}")
    target = Path(tempfile.gettempdir()) / "rp-bench-oca-contract-18.0"
    addons = target / "odoo" / "addons"
    if not (addons / "contract" / "__manifest__.py").exists():
        log(f"fetching OCA contract ({CONTRACT_REQUIREMENT}) into {target}")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--target",
                str(target),
                CONTRACT_REQUIREMENT,
            ],
            check=True,
            stdin=subprocess.DEVNULL,
        )
    return addons


def read_options(config_path):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(config_path)
    return dict(parser["options"]) if parser.has_section("options") else {}


def own_cluster_config(args, workdir):
    """Start a durable private cluster; return (cluster, path of an Odoo config for it)."""
    sys.path.insert(0, str(REPO / "tools"))
    from pgcluster import Cluster  # pylint: disable=import-outside-toplevel

    cluster = Cluster(fast=False).start()
    options = read_options(args.config)
    for key in ("db_host", "db_port", "db_user", "db_password", "db_name", "dbfilter"):
        options.pop(key, None)
    options.update(cluster.odoo_options())
    options.setdefault("data_dir", str(workdir / "odoo-data"))
    path = workdir / "odoo.conf"
    path.write_text(
        "[options]\n" + "".join(f"{key} = {value}\n" for key, value in options.items()),
        encoding="utf-8",
    )
    return cluster, path


def machine_facts():
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "ram": ram,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
    }


# --- Odoo ---------------------------------------------------------------------------------


def odoo_install(config, db, addons_path, modules):
    command = [
        sys.executable,
        "-m",
        "odoo",
        "-c",
        str(config),
        "-d",
        db,
        "--addons-path",
        addons_path,
        "-i",
        ",".join(modules),
        "--without-demo=all",
        "--stop-after-init",
        "--no-http",
        "--log-level=warn",
    ]
    log("installing " + ", ".join(modules) + f" in {db}")
    result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    errors = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if " ERROR " in line or " CRITICAL " in line
    ]
    if result.returncode or errors:
        sys.stderr.write(result.stdout[-5000:] + result.stderr[-5000:])
        sys.exit(f"Installing {modules} failed (exit status {result.returncode})")


def pg_admin(sql):
    """Run one statement on the ``postgres`` database with autocommit."""
    import psycopg2  # pylint: disable=import-outside-toplevel

    import odoo.sql_db  # pylint: disable=import-outside-toplevel

    _name, info = odoo.sql_db.connection_info_for("postgres")
    connection = psycopg2.connect(**info)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall() if cursor.description else None
    finally:
        connection.close()


def db_exists(db):
    return bool(pg_admin(f"SELECT 1 FROM pg_database WHERE datname = '{db}'"))


def drop_db(db):
    import odoo  # pylint: disable=import-outside-toplevel

    odoo.modules.registry.Registry.delete(db)
    odoo.sql_db.close_db(db)
    pg_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def queries():
    import odoo.sql_db  # pylint: disable=import-outside-toplevel

    return odoo.sql_db.sql_counter


class Bench:
    """Data setup and contenders, on one registry."""

    def __init__(self, registry, batch_size, time_budget, with_contract):
        self.registry = registry
        self.batch_size = batch_size
        self.time_budget = time_budget
        self.with_contract = with_contract
        self.partner_ids = []
        self.serial = 0

    def env(self, cr, context=None):
        from odoo import SUPERUSER_ID, api  # pylint: disable=import-outside-toplevel

        return api.Environment(cr, SUPERUSER_ID, dict(context or {}))

    # --- setup (not timed) ---

    def setup_common(self, max_size):
        from odoo import fields  # pylint: disable=import-outside-toplevel

        with self.registry.cursor() as cr:
            env = self.env(cr, QUIET)
            company = env.company
            self.company_id = company.id
            self.currency_id = company.currency_id.id
            self.journal = env["account.journal"].search(
                [("type", "=", "sale"), ("company_id", "=", company.id)], limit=1
            )
            self.journal_id = self.journal.id
            product = env["product.product"].create(
                {
                    "name": "Bench subscription",
                    "type": "service",
                    "list_price": 10.0,
                    "taxes_id": [fields.Command.set(company.account_sale_tax_id.ids)],
                }
            )
            self.product_id = product.id
            self.product_name = product.get_product_multiline_description_sale()
            self.uom_id = product.uom_id.id
            self.tax_ids = product.taxes_id.ids
            self.plan_id = (
                env["recurring.plan"]
                .create(
                    {
                        "name": "Bench monthly",
                        "period_unit": "month",
                        "period_interval": 1,
                        "billing_mode": "advance",
                    }
                )
                .id
            )
            for start in range(0, max_size, 2000):
                stop = min(max_size, start + 2000)
                self.partner_ids += (
                    env["res.partner"]
                    .create([{"name": f"Bench customer {i:05d}"} for i in range(start, stop)])
                    .ids
                )
            self.today = fields.Date.context_today(env["res.partner"])
            cr.commit()
            self.settings = {}
            for name in (
                "server_version",
                "fsync",
                "synchronous_commit",
                "full_page_writes",
                "shared_buffers",
                "wal_level",
                "max_wal_size",
            ):
                cr.execute(f"SHOW {name}")
                self.settings[name] = cr.fetchone()[0]

    @staticmethod
    def price(index):
        return 10.0 + index % 50

    def setup_subscriptions(self, size):
        from odoo import Command  # pylint: disable=import-outside-toplevel

        ids = []
        with self.registry.cursor() as cr:
            env = self.env(cr, QUIET)
            Subscription = env["recurring.subscription"]
            for start in range(0, size, 1000):
                batch = Subscription.create(
                    [
                        {
                            "partner_id": self.partner_ids[i],
                            "plan_id": self.plan_id,
                            "date_start": self.today,
                            "line_ids": [
                                Command.create(
                                    {
                                        "product_id": self.product_id,
                                        "quantity": 1.0,
                                        "price_unit": self.price(i),
                                    }
                                )
                            ],
                        }
                        for i in range(start, min(size, start + 1000))
                    ]
                )
                batch.action_confirm()
                env.flush_all()
                ids += batch.ids
                env.invalidate_all()
            cr.commit()
            cr.execute(
                "SELECT count(*) FROM recurring_subscription WHERE id IN %s "
                "AND next_invoice_date <= %s",
                [tuple(ids), self.today],
            )
            due = cr.fetchone()[0]
        if due != size:
            sys.exit(f"{due} of {size} subscriptions are due, expected all of them")
        return ids

    def setup_contracts(self, size):
        from odoo import Command  # pylint: disable=import-outside-toplevel

        ids = []
        with self.registry.cursor() as cr:
            env = self.env(cr, QUIET)
            Contract = env["contract.contract"]
            for start in range(0, size, 1000):
                batch = Contract.create(
                    [
                        {
                            "name": f"Bench contract {self.serial}-{i:05d}",
                            "partner_id": self.partner_ids[i],
                            "contract_type": "sale",
                            "journal_id": self.journal_id,
                            "recurring_rule_type": "monthly",
                            "recurring_interval": 1,
                            "recurring_invoicing_type": "pre-paid",
                            "date_start": self.today,
                            "contract_line_ids": [
                                Command.create(
                                    {
                                        "product_id": self.product_id,
                                        "name": self.product_name,
                                        "quantity": 1.0,
                                        "uom_id": self.uom_id,
                                        "price_unit": self.price(i),
                                    }
                                )
                            ],
                        }
                        for i in range(start, min(size, start + 1000))
                    ]
                )
                env.flush_all()
                ids += batch.ids
                env.invalidate_all()
            cr.commit()
            cr.execute(
                "SELECT count(*) FROM contract_contract WHERE id IN %s "
                "AND recurring_next_date <= %s",
                [tuple(ids), self.today],
            )
            due = cr.fetchone()[0]
        self.serial += 1
        if due != size:
            sys.exit(f"{due} of {size} contracts are due, expected all of them")
        return ids

    def floor_vals(self, size):
        from odoo import Command  # pylint: disable=import-outside-toplevel

        label = (
            f"{self.product_name}\nPeriod: {self.today} to "
            f"{self.today + datetime.timedelta(days=29)}"
        )
        return [
            {
                "move_type": "out_invoice",
                "company_id": self.company_id,
                "partner_id": self.partner_ids[i],
                "currency_id": self.currency_id,
                "journal_id": self.journal_id,
                "invoice_date": self.today,
                "invoice_origin": f"Bench {i:05d}",
                "invoice_line_ids": [
                    Command.create(
                        {
                            "product_id": self.product_id,
                            "product_uom_id": self.uom_id,
                            "name": label,
                            "quantity": 1.0,
                            "price_unit": self.price(i),
                            "discount": 0.0,
                            "tax_ids": [Command.set(self.tax_ids)],
                        }
                    )
                ],
            }
            for i in range(size)
        ]

    # --- contenders (timed) ---

    def max_move_id(self):
        with self.registry.cursor() as cr:
            cr.execute("SELECT COALESCE(max(id), 0) FROM account_move")
            return cr.fetchone()[0]

    def check_posted(self, after_id, size, label):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT state, count(*) FROM account_move WHERE id > %s GROUP BY state", [after_id]
            )
            states = dict(cr.fetchall())
        if states != {"posted": size}:
            sys.exit(f"{label}: expected {size} posted invoices, found {states}")

    def run_floor(self, size, batch_size):
        vals_list = self.floor_vals(size)
        after = self.max_move_id()
        calls = []
        q0 = queries()
        t0 = time.perf_counter()
        for start in range(0, size, batch_size):
            t_call = time.perf_counter()
            with self.registry.cursor() as cr:
                env = self.env(cr)
                moves = env["account.move"].create(vals_list[start : start + batch_size])
                moves.action_post()
                cr.commit()
            calls.append(time.perf_counter() - t_call)
        wall = time.perf_counter() - t0
        count = queries() - q0
        self.check_posted(after, size, "floor")
        return {"wall": wall, "queries": count, "calls": len(calls), "longest": max(calls)}

    def run_ours(self, size):
        after = self.max_move_id()
        calls, processed, wall, count = call_cron_until_done(
            self,
            f"{OUR_ADDON}.recurring_subscription_cron_generate_invoices",
            lambda env: env["recurring.subscription"]._cron_generate_invoices(
                batch_size=self.batch_size, time_budget=self.time_budget
            ),
        )
        if processed != size:
            sys.exit(f"recurring_payments processed {processed} subscriptions, expected {size}")
        self.check_posted(after, size, "recurring_payments")
        working = calls[:-1] if len(calls) > 1 else calls
        return {
            "wall": wall,
            "queries": count,
            "calls": len(working),
            "longest": max(working),
            "final_call": calls[-1] if len(calls) > 1 else None,
        }

    def run_contract(self, size):
        after = self.max_move_id()
        q0 = queries()
        t0 = time.perf_counter()
        with self.registry.cursor() as cr:
            env = self.env(cr)
            env["contract.contract"].cron_recurring_create_invoice()
            cr.commit()
        t_created = time.perf_counter()
        with self.registry.cursor() as cr:
            env = self.env(cr)
            drafts = env["account.move"].search([("id", ">", after), ("state", "=", "draft")])
            drafts.action_post()
            cr.commit()
        wall = time.perf_counter() - t0
        count = queries() - q0
        self.check_posted(after, size, "contract")
        return {
            "wall": wall,
            "queries": count,
            "calls": 1,
            "longest": t_created - t0,
            "post": wall - (t_created - t0),
        }


# --- profile --------------------------------------------------------------------------------


def where(filename):
    if f"{os.sep}{OUR_ADDON}{os.sep}" in filename or "recurring_payments_core" in filename:
        return "recurring_payments"
    if "odoo" in filename:
        return "odoo"
    return "python"


def short(key):
    filename, line, name = key
    if filename == "~":
        return name
    parts = Path(filename).parts
    for anchor in (OUR_ADDON, "recurring_payments_core", "addons", "odoo"):
        if anchor in parts:
            index = len(parts) - 1 - parts[::-1].index(anchor)
            return f"{'/'.join(parts[index:])}:{line}({name})"
    return f"{Path(filename).name}:{line}({name})"


def profile_stats(function):
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    function()
    profiler.disable()
    wall = time.perf_counter() - t0
    return wall, pstats.Stats(profiler, stream=io.StringIO()).stats


def profile_report(bench, size):
    """Profile a run of ``size`` of the floor and of our cron; say where the extra time goes."""
    log(f"profile: setting up {size} subscriptions")
    bench.setup_subscriptions(size)
    log("profile: floor (batched)")
    floor_wall, floor = profile_stats(lambda: bench.run_floor(size, bench.batch_size))
    log("profile: recurring_payments")
    ours_wall, ours = profile_stats(lambda: bench.run_ours(size))

    def cumulative(stats):
        return {key: value[3] for key, value in stats.items()}

    def own(stats):
        return {key: value[2] for key, value in stats.items()}

    ours_cum, floor_cum = cumulative(ours), cumulative(floor)
    ours_own, floor_own = own(ours), own(floor)
    own_code = sum(
        value for key, value in ours_own.items() if where(key[0]) == "recurring_payments"
    )
    rows = [profile_headline(size, floor_wall, ours_wall, own_code)]

    rows += callee_tables(
        (
            (
                "Where the floor's time goes (callees of the benchmark's floor loop)",
                floor,
                "run_floor",
                "bench_invoicing",
            ),
            (
                "Where recurring_payments' time goes: callees of `_cron_generate_invoices`",
                ours,
                "_cron_generate_invoices",
                OUR_ADDON,
            ),
            (
                "... and callees of `_recurring_create_invoices` (one call per batch)",
                ours,
                "_recurring_create_invoices",
                OUR_ADDON,
            ),
            (
                "... and callees of the benchmark's cron loop (a cursor per cron call, as the "
                "scheduler does)",
                ours,
                "run_ours",
                "bench_invoicing",
            ),
        )
    )
    rows.append("")
    rows.append(
        "Odoo and Python functions with the largest growth of own time "
        "(recurring_payments minus floor):"
    )
    rows.append("")
    rows.append("| function | own s (ours) | own s (floor) | difference s | calls (ours / floor) |")
    rows.append("|---|---:|---:|---:|---:|")
    growth = sorted(
        (key for key in ours if where(key[0]) != "recurring_payments"),
        key=lambda key: -(ours_own[key] - floor_own.get(key, 0.0)),
    )[:10]
    for key in growth:
        rows.append(
            f"| `{short(key)}` | {ours_own[key]:.2f} | {floor_own.get(key, 0.0):.2f} | "
            f"{ours_own[key] - floor_own.get(key, 0.0):+.2f} | "
            f"{ours[key][1]:,} / {floor.get(key, (0, 0))[1]:,} |"
        )
    rows.append("")
    rows.append(
        "Odoo functions with the largest growth of cumulative time "
        "(recurring_payments minus floor):"
    )
    rows.append("")
    rows.append("| function | cumulative s (ours) | cumulative s (floor) | difference s |")
    rows.append("|---|---:|---:|---:|")
    growth = sorted(
        (key for key in ours if where(key[0]) == "odoo"),
        key=lambda key: -(ours_cum[key] - floor_cum.get(key, 0.0)),
    )[:10]
    for key in growth:
        rows.append(
            f"| `{short(key)}` | {ours_cum[key]:.2f} | {floor_cum.get(key, 0.0):.2f} | "
            f"{ours_cum[key] - floor_cum.get(key, 0.0):+.2f} |"
        )
    return "\n".join(rows)


# --- report ---------------------------------------------------------------------------------


def table(results, floor_key="floor"):
    rows = [
        "| contender | N | wall s | invoices/s | queries/invoice | × floor time | "
        "cron calls | longest call s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, contenders in results.items():
        floor = contenders[floor_key]["wall"]
        for label, result in contenders.items():
            rows.append(
                f"| {label} | {size:,} | {result['wall']:.1f} | {size / result['wall']:.1f} | "
                f"{result['queries'] / size:.1f} | {result['wall'] / floor:.2f} | "
                f"{result['calls']} | {result['longest']:.1f} |"
            )
    return "\n".join(rows)


def configure_odoo(config, db, extra_paths=()):
    """Load Odoo's configuration for ``db`` from the file ``config``, with this
    repository (and ``extra_paths``) added to its addons path; return the addons path."""
    import odoo  # pylint: disable=import-outside-toplevel

    options = read_options(config)
    paths = [path.strip() for path in options.get("addons_path", "").split(",") if path.strip()]
    for path in (REPO, *extra_paths):
        if str(path) not in paths:
            paths.append(str(path))
    addons_path = ",".join(paths)
    odoo.tools.config.parse_config(
        [
            "-c",
            str(config),
            "-d",
            db,
            "--addons-path",
            addons_path,
            "--log-level=warn",
            "--no-http",
        ]
    )
    return addons_path


def write_section(path, text, start=MARK_START, end=MARK_END, intro=None):
    """Rewrite the block between the markers ``start`` and ``end`` of the Markdown file
    ``path`` with ``text``; a file without them gets ``intro`` (if any) and the block at
    its end. Every benchmark writes its own block this way."""
    path = Path(path)
    block = f"{start}\n{text.rstrip()}\n{end}"
    content = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if start in content and end in content:
        content = re.sub(
            re.escape(start) + r".*?" + re.escape(end),
            lambda _match: block,
            content,
            flags=re.S,
        )
    else:
        head = f"{intro}\n\n" if intro else ""
        content = content.rstrip() + "\n\n" + head + block + "\n"
    path.write_text(content, encoding="utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="Odoo configuration file")
    parser.add_argument("--db", default="bench_invoicing", help="database to create and use")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--time-budget", type=float, default=60)
    parser.add_argument("--skip-contract", action="store_true")
    parser.add_argument("--contract-path", help="folder holding the OCA contract addon")
    parser.add_argument(
        "--single-max",
        type=int,
        default=1000,
        help="largest N for the one-transaction floor (0: never)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="also profile a run of N for the floor and recurring_payments",
    )
    add_run_arguments(parser)
    run_with_cluster(parser.parse_args(), run, "rp-bench-")


def profile_headline(size, floor_wall, ours_wall, own_code):
    """Return the first line of a profile section."""
    return (
        f"Profile of one run of {size:,} (cProfile, which slows both down): floor "
        f"{floor_wall:.1f} s, recurring_payments {ours_wall:.1f} s, "
        f"difference {ours_wall - floor_wall:+.1f} s. Own time of the code of "
        f"recurring_payments and its core library (excluding what it calls): "
        f"{own_code:.2f} s."
    )


def callee_tables(sections):
    """Return Markdown tables of the ten costliest callees of each profiled function.

    :param sections: (title, pstats dict, function name, file name part) tuples
    """
    rows = []
    for title, stats, name, filename in sections:
        parents = [key for key in stats if key[2] == name and filename in key[0]]
        children = {}
        for key, value in stats.items():
            for caller, caller_value in value[4].items():
                if caller in parents:
                    children[key] = children.get(key, 0.0) + caller_value[3]
        rows += ["", title + ":", "", "| callee | calls | s (cumulative) |", "|---|---:|---:|"]
        for key, seconds in sorted(children.items(), key=lambda item: -item[1])[:10]:
            rows.append(f"| `{short(key)}` | {stats[key][1]:,} | {seconds:.2f} |")
    return rows


def call_cron_until_done(bench, cron_xmlid, call):
    """Call a cron's method as Odoo's scheduler does until it returns 0.

    Each call gets a new cursor, the cron's ``ir.cron.progress`` record in the context,
    and commits.

    :return: (duration of each call, items processed, wall time, queries)
    """
    with bench.registry.cursor() as cr:
        env = bench.env(cr)
        progress_id = env["ir.cron.progress"].create({"cron_id": env.ref(cron_xmlid).id}).id
        cr.commit()
    calls = []
    processed = 0
    q0 = queries()
    t0 = time.perf_counter()
    while True:
        t_call = time.perf_counter()
        with bench.registry.cursor() as cr:
            done = call(
                bench.env(cr, {"ir_cron_progress_id": progress_id, "recurring_commit": True})
            )
            cr.commit()
        calls.append(time.perf_counter() - t_call)
        processed += done
        if not done:
            break
    return calls, processed, time.perf_counter() - t0, queries() - q0


def add_run_arguments(parser):
    """Add the options every benchmark of this folder shares."""
    parser.add_argument(
        "--own-cluster",
        action="store_true",
        help="run on a throw-away PostgreSQL cluster with default durability",
    )
    parser.add_argument("--reuse-db", action="store_true")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--write", metavar="MARKDOWN", help="rewrite this file's section")


def run_with_cluster(args, run_function, prefix):
    """Call ``run_function(args, config, own_cluster)``, on a private cluster if asked."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    cluster = None
    config = Path(args.config).resolve()
    if args.own_cluster:
        cluster, config = own_cluster_config(args, workdir)
        log(f"private PostgreSQL cluster on {cluster.socket_dir} port {cluster.port}")
    try:
        run_function(args, config, cluster is not None)
    finally:
        if cluster:
            cluster.stop()


def run(args, config, own_cluster):
    import odoo  # pylint: disable=import-outside-toplevel

    with_contract = not args.skip_contract
    contract_version = None
    extra_paths = []
    if with_contract:
        contract_dir = contract_addons_dir(args)
        extra_paths.append(contract_dir)
        manifest = (contract_dir / "contract" / "__manifest__.py").read_text(encoding="utf-8")
        contract_version = re.search(r"[\"']version[\"']\s*:\s*[\"']([^\"']+)", manifest)[1]
    addons_path = configure_odoo(config, args.db, extra_paths)

    if db_exists(args.db) and not args.reuse_db:
        sys.exit(f"Database {args.db} exists: drop it or pass --reuse-db")
    modules = [OUR_ADDON] + (["contract"] if with_contract else [])
    t_install = time.perf_counter()
    try:
        odoo_install(config, args.db, addons_path, modules)
        log(f"installed in {time.perf_counter() - t_install:.0f} s")
        registry = odoo.modules.registry.Registry.new(args.db)
        bench = Bench(registry, args.batch_size, args.time_budget, with_contract)
        sizes = sorted(set(args.sizes))
        extra = args.profile or 0
        # The warm-up uses partners too: enough of them even for sizes below it.
        partners = max(sizes + [extra, WARM_UP])
        log(f"setup: {partners} partners, product, plan")
        bench.setup_common(partners)
        # Warm-up (not reported): the first invoices of a fresh registry pay for caches.
        log(f"warm-up: {WARM_UP} invoices per contender")
        bench.run_floor(WARM_UP, args.batch_size)
        bench.setup_subscriptions(WARM_UP)
        bench.run_ours(WARM_UP)
        if with_contract:
            bench.setup_contracts(WARM_UP)
            bench.run_contract(WARM_UP)
        results = {}
        for size in sizes:
            contenders = {}
            log(f"N={size}: floor (batched)")
            contenders["floor"] = bench.run_floor(size, args.batch_size)
            if size <= args.single_max:
                log(f"N={size}: floor (one transaction)")
                contenders["floor, one transaction"] = bench.run_floor(size, size)
            log(f"N={size}: setting up subscriptions")
            bench.setup_subscriptions(size)
            log(f"N={size}: recurring_payments cron")
            contenders["recurring_payments"] = bench.run_ours(size)
            if with_contract:
                log(f"N={size}: setting up contracts")
                bench.setup_contracts(size)
                log(f"N={size}: OCA contract cron + post")
                contenders["OCA contract"] = bench.run_contract(size)
            results[size] = contenders
            for label, result in contenders.items():
                log(f"  {label}: {result}")
            print(table({size: contenders}), flush=True)
        profile = profile_report(bench, args.profile) if args.profile else None
        registry_settings = bench.settings
    finally:
        if not args.keep_db:
            drop_db(args.db)
            log(f"dropped {args.db}")

    facts = machine_facts()
    server = (
        "throw-away cluster started by the benchmark"
        if own_cluster
        else "server of the given configuration"
    )
    lines = [
        f"Run of {datetime.date.today().isoformat()}: `python3 bench/bench_invoicing.py "
        f"--sizes {' '.join(map(str, args.sizes))}"
        f"{' --own-cluster' if own_cluster else ''}"
        f"{' --skip-contract' if args.skip_contract else ''}"
        f"{f' --profile {args.profile}' if args.profile else ''}`",
        "",
        f"- Machine: {facts['cpus']} CPUs ({facts['cpu']}), {facts['ram']} RAM, {facts['os']}",
        f"- PostgreSQL {registry_settings['server_version']} "
        f"({server}): "
        f"fsync={registry_settings['fsync']}, "
        f"synchronous_commit={registry_settings['synchronous_commit']}, "
        f"full_page_writes={registry_settings['full_page_writes']}, "
        f"shared_buffers={registry_settings['shared_buffers']}",
        f"- Python {facts['python']}, Odoo {odoo.release.version}"
        + (f", OCA contract {contract_version}" if contract_version else ""),
        f"- Batch size {args.batch_size}, time budget per cron call {args.time_budget:g} s",
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
            + (
                f" OCA contract: {contenders['OCA contract']['longest']:.1f} s in its one cron "
                f"call, then {contenders['OCA contract']['post']:.1f} s to post."
                if "OCA contract" in contenders
                else ""
            )
        )
    if profile:
        lines += ["", profile]
    text = "\n".join(lines)
    print("\n" + text)
    if args.write:
        write_section(args.write, text)
        log(f"wrote {args.write}")


if __name__ == "__main__":
    main()
