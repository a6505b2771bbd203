"""The developer command line validating pain.008 files (S-3)."""

import io
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal

import pytest

from recurring_payments_core.sepa.cli import main
from recurring_payments_core.sepa.pain008 import (
    Creditor,
    Debit,
    MessageHeader,
    Pain008Version,
    write_pain008,
)
from recurring_payments_core.sepa.sequence import SequenceType

pytest.importorskip("sepaxml")


def _file(tmp_path, version):
    stream = io.BytesIO()
    debits = [
        Debit(
            f"E2E-{n}",
            Decimal("12.34"),
            f"UMR-{n}",
            date(2024, 1, 2),
            SequenceType.RECURRING,
            date(2024, 3, 15),
            "Jorg",
            "FR1420041010050500013M02606",
        )
        for n in range(3)
    ]
    creditor = Creditor("Acme", "DE89370400440532013000", "DE98ZZZ09999999999")
    write_pain008(
        stream, MessageHeader("M1", datetime(2024, 3, 1)), creditor, debits, version=version
    )
    path = tmp_path / "file.xml"
    path.write_bytes(stream.getvalue())
    return path


@pytest.mark.parametrize("version", list(Pain008Version))
def test_valid_file(tmp_path, capsys, version):
    """S-3: a generated file passes, exit code 0."""
    assert main(["validate", str(_file(tmp_path, version))]) == 0
    assert "valid" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (b"<CtrlSum>37.02</CtrlSum>", b"<CtrlSum>37.03</CtrlSum>", "CtrlSum"),
        (b"DE98ZZZ09999999999", b"DE97ZZZ09999999999", "creditor identifier"),
        (b"<MndtId>UMR-1</MndtId>", b"<MndtId>UMR//1</MndtId>", "mandate reference"),
        (b"<NbOfTxs>3</NbOfTxs>", b"<NbOfTxs>4</NbOfTxs>", "NbOfTxs"),
        (b"<PmtMtd>DD</PmtMtd>", b"<PmtMtd>XX</PmtMtd>", "XSD"),
    ],
)
def test_invalid_file(tmp_path, capsys, old, new, message):
    """S-2, S-3, S-1: broken totals, identifiers or structure give exit code 1."""
    path = _file(tmp_path, Pain008Version.V08)
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new))
    assert main(["validate", str(path)]) == 1
    assert message in capsys.readouterr().out


def test_foreign_file_and_module_entry(tmp_path):
    """S-3: a foreign file is refused through ``python -m``."""
    path = tmp_path / "other.xml"
    path.write_bytes(b"<Document xmlns='urn:other'/>")
    run = subprocess.run(
        [sys.executable, "-m", "recurring_payments_core.sepa.cli", "validate", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    assert "not a supported pain.008 file" in run.stdout
