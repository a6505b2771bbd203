"""Build the demo database ``recurring_demo``, run one billing cycle and say what it did.

The demo runs on a private PostgreSQL cluster whose data folder is ``build/demo-pg``
(its log beside it), so a served demo can be stopped and served again:

    make demo                    rebuild the database (demo data, payment_demo), bill once
    make demo SERVE=1            the same, then serve it on http://127.0.0.1:8069
    make demo SERVE=1 REUSE=1    serve the existing demo database again, as it was left

PostgreSQL runs only while this command runs; Ctrl-C stops Odoo and PostgreSQL.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys

from odoo_env import BUILD, odoo_command, odoo_unavailable_reason, project_addons, write_config
from pgcluster import Cluster, free_port

DATABASE = "recurring_demo"
DATA_DIR = BUILD / "demo-pg"
CONFIG = BUILD / "demo-odoo.conf"
INSTALL_LOG = BUILD / "demo-install.log"
CYCLE_LOG = BUILD / "demo-billing.log"
SERVER_LOG = BUILD / "demo-server.log"
MARKER = "RP_DEMO_RESULT "

# Runs inside ``odoo shell`` (``env`` is given); prints one JSON line after MARKER.
BILLING_CYCLE = r"""
import json
Move = env["account.move"]
Subscription = env["recurring.subscription"]
recurring = [("recurring_subscription_id", "!=", False)]
before = set(Move.search(recurring).ids)
cards = Subscription._recurring_demo_add_payment_tokens()
sepa = Subscription._recurring_demo_add_sepa_mandates()
processed = Subscription._cron_generate_invoices()
env.cr.commit()
charged = Move._cron_charge_invoices()
env.cr.commit()

# SEPA: pre-notify the queued debits and batch them, write each batch's pain.008 file and
# check it (XSD and EPC rules), hand it to the "bank", which credits it...
import base64, tempfile
from pathlib import Path
from recurring_payments_core.sepa.cli import validate_file
prenotified = env["payment.transaction"]._cron_recurring_sepa_prepare()
env.cr.commit()
batches = env["recurring.sepa.batch"].search([("state", "=", "draft")])
batches.action_generate()
batch_files = []
for batch in batches.filtered("file_id"):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / batch.file_id.name
        path.write_bytes(batch.file_id.raw)
        problems = validate_file(path)
    batch_files.append(
        [batch.name, batch.sequence_type, str(batch.collection_date), batch.transaction_count,
         batch.amount_total, problems]
    )
batches.filtered(lambda b: b.state == "generated").action_mark_sent()
batches.filtered(lambda b: b.state == "sent").action_settle()
env.cr.commit()
# ... then returns one debit for insufficient funds (camt.054, AM04) after settlement.
returned = batches.transaction_ids.filtered(lambda t: t.state == "done")[:1]
sepa_return = {}
if returned:
    camt = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">'
        "<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>DEMO-RETURN-1</MsgId>"
        "<CreDtTm>2026-01-01T08:00:00</CreDtTm></GrpHdr><Ntfctn><Id>N-1</Id>"
        f'<Ntry><Amt Ccy="EUR">{returned.amount:.2f}</Amt><CdtDbtInd>DBIT</CdtDbtInd>'
        f"<Sts><Cd>BOOK</Cd></Sts><NtryDtls><Btch><MsgId>{returned.recurring_sepa_batch_id.name}"
        f"</MsgId></Btch><TxDtls><Refs><EndToEndId>{returned.recurring_sepa_end_to_end_id}"
        f'</EndToEndId></Refs><Amt Ccy="EUR">{returned.amount:.2f}</Amt>'
        "<CdtDbtInd>DBIT</CdtDbtInd><RtrInf><Rsn><Cd>AM04</Cd></Rsn></RtrInf></TxDtls>"
        "</NtryDtls></Ntry></Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"
    )
    wizard = env["recurring.sepa.return.import"].create(
        {"file": base64.b64encode(camt.encode()), "file_name": "camt054-demo.xml"}
    )
    imported = env["recurring.sepa.return"].browse(wizard.action_import()["res_id"])
    env.cr.commit()
    invoice = returned.invoice_ids[:1]
    attempt = returned.recurring_attempt_ids[:1]
    sepa_return = {
        "name": imported.name,
        "invoice": invoice.name,
        "payment_state": invoice.payment_state,
        "charge_state": invoice.recurring_charge_state,
        "decision": attempt.decision,
        "next_retry": str(attempt.next_retry_at or "-"),
    }
attempts = {
    state: count
    for state, count in env["recurring.payment.attempt"]._read_group([], ["state"], ["__count"])
}
decisions = {
    decision or "-": count
    for decision, count in env["recurring.payment.attempt"]._read_group(
        [("state", "=", "failed")], ["decision"], ["__count"]
    )
}
invoices = Move.search(recurring, order="id")
created = invoices.filtered(lambda move: move.id not in before)
result = {
    "cards": cards,
    "sepa": sepa,
    "prenotified": prenotified,
    "batches": batch_files,
    "sepa_return": sepa_return,
    "charged": charged,
    "attempts": attempts,
    "decisions": decisions,
    "processed": processed,
    "created": [
        {
            "name": move.name or "/",
            "partner": move.partner_id.display_name,
            "subscription": move.recurring_subscription_id.display_name,
            "amount": move.currency_id.round(move.amount_total),
            "currency": move.currency_id.name,
            "digits": move.currency_id.decimal_places,
            "state": move.state,
        }
        for move in created
    ],
    "subscriptions": {
        state: count for state, count in Subscription._read_group([], ["state"], ["__count"])
    },
    "totals": [
        [currency.name, currency.decimal_places, count, total]
        for currency, count, total in Move._read_group(
            recurring, ["currency_id"], ["__count", "amount_total:sum"]
        )
    ],
}
print("RP_DEMO_RESULT " + json.dumps(result, default=str), flush=True)
"""


def show_log_tail(log, count=60):
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    print(f"--- last {min(count, len(lines))} lines of {log} ---", file=sys.stderr)
    print("\n".join(lines[-count:]), file=sys.stderr)


def run_odoo(cluster, log, *args, subcommand=(), stdin_text=None):
    """Run Odoo on the demo database; its output goes to ``log``. Returns the exit status."""
    command = odoo_command(*subcommand, "-c", str(CONFIG), "-d", DATABASE, *args)
    print(f"$ {' '.join(command)}\n  (log: {log})", flush=True)
    with open(log, "w", encoding="utf-8") as output:
        return subprocess.run(
            command,
            input=stdin_text,
            text=True,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **cluster.env()},
            **({} if stdin_text is not None else {"stdin": subprocess.DEVNULL}),
        ).returncode


def logged_errors(log):
    return [
        line
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
        if " ERROR " in line or " CRITICAL " in line
    ]


def build(cluster, addons):
    """(Re)create the demo database with demo data; return False when it failed."""
    cluster.psql(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    returncode = run_odoo(
        cluster,
        INSTALL_LOG,
        "-i",
        ",".join(addons + ["payment_demo"]),
        "--load-language=fr_FR",
        "--stop-after-init",
        "--log-level=info",
    )
    errors = logged_errors(INSTALL_LOG)
    if returncode or errors:
        print(
            f"\nInstalling {', '.join(addons)} with demo data failed "
            f"(exit status {returncode}, {len(errors)} error lines).",
            file=sys.stderr,
        )
        show_log_tail(INSTALL_LOG)
        return False
    return True


def money(amount, digits):
    return f"{float(amount):,.{digits}f}"


def bill_once(cluster):
    """Run one billing cycle in ``odoo shell`` and print what it did."""
    returncode = run_odoo(
        cluster,
        CYCLE_LOG,
        "--no-http",
        "--log-level=warn",
        subcommand=["shell"],
        stdin_text=BILLING_CYCLE,
    )
    lines = CYCLE_LOG.read_text(encoding="utf-8", errors="replace").splitlines()
    results = [line[len(MARKER) :] for line in lines if line.startswith(MARKER)]
    if returncode or not results:
        print(f"\nThe billing cycle failed (exit status {returncode}).", file=sys.stderr)
        show_log_tail(CYCLE_LOG)
        return False
    result = json.loads(results[-1])
    print(f"\n=== one billing cycle on {DATABASE}")
    print(f"subscriptions given a payment_demo card: {result['cards']}")
    print(f"subscriptions given a SEPA mandate: {result['sepa']}")
    print(f"subscriptions processed: {result['processed']}")
    print(f"invoices created: {len(result['created'])}")
    shown = 20
    for invoice in result["created"][:shown]:
        print(
            f"  {invoice['name']:<20} {invoice['state']:<8} "
            f"{money(invoice['amount'], invoice['digits']):>14} {invoice['currency']}  "
            f"{invoice['partner']} ({invoice['subscription']})"
        )
    if len(result["created"]) > shown:
        print(f"  ... and {len(result['created']) - shown} more")
    print(f"invoices charged to saved payment methods: {result['charged']}")
    print(
        "payment attempts per state: "
        + ", ".join(f"{state} {count}" for state, count in sorted(result["attempts"].items()))
    )
    print(
        "failed attempts, next step: "
        + ", ".join(
            f"{decision} {count}" for decision, count in sorted(result["decisions"].items())
        )
    )
    print(f"SEPA debits pre-notified and batched: {result['prenotified']}")
    for name, sequence, collection, count, total, problems in result["batches"]:
        verdict = "valid (XSD and EPC rules)" if not problems else "; ".join(problems)
        print(
            f"  batch {name}: {sequence} on {collection}, {count} debits, "
            f"{money(total, 2)} EUR, file {verdict}; sent and settled"
        )
    sepa_return = result["sepa_return"]
    if sepa_return:
        print(
            f"bank return {sepa_return['name']} (camt.054, AM04 insufficient funds): invoice "
            f"{sepa_return['invoice']} open again ({sepa_return['payment_state']}), "
            f"next step {sepa_return['decision']} on {sepa_return['next_retry']}"
        )
    print("subscriptions per state:")
    for state, count in sorted(result["subscriptions"].items()):
        print(f"  {state:<12} {count}")
    print("recurring invoices in the database, per currency:")
    for currency, digits, count, total in result["totals"]:
        print(f"  {currency}: {count} invoices, {money(total, digits)}")
    if not result["totals"]:
        print("  none")
    return True


def port_is_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def serve(cluster, port):
    command = odoo_command(
        "-c",
        str(CONFIG),
        "-d",
        DATABASE,
        f"--db-filter=^{DATABASE}$",
        "--max-cron-threads=1",
        f"--logfile={SERVER_LOG}",
    )
    print(
        f"\n=== serving {DATABASE}\n"
        f"  open      http://127.0.0.1:{port}/odoo\n"
        f"  log in    admin / admin (French is installed: switch it in your preferences)\n"
        f"  log       {SERVER_LOG}\n"
        f"  stop      Ctrl-C (stops Odoo, then PostgreSQL; the data stays in {DATA_DIR})\n"
        f"  again     make demo SERVE=1 REUSE=1",
        flush=True,
    )
    server = subprocess.Popen(
        command, env={**os.environ, **cluster.env()}, stdin=subprocess.DEVNULL
    )
    try:
        return server.wait()
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()


def _interrupted(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--serve", action="store_true", help="then serve the demo database")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep an existing demo database as it is (no rebuild, no billing)",
    )
    options = parser.parse_args()
    reason = odoo_unavailable_reason()
    if reason:
        print(
            f"make demo needs Odoo 18 in this Python ({sys.executable}): {reason}.", file=sys.stderr
        )
        return 2
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGHUP, _interrupted)
    BUILD.mkdir(exist_ok=True)
    addons = project_addons()
    port = 8069 if port_is_free(8069) else free_port()
    try:
        with Cluster(data_dir=DATA_DIR, fast=False) as cluster:
            write_config(CONFIG, cluster, http_port=port)
            print(f"PostgreSQL data: {DATA_DIR} (log: {cluster.log_file})")
            if options.reuse and cluster.database_exists(DATABASE):
                print(f"reusing the existing database {DATABASE}")
            elif not (build(cluster, addons) and bill_once(cluster)):
                return 1
            if options.serve:
                return serve(cluster, port)
    except KeyboardInterrupt:
        print("\nstopped", file=sys.stderr)
        return 130
    except (OSError, RuntimeError, subprocess.CalledProcessError) as error:
        print(f"make demo: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
