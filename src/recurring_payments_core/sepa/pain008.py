"""pain.008 customer direct debit initiation files, streamed (S-3, S-4, S-8, S-9, P-3).

One writer per version over shared blocks: :class:`Pain008Version.V08`
(pain.008.001.08, the EPC's version since November 2023: ``BICFI``, structured postal
addresses with at least town and country) and :class:`Pain008Version.V02`
(pain.008.001.02: ``BIC``, addresses as country and two address lines).

Debits are grouped into payment-information blocks by (collection date, sequence type,
scheme) in the order each group first appears (S-4). The group header carries the
totals, so the writer reads the debits twice: the first pass checks each debit's group
and amount and counts and sums per group; the second checks everything else and writes.
``debits`` must therefore be re-iterable (a list, or an object whose ``__iter__`` runs
the query again); when it is sorted by :func:`group_key` the second pass is a single
sweep, else the writer sweeps once per group. The second pass must find the first one's
counts and sums, else ``DEBITS_CHANGED``. Memory stays bounded by the number of groups,
not of debits: each transaction is formatted as one string and the file goes to the
stream a chunk of at most ``_CHUNK`` transactions at a time.

Every text is transliterated to the SEPA Latin set and cut to the EPC's lengths;
identifiers (message id, end-to-end id, mandate reference) are checked, never altered.
Nothing needs escaping, and nothing is: every value written is free of XML's special
characters by its check (texts and identifiers are of the Latin set, without
``& < > "``; IBANs, BICs, creditor identifiers and country codes are ASCII letters and
digits; amounts, dates and times are formatted here, dates with ``date.isoformat``,
which takes nothing but a date). Debtors' IBANs are checked with
:func:`~.identifiers.check_iban_structure` (schwifty's registry: country, length, BBAN
format, check digits) rather than with the slower :func:`~.identifiers.check_iban`,
which accepts the same IBANs and is the check of an account when it is entered.

A :class:`SepaError` about a debit is the error that checking every debit in order
before writing would raise: the first invalid debit's, from its first failing check.
As the second pass checks while it writes, it may come after part of the file was
written (the debits are then read once more, from the start, to find the first invalid
one, which is thus the one an iterable of debits gave last). So when a
:class:`SepaError` is raised the stream may hold a partial file: write to a temporary
file and keep it only on success.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from itertools import groupby
from operator import itemgetter
from typing import IO, Any, NoReturn

from .charset import is_sepa_latin, to_sepa_latin
from .errors import SepaError, SepaErrorCode
from .identifiers import (
    EEA_COUNTRIES,
    check_bic,
    check_creditor_identifier,
    check_iban,
    check_iban_structure,
    check_mandate_reference,
    iban_bic,
)
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
    "end_to_end_id",
    "group_key",
    "write_pain008",
]

NAME_MAX_LENGTH = 70
IDENTIFIER_MAX_LENGTH = 35
REMITTANCE_MAX_LENGTH = 140
MAX_AMOUNT = Decimal("999999999.99")
_CENT = Decimal("0.01")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CHUNK = 512  # transactions per write to the stream (about 270 kB)


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
        or len(value) > IDENTIFIER_MAX_LENGTH
        or not is_sepa_latin(value)
        or value.startswith("/")
        or "//" in value
    ):
        raise SepaError(SepaErrorCode.IDENTIFIER_INVALID, field=field, value=value)
    return value


def end_to_end_id(reference: str, unique_suffix: str | None = None) -> str | None:
    """The end-to-end identifier of a debit, made from the creditor's ``reference``.

    The reference in the SEPA Latin set, with no leading ``/`` nor ``//``. With
    ``unique_suffix`` (for example ``"-<transaction id>"``), the suffix is appended,
    the reference being cut to leave room for it: the caller passes one when the plain
    identifier is taken, or when there is none.

    :return: the identifier, checked (:func:`check_identifier`); ``None`` without
        ``unique_suffix`` when the reference gives no identifier (empty once
        transliterated, or longer than 35 characters).
    :raises SepaError: ``IDENTIFIER_INVALID`` when even the suffix makes none.
    """
    base = re.sub(r"/{2,}", "/", to_sepa_latin(reference or "")).lstrip("/")
    if unique_suffix is None:
        if not base or len(base) > IDENTIFIER_MAX_LENGTH:
            return None
        return check_identifier(base, "end_to_end_id")
    base = base[: IDENTIFIER_MAX_LENGTH - len(unique_suffix)].rstrip(" /")
    return check_identifier(f"{base}{unique_suffix}".lstrip("-/ "), "end_to_end_id")


def _text(value: str, field: str, max_length: int) -> str:
    result = to_sepa_latin(value or "", max_length)
    if not result:
        raise SepaError(SepaErrorCode.TEXT_EMPTY, field=field)
    return result


def _amount(value: Any) -> Decimal:
    """The amount with exactly two decimals (``str()`` of it is its text in the file)."""
    if type(value) is Decimal:
        amount = value
    else:
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
    cents = amount.quantize(_CENT)
    if cents != amount:  # more than two decimals (whatever the rounding)
        raise SepaError(SepaErrorCode.AMOUNT_PRECISION, amount=value)
    return cents


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


# === WRITERS === #


def _leaf(tag: str, text: str) -> str:
    return f"<{tag}>{text}</{tag}>"


def _path(names: str, text: str) -> str:
    """``A/B/C`` → ``<A><B><C>text</C></B></A>``."""
    tags = names.split("/")
    return (
        "".join(f"<{tag}>" for tag in tags) + text + "".join(f"</{tag}>" for tag in reversed(tags))
    )


class _Writer:
    """Shared blocks of every version, each returning its XML; subclasses name the
    version's differences. :meth:`transaction` checks a debit and formats it."""

    version: Pain008Version
    bic_tag: str

    def __init__(self, creditor: _Creditor) -> None:
        self.creditor = creditor
        # What every transaction repeats, made once from the blocks below; a %s for
        # each value, in this order: end-to-end id, amount, mandate id, date of
        # signature, amendment, debtor agent, debtor name, postal address, IBAN,
        # remittance (the last four as blocks, or empty).
        self.transaction_format = _leaf(
            "DrctDbtTxInf",
            _path("PmtId/EndToEndId", "%s")
            + '<InstdAmt Ccy="EUR">%s</InstdAmt>'
            + _path(
                "DrctDbtTx/MndtRltdInf", _leaf("MndtId", "%s") + _leaf("DtOfSgntr", "%s") + "%s"
            )
            + "%s"
            + self.party("Dbtr", "%s", "%s")
            + self.account("DbtrAcct", "%s")
            + "%s",
        )
        self.remittance_format = _path("RmtInf/Ustrd", "%s")
        self.no_debtor_agent = self.agent("DbtrAgt", None)
        # (date, sequence type, scheme) as given → group_key(): a few entries, one per
        # group and spelling (a str or the enum); group_key() is 10 times slower.
        self.keys: dict[tuple[Any, Any, Any], GroupKey] = {}

    def group_key(self, debit: Debit) -> GroupKey:
        raw = (debit.collection_date, debit.sequence_type, debit.scheme)
        try:
            key = self.keys.get(raw)
        except TypeError:  # unhashable: group_key() says what is wrong
            return group_key(debit)
        if key is None:
            key = self.keys[raw] = group_key(debit)
        return key

    # --- blocks --- #

    def address(self, address: _Address) -> str:
        raise NotImplementedError

    def postal_address(self, address: _Address | None) -> str:
        return "" if address is None else _leaf("PstlAdr", self.address(address))

    @staticmethod
    def party(tag: str, name: str, postal_address: str = "") -> str:
        return _leaf(tag, _leaf("Nm", name) + postal_address)

    def agent(self, tag: str, bic: str | None) -> str:
        institution = _leaf(self.bic_tag, bic) if bic else _path("Othr/Id", "NOTPROVIDED")
        return _path(f"{tag}/FinInstnId", institution)

    @staticmethod
    def account(tag: str, iban: str) -> str:
        return _path(f"{tag}/Id/IBAN", iban)

    @staticmethod
    def scheme_id(creditor_id: str) -> str:
        """The ``Id`` of a creditor scheme identification."""
        return _path("Id/PrvtId/Othr", _leaf("Id", creditor_id) + _path("SchmeNm/Prtry", "SEPA"))

    def group_header(self, header: MessageHeader, count: int, total: Decimal) -> str:
        return _leaf(
            "GrpHdr",
            _leaf("MsgId", header.message_id)
            + _leaf("CreDtTm", datetime.isoformat(header.created_at.replace(microsecond=0)))
            + _leaf("NbOfTxs", str(count))
            + _leaf("CtrlSum", f"{total:.2f}")
            + self.party("InitgPty", self.creditor.name),
        )

    def payment_info_header(self, batch: BatchSummary) -> str:
        creditor = self.creditor
        return (
            _leaf("PmtInfId", batch.payment_info_id)
            + _leaf("PmtMtd", "DD")
            + _leaf("NbOfTxs", str(batch.number_of_transactions))
            + _leaf("CtrlSum", f"{batch.control_sum:.2f}")
            + _leaf(
                "PmtTpInf",
                _path("SvcLvl/Cd", "SEPA")
                + _path("LclInstrm/Cd", batch.scheme.value)
                + _leaf("SeqTp", batch.sequence_type.value),
            )
            + _leaf("ReqdColltnDt", date.isoformat(batch.collection_date))
            + self.party("Cdtr", creditor.name, self.postal_address(creditor.address))
            + self.account("CdtrAcct", creditor.iban)
            + self.agent("CdtrAgt", creditor.bic)
            + _leaf("ChrgBr", "SLEV")
            + _leaf("CdtrSchmeId", self.scheme_id(creditor.creditor_id))
        )

    def amendment(self, amendment: Amendment) -> str:
        """``AmdmntInd`` and ``AmdmntInfDtls`` of an amended mandate (S-8)."""
        mandate_id, creditor_id, creditor_name, debtor_iban = (
            amendment.original_mandate_id,
            amendment.original_creditor_id,
            amendment.original_creditor_name,
            amendment.original_debtor_iban,
        )
        # Checked in this order: the first wrong one is the error.
        mandate_id = check_mandate_reference(mandate_id) if mandate_id else None
        creditor_id = check_creditor_identifier(creditor_id) if creditor_id else None
        creditor_name = to_sepa_latin(creditor_name, NAME_MAX_LENGTH) if creditor_name else None
        debtor_iban = check_iban_structure(debtor_iban) if debtor_iban else None
        details = _leaf("OrgnlMndtId", mandate_id) if mandate_id else ""
        if creditor_id or creditor_name:
            details += _leaf(
                "OrgnlCdtrSchmeId",
                (_leaf("Nm", creditor_name) if creditor_name else "")
                + (self.scheme_id(creditor_id) if creditor_id else ""),
            )
        if debtor_iban:
            details += self.account("OrgnlDbtrAcct", debtor_iban)
        if amendment.smnda:
            details += _path("OrgnlDbtrAgt/FinInstnId/Othr/Id", "SMNDA")
        return _leaf("AmdmntInd", "true") + _leaf("AmdmntInfDtls", details)

    def transaction(self, debit: Debit) -> tuple[GroupKey, Decimal, str]:
        """Check ``debit`` (the first error of its checks is raised) and return its
        group, its amount and its ``DrctDbtTxInf``."""
        if debit.currency != "EUR":
            raise SepaError(SepaErrorCode.CURRENCY_NOT_EUR, currency=debit.currency)
        key = self.group_key(debit)
        if key[2] is Scheme.B2B and not debit.debtor_is_company:
            raise SepaError(SepaErrorCode.B2B_DEBTOR_NOT_COMPANY, end_to_end_id=debit.end_to_end_id)
        iban = check_iban_structure(debit.debtor_iban)
        if debit.debtor_address is None and not debit.debtor_bic and iban[:2] in EEA_COUNTRIES:
            agent, address = self.no_debtor_agent, ""  # the usual case: nothing to check
        else:
            agent, address = self.debtor_agent_and_address(debit, iban)
        end_to_end_id = check_identifier(debit.end_to_end_id, "end_to_end_id")
        amount = _amount(debit.amount)
        mandate_id = check_mandate_reference(debit.mandate_id)
        name = _text(debit.debtor_name, "debtor_name", NAME_MAX_LENGTH)
        remittance = (
            to_sepa_latin(debit.remittance, REMITTANCE_MAX_LENGTH) if debit.remittance else ""
        )
        amendment = "" if debit.amendment is None else self.amendment(debit.amendment)
        return (
            key,
            amount,
            self.transaction_format
            % (
                end_to_end_id,
                amount,  # two decimals (_amount), never in exponent notation
                mandate_id,
                date.isoformat(debit.mandate_date),
                amendment,
                agent,
                name,
                address,
                iban,
                self.remittance_format % remittance if remittance else "",
            ),
        )

    def debtor_agent_and_address(self, debit: Debit, iban: str) -> tuple[str, str]:
        """The ``DbtrAgt`` and the debtor's ``PstlAdr`` (empty without address). SEPA
        countries outside the EEA need the address, and a BIC: the one given, else the
        bank's from schwifty's registry."""
        address = _address(debit.debtor_address, "debtor_address")
        bic = check_bic(debit.debtor_bic) if debit.debtor_bic else None
        if iban[:2] not in EEA_COUNTRIES:  # SEPA (checked) outside the EEA
            if address is None:
                raise SepaError(
                    SepaErrorCode.DEBTOR_ADDRESS_REQUIRED, end_to_end_id=debit.end_to_end_id
                )
            bic = bic or iban_bic(iban)
            if bic is None:
                raise SepaError(
                    SepaErrorCode.BIC_INVALID, end_to_end_id=debit.end_to_end_id, bic=None
                )
        return (
            self.no_debtor_agent if bic is None else self.agent("DbtrAgt", bic),
            self.postal_address(address),
        )


class _Writer08(_Writer):
    """pain.008.001.08: ``BICFI``, structured addresses."""

    version = Pain008Version.V08
    bic_tag = "BICFI"

    def address(self, address: _Address) -> str:
        return (
            (_leaf("StrtNm", address.street) if address.street else "")
            + (_leaf("BldgNb", address.building_number) if address.building_number else "")
            + (_leaf("PstCd", address.postcode) if address.postcode else "")
            + _leaf("TwnNm", address.town)
            + _leaf("Ctry", address.country)
        )


class _Writer02(_Writer):
    """pain.008.001.02: ``BIC``, addresses as country and at most two lines (EPC)."""

    version = Pain008Version.V02
    bic_tag = "BIC"

    def address(self, address: _Address) -> str:
        street = " ".join(part for part in (address.street, address.building_number) if part)
        town = " ".join(part for part in (address.postcode, address.town) if part)
        return (
            _leaf("Ctry", address.country)
            + (_leaf("AdrLine", street[:70].rstrip()) if street else "")
            + _leaf("AdrLine", town[:70].rstrip())
        )


_WRITERS: dict[Pain008Version, type[_Writer]] = {
    Pain008Version.V08: _Writer08,
    Pain008Version.V02: _Writer02,
}


def _payment_info_id(message_id: str, index: int) -> str:
    suffix = f"-{index}"
    return message_id[: 35 - len(suffix)] + suffix


def _raise_first_invalid(debits: Iterable[Debit], writer: _Writer, error: Exception) -> NoReturn:
    """Error path: raise what checking every debit in order raises first, reading the
    debits once more; ``error`` when they all pass now (they changed meanwhile)."""
    for debit in debits:
        writer.transaction(debit)
    raise error


def _scan(debits: Iterable[Debit], writer: _Writer) -> tuple[dict[GroupKey, list[Any]], bool]:
    """First pass: the group and amount of every debit; count and sum per group; tell
    whether groups are contiguous."""
    groups: dict[GroupKey, list[Any]] = {}
    contiguous = True
    previous: GroupKey | None = None
    try:
        for debit in debits:
            key = writer.group_key(debit)
            amount = _amount(debit.amount)
            totals = groups.get(key)
            if totals is None:
                groups[key] = totals = [0, Decimal(0)]
            elif key != previous:
                contiguous = False
            totals[0] += 1
            totals[1] += amount
            previous = key
    except (SepaError, ValueError) as error:
        _raise_first_invalid(debits, writer, error)
    return groups, contiguous


def _transactions(
    debits: Iterable[Debit], writer: _Writer, keys: list[GroupKey], contiguous: bool
) -> Iterator[tuple[GroupKey, Decimal, str]]:
    """Second pass: every debit checked and formatted, in group order."""
    transaction = writer.transaction
    try:
        if contiguous:
            for debit in debits:
                yield transaction(debit)
        else:
            for key in keys:
                for debit in debits:
                    if writer.group_key(debit) == key:
                        yield transaction(debit)
    except (SepaError, ValueError) as error:
        _raise_first_invalid(debits, writer, error)


def _write(
    stream: IO[bytes],
    writer: _Writer,
    header: MessageHeader,
    summary: MessageSummary,
    transactions: Iterator[tuple[GroupKey, Decimal, str]],
) -> None:
    """Write the message, each block's transactions from ``transactions`` (in group
    order), a chunk at a time; check each block's count and sum against ``summary``."""
    parts = [
        "<?xml version='1.0' encoding='UTF-8'?>\n",
        f'<Document xmlns="{writer.version.namespace}"><CstmrDrctDbtInitn>',
        writer.group_header(header, summary.number_of_transactions, summary.control_sum),
    ]
    runs = groupby(transactions, key=itemgetter(0))
    for batch in summary.batches:
        key, run = next(runs, (None, ()))
        if key != (batch.collection_date, batch.sequence_type, batch.scheme):
            raise SepaError(SepaErrorCode.DEBITS_CHANGED)
        parts.append("<PmtInf>" + writer.payment_info_header(batch))
        count, total = 0, Decimal(0)
        for _key, amount, xml in run:
            parts.append(xml)
            count += 1
            total += amount
            if len(parts) >= _CHUNK:
                stream.write("".join(parts).encode())
                parts.clear()
        if (count, total) != (batch.number_of_transactions, batch.control_sum):
            raise SepaError(SepaErrorCode.DEBITS_CHANGED)
        parts.append("</PmtInf>")
    if next(runs, None) is not None:
        raise SepaError(SepaErrorCode.DEBITS_CHANGED)
    parts.append("</CstmrDrctDbtInitn></Document>")
    stream.write("".join(parts).encode())


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
    :raises SepaError: the first invalid debit's error, possibly after part of the file
        was written (see the module's notes); an invalid message id or creditor, and
        ``NO_TRANSACTIONS``, ``DEBITS_NOT_REITERABLE`` or ``DEBITS_CHANGED``.
    """
    if iter(debits) is debits:
        raise SepaError(SepaErrorCode.DEBITS_NOT_REITERABLE)
    check_identifier(header.message_id, "message_id")
    writer = _WRITERS[Pain008Version(version)](_prepare_creditor(creditor))
    groups, contiguous = _scan(debits, writer)
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
        version=writer.version,
        number_of_transactions=sum(batch.number_of_transactions for batch in batches),
        control_sum=sum((batch.control_sum for batch in batches), Decimal(0)),
        batches=batches,
    )
    _write(stream, writer, header, summary, _transactions(debits, writer, list(groups), contiguous))
    return summary
