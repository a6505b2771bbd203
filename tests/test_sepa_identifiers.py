"""SEPA identifiers, character set, calendar and sequence rules (S-1, S-2, S-5…S-9, S-12)."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recurring_payments_core.sepa.calendar import (
    add_business_days,
    check_collection_date,
    collection_date,
    earliest_collection_date,
    easter_sunday,
    is_target2_business_day,
    next_business_day,
    prenotification_date,
)
from recurring_payments_core.sepa.charset import is_sepa_latin, to_sepa_latin
from recurring_payments_core.sepa.errors import SepaError, SepaErrorCode
from recurring_payments_core.sepa.identifiers import (
    check_creditor_identifier,
    check_iban,
    check_mandate_reference,
    creditor_identifier_check_digits,
    mandate_reference_key,
    mask_iban,
    normalize_mandate_reference,
)
from recurring_payments_core.sepa.sequence import (
    Amendment,
    MandateHistory,
    MandateState,
    SequenceType,
    amendment_between,
    mandate_expired,
    mandate_expiry_date,
    sequence_type,
)


@pytest.mark.parametrize("ci", ["DE98ZZZ09999999999", "FR72ZZZ123456", "BE68ZZZ0123456789"])
def test_creditor_identifier_valid(ci):
    """S-2: the reference creditor identifiers pass, normalized."""
    assert check_creditor_identifier(ci.lower()[:4] + " " + ci[4:]) == ci


def test_creditor_identifier_business_code_ignored():
    """S-2: the business code does not enter the check digits."""
    assert check_creditor_identifier("DE98ABC09999999999") == "DE98ABC09999999999"


@pytest.mark.parametrize(
    ("ci", "code"),
    [
        ("NL35ZZZ123456780000", SepaErrorCode.CREDITOR_ID_CHECKSUM),
        ("DE99ZZZ09999999999", SepaErrorCode.CREDITOR_ID_CHECKSUM),
        ("DE98ZZZ", SepaErrorCode.CREDITOR_ID_FORMAT),
        ("D198ZZZ0999", SepaErrorCode.CREDITOR_ID_FORMAT),
        ("", SepaErrorCode.CREDITOR_ID_FORMAT),
    ],
)
def test_creditor_identifier_invalid(ci, code):
    """S-2: wrong check digits or shape are refused with their code."""
    with pytest.raises(SepaError) as caught:
        check_creditor_identifier(ci)
    assert caught.value.code is code


def test_creditor_identifier_corrected_check_digits():
    """S-2: the Dutch example passes with its right check digits (69)."""
    assert creditor_identifier_check_digits("NL", "123456780000") == "69"
    assert check_creditor_identifier("NL69ZZZ123456780000")


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=28))
def test_creditor_identifier_roundtrip(national):
    """S-2: any national part with computed check digits passes; other digits fail."""
    digits = creditor_identifier_check_digits("FR", national)
    assert check_creditor_identifier(f"FR{digits}ZZZ{national}")
    wrong = f"{(int(digits) + 1) % 100:02d}"
    with pytest.raises(SepaError):
        check_creditor_identifier(f"FR{wrong}ZZZ{national}")


@pytest.mark.parametrize("umr", ["A", "MANDATE-2024/0001", "a" * 35, "x (1) ?:.,'+ y"])
def test_mandate_reference_valid(umr):
    """S-1: 1-35 Latin characters pass unchanged."""
    assert check_mandate_reference(umr) == umr


@pytest.mark.parametrize(
    ("umr", "code"),
    [
        ("", SepaErrorCode.MANDATE_REFERENCE_EMPTY),
        ("a" * 36, SepaErrorCode.MANDATE_REFERENCE_TOO_LONG),
        ("MANDAT-É", SepaErrorCode.MANDATE_REFERENCE_CHARSET),
        ("A_1", SepaErrorCode.MANDATE_REFERENCE_CHARSET),
        ("/A1", SepaErrorCode.MANDATE_REFERENCE_SLASH),
        ("A1/", SepaErrorCode.MANDATE_REFERENCE_SLASH),
        ("A//1", SepaErrorCode.MANDATE_REFERENCE_SLASH),
    ],
)
def test_mandate_reference_invalid(umr, code):
    """S-1: length, characters and slashes are refused with their code."""
    with pytest.raises(SepaError) as caught:
        check_mandate_reference(umr)
    assert caught.value.code is code


def test_mandate_reference_unique_case_insensitive():
    """S-1: references differing in case are the same key for one creditor."""
    assert normalize_mandate_reference("abc-1") == normalize_mandate_reference("ABC-1")
    key = mandate_reference_key("DE98ZZZ09999999999", "abc-1")
    assert key == mandate_reference_key("de98 ZZZ09999999999", "ABC-1")
    assert key != mandate_reference_key("FR72ZZZ123456", "ABC-1")


@pytest.mark.parametrize(
    ("iban", "country", "needs_address"),
    [
        ("DE89 3704 0044 0532 0130 00", "DE", False),
        ("FR1420041010050500013M02606", "FR", False),
        ("CH9300762011623852957", "CH", True),
        ("GB29NWBK60161331926819", "GB", True),
        ("MC5811222000010123456789030", "MC", True),
        ("SM86U0322509800000000270100", "SM", True),
        ("NO9386011117947", "NO", False),
        # French outermost regions and Åland are in the EU with codes of their own.
        ("RE6130004000000003123456700", "RE", False),
        ("AX5912345600000780", "AX", False),
        # Saint-Pierre-et-Miquelon is in SEPA, not in the EU.
        ("PM5530004000000003123456700", "PM", True),
    ],
)
def test_iban_any_sepa_country(iban, country, needs_address):
    """S-12: any valid SEPA IBAN is accepted; non-EEA ones need the debtor address."""
    info = check_iban(iban)
    assert info.iban == iban.replace(" ", "")
    assert info.country == country
    assert info.in_sepa
    assert info.needs_debtor_address is needs_address


def test_iban_bic_from_registry():
    """S-12: the BIC of a known bank comes from schwifty's registry."""
    assert check_iban("DE89370400440532013000").bic == "COBADEFFXXX"


@pytest.mark.parametrize(
    ("iban", "code"),
    [
        ("DE89370400440532013001", SepaErrorCode.IBAN_INVALID),
        ("DE8937040044053201300", SepaErrorCode.IBAN_INVALID),
        ("XX89370400440532013000", SepaErrorCode.IBAN_INVALID),
        ("BR1800360305000010009795493C1", SepaErrorCode.IBAN_OUTSIDE_SEPA),
    ],
)
def test_iban_invalid(iban, code):
    """S-12: bad checksum, length or country, and non-SEPA IBANs are refused; the error
    never holds the full IBAN (X-4)."""
    with pytest.raises(SepaError) as caught:
        check_iban(iban)
    assert caught.value.code is code
    assert iban not in str(caught.value)


def test_mask_iban():
    """X-4: only country, check digits and the last four characters stay visible."""
    assert mask_iban("DE89370400440532013000") == "DE89 **** **** **** **30 00"
    assert mask_iban("DE89") == "****"


def test_transliteration_reference_example():
    """S-9: the reference name comes out readable and valid."""
    assert to_sepa_latin("Zoë Ünal & Søn – “Büro”") == "Zoe Unal + Son - 'Buro'"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Straße", "Strasse"),
        ("Œuvre Æsir", "OEuvre AEsir"),
        ("Łódź", "Lodz"),
        ("a@b.fr", "a(at)b.fr"),
        ("10 €", "10 EUR"),
        ("«Ça»  va ; ok!", "'Ca' va , ok."),
        ("日本", ""),
        ("ﬁne Ａ", "fine A"),
    ],
)
def test_transliteration_choices(text, expected):
    """S-9: the documented choices for letters and symbols."""
    assert to_sepa_latin(text) == expected


def test_transliteration_max_length():
    """S-9: the result is cut after transliteration, without a trailing space."""
    assert to_sepa_latin("Straße und Weg", 8) == "Strasse"
    assert len(to_sepa_latin("ß" * 50, 35)) == 35


@given(st.text(max_size=200), st.none() | st.integers(min_value=0, max_value=140))
def test_transliteration_always_valid(text, max_length):
    """S-9: any text comes out in the Latin set, stripped, within the length."""
    result = to_sepa_latin(text, max_length)
    assert is_sepa_latin(result)
    assert result == result.strip()
    assert "  " not in result
    if max_length is not None:
        assert len(result) <= max_length
    if max_length is None and is_sepa_latin(text):
        assert result == " ".join(text.split(" ")).strip() or "  " in text


@pytest.mark.parametrize(
    ("year", "easter"),
    [(2024, date(2024, 3, 31)), (2025, date(2025, 4, 20)), (2019, date(2019, 4, 21))],
)
def test_easter(year, easter):
    """S-7: Easter by the Anonymous Gregorian algorithm."""
    assert easter_sunday(year) == easter


@pytest.mark.parametrize(
    ("day", "open_"),
    [
        (date(2024, 3, 29), False),  # Good Friday
        (date(2024, 4, 1), False),  # Easter Monday
        (date(2024, 5, 1), False),
        (date(2024, 12, 25), False),
        (date(2024, 12, 26), False),
        (date(2025, 1, 1), False),
        (date(2024, 3, 30), False),  # Saturday
        (date(2024, 3, 28), True),
        (date(2024, 5, 8), True),  # a French holiday, but TARGET2 is open
    ],
)
def test_target2_calendar(day, open_):
    """S-7: TARGET2 closing days."""
    assert is_target2_business_day(day) is open_


def test_add_business_days_over_easter():
    """S-7: business days skip Good Friday, the weekend and Easter Monday."""
    assert add_business_days(date(2024, 3, 28), 1) == date(2024, 4, 2)
    assert add_business_days(date(2024, 3, 28), 0) == date(2024, 3, 28)
    with pytest.raises(SepaError):
        add_business_days(date(2024, 3, 28), -1)


def test_earliest_collection_date_notice_and_lead():
    """S-7: never before pre-notification + notice, nor before D-1 after submission."""
    # notice binds: 1 March + 14 days = 15 March (Friday)
    assert earliest_collection_date(date(2024, 3, 1), submitted_on=date(2024, 3, 1)) == date(
        2024, 3, 15
    )
    # lead time binds: submitted Thursday before Easter, D-1 is Tuesday 2 April
    assert earliest_collection_date(date(2024, 3, 1), submitted_on=date(2024, 3, 28)) == date(
        2024, 4, 2
    )
    # a shorter agreed notice; the result rolls to a business day (16 March is Saturday)
    assert earliest_collection_date(
        date(2024, 3, 14), submitted_on=date(2024, 3, 1), notice_days=2
    ) == date(2024, 3, 18)


@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    st.integers(min_value=0, max_value=30),
    st.integers(min_value=0, max_value=40),
    st.integers(min_value=0, max_value=5),
)
def test_earliest_collection_date_property(prenotified, offset, notice, lead):
    """S-7: the earliest date is a business day, after notice and lead time."""
    submitted = date.fromordinal(prenotified.toordinal() + offset)
    result = earliest_collection_date(
        prenotified, submitted_on=submitted, notice_days=notice, lead_days=lead
    )
    assert is_target2_business_day(result)
    assert (result - prenotified).days >= notice
    assert result >= add_business_days(submitted, lead)
    assert (
        check_collection_date(
            result, prenotified, submitted_on=submitted, notice_days=notice, lead_days=lead
        )
        == result
    )


def test_check_collection_date_refuses():
    """S-7: too early or a closing day is refused."""
    with pytest.raises(SepaError) as caught:
        check_collection_date(date(2024, 3, 14), date(2024, 3, 1), submitted_on=date(2024, 3, 1))
    assert caught.value.code is SepaErrorCode.COLLECTION_DATE_TOO_EARLY
    assert caught.value.params["earliest"] == date(2024, 3, 15)
    with pytest.raises(SepaError) as caught:
        check_collection_date(date(2024, 4, 1), date(2024, 1, 1), submitted_on=date(2024, 1, 1))
    assert caught.value.code is SepaErrorCode.COLLECTION_DATE_NOT_BUSINESS_DAY


@pytest.mark.parametrize(
    ("history", "options", "expected"),
    [
        (MandateHistory(recurrent=False), {}, SequenceType.ONE_OFF),
        (MandateHistory(recurrent=True), {}, SequenceType.FIRST),
        (MandateHistory(recurrent=True), {"final": True}, SequenceType.FIRST),
        (MandateHistory(recurrent=True), {"rcur_from_first": True}, SequenceType.RECURRING),
        (MandateHistory(recurrent=True, collections=3), {}, SequenceType.RECURRING),
        (MandateHistory(recurrent=True, collections=3), {"final": True}, SequenceType.FINAL),
        (MandateHistory(True, 3, debtor_bank_changed=True), {}, SequenceType.FIRST),
        (
            MandateHistory(True, 3, debtor_bank_changed=True),
            {"reset_on_bank_change": False},
            SequenceType.RECURRING,
        ),
        (
            MandateHistory(True, 3, debtor_bank_changed=True),
            {"rcur_from_first": True},
            SequenceType.RECURRING,
        ),
    ],
)
def test_sequence_type(history, options, expected):
    """S-5: the sequence type follows the mandate's history and options."""
    assert sequence_type(history, **options) is expected


def test_one_off_mandate_used_once():
    """S-5: a one-off mandate cannot be collected twice."""
    with pytest.raises(SepaError) as caught:
        sequence_type(MandateHistory(recurrent=False, collections=1))
    assert caught.value.code is SepaErrorCode.MANDATE_ALREADY_USED


def test_mandate_expiry_36_months():
    """S-6: a mandate unused for 36 months lapses; the day before it still works."""
    assert mandate_expiry_date(date(2021, 3, 15)) == date(2024, 3, 15)
    assert mandate_expiry_date(date(2021, 2, 28)) == date(2024, 2, 28)
    assert mandate_expiry_date(date(2020, 2, 29)) == date(2023, 2, 28)
    assert not mandate_expired(date(2021, 3, 15), date(2024, 3, 14))
    assert mandate_expired(date(2021, 3, 15), date(2024, 3, 15))


def test_amendment_iban_same_bank():
    """S-8: a new IBAN at the same bank keeps the reference and sends the old account."""
    previous = MandateState("UMR-1", "DE98ZZZ09999999999", "DE89370400440532013000")
    current = MandateState("UMR-1", "DE98ZZZ09999999999", _same_bank_iban("370400440532013001"))
    assert amendment_between(previous, current) == Amendment(
        original_debtor_iban="DE89370400440532013000"
    )
    assert amendment_between(previous, previous) is None


def test_amendment_iban_other_bank_is_smnda():
    """S-8: a new IBAN at another bank is marked SMNDA."""
    previous = MandateState("UMR-1", "DE98ZZZ09999999999", "DE89370400440532013000")
    current = MandateState("UMR-1", "DE98ZZZ09999999999", "FR1420041010050500013M02606")
    assert amendment_between(previous, current) == Amendment(smnda=True)


def test_amendment_mandate_and_creditor():
    """S-8: a changed reference or creditor identifier is sent as the original."""
    previous = MandateState("OLD-1", "FR72ZZZ123456", "DE89370400440532013000", "Old SA")
    current = MandateState("NEW-1", "DE98ZZZ09999999999", "DE89370400440532013000", "New AG")
    assert amendment_between(previous, current) == Amendment(
        original_mandate_id="OLD-1",
        original_creditor_id="FR72ZZZ123456",
        original_creditor_name="Old SA",
    )


def _same_bank_iban(bban: str) -> str:
    """A German IBAN with valid check digits for ``bban``."""
    digits = 98 - int(bban + "131400") % 97
    return f"DE{digits:02d}{bban}"


# === collection and pre-notification dates (S-7) === #


def test_collection_date_keeps_a_late_enough_request():
    """A request far enough after the pre-notification is kept as it is."""
    assert collection_date(date(2025, 3, 31), prenotified_on=date(2025, 3, 3)) == date(2025, 3, 31)


def test_collection_date_moves_an_early_request():
    """S-7: never before the notice; a weekend or holiday moves to the next business day."""
    assert collection_date(date(2025, 3, 3), prenotified_on=date(2025, 3, 3)) == date(2025, 3, 17)
    # 2025-04-18 is Good Friday, 2025-04-21 Easter Monday.
    assert collection_date(date(2025, 4, 18), prenotified_on=date(2025, 4, 1)) == date(2025, 4, 22)


def test_collection_date_after_a_pending_first_collection():
    """Recurring collections fall strictly after the mandate's first one still pending."""
    day = collection_date(
        date(2025, 3, 3), prenotified_on=date(2025, 3, 3), after=date(2025, 3, 17)
    )
    assert day == date(2025, 3, 18)
    # Friday's first collection: the recurring ones on Monday.
    day = collection_date(
        date(2025, 3, 3), prenotified_on=date(2025, 3, 3), after=date(2025, 3, 21)
    )
    assert day == date(2025, 3, 24)
    # An earlier first collection changes nothing.
    day = collection_date(
        date(2025, 3, 3), prenotified_on=date(2025, 3, 3), after=date(2025, 3, 10)
    )
    assert day == date(2025, 3, 17)


def test_prenotification_date_lead_then_notice():
    """31 January 2025 less one TARGET2 business day (30 January), less 14 days."""
    assert prenotification_date(date(2025, 1, 31)) == date(2025, 1, 16)
    # Monday 7 April 2025: the business day before is Friday 4 April.
    assert prenotification_date(date(2025, 4, 7), notice_days=14, lead_days=1) == date(2025, 3, 21)
    assert prenotification_date(date(2025, 4, 7), notice_days=0, lead_days=0) == date(2025, 4, 7)


@pytest.mark.parametrize(("notice", "lead"), [(-1, 1), (14, -1)])
def test_prenotification_date_refuses_negative_days(notice, lead):
    with pytest.raises(SepaError) as raised:
        prenotification_date(date(2025, 1, 31), notice_days=notice, lead_days=lead)
    assert raised.value.code is SepaErrorCode.NEGATIVE_DAYS


@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
    st.integers(min_value=0, max_value=30),
    st.integers(min_value=0, max_value=5),
)
def test_prenotified_on_time_collects_on_the_day(due, notice, lead):
    """S-7: pre-notified on its day, a debit is collected on its due date (or the next
    business day when that is a holiday), never later."""
    prenotified = prenotification_date(due, notice_days=notice, lead_days=lead)
    day = collection_date(due, prenotified_on=prenotified, notice_days=notice, lead_days=lead)
    assert day == next_business_day(due)
    assert day >= earliest_collection_date(
        prenotified, submitted_on=prenotified, notice_days=notice, lead_days=lead
    )
