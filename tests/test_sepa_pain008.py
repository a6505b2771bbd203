"""pain.008 writers: XSD validity, totals, grouping, amendments, streaming (S-3, S-4, S-8,
S-9, P-3). Every generated file is validated against the official XSD shipped in the
``sepaxml`` package."""

import importlib.util
import io
import tracemalloc
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from recurring_payments_core.sepa.calendar import add_business_days
from recurring_payments_core.sepa.charset import to_sepa_latin
from recurring_payments_core.sepa.errors import SepaError, SepaErrorCode
from recurring_payments_core.sepa.pain008 import (
    Creditor,
    Debit,
    MessageHeader,
    Pain008Version,
    PostalAddress,
    Scheme,
    check_identifier,
    end_to_end_id,
    group_key,
    write_pain008,
)
from recurring_payments_core.sepa.sequence import Amendment, SequenceType

_SPEC = importlib.util.find_spec("sepaxml")
XSD_DIR = Path(_SPEC.submodule_search_locations[0]) / "schemas" if _SPEC else None
pytestmark = pytest.mark.skipif(XSD_DIR is None, reason="sepaxml (its XSDs) is not installed")

HEADER = MessageHeader("MSG-2024-0001", datetime(2024, 3, 1, 9, 30, 15, 123))
CREDITOR = Creditor(
    name="Zoë Ünal & Søn – “Büro”",
    iban="DE89370400440532013000",
    creditor_id="DE98ZZZ09999999999",
    bic="COBADEFFXXX",
    address=PostalAddress("DE", "Köln", "Domstraße", "1", "50667"),
)
DAY = date(2024, 3, 15)
_SCHEMAS = {}


def schema(version):
    if version not in _SCHEMAS:
        _SCHEMAS[version] = etree.XMLSchema(etree.parse(str(XSD_DIR / f"{version.value}.xsd")))
    return _SCHEMAS[version]


def debit(number=1, **values):
    fields = {
        "end_to_end_id": f"E2E-{number}",
        "amount": Decimal("10.00"),
        "mandate_id": f"UMR-{number}",
        "mandate_date": date(2024, 1, 2),
        "sequence_type": SequenceType.RECURRING,
        "collection_date": DAY,
        "debtor_name": "Jörg Müller",
        "debtor_iban": "FR1420041010050500013M02606",
    }
    fields.update(values)
    return Debit(**fields)


def write(debits, version=Pain008Version.V08, creditor=CREDITOR):
    stream = io.BytesIO()
    summary = write_pain008(stream, HEADER, creditor, debits, version=version)
    document = etree.fromstring(stream.getvalue())
    assert schema(version).validate(document), schema(version).error_log
    return summary, document


def find(node, path, version=Pain008Version.V08):
    return node.xpath(path, namespaces={"p": version.namespace})


def text(node, path, version=Pain008Version.V08):
    return [element.text for element in find(node, path, version)]


@pytest.mark.parametrize("version", list(Pain008Version))
def test_valid_against_xsd_with_every_block(version):
    """S-3, S-8, S-9: a file with addresses, BIC, remittance and amendments is valid."""
    debits = [
        debit(1, remittance="Facture n° 12 – “mars”"),
        debit(
            2,
            debtor_iban="CH9300762011623852957",
            debtor_bic="UBSWCHZH80A",
            debtor_address=PostalAddress("ch", "Zürich", "Bahnhofstr.", "1", "8001"),
            amendment=Amendment(original_debtor_iban="DE89370400440532013000", smnda=True),
        ),
        debit(
            3,
            amendment=Amendment(
                original_mandate_id="OLD/1",
                original_creditor_id="FR72ZZZ123456",
                original_creditor_name="Ancienne Société",
            ),
        ),
    ]
    summary, document = write(debits, version)
    assert summary.number_of_transactions == 3
    bic_tag = "BICFI" if version is Pain008Version.V08 else "BIC"
    assert text(document, f"//p:CdtrAgt/p:FinInstnId/p:{bic_tag}", version) == ["COBADEFFXXX"]
    assert text(document, "//p:RmtInf/p:Ustrd", version) == ["Facture n 12 - 'mars'"]
    assert text(document, "//p:OrgnlDbtrAgt//p:Id", version) == ["SMNDA"]
    assert text(document, "//p:AmdmntInd", version) == ["true", "true"]
    assert text(document, "//p:OrgnlMndtId", version) == ["OLD/1"]
    assert text(document, "//p:InitgPty/p:Nm", version) == ["Zoe Unal + Son - 'Buro'"]


def test_v08_structured_address():
    """S-9: in .08 an address is structured with at least town and country."""
    _summary, document = write([debit(1, debtor_address=PostalAddress("FR", "Saint-Étienne"))])
    address = find(document, "//p:Dbtr/p:PstlAdr")[0]
    assert text(address, "p:TwnNm") == ["Saint-Etienne"]
    assert text(address, "p:Ctry") == ["FR"]
    assert not find(document, "//p:AdrLine")


def test_v02_address_lines():
    """S-9: in .02 an address is a country and two lines."""
    version = Pain008Version.V02
    _summary, document = write([debit(1)], version)
    assert text(document, "//p:Cdtr/p:PstlAdr/p:AdrLine", version) == [
        "Domstrasse 1",
        "50667 Koln",
    ]


@pytest.mark.parametrize(
    ("address", "code"),
    [
        (PostalAddress("FR", ""), SepaErrorCode.ADDRESS_INCOMPLETE),
        (PostalAddress("France", "Paris"), SepaErrorCode.ADDRESS_INCOMPLETE),
    ],
)
def test_incomplete_address_refused(address, code):
    """S-9: an address without town or a valid country is refused."""
    with pytest.raises(SepaError) as caught:
        write([debit(1, debtor_address=address)])
    assert caught.value.code is code


def test_non_eea_debtor_needs_address():
    """S-12: a Swiss IBAN is accepted but needs the debtor address (and a BIC)."""
    with pytest.raises(SepaError) as caught:
        write([debit(1, debtor_iban="CH9300762011623852957", debtor_bic="UBSWCHZH80A")])
    assert caught.value.code is SepaErrorCode.DEBTOR_ADDRESS_REQUIRED
    with pytest.raises(SepaError) as caught:
        write(
            [
                debit(
                    1,
                    debtor_iban="CH9300762011623852957",
                    debtor_address=PostalAddress("CH", "Bern"),
                )
            ]
        )
    assert caught.value.code is SepaErrorCode.BIC_INVALID
    summary, document = write(
        [
            debit(
                1,
                debtor_iban="GB29NWBK60161331926819",
                debtor_address=PostalAddress("GB", "London"),
            )
        ]
    )
    assert text(document, "//p:DbtrAgt//p:BICFI") == ["NWBKGB2LXXX"]


def test_grouping_by_date_sequence_scheme():
    """S-4: one PmtInf per (date, sequence type, scheme), in order of appearance, with
    interleaved input."""
    later = add_business_days(DAY, 1)
    debits = [
        debit(1),
        debit(2, sequence_type=SequenceType.FIRST),
        debit(3, collection_date=later),
        debit(4, scheme=Scheme.B2B, debtor_is_company=True),
        debit(5),
        debit(6, sequence_type=SequenceType.FIRST),
    ]
    summary, document = write(debits)
    blocks = find(document, "//p:PmtInf")
    assert len(blocks) == len(summary.batches) == 4
    seen = set()
    for block, batch in zip(blocks, summary.batches, strict=True):
        key = (
            text(block, "p:ReqdColltnDt")[0],
            text(block, "p:PmtTpInf/p:SeqTp")[0],
            text(block, "p:PmtTpInf/p:LclInstrm/p:Cd")[0],
        )
        assert key not in seen
        seen.add(key)
        assert key == (
            batch.collection_date.isoformat(),
            batch.sequence_type.value,
            batch.scheme.value,
        )
        ids = text(block, "p:DrctDbtTxInf/p:PmtId/p:EndToEndId")
        for identifier in ids:
            number = int(identifier.split("-")[1])
            assert group_key(debits[number - 1]) == (
                batch.collection_date,
                batch.sequence_type,
                batch.scheme,
            )
    assert text(blocks[0], "p:DrctDbtTxInf/p:PmtId/p:EndToEndId") == ["E2E-1", "E2E-5"]
    assert len({text(block, "p:PmtInfId")[0] for block in blocks}) == 4


def test_b2b_needs_company_debtor():
    """S-4: a B2B debit from a non-company debtor is refused."""
    with pytest.raises(SepaError) as caught:
        write([debit(1, scheme=Scheme.B2B)])
    assert caught.value.code is SepaErrorCode.B2B_DEBTOR_NOT_COMPANY


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (Decimal("0"), SepaErrorCode.AMOUNT_NOT_POSITIVE),
        (Decimal("-1.00"), SepaErrorCode.AMOUNT_NOT_POSITIVE),
        (Decimal("1.001"), SepaErrorCode.AMOUNT_PRECISION),
        (Decimal("NaN"), SepaErrorCode.AMOUNT_PRECISION),
        (0.1, SepaErrorCode.AMOUNT_PRECISION),
        (Decimal("1000000000.00"), SepaErrorCode.AMOUNT_TOO_LARGE),
    ],
)
def test_amount_refused(amount, code):
    """S-3: amounts are positive with at most two decimals."""
    with pytest.raises(SepaError) as caught:
        write([debit(1, amount=amount)])
    assert caught.value.code is code


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"currency": "CHF"}, SepaErrorCode.CURRENCY_NOT_EUR),
        ({"end_to_end_id": "/E2E"}, SepaErrorCode.IDENTIFIER_INVALID),
        ({"end_to_end_id": "E2E_1"}, SepaErrorCode.IDENTIFIER_INVALID),
        ({"mandate_id": "A//B"}, SepaErrorCode.MANDATE_REFERENCE_SLASH),
        ({"debtor_name": "日本"}, SepaErrorCode.TEXT_EMPTY),
        ({"debtor_iban": "DE89370400440532013001"}, SepaErrorCode.IBAN_INVALID),
    ],
)
def test_debit_refused(values, code):
    """S-1, S-3: invalid identifiers, names, IBANs and currencies are refused."""
    with pytest.raises(SepaError) as caught:
        write([debit(1, **values)])
    assert caught.value.code is code


def test_creditor_and_input_refused():
    """S-2, S-3: a bad creditor identifier, no debits or a one-shot iterator."""
    bad = Creditor("X", CREDITOR.iban, "NL35ZZZ123456780000")
    with pytest.raises(SepaError) as caught:
        write([debit(1)], creditor=bad)
    assert caught.value.code is SepaErrorCode.CREDITOR_ID_CHECKSUM
    with pytest.raises(SepaError) as caught:
        write([])
    assert caught.value.code is SepaErrorCode.NO_TRANSACTIONS
    with pytest.raises(SepaError) as caught:
        write_pain008(io.BytesIO(), HEADER, CREDITOR, iter([debit(1)]))
    assert caught.value.code is SepaErrorCode.DEBITS_NOT_REITERABLE


class _Changing:
    """Debits that differ between the writer's two passes."""

    def __init__(self):
        self.passes = 0

    def __iter__(self):
        self.passes += 1
        yield debit(1)
        if self.passes == 1:
            yield debit(2)


def test_debits_changed_between_passes():
    """S-3: the totals written first must hold for the transactions written after."""
    with pytest.raises(SepaError) as caught:
        write_pain008(io.BytesIO(), HEADER, CREDITOR, _Changing())
    assert caught.value.code is SepaErrorCode.DEBITS_CHANGED


names = st.text(min_size=1, max_size=100).filter(lambda name: bool(to_sepa_latin(name)))
latin_ids = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-?:().,'+",
    min_size=1,
    max_size=35,
)
debit_values = st.fixed_dictionaries(
    {
        "amount": st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2),
        "mandate_id": latin_ids,
        "debtor_name": names,
        "sequence_type": st.sampled_from([SequenceType.FIRST, SequenceType.RECURRING]),
        "collection_date": st.sampled_from([DAY, DAY + timedelta(days=3)]),
        "remittance": st.none() | st.text(max_size=200),
    }
)


@settings(max_examples=30, deadline=None)
@given(st.lists(debit_values, min_size=1, max_size=12), st.sampled_from(list(Pain008Version)))
def test_property_valid_and_totals(values, version):
    """S-3, S-4, S-9: random names, amounts and mandates give a valid file whose
    NbOfTxs and CtrlSum match its transactions at message and PmtInf level."""
    debits = [debit(number, **fields) for number, fields in enumerate(values, 1)]
    summary, document = write(debits, version)
    amounts = [Decimal(a) for a in text(document, "//p:InstdAmt", version)]
    assert all(a > 0 and a == a.quantize(Decimal("0.01")) for a in amounts)
    assert text(document, "p:CstmrDrctDbtInitn/p:GrpHdr/p:NbOfTxs", version) == [str(len(debits))]
    control_sum = text(document, "p:CstmrDrctDbtInitn/p:GrpHdr/p:CtrlSum", version)[0]
    assert Decimal(control_sum) == sum(amounts) == sum(d.amount for d in debits)
    assert summary.control_sum == sum(d.amount for d in debits)
    for block in find(document, "//p:PmtInf", version):
        block_amounts = [Decimal(a) for a in text(block, "p:DrctDbtTxInf/p:InstdAmt", version)]
        assert text(block, "p:NbOfTxs", version) == [str(len(block_amounts))]
        assert Decimal(text(block, "p:CtrlSum", version)[0]) == sum(block_amounts)
        assert len(text(block, "p:CtrlSum", version)[0].split(".")[1]) == 2


class _Generated:
    """Re-iterable debits made on the fly, as a database cursor would give them."""

    def __init__(self, count):
        self.count = count

    def __iter__(self):
        for number in range(self.count):
            yield debit(number, amount=Decimal(number % 1000 + 1) / 100)


def _peak(count):
    tracemalloc.start()
    try:
        with open("/dev/null", "wb") as sink:
            write_pain008(sink, HEADER, CREDITOR, _Generated(count))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_streaming_bounded_memory():
    """P-3: peak memory does not grow with the number of transactions (streamed)."""
    small, large = _peak(200), _peak(4000)
    assert large < small * 2 + 512 * 1024


class _Tracked:
    """Re-iterable debits that remember the one read last, as the addon's do."""

    def __init__(self, debits):
        self.debits = debits
        self.current = None
        self.passes = 0

    def __iter__(self):
        self.passes += 1
        for item in self.debits:
            self.current = item
            yield item


@pytest.mark.parametrize("order", ["grouped", "interleaved"])
def test_first_invalid_debit_reported(order):
    """S-3: the error is the first invalid debit's (in the order given), even when the
    writer finds a later one first; the debits read last is that one; nothing is
    returned as written."""
    later = add_business_days(DAY, 1)
    debits = [
        debit(1),
        debit(2, collection_date=later, debtor_iban="DE89370400440532013001"),  # invalid
        debit(3),
        debit(4, collection_date=later),
        debit(5, debtor_name="日本"),  # invalid, in the first group
    ]
    if order == "grouped":
        debits = [debits[0], debits[2], debits[4], debits[1], debits[3]]
    tracked = _Tracked(debits)
    with pytest.raises(SepaError) as caught:
        write_pain008(io.BytesIO(), HEADER, CREDITOR, tracked)
    expected = debits[2] if order == "grouped" else debits[1]
    assert caught.value.code is (
        SepaErrorCode.TEXT_EMPTY if order == "grouped" else SepaErrorCode.IBAN_INVALID
    )
    assert tracked.current is expected


def test_invalid_debit_after_written_ones():
    """S-3: a debit that fails a check of the second pass still raises its error, after
    the transactions before it were written; the caller discards that partial file."""
    debits = [debit(number) for number in range(1, 1500)] + [debit(1500, mandate_id="A//B")]
    stream = io.BytesIO()
    with pytest.raises(SepaError) as caught:
        write_pain008(stream, HEADER, CREDITOR, debits)
    assert caught.value.code is SepaErrorCode.MANDATE_REFERENCE_SLASH


class _Passes:
    """Debits given by a function of the pass number (1, then 2, then 3…)."""

    def __init__(self, make):
        self.make = make
        self.passes = 0

    def __iter__(self):
        self.passes += 1  # when the first debit is asked for
        yield from self.make(self.passes)


@pytest.mark.parametrize(
    "make",
    [
        # an amount changed
        lambda n: [debit(1), debit(2, amount=Decimal("10.00" if n == 1 else "11.00"))],
        # a group vanished (the last one, then the first one)
        lambda n: [debit(1)] + ([debit(2, sequence_type=SequenceType.FIRST)] if n == 1 else []),
        lambda n: ([debit(1)] if n == 1 else []) + [debit(2, sequence_type=SequenceType.FIRST)],
        # a new group at the end
        lambda n: [debit(1)] + ([debit(2, sequence_type=SequenceType.FIRST)] if n > 1 else []),
        # groups contiguous in the first pass, interleaved in the second
        lambda n: (
            [debit(1), debit(3), debit(2, sequence_type=SequenceType.FIRST)]
            if n == 1
            else [debit(1), debit(2, sequence_type=SequenceType.FIRST), debit(3)]
        ),
        # interleaved in the first pass, one debit fewer in the second
        lambda n: [debit(1), debit(2, sequence_type=SequenceType.FIRST), debit(3)][: 4 - n],
    ],
)
def test_debits_changed_detected(make):
    """S-3: any change of the counts or sums per block between the two passes is
    refused."""
    with pytest.raises(SepaError) as caught:
        write_pain008(io.BytesIO(), HEADER, CREDITOR, _Passes(make))
    assert caught.value.code is SepaErrorCode.DEBITS_CHANGED


class _Recorder(io.RawIOBase):
    """A binary stream that keeps only the size of each write."""

    def __init__(self):
        self.sizes = []

    def writable(self):
        return True

    def write(self, data):
        self.sizes.append(len(data))
        return len(data)


def test_written_incrementally():
    """P-3: the file goes to the stream as it is made, in chunks of bounded size, not
    at the end."""
    small, large = _Recorder(), _Recorder()
    write_pain008(small, HEADER, CREDITOR, _Generated(100))
    write_pain008(large, HEADER, CREDITOR, _Generated(5000))
    assert len(large.sizes) > 5 * len(small.sizes)
    assert max(large.sizes) < 2 * max(max(small.sizes), 300 * 1024)
    assert sum(large.sizes) > 40 * sum(small.sizes)


@pytest.mark.parametrize("version", list(Pain008Version))
def test_markup_in_texts_written_as_text(version):
    """S-9: texts holding XML's special characters give a well-formed file holding
    them transliterated (``&`` as ``+``; ``<``, ``>`` and quotes replaced)."""
    _summary, document = write(
        [
            debit(
                1,
                debtor_name='<Dbtr>Tom & "Jerry"</Dbtr>',
                remittance="a<b>c & d ]]> <!-- e -->",
                debtor_address=PostalAddress("FR", "<Paris>", "Rue & <Co>", "1<", "75<"),
            )
        ],
        version,
    )
    assert text(document, "//p:Dbtr/p:Nm", version) == ["Dbtr Tom + 'Jerry' /Dbtr"]
    assert text(document, "//p:RmtInf/p:Ustrd", version) == ["a b c + d )) .-- e --"]


# === end-to-end identifiers === #


@pytest.mark.parametrize(
    ("reference", "suffix", "expected"),
    [
        ("INV/2025/00042-1", None, "INV/2025/00042-1"),
        ("//INV//2025//7-2", None, "INV/2025/7-2"),
        ("Facture n° 12 – été", None, "Facture n 12 - ete"),
        ("", None, None),
        ("X" * 36, None, None),
        ("X" * 36, "-981", "X" * 31 + "-981"),
        ("INV/2025/00042-1", "-7", "INV/2025/00042-1-7"),
        ("", "-7", "7"),
        ("A" * 31 + " /" + "B", "-12", "A" * 31 + "-12"),
    ],
)
def test_end_to_end_id(reference, suffix, expected):
    """The reference in the SEPA set, at most 35 characters, no leading / nor //; a
    suffix makes it unique, the reference being cut to leave room for it."""
    assert end_to_end_id(reference, unique_suffix=suffix) == expected


@given(st.text(max_size=60), st.integers(min_value=1, max_value=10**12))
def test_end_to_end_id_with_a_suffix_is_always_valid(reference, number):
    identifier = end_to_end_id(reference, unique_suffix=f"-{number}")
    assert identifier.endswith(str(number))
    assert check_identifier(identifier, "end_to_end_id") == identifier
