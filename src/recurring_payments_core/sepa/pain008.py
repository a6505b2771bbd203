"""pain.008 customer direct debit initiation files, streamed (S-3, S-4, S-8, S-9, P-3).

One writer per version over shared blocks: :class:`Pain008Version.V08`
(pain.008.001.08, the EPC's version since November 2023: ``BICFI``, structured postal
addresses with at least town and country) and :class:`Pain008Version.V02`
(pain.008.001.02: ``BIC``, addresses as country and two address lines).

Debits are grouped into payment-information blocks by (collection date, sequence type,
scheme) in the order each group first appears (S-4). The group header carries the
totals, so the writer reads the debits twice: once to check them and count, once to
write. ``debits`` must therefore be re-iterable (a list, or an object whose
``__iter__`` runs the query again); when it is sorted by :func:`group_key` the second
pass is a single sweep, else the writer sweeps once per group. Memory stays bounded by
the number of groups, not of debits: elements are written with
:func:`lxml.etree.xmlfile` as they come.

Every text is transliterated to the SEPA Latin set and cut to the EPC's lengths;
identifiers (message id, end-to-end id, mandate reference) are checked, never altered.
When a :class:`SepaError` is raised the stream holds a partial file: write to a
temporary file and keep it only on success.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import IO, Any

from lxml import etree

from .charset import SEPA_LATIN, to_sepa_latin
from .errors import SepaError, SepaErrorCode
from .identifiers import check_bic, check_creditor_identifier, check_iban, check_mandate_reference
from .sequence import Amendment, SequenceType

__all__ = [
    "BatchSummary",
    "Creditor",
    "Debit",
    "MessageHeader",
    "MessageSummary",
    "Pain008Version",
    "PostalAddress",
    "Scheme",
    "check_identifier",
    "group_key",
    "write_pain008",
]

NAME_MAX_LENGTH = 70
REMITTANCE_MAX_LENGTH = 140
MAX_AMOUNT = Decimal("999999999.99")
_CENT = Decimal("0.01")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class Pain008Version(str, Enum):
    """Supported message versions; the value is the XML namespace's last part."""

    V08 = "pain.008.001.08"
    V02 = "pain.008.001.02"

    @property
    def namespace(self) -> str:
        """The XML namespace of the version."""
        return f"urn:iso:std:iso:20022:tech:xsd:{self.value}"


class Scheme(str, Enum):
    """SEPA direct debit scheme (``LclInstrm/Cd``)."""

    CORE = "CORE"
    B2B = "B2B"


@dataclass(frozen=True)
class PostalAddress:
    """A structured postal address; town and country are required (S-9)."""

    country: str
    town: str
    street: str | None = None
    building_number: str | None = None
    postcode: str | None = None


@dataclass(frozen=True)
class Creditor:
    """The collecting company.

    :ivar bic: optional; ``NOTPROVIDED`` is sent when missing.
    """

    name: str
    iban: str
    creditor_id: str
    bic: str | None = None
    address: PostalAddress | None = None


@dataclass(frozen=True)
class MessageHeader:
    """The message identifier (unique per creditor, 1–35 Latin characters) and its
    creation time (an aware datetime gives an offset in the file)."""

    message_id: str
    created_at: datetime


@dataclass(frozen=True)
class Debit:
    """One collection.

    :ivar amount: a positive ``Decimal`` with at most two decimals.
    :ivar debtor_bic: optional in the EEA; for SEPA countries outside the EEA it is
        taken from the IBAN's bank when missing, and then required.
    :ivar debtor_address: required for SEPA countries outside the EEA.
    :ivar debtor_is_company: required ``True`` for :attr:`Scheme.B2B`.
    """

    end_to_end_id: str
    amount: Decimal
    mandate_id: str
    mandate_date: date
    sequence_type: SequenceType
    collection_date: date
    debtor_name: str
    debtor_iban: str
    debtor_bic: str | None = None
    debtor_address: PostalAddress | None = None
    scheme: Scheme = Scheme.CORE
    debtor_is_company: bool = False
    currency: str = "EUR"
    remittance: str | None = None
    amendment: Amendment | None = None


GroupKey = tuple[date, SequenceType, Scheme]


def group_key(debit: Debit) -> GroupKey:
    """The payment-information block a debit belongs to (S-4); sort debits by it for
    a single-sweep write."""
    return (debit.collection_date, SequenceType(debit.sequence_type), Scheme(debit.scheme))


@dataclass(frozen=True)
class BatchSummary:
    """One payment-information block as written."""

    payment_info_id: str
    collection_date: date
    sequence_type: SequenceType
    scheme: Scheme
    number_of_transactions: int
    control_sum: Decimal


@dataclass(frozen=True)
class MessageSummary:
    """The written message: its totals and blocks."""

    message_id: str
    version: Pain008Version
    number_of_transactions: int
    control_sum: Decimal
    batches: tuple[BatchSummary, ...]


# === CHECKS === #


def check_identifier(value: str, field: str) -> str:
    """Check a message or end-to-end identifier: 1–35 characters of the Latin set,
    no leading ``/`` and no ``//``; return it unchanged.

    :raises SepaError: ``IDENTIFIER_INVALID`` with the ``field`` name.
    """
    if (
        not value
        or not value.strip()
        or len(value) > 35
        or any(char not in SEPA_LATIN for char in value)
        or value.startswith("/")
        or "//" in value
    ):
        raise SepaError(SepaErrorCode.IDENTIFIER_INVALID, field=field, value=value)
    return value


def _text(value: str, field: str, max_length: int) -> str:
    result = to_sepa_latin(value or "", max_length)
    if not result:
        raise SepaError(SepaErrorCode.TEXT_EMPTY, field=field)
    return result


def _amount(value: Any) -> Decimal:
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise SepaError(SepaErrorCode.AMOUNT_PRECISION, amount=value) from None
    if not amount.is_finite():
        raise SepaError(SepaErrorCode.AMOUNT_PRECISION, amount=value)
    if amount <= 0:
        raise SepaError(SepaErrorCode.AMOUNT_NOT_POSITIVE, amount=value)
    if amount > MAX_AMOUNT:
        raise SepaError(SepaErrorCode.AMOUNT_TOO_LARGE, amount=value)
    if amount != amount.quantize(_CENT, rounding="ROUND_DOWN"):
        raise SepaError(SepaErrorCode.AMOUNT_PRECISION, amount=value)
    return amount.quantize(_CENT)


@dataclass(frozen=True)
class _Address:
    country: str
    town: str
    street: str | None
    building_number: str | None
    postcode: str | None


def _address(address: PostalAddress | None, field: str) -> _Address | None:
    if address is None:
        return None
    country = (address.country or "").strip().upper()
    town = to_sepa_latin(address.town or "", 35)
    if not _COUNTRY.match(country) or not town:
        raise SepaError(SepaErrorCode.ADDRESS_INCOMPLETE, field=field)
    return _Address(
        country=country,
        town=town,
        street=to_sepa_latin(address.street, 70) or None if address.street else None,
        building_number=(
            to_sepa_latin(address.building_number, 16) or None if address.building_number else None
        ),
        postcode=to_sepa_latin(address.postcode, 16) or None if address.postcode else None,
    )


@dataclass(frozen=True)
class _Creditor:
    name: str
    iban: str
    creditor_id: str
    bic: str | None
    address: _Address | None


def _prepare_creditor(creditor: Creditor) -> _Creditor:
    return _Creditor(
        name=_text(creditor.name, "creditor_name", NAME_MAX_LENGTH),
        iban=check_iban(creditor.iban).iban,
        creditor_id=check_creditor_identifier(creditor.creditor_id),
        bic=check_bic(creditor.bic) if creditor.bic else None,
        address=_address(creditor.address, "creditor_address"),
    )


@dataclass(frozen=True)
class _Amendment:
    mandate_id: str | None
    creditor_id: str | None
    creditor_name: str | None
    debtor_iban: str | None
    smnda: bool


@dataclass(frozen=True)
class _Debit:
    key: GroupKey
    end_to_end_id: str
    amount: Decimal
    mandate_id: str
    mandate_date: date
    debtor_name: str
    debtor_iban: str
    debtor_bic: str | None
    debtor_address: _Address | None
    remittance: str | None
    amendment: _Amendment | None


def _prepare_amendment(amendment: Amendment | None) -> _Amendment | None:
    if amendment is None:
        return None
    return _Amendment(
        mandate_id=(
            check_mandate_reference(amendment.original_mandate_id)
            if amendment.original_mandate_id
            else None
        ),
        creditor_id=(
            check_creditor_identifier(amendment.original_creditor_id)
            if amendment.original_creditor_id
            else None
        ),
        creditor_name=(
            to_sepa_latin(amendment.original_creditor_name, NAME_MAX_LENGTH) or None
            if amendment.original_creditor_name
            else None
        ),
        debtor_iban=(
            check_iban(amendment.original_debtor_iban).iban
            if amendment.original_debtor_iban
            else None
        ),
        smnda=bool(amendment.smnda),
    )


def _prepare_debit(debit: Debit) -> _Debit:
    if debit.currency != "EUR":
        raise SepaError(SepaErrorCode.CURRENCY_NOT_EUR, currency=debit.currency)
    key = group_key(debit)
    if key[2] is Scheme.B2B and not debit.debtor_is_company:
        raise SepaError(SepaErrorCode.B2B_DEBTOR_NOT_COMPANY, end_to_end_id=debit.end_to_end_id)
    iban = check_iban(debit.debtor_iban)
    address = _address(debit.debtor_address, "debtor_address")
    bic = check_bic(debit.debtor_bic) if debit.debtor_bic else None
    if iban.needs_debtor_address:
        if address is None:
            raise SepaError(
                SepaErrorCode.DEBTOR_ADDRESS_REQUIRED, end_to_end_id=debit.end_to_end_id
            )
        bic = bic or iban.bic
        if bic is None:
            raise SepaError(SepaErrorCode.BIC_INVALID, end_to_end_id=debit.end_to_end_id, bic=None)
    return _Debit(
        key=key,
        end_to_end_id=check_identifier(debit.end_to_end_id, "end_to_end_id"),
        amount=_amount(debit.amount),
        mandate_id=check_mandate_reference(debit.mandate_id),
        mandate_date=debit.mandate_date,
        debtor_name=_text(debit.debtor_name, "debtor_name", NAME_MAX_LENGTH),
        debtor_iban=iban.iban,
        debtor_bic=bic,
        debtor_address=address,
        remittance=(
            to_sepa_latin(debit.remittance, REMITTANCE_MAX_LENGTH) or None
            if debit.remittance
            else None
        ),
        amendment=_prepare_amendment(debit.amendment),
    )


# === WRITERS === #


class _Writer:
    """Shared blocks of every version; subclasses name the version's differences."""

    version: Pain008Version
    bic_tag: str

    def __init__(self, xf: Any) -> None:
        self.xf = xf
        self.ns = "{" + self.version.namespace + "}"

    def node(self, name: str, attrib: dict[str, str] | None = None) -> Any:
        return self.xf.element(self.ns + name, attrib or {})

    def leaf(self, name: str, text: str, attrib: dict[str, str] | None = None) -> None:
        with self.node(name, attrib):
            self.xf.write(text)

    def path(self, names: str, text: str) -> None:
        """Write ``A/B/C`` → ``<A><B><C>text</C></B></A>``."""
        first, _, rest = names.partition("/")
        if not rest:
            self.leaf(first, text)
            return
        with self.node(first):
            self.path(rest, text)

    def address(self, address: _Address) -> None:
        raise NotImplementedError

    def party(self, tag: str, name: str, address: _Address | None) -> None:
        with self.node(tag):
            self.leaf("Nm", name)
            if address is not None:
                with self.node("PstlAdr"):
                    self.address(address)

    def agent(self, tag: str, bic: str | None) -> None:
        with self.node(tag), self.node("FinInstnId"):
            if bic:
                self.leaf(self.bic_tag, bic)
            else:
                self.path("Othr/Id", "NOTPROVIDED")

    def account(self, tag: str, iban: str) -> None:
        self.path(f"{tag}/Id/IBAN", iban)

    def scheme_id(self, tag: str, creditor_id: str, name: str | None = None) -> None:
        with self.node(tag):
            if name:
                self.leaf("Nm", name)
            with self.node("Id"), self.node("PrvtId"), self.node("Othr"):
                self.leaf("Id", creditor_id)
                self.path("SchmeNm/Prtry", "SEPA")

    def group_header(
        self, header: MessageHeader, creditor: _Creditor, count: int, total: Decimal
    ) -> None:
        with self.node("GrpHdr"):
            self.leaf("MsgId", header.message_id)
            self.leaf("CreDtTm", header.created_at.replace(microsecond=0).isoformat())
            self.leaf("NbOfTxs", str(count))
            self.leaf("CtrlSum", f"{total:.2f}")
            self.party("InitgPty", creditor.name, None)

    def payment_info_header(self, batch: BatchSummary, creditor: _Creditor) -> None:
        self.leaf("PmtInfId", batch.payment_info_id)
        self.leaf("PmtMtd", "DD")
        self.leaf("NbOfTxs", str(batch.number_of_transactions))
        self.leaf("CtrlSum", f"{batch.control_sum:.2f}")
        with self.node("PmtTpInf"):
            self.path("SvcLvl/Cd", "SEPA")
            self.path("LclInstrm/Cd", batch.scheme.value)
            self.leaf("SeqTp", batch.sequence_type.value)
        self.leaf("ReqdColltnDt", batch.collection_date.isoformat())
        self.party("Cdtr", creditor.name, creditor.address)
        self.account("CdtrAcct", creditor.iban)
        self.agent("CdtrAgt", creditor.bic)
        self.leaf("ChrgBr", "SLEV")
        self.scheme_id("CdtrSchmeId", creditor.creditor_id)

    def amendment(self, amendment: _Amendment) -> None:
        with self.node("AmdmntInfDtls"):
            if amendment.mandate_id:
                self.leaf("OrgnlMndtId", amendment.mandate_id)
            if amendment.creditor_id or amendment.creditor_name:
                with self.node("OrgnlCdtrSchmeId"):
                    if amendment.creditor_name:
                        self.leaf("Nm", amendment.creditor_name)
                    if amendment.creditor_id:
                        with self.node("Id"), self.node("PrvtId"), self.node("Othr"):
                            self.leaf("Id", amendment.creditor_id)
                            self.path("SchmeNm/Prtry", "SEPA")
            if amendment.debtor_iban:
                self.account("OrgnlDbtrAcct", amendment.debtor_iban)
            if amendment.smnda:
                self.path("OrgnlDbtrAgt/FinInstnId/Othr/Id", "SMNDA")

    def transaction(self, debit: _Debit) -> None:
        with self.node("DrctDbtTxInf"):
            self.path("PmtId/EndToEndId", debit.end_to_end_id)
            self.leaf("InstdAmt", f"{debit.amount:.2f}", {"Ccy": "EUR"})
            with self.node("DrctDbtTx"), self.node("MndtRltdInf"):
                self.leaf("MndtId", debit.mandate_id)
                self.leaf("DtOfSgntr", debit.mandate_date.isoformat())
                if debit.amendment is not None:
                    self.leaf("AmdmntInd", "true")
                    self.amendment(debit.amendment)
            self.agent("DbtrAgt", debit.debtor_bic)
            self.party("Dbtr", debit.debtor_name, debit.debtor_address)
            self.account("DbtrAcct", debit.debtor_iban)
            if debit.remittance:
                self.path("RmtInf/Ustrd", debit.remittance)


class _Writer08(_Writer):
    """pain.008.001.08: ``BICFI``, structured addresses."""

    version = Pain008Version.V08
    bic_tag = "BICFI"

    def address(self, address: _Address) -> None:
        if address.street:
            self.leaf("StrtNm", address.street)
        if address.building_number:
            self.leaf("BldgNb", address.building_number)
        if address.postcode:
            self.leaf("PstCd", address.postcode)
        self.leaf("TwnNm", address.town)
        self.leaf("Ctry", address.country)


class _Writer02(_Writer):
    """pain.008.001.02: ``BIC``, addresses as country and at most two lines (EPC)."""

    version = Pain008Version.V02
    bic_tag = "BIC"

    def address(self, address: _Address) -> None:
        self.leaf("Ctry", address.country)
        street = " ".join(part for part in (address.street, address.building_number) if part)
        if street:
            self.leaf("AdrLine", street[:70].rstrip())
        town = " ".join(part for part in (address.postcode, address.town) if part)
        self.leaf("AdrLine", town[:70].rstrip())


_WRITERS: dict[Pain008Version, type[_Writer]] = {
    Pain008Version.V08: _Writer08,
    Pain008Version.V02: _Writer02,
}


def _payment_info_id(message_id: str, index: int) -> str:
    suffix = f"-{index}"
    return message_id[: 35 - len(suffix)] + suffix


def _scan(debits: Iterable[Debit]) -> tuple[dict[GroupKey, list[Any]], bool]:
    """First pass: check every debit; count and sum per group; tell whether groups
    are contiguous."""
    groups: dict[GroupKey, list[Any]] = {}
    contiguous = True
    previous: GroupKey | None = None
    for debit in debits:
        prepared = _prepare_debit(debit)
        totals = groups.get(prepared.key)
        if totals is None:
            groups[prepared.key] = [0, Decimal(0)]
            totals = groups[prepared.key]
        elif prepared.key != previous:
            contiguous = False
        totals[0] += 1
        totals[1] += prepared.amount
        previous = prepared.key
    return groups, contiguous


def _sweeps(
    debits: Iterable[Debit], keys: list[GroupKey], contiguous: bool
) -> Iterator[tuple[GroupKey, Iterator[_Debit]]]:
    """Second pass: the prepared debits of each group, in group order."""
    if contiguous:
        iterator = (_prepare_debit(debit) for debit in debits)
        pending: list[_Debit] = []

        def run(key: GroupKey) -> Iterator[_Debit]:
            if pending:
                if pending[0].key != key:
                    return
                yield pending.pop()
            for prepared in iterator:
                if prepared.key != key:
                    pending.append(prepared)
                    return
                yield prepared

        for key in keys:
            yield key, run(key)
        if pending or next(iterator, None) is not None:
            raise SepaError(SepaErrorCode.DEBITS_CHANGED)
    else:
        for key in keys:
            yield key, (p for p in map(_prepare_debit, debits) if p.key == key)


def write_pain008(
    stream: IO[bytes],
    header: MessageHeader,
    creditor: Creditor,
    debits: Iterable[Debit],
    *,
    version: Pain008Version = Pain008Version.V08,
) -> MessageSummary:
    """Write a pain.008 message of ``debits`` to the binary ``stream``.

    :param debits: re-iterable debits (read twice, see the module's notes).
    :return: the totals and blocks written.
    :raises SepaError: on the first invalid value, and ``NO_TRANSACTIONS``,
        ``DEBITS_NOT_REITERABLE`` or ``DEBITS_CHANGED``.
    """
    if iter(debits) is debits:
        raise SepaError(SepaErrorCode.DEBITS_NOT_REITERABLE)
    check_identifier(header.message_id, "message_id")
    prepared_creditor = _prepare_creditor(creditor)
    groups, contiguous = _scan(debits)
    if not groups:
        raise SepaError(SepaErrorCode.NO_TRANSACTIONS)
    batches = tuple(
        BatchSummary(
            payment_info_id=_payment_info_id(header.message_id, index),
            collection_date=key[0],
            sequence_type=key[1],
            scheme=key[2],
            number_of_transactions=count,
            control_sum=total,
        )
        for index, (key, (count, total)) in enumerate(groups.items(), start=1)
    )
    summary = MessageSummary(
        message_id=header.message_id,
        version=Pain008Version(version),
        number_of_transactions=sum(batch.number_of_transactions for batch in batches),
        control_sum=sum((batch.control_sum for batch in batches), Decimal(0)),
        batches=batches,
    )
    with etree.xmlfile(stream, encoding="UTF-8") as xf:
        xf.write_declaration()
        writer = _WRITERS[summary.version](xf)
        with xf.element(writer.ns + "Document", nsmap={None: summary.version.namespace}):
            with writer.node("CstmrDrctDbtInitn"):
                writer.group_header(
                    header, prepared_creditor, summary.number_of_transactions, summary.control_sum
                )
                sweeps = _sweeps(debits, list(groups), contiguous)
                for batch, (_key, run) in zip(batches, sweeps, strict=False):
                    count, total = 0, Decimal(0)
                    with writer.node("PmtInf"):
                        writer.payment_info_header(batch, prepared_creditor)
                        for prepared in run:
                            writer.transaction(prepared)
                            count += 1
                            total += prepared.amount
                    if (count, total) != (batch.number_of_transactions, batch.control_sum):
                        raise SepaError(SepaErrorCode.DEBITS_CHANGED)
                for _rest in sweeps:  # runs the trailing check of the sweeps
                    pass
    return summary
