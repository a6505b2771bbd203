#!/usr/bin/env python3
"""SEPA benchmark: writing pain.008 files with recurring_payments_core beside ``sepaxml``.

For each size N (1,000, 10,000 and 100,000 by default) the same N deterministic
pseudo-random direct debits (seeded: names with accents and symbols, amounts from 1.00
to 9,999.99, valid IBANs of nine SEPA countries, Swiss debtors with a structured
address and a BIC, mandates signed between 2019 and 2026, FRST and RCUR on two
collection dates, so four payment-information blocks) are written as one
pain.008.001.08 file by

* **recurring_payments_core**: ``sepa.pain008.write_pain008()`` streaming to a file on
  disk (the debits handed over as a list sorted by ``group_key``, the single-sweep path
  its documentation asks for);
* **sepaxml**: ``SepaDD(config, schema)``, ``add_payment()`` per debit, ``export(
  validate=False)`` (it builds the whole tree in memory; its own validation, with
  ``xmlschema``, is left out of the time), then the bytes written to a file.

Each measured run is a child process of its own (this script with ``--child``): it loads
the input, which the parent generated once per size, builds the contender's own input
objects (``Debit`` dataclasses, or sepaxml's payment dicts), collects garbage, resets
the kernel's peak-RSS mark (``/proc/self/clear_refs``), then times the writing. The
peak memory is the child's peak RSS (``VmHWM``) minus its RSS just before the timed
part. ``ru_maxrss`` is not used for it: in a child started by ``exec`` it also keeps
the parent's peak from before the ``exec`` (Linux keeps it in the process's signal
struct, which ``clear_refs`` does not reset), so it would count the parent's input
generation. An extra, untimed child per contender and size gives the ``tracemalloc``
peak (Python allocations only: lxml's own buffers are not counted there). Timings are
the best of ``--repeat`` runs (``--repeat-large`` for N >= 100,000).

After the timed runs, each written file is validated with lxml against the XSD shipped
in sepaxml, and read back: the group header's and every block's ``NbOfTxs`` and
``CtrlSum`` must match its transactions, and both files must hold the same transactions
(end-to-end ids and amounts) as the input.

Usage::

    python3 bench/bench_sepa.py [--sizes 1000 10000 100000] [--repeat 3] \\
        [--repeat-large 2] [--version pain.008.001.08] [--profile N] \\
        [--write docs/benchmarks.md]

No Odoo and no database: only ``recurring_payments_core`` (installed from ``src/``),
lxml, schwifty and sepaxml.
"""

import argparse
import datetime
import gc
import importlib.metadata
import json
import os
import pickle
import random
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_invoicing import log, machine_facts, short, write_section  # noqa: E402

MARK_START = "<!-- bench_sepa:start -->"
MARK_END = "<!-- bench_sepa:end -->"
LARGE = 100_000  # sizes from which --repeat-large applies
TARGET_SPEED = 3.0  # at least 3x faster than sepaxml ...
TARGET_MEMORY = 1 / 3  # ... with at most a third of its peak memory, at the largest size
OURS = "recurring_payments_core"
SEPAXML = "sepaxml"
CONTENDERS = (OURS, SEPAXML)
COLLECTION_DATES = (datetime.date(2026, 12, 4), datetime.date(2026, 12, 11))
MANDATE_FROM = datetime.date(2019, 1, 1)
MANDATE_DAYS = (datetime.date(2026, 11, 20) - MANDATE_FROM).days
MESSAGE_ID = "RP-BENCH-20261122-0001"
CREATED_AT = datetime.datetime(2026, 11, 22, 9, 30, tzinfo=datetime.timezone.utc)
CREDITOR = {
    "name": "Société Éxemple & Cie – Abonnements «Prémium»",
    "country": "FR",
    "bank": "30006",
    "account": "00012345678",
    "national_id": "123456",
    "street": "Rue de la République",
    "number": "12",
    "postcode": "69002",
    "town": "Lyon",
}
# (country, bank code, branch code, weight); CH is in SEPA but not in the EEA: its
# debtors need an address and a BIC (UBS's bank code, known to schwifty's registry).
BANKS = (
    ("FR", "30006", "", 30),
    ("DE", "37040044", "", 20),
    ("ES", "21000418", "", 10),
    ("IT", "05428", "11101", 10),
    ("NL", "ABNA", "", 8),
    ("BE", "539", "", 7),
    ("AT", "12000", "", 5),
    ("PT", "00020123", "", 5),
    ("CH", "00230", "", 5),
)
FIRST_NAMES = (
    "Zoë", "Ünal", "François", "Łukasz", "Søren", "José", "Ærøskøbing", "Mäx", "Chloé",
    "Maël", "Iñaki", "Björn", "Dragoș", "Željko", "Ágnes", "Þórunn", "Gaëlle", "Jürgen",
    "Noémie", "Ørjan", "Ça", "Renée", "Brontë", "Œdipe",
)  # fmt: skip
LAST_NAMES = (
    "Müller", "d’Hérouville", "Nuñez", "Żółkiewski", "Straße", "O'Brien", "Dupont-Lefèvre",
    "Großmann", "Ødegård", "Çelik", "Kovačević", "Łódź", "Pérez y García", "Van der Berg",
    "Åström", "Schäfer", "L’Écuyer", "Rousseau", "Nováková", "Fernández",
)  # fmt: skip
SUFFIXES = (
    "", "", "", "", " & Fils", " — SARL «Café»", " (Büro)", " & Søn", " @home", " [GmbH]",
    " 50 € offerts", " n°7", " ™", " “le Grand”",
)  # fmt: skip
TOWNS = (("Zürich", "8001"), ("Genève", "1204"), ("Lausanne", "1003"), ("Bâle", "4051"))
STREETS = ("Bahnhofstraße", "Rue du Rhône", "Avenue de Béthusy", "Münsterplatz")
MONTHS = "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"


# --- input --------------------------------------------------------------------------------


def _ibans(rng, size):
    """``size`` valid IBANs (and BICs, for Swiss debtors) drawn by weight from BANKS."""
    from schwifty import IBAN  # pylint: disable=import-outside-toplevel

    weights = [bank[3] for bank in BANKS]
    result = []
    for bank in rng.choices(BANKS, weights=weights, k=size):
        country, bank_code, branch_code, _weight = bank
        iban = IBAN.generate(
            country,
            bank_code=bank_code,
            branch_code=branch_code,
            account_code=f"{rng.randrange(10**7):07d}",
        )
        result.append((iban.compact, str(iban.bic) if country == "CH" else None, country))
    return result


def _name(rng, index):
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}{rng.choice(SUFFIXES)}"
    if index % 97 == 0:  # now and then longer than the 70 characters allowed
        name += " " + " ".join(rng.choice(LAST_NAMES) for _ in range(8))
    return name


def generate(size, seed):
    """The input rows, the same for both contenders: plain tuples.

    A row is ``(end_to_end_id, amount_in_cents, mandate_id, mandate_date,
    sequence_type, collection_date, debtor_name, iban, bic, address, remittance)``
    where ``address`` is ``None`` or ``(street, number, postcode, town, country)``.
    """
    rng = random.Random(seed * 1_000_003 + size)
    ibans = _ibans(rng, size)
    months = MONTHS.split()
    rows = []
    for index, (iban, bic, country) in enumerate(ibans, start=1):
        address = None
        if country == "CH":
            town, postcode = rng.choice(TOWNS)
            address = (rng.choice(STREETS), str(rng.randint(1, 120)), postcode, town, "CH")
        period = months[index % 12]
        rows.append(
            (
                f"RP-{index:07d}-1",
                rng.randint(100, 999_999),
                f"RUM-{seed % 1000:03d}-{index:08d}",
                MANDATE_FROM + datetime.timedelta(days=rng.randrange(MANDATE_DAYS)),
                "FRST" if rng.random() < 0.15 else "RCUR",
                rng.choice(COLLECTION_DATES),
                _name(rng, index),
                iban,
                bic,
                address,
                f"Abonnement n°{index} – période de {period} 2026, facture FAC/2026/{index:06d}",
            )
        )
    # Sorted the way a caller hands debits to write_pain008 (by collection date and
    # sequence type: the single-sweep path); sepaxml does not care about the order.
    rows.sort(key=lambda row: (row[5], row[4]))
    return rows


def _creditor_iban():
    from schwifty import IBAN  # pylint: disable=import-outside-toplevel

    iban = IBAN.generate(
        CREDITOR["country"], bank_code=CREDITOR["bank"], account_code=CREDITOR["account"]
    )
    return iban.compact, str(iban.bic)


def _creditor_id():
    from recurring_payments_core.sepa.identifiers import (  # pylint: disable=import-outside-toplevel
        creditor_identifier_check_digits,
    )

    country, national = CREDITOR["country"], CREDITOR["national_id"]
    return f"{country}{creditor_identifier_check_digits(country, national)}ZZZ{national}"


# --- contenders (in the child) ----------------------------------------------------------------


def ours_prepare(rows, version):
    """Our input objects; return the function that writes the file."""
    from recurring_payments_core.sepa.pain008 import (  # pylint: disable=import-outside-toplevel
        Creditor,
        Debit,
        MessageHeader,
        Pain008Version,
        PostalAddress,
        write_pain008,
    )
    from recurring_payments_core.sepa.sequence import (  # pylint: disable=import-outside-toplevel
        SequenceType,
    )

    iban, bic = _creditor_iban()
    creditor = Creditor(
        name=CREDITOR["name"],
        iban=iban,
        creditor_id=_creditor_id(),
        bic=bic,
        address=PostalAddress(
            CREDITOR["country"],
            CREDITOR["town"],
            CREDITOR["street"],
            CREDITOR["number"],
            CREDITOR["postcode"],
        ),
    )
    header = MessageHeader(MESSAGE_ID, CREATED_AT)
    debits = [
        Debit(
            end_to_end_id=e2e,
            amount=Decimal(cents).scaleb(-2),
            mandate_id=mandate,
            mandate_date=signed,
            sequence_type=SequenceType(sequence),
            collection_date=collection,
            debtor_name=name,
            debtor_iban=debtor_iban,
            debtor_bic=debtor_bic,
            debtor_address=(
                PostalAddress(address[4], address[3], address[0], address[1], address[2])
                if address
                else None
            ),
            remittance=remittance,
        )
        for (
            e2e,
            cents,
            mandate,
            signed,
            sequence,
            collection,
            name,
            debtor_iban,
            debtor_bic,
            address,
            remittance,
        ) in rows
    ]
    pain_version = Pain008Version(version)

    def run(path):
        with open(path, "wb") as stream:
            summary = write_pain008(stream, header, creditor, debits, version=pain_version)
        return summary.number_of_transactions, f"{summary.control_sum:.2f}"

    return run


def sepaxml_prepare(rows, version):
    """sepaxml's input (its config and payment dicts); return the function that writes."""
    import sepaxml  # pylint: disable=import-outside-toplevel
    import text_unidecode  # noqa: F401  # pylint: disable=import-outside-toplevel,unused-import

    iban, bic = _creditor_iban()
    config = {
        "name": CREDITOR["name"],
        "IBAN": iban,
        "BIC": bic,
        "batch": True,
        "creditor_id": _creditor_id(),
        "currency": "EUR",
        "instrument": "CORE",
        "address": {
            "street_name": CREDITOR["street"],
            "building_number": CREDITOR["number"],
            "postcode": CREDITOR["postcode"],
            "town": CREDITOR["town"],
            "country": CREDITOR["country"],
        },
    }
    payments = []
    for row in rows:
        e2e, cents, mandate, signed, sequence, collection, name, debtor_iban, debtor_bic = row[:9]
        address, remittance = row[9:]
        payment = {
            "name": name,
            "IBAN": debtor_iban,
            "amount": cents,
            "type": sequence,
            "collection_date": collection,
            "mandate_id": mandate,
            "mandate_date": signed,
            "description": remittance,
            "endtoend_id": e2e,
        }
        if debtor_bic:
            payment["BIC"] = debtor_bic
        if address:
            payment["address"] = {
                "street_name": address[0],
                "building_number": address[1],
                "postcode": address[2],
                "town": address[3],
                "country": address[4],
            }
        payments.append(payment)

    def run(path):
        sepa = sepaxml.SepaDD(config, schema=version, clean=True)
        for payment in payments:
            sepa.add_payment(payment)
        data = sepa.export(validate=False)
        with open(path, "wb") as stream:
            stream.write(data)
        return None, None

    return run


PREPARE = {OURS: ours_prepare, SEPAXML: sepaxml_prepare}


def _rss_kb(field="VmRSS"):
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak_rss():
    """Reset the kernel's peak-RSS mark to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def child(spec):
    """One measured run, in a process of its own; print a JSON line of results."""
    with open(spec["input"], "rb") as source:
        rows = pickle.load(source)
    run = PREPARE[spec["contender"]](rows, spec["version"])
    del rows
    gc.collect()
    result = {}
    if spec["mode"] == "profile":
        import cProfile  # pylint: disable=import-outside-toplevel
        import pstats  # pylint: disable=import-outside-toplevel

        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.runcall(run, spec["output"])
        result["seconds"] = time.perf_counter() - started
        stats = pstats.Stats(profiler).stats
        result["stats"] = [
            [short(key), value[1], value[2], value[3]] for key, value in stats.items()
        ]
    elif spec["mode"] == "tracemalloc":
        import tracemalloc  # pylint: disable=import-outside-toplevel

        tracemalloc.start()
        run(spec["output"])
        result["tracemalloc_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    else:
        reset = _reset_peak_rss()
        baseline_rss = _rss_kb()
        maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        count, total = run(spec["output"])
        result["seconds"] = time.perf_counter() - started
        maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # With the mark reset, VmHWM is the peak of the timed part alone; without it
        # (an old kernel) only the growth of the peak can be measured.
        peak_kb = _rss_kb("VmHWM") if reset else maxrss_after
        start_kb = baseline_rss if reset else maxrss_before
        result.update(
            peak_rss_increase=(peak_kb - start_kb) * 1024,
            ru_maxrss_increase=(maxrss_after - start_kb) * 1024,
            baseline_rss=baseline_rss * 1024,
            peak_reset=reset,
            rss_end=_rss_kb() * 1024,
            count=count,
            total=total,
            size=os.path.getsize(spec["output"]),
        )
    print(json.dumps(result), flush=True)


def spawn(spec):
    """Run ``child(spec)`` in a fresh interpreter; return its results."""
    completed = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if completed.returncode:
        sys.exit(f"child {spec['contender']} N={spec['size']} failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- checks (in the parent, not timed) -------------------------------------------------------


def xsd_path(version):
    import sepaxml  # pylint: disable=import-outside-toplevel

    return Path(sepaxml.__file__).resolve().parent / "schemas" / f"{version}.xsd"


def validate(path, schema):
    """``(valid, first error)`` of the file against the lxml ``schema``."""
    from lxml import etree  # pylint: disable=import-outside-toplevel

    parser = etree.XMLParser(huge_tree=True)
    document = etree.parse(str(path), parser)
    valid = schema.validate(document)
    error = None if valid else str(schema.error_log.filter_from_errors()[0])
    del document
    return valid, error


def read_back(path, sample_id=None):
    """Totals declared and found in a pain.008 file, its transactions, and the debtor
    name written for the end-to-end id ``sample_id``."""
    from lxml import etree  # pylint: disable=import-outside-toplevel

    header = None
    blocks = []
    transactions = {}
    sample = None
    for _event, element in etree.iterparse(
        str(path), events=("end",), tag=("{*}GrpHdr", "{*}PmtInf"), huge_tree=True
    ):
        if element.tag.endswith("GrpHdr"):
            header = (int(element.findtext("{*}NbOfTxs")), Decimal(element.findtext("{*}CtrlSum")))
        else:
            count, total = 0, Decimal(0)
            for transaction in element.iterfind("{*}DrctDbtTxInf"):
                amount = Decimal(transaction.findtext("{*}InstdAmt"))
                end_to_end_id = transaction.findtext("{*}PmtId/{*}EndToEndId")
                transactions[end_to_end_id] = amount
                if end_to_end_id == sample_id:
                    sample = transaction.findtext("{*}Dbtr/{*}Nm")
                count += 1
                total += amount
            key = (element.findtext("{*}ReqdColltnDt"), element.findtext("{*}PmtTpInf/{*}SeqTp"))
            declared = (
                int(element.findtext("{*}NbOfTxs")),
                Decimal(element.findtext("{*}CtrlSum")),
            )
            blocks.append((key, declared, (count, total)))
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]
    return header, blocks, transactions, sample


def check_file(path, schema, expected, sample_id):
    """Validate and read back one file; return a dict of findings."""
    valid, error = validate(path, schema)
    header, blocks, transactions, sample = read_back(path, sample_id)
    count = sum(found[0] for _key, _declared, found in blocks)
    total = sum((found[1] for _key, _declared, found in blocks), Decimal(0))
    groups = {}
    for key, _declared, (found_count, found_total) in blocks:
        group_count, group_total = groups.get(key, (0, Decimal(0)))
        groups[key] = (group_count + found_count, group_total + found_total)
    return {
        "valid": valid,
        "error": error,
        "count": count,
        "total": total,
        "blocks": len(blocks),
        "header_ok": header == (count, total),
        "blocks_ok": all(declared == found for _key, declared, found in blocks),
        "same_as_input": transactions == expected,
        "groups": groups,
        "sample": sample,
    }


# --- run --------------------------------------------------------------------------------------


def measure(args, workdir):
    """Timed runs, tracemalloc runs and checks for every size; return the results."""
    from lxml import etree  # pylint: disable=import-outside-toplevel

    schema = etree.XMLSchema(etree.parse(str(xsd_path(args.version))))
    results = {}
    for size in sorted(set(args.sizes)):
        log(f"N={size}: generating the input (seed {args.seed})")
        rows = generate(size, args.seed)
        input_path = workdir / f"input-{size}.pickle"
        with open(input_path, "wb") as target:
            pickle.dump(rows, target, protocol=pickle.HIGHEST_PROTOCOL)
        expected = {row[0]: Decimal(row[1]).scaleb(-2) for row in rows}
        # A debtor name that needs transliteration and cutting, to show both results.
        sample = next(row for row in rows if len(row[6]) > 70 and not row[6].isascii())
        del rows
        repeat = args.repeat_large if size >= LARGE else args.repeat
        runs = {name: [] for name in CONTENDERS}
        for attempt in range(repeat):
            # Alternate the order so that neither always runs first.
            order = CONTENDERS if attempt % 2 == 0 else CONTENDERS[::-1]
            for name in order:
                spec = _spec(args, workdir, name, size, "time")
                result = spawn(spec)
                log(
                    f"N={size} {name} run {attempt + 1}/{repeat}: {result['seconds']:.2f} s, "
                    f"peak +{_mb(result['peak_rss_increase']):.1f} MB (VmHWM; ru_maxrss "
                    f"+{_mb(result['ru_maxrss_increase']):.1f} MB; RSS before "
                    f"{_mb(result['baseline_rss']):.1f} MB, after "
                    f"{_mb(result['rss_end']):.1f} MB)"
                )
                runs[name].append(result)
        sizes = {}
        for name in CONTENDERS:
            best = min(runs[name], key=lambda result: result["seconds"])
            sizes[name] = {
                "seconds": best["seconds"],
                "all_seconds": [result["seconds"] for result in runs[name]],
                "peak": max(result["peak_rss_increase"] for result in runs[name]),
                "baseline": best["baseline_rss"],
                "peak_reset": best["peak_reset"],
                "file_size": best["size"],
            }
            if args.tracemalloc:
                log(f"N={size} {name}: tracemalloc run (not timed)")
                traced = spawn(_spec(args, workdir, name, size, "tracemalloc"))
                sizes[name]["tracemalloc"] = traced["tracemalloc_peak"]
            log(f"N={size} {name}: validating and reading back the file")
            sizes[name]["check"] = check_file(
                _output(workdir, name, size), schema, expected, sample[0]
            )
            check = sizes[name]["check"]
            log(f"  valid: {check['valid']}, {check['count']} transactions, {check['total']}")
        sizes["expected"] = (len(expected), sum(expected.values(), Decimal(0)))
        sizes["sample"] = sample[6]
        results[size] = sizes
        print(table({size: sizes}), flush=True)
        if not args.keep_files:
            for name in CONTENDERS:
                _output(workdir, name, size).unlink(missing_ok=True)
    return results


def _output(workdir, name, size):
    return workdir / f"{name}-{size}.xml"


def _spec(args, workdir, name, size, mode):
    return {
        "contender": name,
        "size": size,
        "version": args.version,
        "mode": mode,
        "input": str(workdir / f"input-{size}.pickle"),
        "output": str(_output(workdir, name, size)),
    }


def profile(args, workdir, size):
    """cProfile of our writer on ``size`` debits, in a child; return Markdown."""
    input_path = workdir / f"input-{size}.pickle"
    if not input_path.exists():  # a size that was not measured
        with open(input_path, "wb") as target:
            pickle.dump(generate(size, args.seed), target, protocol=pickle.HIGHEST_PROTOCOL)
    log(f"profile: {OURS} on N={size}")
    spec = _spec(args, workdir, OURS, size, "profile")
    spec["output"] = str(workdir / f"profile-{size}.xml")
    result = spawn(spec)
    Path(spec["output"]).unlink(missing_ok=True)
    stats = result["stats"]
    lines = [
        f"Profile of {OURS} writing {size:,} debits (cProfile in a child process, which "
        f"slows it down: {result['seconds']:.1f} s profiled). Top 15 by cumulative time:",
        "",
        "| function | calls | own s | cumulative s |",
        "|---|---:|---:|---:|",
    ]
    for name, calls, own, cumulative in sorted(stats, key=lambda row: -row[3])[:15]:
        lines.append(f"| `{name}` | {calls:,} | {own:.2f} | {cumulative:.2f} |")
    lines += [
        "",
        "Top 10 by own time (excluding what they call):",
        "",
        "| function | calls | own s | cumulative s |",
        "|---|---:|---:|---:|",
    ]
    for name, calls, own, cumulative in sorted(stats, key=lambda row: -row[2])[:10]:
        lines.append(f"| `{name}` | {calls:,} | {own:.2f} | {cumulative:.2f} |")
    return "\n".join(lines)


# --- report -----------------------------------------------------------------------------------


def _mb(value):
    return value / 2**20


def table(results):
    rows = [
        "| contender | N | s (best) | transactions/s | peak RSS MB | tracemalloc peak MB | "
        "file MB | × sepaxml time | × sepaxml memory |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, sizes in results.items():
        reference = sizes[SEPAXML]
        for name in CONTENDERS:
            result = sizes[name]
            traced = result.get("tracemalloc")
            rows.append(
                f"| {name} | {size:,} | {result['seconds']:.2f} | "
                f"{size / result['seconds']:,.0f} | {_mb(result['peak']):.1f} | "
                f"{f'{_mb(traced):.1f}' if traced is not None else '–'} | "
                f"{_mb(result['file_size']):.1f} | "
                f"{result['seconds'] / reference['seconds']:.2f} | "
                f"{result['peak'] / reference['peak']:.2f} |"
            )
    return "\n".join(rows)


def per_transaction(results):
    rows = [
        "| contender | N | µs per transaction | peak RSS KB per transaction | "
        "file bytes per transaction |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in CONTENDERS:
        for size, sizes in results.items():
            result = sizes[name]
            rows.append(
                f"| {name} | {size:,} | {result['seconds'] / size * 1e6:.1f} | "
                f"{result['peak'] / 1024 / size:.2f} | {result['file_size'] / size:,.0f} |"
            )
    return "\n".join(rows)


def checks(results, version):
    rows = [
        f"| contender | N | valid ({version}.xsd) | transactions | control sum | blocks | "
        "header totals | block totals | same as input |",
        "|---|---:|---|---:|---:|---:|---|---|---|",
    ]
    for size, sizes in results.items():
        for name in CONTENDERS:
            check = sizes[name]["check"]
            rows.append(
                f"| {name} | {size:,} | {'yes' if check['valid'] else 'NO: ' + check['error']} | "
                f"{check['count']:,} | {check['total']:,.2f} | {check['blocks']} | "
                f"{_ok(check['header_ok'])} | {_ok(check['blocks_ok'])} | "
                f"{_ok(check['same_as_input'])} |"
            )
    return "\n".join(rows)


def _ok(value):
    return "match" if value else "MISMATCH"


def agreement(results):
    """One sentence per size: do both files hold the same transactions and blocks?"""
    lines = []
    for size, sizes in results.items():
        ours, theirs = sizes[OURS]["check"], sizes[SEPAXML]["check"]
        count, total = sizes["expected"]
        same = (
            ours["count"] == theirs["count"] == count
            and ours["total"] == theirs["total"] == total
            and ours["groups"] == theirs["groups"]
            and ours["same_as_input"]
            and theirs["same_as_input"]
        )
        lines.append(
            f"N={size:,}: both files hold {count:,} transactions for {total:,.2f} EUR in "
            f"{len(ours['groups'])} blocks (collection date × sequence type), "
            + (
                "the same per block and the same end-to-end ids and amounts as the input."
                if same
                else "BUT THEY DIFFER (see the table above)."
            )
        )
    return lines


def sample_names(results):
    """How each contender wrote one debtor name (transliteration and the 70-character
    limit), for the largest size."""
    sizes = results[max(results)]
    return [
        f"One debtor name as given: `{sizes['sample']}`",
        "",
        *(f"- {name} wrote: `{sizes[name]['check']['sample']}`" for name in CONTENDERS),
    ]


def verdict(results):
    """Sentences on the target at the largest size, and whether it was met."""
    size = max(results)
    ours, theirs = results[size][OURS], results[size][SEPAXML]
    speed = theirs["seconds"] / ours["seconds"]
    memory = ours["peak"] / theirs["peak"]
    met_speed = speed >= TARGET_SPEED
    met_memory = memory <= TARGET_MEMORY
    if speed >= 1:
        pace = f"{OURS} is **{speed:.2f}× faster** than sepaxml"
    else:
        pace = f"{OURS} is **{1 / speed:.2f}× slower** than sepaxml (speed ratio {speed:.2f})"
    text = (
        f"Target at N={size:,}: at least {TARGET_SPEED:g}× faster than sepaxml "
        f"with at most a third of its peak memory. Measured: {pace}, "
        f"{ours['seconds']:.2f} s against {theirs['seconds']:.2f} s: speed target "
        f"**{'met' if met_speed else 'NOT MET'}**; its peak memory is "
        f"**{memory:.3f}×** sepaxml's ({_mb(ours['peak']):.1f} MB against "
        f"{_mb(theirs['peak']):.1f} MB): memory target "
        f"**{'met' if met_memory else 'NOT MET'}**."
    )
    return text, met_speed and met_memory


def linearity(results):
    """Sentences on P-3: time and size per transaction, memory bound, across sizes."""
    sizes = sorted(results)
    if len(sizes) < 2:
        return ""
    small, large = sizes[0], sizes[-1]
    ours_small, ours_large = results[small][OURS], results[large][OURS]
    theirs_small, theirs_large = results[small][SEPAXML], results[large][SEPAXML]

    def per(result, size, key):
        return result[key] / size

    return (
        f"Growth from N={small:,} to N={large:,} ({large // small}× the debits, P-3): "
        f"{OURS} time per transaction × "
        f"{per(ours_large, large, 'seconds') / per(ours_small, small, 'seconds'):.2f}, file "
        f"bytes per transaction × "
        f"{per(ours_large, large, 'file_size') / per(ours_small, small, 'file_size'):.2f}, "
        f"peak RSS {_mb(ours_small['peak']):.1f} → {_mb(ours_large['peak']):.1f} MB "
        f"(× {ours_large['peak'] / max(ours_small['peak'], 1):.1f}); sepaxml time per "
        f"transaction × "
        f"{per(theirs_large, large, 'seconds') / per(theirs_small, small, 'seconds'):.2f}, "
        f"peak RSS {_mb(theirs_small['peak']):.1f} → {_mb(theirs_large['peak']):.1f} MB "
        f"(× {theirs_large['peak'] / max(theirs_small['peak'], 1):.1f})."
    )


def versions():
    from lxml import etree  # pylint: disable=import-outside-toplevel

    found = {}
    for package in ("lxml", "sepaxml", "schwifty", "text-unidecode"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    found["libxml2"] = ".".join(map(str, etree.LIBXML_VERSION))
    return found


def command_line(args):
    parts = ["python3", "bench/bench_sepa.py", "--sizes", *map(str, args.sizes)]
    parts += ["--repeat", str(args.repeat), "--repeat-large", str(args.repeat_large)]
    if args.version != "pain.008.001.08":
        parts += ["--version", args.version]
    if args.seed != DEFAULT_SEED:
        parts += ["--seed", str(args.seed)]
    if not args.tracemalloc:
        parts.append("--no-tracemalloc")
    if args.profile:
        parts += ["--profile", str(args.profile)]
    return shlex.join(parts)


def report(args, results, profile_text, loads):
    facts = machine_facts()
    found = versions()
    text, _met = verdict(results)
    lines = [
        f"Run of {datetime.datetime.now(datetime.timezone.utc).date().isoformat()}: "
        f"`{command_line(args)}`",
        "",
        f"- Machine: {facts['cpus']} CPUs ({facts['cpu']}), {facts['ram']} RAM, {facts['os']}; "
        f"load average (1 min) {loads[0]:.2f} at the start, {loads[1]:.2f} at the end",
        f"- Python {facts['python']}, lxml {found['lxml']} (libxml2 {found['libxml2']}), "
        f"sepaxml {found['sepaxml']} (with text-unidecode {found['text-unidecode']}), "
        f"schwifty {found['schwifty']}",
        f"- Both write {args.version}; seed {args.seed}; best of {args.repeat} runs "
        f"(best of {args.repeat_large} from N={LARGE:,}), each run in a child process of "
        f"its own, the two contenders alternating",
        "- peak RSS = the child's peak resident set size during the write (`VmHWM`, the "
        "mark reset with `/proc/self/clear_refs` just before) minus its RSS just before, "
        "the largest over the runs; not `ru_maxrss`, which in an exec'd child also keeps "
        "the parent's peak from before the exec; tracemalloc peak = an extra untimed run, "
        "Python allocations only (not lxml's C buffers); the ratios use peak RSS",
    ]
    if args.note:
        lines.append(f"- {args.note}")
    lines += ["", table(results), "", text, ""]
    lin = linearity(results)
    if lin:
        lines += [lin, "", per_transaction(results), ""]
    lines += [
        f"Checks (not timed): each file validated with lxml against `{args.version}.xsd` "
        "shipped in sepaxml, then read back.",
        "",
        checks(results, args.version),
        "",
        *agreement(results),
        "",
        *sample_names(results),
    ]
    if profile_text:
        lines += ["", profile_text]
    return "\n".join(lines)


INTRO = """## SEPA: writing pain.008 files beside sepaxml

`bench/bench_sepa.py` (plain Python, no Odoo) writes the same N deterministic
pseudo-random direct debits as one pain.008.001.08 file with
`recurring_payments_core.sepa.pain008.write_pain008` (streamed to a file with lxml's
`xmlfile`) and with the `sepaxml` package (`SepaDD`, which builds the whole tree in
memory with ElementTree; its `export()` is called with `validate=False`, and its bytes
are written to a file). The debits have names with accents and symbols, amounts from
1.00 to 9,999.99, valid IBANs of nine SEPA countries (5 % Swiss, with an address and a
BIC), and FRST and RCUR on two collection dates (four payment-information blocks),
handed to both in the same order, sorted by collection date and sequence type (the
order for which `write_pain008` needs a single sweep of its second pass). Every run is
a child process of its own that loads the input first, so the peak memory is that of
the writing alone. The files are then validated against the XSD shipped in sepaxml and
read back. The target: at 100,000 transactions, at least 3× faster than sepaxml
with at most a third of its peak memory. The block below is written by
`bench_sepa.py --write docs/benchmarks.md`; a new run rewrites it."""


DEFAULT_SEED = 20261122


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(json.loads(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender (best kept)")
    parser.add_argument(
        "--repeat-large", type=int, default=2, help=f"runs per contender from N={LARGE:,}"
    )
    parser.add_argument(
        "--version", default="pain.008.001.08", choices=["pain.008.001.08", "pain.008.001.02"]
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--no-tracemalloc",
        dest="tracemalloc",
        action="store_false",
        help="skip the extra tracemalloc run per contender and size",
    )
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="profile our writer on N debits (by default: on the largest size when the "
        "target is missed there; 0: never)",
    )
    parser.add_argument("--keep-files", metavar="DIR", help="keep the input and the files here")
    parser.add_argument("--note", help="a line to add to the report (e.g. about the machine)")
    parser.add_argument("--write", metavar="MARKDOWN", help="rewrite this file's section")
    args = parser.parse_args()
    started = time.perf_counter()
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="rp-bench-sepa-") as temporary:
        workdir = Path(args.keep_files or temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        results = measure(args, workdir)
        _text, met = verdict(results)
        size = args.profile if args.profile is not None else (None if met else max(results))
        profile_text = profile(args, workdir, size) if size else None
    loads.append(os.getloadavg()[0])
    log(f"total {time.perf_counter() - started:.0f} s")
    text = report(args, results, profile_text, loads)
    print("\n" + text)
    if args.write:
        write_section(args.write, text, MARK_START, MARK_END, intro=INTRO)
        log(f"wrote {args.write}")


if __name__ == "__main__":
    main()
