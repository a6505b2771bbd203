"""Sequence types (S-5), mandate expiry (S-6) and amendments (S-8) of SEPA mandates.

The caller turns a mandate record into a :class:`MandateHistory` and asks which
sequence type its next collection carries, whether the mandate has lapsed, and which
amendment block the next collection must carry after the mandate changed.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from enum import Enum

from schwifty import IBAN

from .errors import SepaError, SepaErrorCode
from .identifiers import check_iban

__all__ = [
    "Amendment",
    "MandateHistory",
    "MandateState",
    "SequenceType",
    "amendment_between",
    "mandate_expired",
    "mandate_expiry_date",
    "sequence_type",
]

#: A recurrent mandate lapses this many months after its last collection.
MANDATE_LAPSE_MONTHS = 36


class SequenceType(str, Enum):
    """``SeqTp`` of a collection."""

    FIRST = "FRST"
    RECURRING = "RCUR"
    FINAL = "FNAL"
    ONE_OFF = "OOFF"


@dataclass(frozen=True)
class MandateHistory:
    """What the sequence type depends on.

    :ivar recurrent: a recurrent mandate (else a one-off mandate).
    :ivar collections: collections already presented under the mandate and not
        rejected before settlement (a rejected FRST does not count).
    :ivar debtor_bank_changed: the debtor moved to another bank since the last
        collection.
    """

    recurrent: bool
    collections: int = 0
    debtor_bank_changed: bool = False


def sequence_type(
    history: MandateHistory,
    *,
    final: bool = False,
    rcur_from_first: bool = False,
    reset_on_bank_change: bool = True,
) -> SequenceType:
    """The sequence type of the next collection of a mandate (S-5).

    - a one-off mandate is collected once, as OOFF;
    - a recurrent mandate's first collection is FRST, unless ``rcur_from_first``
      (allowed since November 2016) makes it RCUR;
    - after a change of debtor bank the next collection is a first one again when
      ``reset_on_bank_change`` (some banks still require it);
    - ``final`` marks the last collection of a recurrent mandate as FNAL, except a
      first collection sent as FRST.

    :raises SepaError: ``MANDATE_ALREADY_USED`` for a one-off mandate already
        collected.
    """
    if not history.recurrent:
        if history.collections:
            raise SepaError(SepaErrorCode.MANDATE_ALREADY_USED, collections=history.collections)
        return SequenceType.ONE_OFF
    first = history.collections == 0 or (history.debtor_bank_changed and reset_on_bank_change)
    if first and not rcur_from_first:
        return SequenceType.FIRST
    return SequenceType.FINAL if final else SequenceType.RECURRING


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def mandate_expiry_date(last_used: date) -> date:
    """The first day a recurrent mandate can no longer be collected: 36 months after
    ``last_used`` (its last collection's due date, or its signature date when it was
    never collected), the day clamped to the month's end (S-6)."""
    return _add_months(last_used, MANDATE_LAPSE_MONTHS)


def mandate_expired(last_used: date, collection_date: date) -> bool:
    """Whether a collection due on ``collection_date`` falls after the mandate lapsed
    (S-6). The caller warns the customer before, from :func:`mandate_expiry_date`."""
    return collection_date >= mandate_expiry_date(last_used)


@dataclass(frozen=True)
class Amendment:
    """The amendment block of a collection (``AmdmntInd=true``), holding only the
    originals that changed (S-8).

    :ivar original_mandate_id: the former mandate reference.
    :ivar original_creditor_id: the former creditor identifier.
    :ivar original_creditor_name: the former creditor name.
    :ivar original_debtor_iban: the former debtor IBAN, for a new account at the
        same bank.
    :ivar smnda: the debtor moved to another bank ("same mandate, new debtor agent").
    """

    original_mandate_id: str | None = None
    original_creditor_id: str | None = None
    original_creditor_name: str | None = None
    original_debtor_iban: str | None = None
    smnda: bool = False


@dataclass(frozen=True)
class MandateState:
    """The mandate data that amendments track, as sent in the last collection."""

    mandate_id: str
    creditor_id: str
    debtor_iban: str
    creditor_name: str | None = None


def _bank_key(iban: str) -> tuple[str, str]:
    info = check_iban(iban, sepa_only=False)
    return info.country, IBAN(info.iban).bank_code or ""


def amendment_between(previous: MandateState, current: MandateState) -> Amendment | None:
    """The amendment the next collection carries after the mandate changed from
    ``previous`` (as last collected) to ``current``; ``None`` when nothing changed.

    The mandate reference is kept on an IBAN change (the caller must not issue a new
    one); an IBAN at the same bank is sent as the original debtor account, an IBAN at
    another bank (another country or bank code) as ``SMNDA``.
    """
    mandate_changed = previous.mandate_id != current.mandate_id
    creditor_changed = previous.creditor_id != current.creditor_id
    name_changed = (
        creditor_changed
        and previous.creditor_name is not None
        and previous.creditor_name != current.creditor_name
    )
    iban_changed = previous.debtor_iban.replace(" ", "").upper() != (
        current.debtor_iban.replace(" ", "").upper()
    )
    if not (mandate_changed or creditor_changed or iban_changed):
        return None
    bank_changed = iban_changed and _bank_key(previous.debtor_iban) != _bank_key(
        current.debtor_iban
    )
    return Amendment(
        original_mandate_id=previous.mandate_id if mandate_changed else None,
        original_creditor_id=previous.creditor_id if creditor_changed else None,
        original_creditor_name=previous.creditor_name if name_changed else None,
        original_debtor_iban=(
            check_iban(previous.debtor_iban, sepa_only=False).iban
            if iban_changed and not bank_changed
            else None
        ),
        smnda=bank_changed,
    )
