"""Bank return files: pain.002 status reports and camt.054 debit notifications (S-10, S-11).

:func:`read_return_file` recognises the message by its ISO 20022 namespace (any
version of pain.002 or camt.054) and returns every transaction line, or raises: a
malformed, foreign or incomplete file yields nothing at all. Each line carries the
action its reason code maps to, from the table given by the caller
(:data:`REASON_ACTIONS` by default). :func:`match` splits lines into those whose
end-to-end id is known and those that are not, so the caller lists the latter.

The parser never resolves entities nor reaches the network.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from lxml import etree

from .errors import SepaError, SepaErrorCode

__all__ = [
    "REASON_ACTIONS",
    "LineStatus",
    "MatchResult",
    "ReasonAction",
    "ReturnFileKind",
    "ReturnLine",
    "ReturnReport",
    "action_for",
    "match",
    "read_return_file",
]


class ReasonAction(str, Enum):
    """What to do with a collection that came back, by reason code."""

    #: retry allowed, after notice (AM04).
    RETRY = "retry"
    #: at most one retry (MS03, which may hide AC04 or AM04).
    RETRY_ONCE = "retry_once"
    #: stop and ask the debtor for a new mandate (or IBAN).
    NEW_MANDATE = "new_mandate"
    #: stop collecting this debit.
    STOP = "stop"
    #: a refund asked by the debtor: no automatic re-debit, use another channel.
    NO_AUTO_REDEBIT = "no_auto_redebit"
    #: fix the mandate data, then retry (MD02).
    FIX_MANDATE = "fix_mandate"
    #: duplicate collection: stop and investigate (AM05).
    INVESTIGATE = "investigate"
    #: configuration error of the creditor: stop the whole run (BE05).
    STOP_RUN = "stop_run"
    #: the collection was accepted or booked: nothing to do.
    NONE = "none"


#: Reason code → action, from the EPC guidance; codes not listed map to STOP.
REASON_ACTIONS: Mapping[str, ReasonAction] = {
    "AM04": ReasonAction.RETRY,
    "MS03": ReasonAction.RETRY_ONCE,
    "AC01": ReasonAction.NEW_MANDATE,
    "AC04": ReasonAction.NEW_MANDATE,
    "AC06": ReasonAction.NEW_MANDATE,
    "MD01": ReasonAction.NEW_MANDATE,
    "MD07": ReasonAction.NEW_MANDATE,
    "SL01": ReasonAction.NEW_MANDATE,
    "AG01": ReasonAction.STOP,
    "MS02": ReasonAction.STOP,
    "RR01": ReasonAction.STOP,
    "RR02": ReasonAction.STOP,
    "RR03": ReasonAction.STOP,
    "RR04": ReasonAction.STOP,
    "AM05": ReasonAction.INVESTIGATE,
    "BE05": ReasonAction.STOP_RUN,
    "MD02": ReasonAction.FIX_MANDATE,
    "MD06": ReasonAction.NO_AUTO_REDEBIT,
}


def action_for(
    reason_code: str | None, actions: Mapping[str, ReasonAction] = REASON_ACTIONS
) -> ReasonAction:
    """The action of a return reason code; ``STOP`` for an unknown or missing code,
    as a collection must never be retried blindly."""
    if reason_code is None:
        return ReasonAction.STOP
    return actions.get(reason_code.strip().upper(), ReasonAction.STOP)


class ReturnFileKind(str, Enum):
    """The message a return file holds."""

    PAIN002 = "pain.002"
    CAMT054 = "camt.054"


class LineStatus(str, Enum):
    """The fate of a collection as the bank reports it."""

    #: refused before settlement (pain.002 ``RJCT``, or camt.054 return before booking).
    REJECTED = "rejected"
    #: returned or refunded after settlement (camt.054 entry with return information).
    RETURNED = "returned"
    #: accepted or booked.
    ACCEPTED = "accepted"
    #: a pending status (``PDNG``): wait for the next report.
    PENDING = "pending"


@dataclass(frozen=True)
class ReturnLine:
    """One transaction of a return file.

    :ivar amount: ``None`` when a pain.002 line does not repeat the amount.
    """

    end_to_end_id: str
    status: LineStatus
    reason_code: str | None
    action: ReasonAction
    amount: Decimal | None
    currency: str | None


@dataclass(frozen=True)
class ReturnReport:
    """A read return file.

    :ivar original_message_id: the pain.008 message the report is about, when given.
    :ivar group_status: the status of the whole original message (pain.002), if any.
    """

    kind: ReturnFileKind
    namespace: str
    message_id: str | None
    original_message_id: str | None
    group_status: str | None
    lines: tuple[ReturnLine, ...]


_NAMESPACE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:(pain\.002|camt\.054)\.001\.(\d{2})$")
_ACCEPTED = {"ACCP", "ACSC", "ACSP", "ACTC", "ACWC", "ACCC", "ACWP", "ACFC", "PART"}


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True
    )


class _Finder:
    """Namespace-aware lookups under one namespace."""

    def __init__(self, namespace: str) -> None:
        self.ns = {"n": namespace}

    def all(self, node: Any, path: str) -> list[Any]:
        return node.xpath(path, namespaces=self.ns)

    def text(self, node: Any, path: str) -> str | None:
        found = node.xpath(path, namespaces=self.ns)
        if not found:
            return None
        value = found[0] if isinstance(found[0], str) else found[0].text
        return value.strip() if value and value.strip() else None


def _amount(node: Any, finder: _Finder, path: str) -> tuple[Decimal | None, str | None]:
    found = finder.all(node, path)
    if not found:
        return None, None
    try:
        amount = Decimal((found[0].text or "").strip())
    except InvalidOperation:
        raise SepaError(SepaErrorCode.RETURN_FILE_MALFORMED, value=found[0].text) from None
    if not amount.is_finite():
        raise SepaError(SepaErrorCode.RETURN_FILE_MALFORMED, value=found[0].text)
    return amount, found[0].get("Ccy")


def _required_id(value: str | None, index: int) -> str:
    if not value or value.upper() == "NOTPROVIDED":
        raise SepaError(SepaErrorCode.RETURN_FILE_INCOMPLETE, line=index, field="EndToEndId")
    return value


def _read_pain002(root: Any, finder: _Finder, actions: Mapping[str, ReasonAction]) -> tuple:
    report = finder.all(root, "n:CstmrPmtStsRpt")
    if len(report) != 1:
        raise SepaError(SepaErrorCode.RETURN_FILE_MALFORMED, missing="CstmrPmtStsRpt")
    report = report[0]
    lines = []
    for index, tx in enumerate(finder.all(report, "n:OrgnlPmtInfAndSts/n:TxInfAndSts"), 1):
        status_code = finder.text(tx, "n:TxSts") or finder.text(tx, "../n:PmtInfSts")
        reason = finder.text(tx, "n:StsRsnInf/n:Rsn/n:Cd")
        if status_code is None:
            raise SepaError(SepaErrorCode.RETURN_FILE_INCOMPLETE, line=index, field="TxSts")
        if status_code == "RJCT":
            status, action = LineStatus.REJECTED, action_for(reason, actions)
        elif status_code == "PDNG":
            status, action = LineStatus.PENDING, ReasonAction.NONE
        elif status_code in _ACCEPTED:
            status, action = LineStatus.ACCEPTED, ReasonAction.NONE
        else:
            raise SepaError(SepaErrorCode.RETURN_FILE_MALFORMED, line=index, status=status_code)
        amount, currency = _amount(tx, finder, "n:OrgnlTxRef/n:Amt/n:InstdAmt")
        lines.append(
            ReturnLine(
                end_to_end_id=_required_id(finder.text(tx, "n:OrgnlEndToEndId"), index),
                status=status,
                reason_code=reason,
                action=action,
                amount=amount,
                currency=currency,
            )
        )
    return (
        finder.text(report, "n:GrpHdr/n:MsgId"),
        finder.text(report, "n:OrgnlGrpInfAndSts/n:OrgnlMsgId"),
        finder.text(report, "n:OrgnlGrpInfAndSts/n:GrpSts"),
        lines,
    )


def _read_camt054(root: Any, finder: _Finder, actions: Mapping[str, ReasonAction]) -> tuple:
    notification = finder.all(root, "n:BkToCstmrDbtCdtNtfctn")
    if len(notification) != 1:
        raise SepaError(SepaErrorCode.RETURN_FILE_MALFORMED, missing="BkToCstmrDbtCdtNtfctn")
    notification = notification[0]
    lines = []
    index = 0
    for entry in finder.all(notification, "n:Ntfctn/n:Ntry"):
        booked = finder.text(entry, "n:Sts/n:Cd") or finder.text(entry, "n:Sts")
        for tx in finder.all(entry, "n:NtryDtls/n:TxDtls"):
            index += 1
            reason = finder.text(tx, "n:RtrInf/n:Rsn/n:Cd")
            has_return = bool(finder.all(tx, "n:RtrInf"))
            if has_return:
                status = LineStatus.RETURNED if booked == "BOOK" else LineStatus.REJECTED
                action = action_for(reason, actions)
            else:
                status, action = LineStatus.ACCEPTED, ReasonAction.NONE
            amount, currency = _amount(tx, finder, "n:Amt")
            if amount is None:
                amount, currency = _amount(tx, finder, "n:AmtDtls/n:TxAmt/n:Amt")
            if amount is None:
                raise SepaError(SepaErrorCode.RETURN_FILE_INCOMPLETE, line=index, field="Amt")
            lines.append(
                ReturnLine(
                    end_to_end_id=_required_id(finder.text(tx, "n:Refs/n:EndToEndId"), index),
                    status=status,
                    reason_code=reason,
                    action=action,
                    amount=amount,
                    currency=currency,
                )
            )
    return (
        finder.text(notification, "n:GrpHdr/n:MsgId"),
        finder.text(notification, "n:Ntfctn/n:Ntry/n:NtryDtls/n:Btch/n:MsgId"),
        None,
        lines,
    )


def read_return_file(
    data: bytes, *, actions: Mapping[str, ReasonAction] = REASON_ACTIONS
) -> ReturnReport:
    """Read a pain.002 or camt.054 file, all or nothing (S-11).

    :param data: the file's bytes.
    :param actions: the reason-code table (S-10).
    :raises SepaError: ``RETURN_FILE_MALFORMED`` (not XML, or a broken structure),
        ``RETURN_FILE_UNSUPPORTED`` (another message), or ``RETURN_FILE_INCOMPLETE``
        (a line without end-to-end id, status or amount), with the line number.
    """
    try:
        root = etree.fromstring(data, parser=_parser())
    except (etree.XMLSyntaxError, ValueError, TypeError):
        raise SepaError(SepaErrorCode.RETURN_FILE_MALFORMED) from None
    namespace = etree.QName(root).namespace or ""
    found = _NAMESPACE.match(namespace)
    if etree.QName(root).localname != "Document" or not found:
        raise SepaError(SepaErrorCode.RETURN_FILE_UNSUPPORTED, namespace=namespace)
    kind = ReturnFileKind(found.group(1))
    finder = _Finder(namespace)
    reader = _read_pain002 if kind is ReturnFileKind.PAIN002 else _read_camt054
    message_id, original_message_id, group_status, lines = reader(root, finder, actions)
    return ReturnReport(
        kind=kind,
        namespace=namespace,
        message_id=message_id,
        original_message_id=original_message_id,
        group_status=group_status,
        lines=tuple(lines),
    )


@dataclass(frozen=True)
class MatchResult:
    """Lines split by whether their end-to-end id is one the caller sent."""

    matched: tuple[ReturnLine, ...]
    unmatched: tuple[ReturnLine, ...]


def match(lines: Iterable[ReturnLine], known_end_to_end_ids: Iterable[str]) -> MatchResult:
    """Split ``lines`` into matched and unmatched ones, keeping their order (S-11)."""
    known = set(known_end_to_end_ids)
    matched: list[ReturnLine] = []
    unmatched: list[ReturnLine] = []
    for line in lines:
        (matched if line.end_to_end_id in known else unmatched).append(line)
    return MatchResult(matched=tuple(matched), unmatched=tuple(unmatched))
