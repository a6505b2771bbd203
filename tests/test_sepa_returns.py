"""Bank return files (S-10, S-11). The sample files under ``tests/data/sepa`` were written
for these tests from the ISO 20022 pain.002 / camt.054 structures (see their comments)."""

from decimal import Decimal
from pathlib import Path

import pytest

from recurring_payments_core.sepa.errors import SepaError, SepaErrorCode
from recurring_payments_core.sepa.returns import (
    REASON_ACTIONS,
    LineStatus,
    ReasonAction,
    ReturnFileKind,
    action_for,
    match,
    read_return_file,
)

DATA = Path(__file__).parent / "data" / "sepa"


def read(name):
    return read_return_file((DATA / name).read_bytes())


@pytest.mark.parametrize(
    ("code", "action"),
    [
        ("AM04", ReasonAction.RETRY),
        ("MS03", ReasonAction.RETRY_ONCE),
        ("AC01", ReasonAction.NEW_MANDATE),
        ("AC04", ReasonAction.NEW_MANDATE),
        ("AC06", ReasonAction.NEW_MANDATE),
        ("MD01", ReasonAction.NEW_MANDATE),
        ("MD07", ReasonAction.NEW_MANDATE),
        ("SL01", ReasonAction.NEW_MANDATE),
        ("MD06", ReasonAction.NO_AUTO_REDEBIT),
        ("MD02", ReasonAction.FIX_MANDATE),
        ("AM05", ReasonAction.INVESTIGATE),
        ("BE05", ReasonAction.STOP_RUN),
        ("AG01", ReasonAction.STOP),
        ("MS02", ReasonAction.STOP),
        ("RR03", ReasonAction.STOP),
        ("ZZ99", ReasonAction.STOP),
        (None, ReasonAction.STOP),
        (" am04 ", ReasonAction.RETRY),
    ],
)
def test_reason_code_actions(code, action):
    """S-10: each reason code maps to one action; unknown codes never retry."""
    assert action_for(code) is action


def test_reason_table_is_a_collaborator():
    """S-10: the caller may pass its own table."""
    assert action_for("AM04", {**REASON_ACTIONS, "AM04": ReasonAction.STOP}) is ReasonAction.STOP


def test_pain002_lines():
    """S-10, S-11: a pain.002 report gives every rejected line with code and action."""
    report = read("pain002_rejects.xml")
    assert report.kind is ReturnFileKind.PAIN002
    assert report.original_message_id == "MSG-1"
    assert report.group_status == "PART"
    assert [(line.end_to_end_id, line.reason_code, line.action) for line in report.lines] == [
        ("E2E-1", "AM04", ReasonAction.RETRY),
        ("E2E-2", "MD01", ReasonAction.NEW_MANDATE),
        ("E2E-UNKNOWN", "MS03", ReasonAction.RETRY_ONCE),
    ]
    assert all(line.status is LineStatus.REJECTED for line in report.lines)
    assert report.lines[0].amount == Decimal("10.50")
    assert report.lines[2].amount is None


def test_camt054_lines():
    """S-10: a camt.054 notification gives returned collections with their amounts."""
    report = read("camt054_returns.xml")
    assert report.kind is ReturnFileKind.CAMT054
    assert [(line.end_to_end_id, line.amount, line.action) for line in report.lines] == [
        ("E2E-3", Decimal("2.01"), ReasonAction.NO_AUTO_REDEBIT),
        ("E2E-4", Decimal("10.00"), ReasonAction.NEW_MANDATE),
    ]
    assert all(line.status is LineStatus.RETURNED for line in report.lines)


def test_unmatched_lines_listed():
    """S-11: every line that cannot be matched is listed, in order."""
    report = read("pain002_rejects.xml")
    result = match(report.lines, {"E2E-1", "E2E-2", "E2E-9"})
    assert [line.end_to_end_id for line in result.matched] == ["E2E-1", "E2E-2"]
    assert [line.end_to_end_id for line in result.unmatched] == ["E2E-UNKNOWN"]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ((DATA / "foreign_pain001.xml").read_bytes(), SepaErrorCode.RETURN_FILE_UNSUPPORTED),
        ((DATA / "pain002_missing_id.xml").read_bytes(), SepaErrorCode.RETURN_FILE_INCOMPLETE),
        (b"", SepaErrorCode.RETURN_FILE_MALFORMED),
        (b"<Document><unclosed></Document>", SepaErrorCode.RETURN_FILE_MALFORMED),
        (b"not xml at all", SepaErrorCode.RETURN_FILE_MALFORMED),
        (b"<Document/>", SepaErrorCode.RETURN_FILE_UNSUPPORTED),
        (
            (DATA / "pain002_rejects.xml").read_bytes().replace(b"10.50", b"ten"),
            SepaErrorCode.RETURN_FILE_MALFORMED,
        ),
        (
            (DATA / "camt054_returns.xml").read_bytes().replace(b"BkToCstmrDbtCdtNtfctn", b"Other"),
            SepaErrorCode.RETURN_FILE_MALFORMED,
        ),
    ],
)
def test_bad_files_import_nothing(data, code):
    """S-11: a malformed, foreign or incomplete file is refused whole, with a code."""
    with pytest.raises(SepaError) as caught:
        read_return_file(data)
    assert caught.value.code is code


def test_entities_not_resolved():
    """S-11: an external entity is never expanded into a line."""
    data = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><CstmrPmtStsRpt>'
        b"<OrgnlPmtInfAndSts><TxInfAndSts><OrgnlEndToEndId>&x;</OrgnlEndToEndId>"
        b"<TxSts>RJCT</TxSts></TxInfAndSts></OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"
    )
    with pytest.raises(SepaError) as caught:
        read_return_file(data)
    assert caught.value.code is SepaErrorCode.RETURN_FILE_INCOMPLETE
