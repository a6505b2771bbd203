"""Developer command line: ``python -m recurring_payments_core.sepa.cli validate FILE``.

Validates a pain.008 file against the XSD of its version (from the ``sepaxml`` package,
or ``--xsd``) and against the EPC rules the XSD does not check: totals at message and
payment-information level, two-decimal positive amounts, creditor identifiers, mandate
references and IBANs. Prints one line per problem (in English: developer-facing) and
exits 0 when the file is valid, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

from lxml import etree

from .errors import SepaError
from .identifiers import check_creditor_identifier, check_iban, check_mandate_reference
from .pain008 import Pain008Version

__all__ = ["main", "validate_file"]


def _default_xsd(version: Pain008Version) -> Path | None:
    spec = importlib.util.find_spec("sepaxml")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "schemas" / f"{version.value}.xsd"
    return path if path.exists() else None


def _totals(node: etree._Element, ns: dict[str, str], where: str, paths: str) -> list[str]:
    problems = []
    amounts = []
    for element in node.xpath(paths, namespaces=ns):
        try:
            amount = Decimal(element.text or "")
        except InvalidOperation:
            amount = Decimal(-1)
        if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
            problems.append(f"{where}: amount {element.text!r} is not positive with 2 decimals")
        amounts.append(amount)
    count = node.xpath("string(p:NbOfTxs|p:GrpHdr/p:NbOfTxs)", namespaces=ns)
    control = node.xpath("string(p:CtrlSum|p:GrpHdr/p:CtrlSum)", namespaces=ns)
    if count and count != str(len(amounts)):
        problems.append(f"{where}: NbOfTxs {count} but {len(amounts)} transactions")
    try:
        if control and Decimal(control) != sum(amounts, Decimal(0)):
            problems.append(f"{where}: CtrlSum {control} but transactions sum {sum(amounts)}")
    except InvalidOperation:
        problems.append(f"{where}: CtrlSum {control!r} is not a number")
    return problems


def validate_file(path: Path, xsd: Path | None = None) -> list[str]:
    """The problems of the pain.008 file at ``path``; empty when it is valid."""
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        document = etree.parse(str(path), parser)
    except (OSError, etree.XMLSyntaxError) as error:
        return [f"cannot read {path}: {error}"]
    namespace = etree.QName(document.getroot()).namespace or ""
    version = next((v for v in Pain008Version if v.namespace == namespace), None)
    if version is None:
        return [f"not a supported pain.008 file (namespace {namespace!r})"]
    xsd = xsd or _default_xsd(version)
    if xsd is None:
        return [f"no XSD for {version.value}: install sepaxml or pass --xsd"]
    schema = etree.XMLSchema(etree.parse(str(xsd)))
    if not schema.validate(document):
        return [f"XSD line {error.line}: {error.message}" for error in schema.error_log]
    ns = {"p": namespace}
    root = document.getroot()
    problems = _totals(root, ns, "message", "//p:DrctDbtTxInf/p:InstdAmt")
    for index, block in enumerate(root.xpath("//p:PmtInf", namespaces=ns), 1):
        problems += _totals(block, ns, f"PmtInf {index}", "p:DrctDbtTxInf/p:InstdAmt")
    checks = [
        ("//p:CdtrSchmeId//p:Othr/p:Id", check_creditor_identifier, "creditor identifier"),
        ("//p:MndtRltdInf/p:MndtId", check_mandate_reference, "mandate reference"),
        ("//p:IBAN", check_iban, "IBAN"),
    ]
    for xpath, check, label in checks:
        for element in root.xpath(xpath, namespaces=ns):
            try:
                check(element.text or "")
            except SepaError as error:
                problems.append(f"line {element.sourceline}: {label} refused ({error.code.value})")
    if version is Pain008Version.V08:
        for address in root.xpath("//p:PstlAdr", namespaces=ns):
            if not address.xpath("p:TwnNm and p:Ctry", namespaces=ns):
                problems.append(f"line {address.sourceline}: address without TwnNm and Ctry")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m recurring_payments_core.sepa.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="validate a pain.008 file")
    validate.add_argument("file", type=Path)
    validate.add_argument("--xsd", type=Path, help="the XSD to use instead of sepaxml's")
    arguments = parser.parse_args(argv)
    problems = validate_file(arguments.file, arguments.xsd)
    for problem in problems:
        print(problem)
    if not problems:
        print(f"{arguments.file}: valid")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
