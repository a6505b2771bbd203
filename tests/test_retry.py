"""Tests of recurring_payments_core.retry: failure categories, retry decisions, keys."""

import hashlib
import pickle
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recurring_payments_core.retry import (
    DEFAULT_POLICY,
    DEMO_STATES,
    MASTERCARD_ADVICE,
    STRIPE_ADVICE_CATEGORIES,
    STRIPE_DECLINE_CATEGORIES,
    Attempt,
    Classification,
    CustomerNotice,
    Decline,
    FailureCategory,
    RetryAction,
    RetryDecision,
    RetryError,
    RetryErrorCode,
    RetryPolicy,
    RetrySchedule,
    TechnicalBackoff,
    card_expiry_notice,
    classify,
    customer_notice,
    idempotency_key,
    next_retry,
    upcoming_charge_notice_due,
)

HARD = FailureCategory.HARD
NEW_PM = FailureCategory.NEW_PAYMENT_METHOD
FUNDS = FailureCategory.INSUFFICIENT_FUNDS
AUTH = FailureCategory.AUTHENTICATION_REQUIRED
SOFT = FailureCategory.SOFT
TECH = FailureCategory.TECHNICAL
RETRY, WAIT, STOP, EXHAUSTED = (
    RetryAction.RETRY,
    RetryAction.WAIT_CUSTOMER,
    RetryAction.STOP,
    RetryAction.EXHAUSTED,
)
PARIS = ZoneInfo("Europe/Paris")
UTC = timezone.utc
CARD = "token:42"


def paris(text):
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


def attempt(at, category, invoice="inv:1", card=CARD):
    return Attempt(at=at, payment_method=card, category=category, invoice=invoice)


def decide(classification, attempts, now, policy=DEFAULT_POLICY, others=(), tz=PARIS):
    """Decide for one invoice whose attempts all used CARD, plus other invoices' attempts."""
    return next_retry(
        policy,
        classification,
        invoice_attempts=attempts,
        card_attempts=[*attempts, *others],
        now=now,
        tz=tz,
    )


# === classify: Stripe decline codes === #

REQUIRED_STRIPE_CODES = """
authentication_required approve_with_id call_issuer card_not_supported card_velocity_exceeded
currency_not_supported do_not_honor do_not_try_again duplicate_transaction expired_card
fraudulent generic_decline incorrect_number incorrect_cvc incorrect_pin incorrect_zip
insufficient_funds invalid_account invalid_amount invalid_cvc invalid_expiry_month
invalid_expiry_year invalid_number invalid_pin issuer_not_available lost_card
merchant_blacklist new_account_information_available no_action_taken not_permitted
offline_pin_required online_or_offline_pin_required pickup_card pin_try_exceeded
processing_error reenter_transaction restricted_card revocation_of_all_authorizations
revocation_of_authorization security_violation service_not_allowed stolen_card
stop_payment_order testmode_decline transaction_not_allowed try_again_later
withdrawal_count_limit_exceeded card_declined rate_limit api_connection_error
""".split()

# REFERENCE.md, "Stripe decline codes" table.
REFERENCE_HARD = """
stolen_card lost_card pickup_card restricted_card fraudulent merchant_blacklist
incorrect_number invalid_account revocation_of_authorization revocation_of_all_authorizations
stop_payment_order transaction_not_allowed card_not_supported currency_not_supported
""".split()
REFERENCE_NEEDS_CUSTOMER = {
    "expired_card": NEW_PM,
    "incorrect_cvc": NEW_PM,
    "incorrect_zip": NEW_PM,
    "authentication_required": AUTH,
}
REFERENCE_SOFT = {
    "insufficient_funds": FUNDS,
    "processing_error": SOFT,
    "try_again_later": SOFT,
    "issuer_not_available": SOFT,
    "reenter_transaction": SOFT,
    "approve_with_id": SOFT,
    "card_velocity_exceeded": SOFT,
    "generic_decline": SOFT,
    "do_not_honor": SOFT,
}


@pytest.mark.parametrize("code", REQUIRED_STRIPE_CODES)
def test_stripe_table_knows_every_code(code):
    assert isinstance(STRIPE_DECLINE_CATEGORIES[code], FailureCategory)


@pytest.mark.parametrize("code", sorted(STRIPE_DECLINE_CATEGORIES))
def test_stripe_code_classified_by_table(code):
    result = classify(Decline("stripe", code))
    assert result.category is STRIPE_DECLINE_CATEGORIES[code]
    assert result.reason == f"stripe.decline.{code}"
    assert result.never_again is False


@pytest.mark.parametrize("code", REFERENCE_HARD)
def test_stripe_reference_hard(code):
    assert classify(Decline("stripe", code)).category is HARD


@pytest.mark.parametrize(("code", "category"), sorted(REFERENCE_NEEDS_CUSTOMER.items()))
def test_stripe_reference_needs_customer(code, category):
    assert classify(Decline("stripe", code)).category is category


@pytest.mark.parametrize(("code", "category"), sorted(REFERENCE_SOFT.items()))
def test_stripe_reference_soft(code, category):
    assert classify(Decline("stripe", code)).category is category


@pytest.mark.parametrize(
    ("code", "category"),
    [
        ("card_declined", SOFT),
        ("rate_limit", TECH),
        ("api_connection_error", TECH),
        ("processing_error", SOFT),
        ("do_not_try_again", HARD),
        ("invalid_number", HARD),
        ("invalid_cvc", NEW_PM),
        ("pin_try_exceeded", NEW_PM),
        ("payment_intent_authentication_failure", AUTH),
    ],
)
def test_stripe_error_codes(code, category):
    assert classify(Decline("stripe", code)).category is category


def test_stripe_code_is_read_case_insensitively():
    assert classify(Decline("Stripe", " Stolen_Card ")).reason == "stripe.decline.stolen_card"


def test_stripe_rate_limited_card_waits_a_day():
    result = classify(Decline("stripe", "card_decline_rate_limit_exceeded"))
    assert (result.category, result.min_wait) == (SOFT, timedelta(hours=24))


def test_stripe_table_is_not_used_for_other_providers():
    assert classify(Decline("adyen", "do_not_honor")).reason == "generic.fallback"


# === classify: network advice, advice codes, precedence === #

MAC_WAITS = {
    "24": timedelta(hours=1),
    "25": timedelta(hours=24),
    "26": timedelta(days=2),
    "27": timedelta(days=4),
    "28": timedelta(days=6),
    "29": timedelta(days=8),
    "30": timedelta(days=10),
}


@pytest.mark.parametrize("mac", ["03", "21"])
def test_mac_never_again(mac):
    result = classify(Decline("stripe", "generic_decline", network_advice_code=mac))
    assert (result.category, result.never_again, result.reason) == (HARD, True, f"mac.{mac}")


@pytest.mark.parametrize(("mac", "wait"), sorted(MAC_WAITS.items()))
def test_mac_wait(mac, wait):
    result = classify(Decline("stripe", "do_not_honor", network_advice_code=mac))
    assert (result.category, result.min_wait, result.never_again) == (SOFT, wait, False)
    assert result.reason == f"mac.{mac}"


@pytest.mark.parametrize(("mac", "category"), [("01", NEW_PM), ("02", SOFT), ("04", NEW_PM)])
def test_mac_other_codes(mac, category):
    result = classify(Decline("stripe", "generic_decline", network_advice_code=mac))
    assert (result.category, result.reason, result.min_wait) == (category, f"mac.{mac}", None)


def test_mac_table_covers_the_listed_codes():
    assert set(MASTERCARD_ADVICE) == {"01", "02", "03", "04", "21", *MAC_WAITS}


def test_mac_one_digit_code_is_padded():
    assert classify(Decline("stripe", network_advice_code="3")).reason == "mac.03"


def test_mac_unknown_code_falls_through():
    assert classify(Decline("stripe", "lost_card", network_advice_code="99")).category is HARD


def test_mac_wins_over_advice_and_decline_code():
    decline = Decline(
        "stripe", "insufficient_funds", advice_code="try_again_later", network_advice_code="03"
    )
    assert classify(decline).reason == "mac.03"
    decline = Decline(
        "stripe", "stolen_card", advice_code="do_not_try_again", network_advice_code="24"
    )
    result = classify(decline)
    assert (result.category, result.reason, result.never_again) == (SOFT, "mac.24", False)


def test_mac_wait_keeps_insufficient_funds():
    result = classify(Decline("stripe", "insufficient_funds", network_advice_code="25"))
    assert (result.category, result.min_wait, result.reason) == (
        FUNDS,
        timedelta(hours=24),
        "mac.25",
    )


def test_mac_wait_keeps_the_longest_wait():
    decline = Decline("stripe", "card_decline_rate_limit_exceeded", network_advice_code="24")
    assert classify(decline).min_wait == timedelta(hours=24)


@pytest.mark.parametrize(
    "code", ["04", "07", "12", "14", "15", "41", "43", "46", "57", "R0", "R1", "R3"]
)
def test_visa_category_1_never_again(code):
    decline = Decline("stripe", "do_not_honor", network_decline_code=code, card_network="visa")
    result = classify(decline)
    assert (result.category, result.never_again) == (HARD, True)
    assert result.reason == f"visa.category_1.{code}"


@pytest.mark.parametrize(
    ("network", "code"), [("visa", "51"), ("visa", "05"), ("mastercard", "43")]
)
def test_visa_category_1_only_for_its_codes_on_visa(network, code):
    decline = Decline("stripe", "do_not_honor", network_decline_code=code, card_network=network)
    assert classify(decline).reason == "stripe.decline.do_not_honor"


def test_visa_category_1_wins_over_advice():
    decline = Decline(
        "stripe", advice_code="try_again_later", network_decline_code="r1", card_network="Visa"
    )
    assert classify(decline).reason == "visa.category_1.R1"


@pytest.mark.parametrize(
    ("advice", "category", "never_again"),
    [
        ("do_not_try_again", HARD, True),
        ("confirm_card_data", NEW_PM, False),
        ("try_again_later", SOFT, False),
    ],
)
def test_advice_codes(advice, category, never_again):
    result = classify(Decline("stripe", "generic_decline", advice_code=advice))
    assert (result.category, result.never_again, result.reason) == (
        category,
        never_again,
        f"advice.{advice}",
    )


def test_advice_table_covers_stripe_advice_codes():
    assert set(STRIPE_ADVICE_CATEGORIES) == {
        "do_not_try_again",
        "confirm_card_data",
        "try_again_later",
    }


def test_advice_wins_over_decline_code():
    assert (
        classify(Decline("stripe", "generic_decline", advice_code="do_not_try_again")).category
        is HARD
    )
    assert classify(Decline("stripe", "lost_card", advice_code="try_again_later")).category is SOFT
    assert (
        classify(Decline("stripe", "insufficient_funds", advice_code="confirm_card_data")).category
        is NEW_PM
    )


def test_advice_try_again_later_keeps_insufficient_funds():
    result = classify(Decline("stripe", "insufficient_funds", advice_code="try_again_later"))
    assert (result.category, result.reason) == (FUNDS, "advice.try_again_later")


def test_advice_applies_to_any_provider():
    assert classify(Decline("adyen", "Refused", advice_code="do_not_try_again")).never_again


def test_timeout_is_always_technical():
    """C-7: a provider timeout is technical, whatever else the decline says."""
    decline = Decline(
        "stripe",
        "stolen_card",
        advice_code="do_not_try_again",
        network_advice_code="03",
        network_decline_code="43",
        card_network="visa",
        timeout=True,
    )
    result = classify(decline)
    assert (result.category, result.reason, result.never_again) == (TECH, "timeout", False)


# === classify: payment_demo === #


@pytest.mark.parametrize(
    ("code", "category"),
    [
        ("error", SOFT),
        ("cancel", HARD),
        ("demo_soft", SOFT),
        ("demo_insufficient_funds", FUNDS),
        ("demo_expired_card", NEW_PM),
        ("demo_authentication_required", AUTH),
        ("demo_hard", HARD),
        ("demo_technical", TECH),
    ],
)
def test_demo_codes(code, category):
    result = classify(Decline("demo", code))
    assert (result.category, result.reason) == (category, f"demo.{code}")


def test_demo_table_covers_every_category():
    assert set(DEMO_STATES.values()) == set(FailureCategory)


@pytest.mark.parametrize(
    ("message", "category", "reason"),
    [
        ("demo_insufficient_funds", FUNDS, "demo.demo_insufficient_funds"),
        ("Simulated: DEMO_AUTHENTICATION_REQUIRED.", AUTH, "demo.demo_authentication_required"),
        ("demo_technical", TECH, "demo.demo_technical"),
        ("demo_unknown_thing", SOFT, "demo.error"),
        ("An error occurred.", SOFT, "demo.error"),
        (None, SOFT, "demo.error"),
    ],
)
def test_demo_code_in_state_message_wins_over_state(message, category, reason):
    result = classify(Decline("demo", "error", message=message))
    assert (result.category, result.reason) == (category, reason)


def test_demo_codes_are_not_read_for_other_providers():
    assert classify(Decline("stripe", "demo_hard")).reason == "generic.fallback"


# === classify: generic fallback === #


@pytest.mark.parametrize(
    ("code", "message", "category", "reason"),
    [
        ("Expired Card", None, NEW_PM, "generic.expired"),
        ("Not enough balance", None, FUNDS, "generic.insufficient"),
        (None, "Insufficient funds on account", FUNDS, "generic.insufficient"),
        ("3D Not Authenticated", None, AUTH, "generic.authentication"),
        (None, "3DS required", AUTH, "generic.authentication"),
        ("Stolen Card", None, HARD, "generic.stolen"),
        ("LOST_CARD", None, HARD, "generic.lost"),
        ("Issuer Suspected Fraud", None, HARD, "generic.fraud"),
        ("Blocked Card", None, HARD, "generic.closed"),
        ("CVC Declined", None, NEW_PM, "generic.card_data"),
        ("Acquirer Error", None, TECH, "generic.connection"),
        (None, "Connection lost while waiting", TECH, "generic.connection"),
        (None, "Request timed out", TECH, "generic.timeout"),
        ("gateway_timeout", None, TECH, "generic.timeout"),
        (None, "network error", TECH, "generic.network"),
        ("Refused", "Declined", SOFT, "generic.fallback"),
        (None, None, SOFT, "generic.fallback"),
    ],
)
def test_generic_fallback(code, message, category, reason):
    result = classify(Decline("mollie", code, message=message))
    assert (result.category, result.reason) == (category, reason)


def test_unknown_stripe_code_uses_the_fallback():
    assert classify(Decline("stripe", "brand_new_code")).reason == "generic.fallback"
    result = classify(Decline("stripe", None, message="Your card was reported stolen."))
    assert result.reason == "generic.stolen"


# === next_retry: non-scheduled categories === #

NOW = paris("2025-06-10T10:00")


@pytest.mark.parametrize(
    ("classification", "action", "reason"),
    [
        (Classification(HARD, "x"), STOP, "hard_decline"),
        (Classification(HARD, "x", never_again=True), STOP, "never_again"),
        (Classification(SOFT, "x", never_again=True), STOP, "never_again"),
        (Classification(NEW_PM, "x"), WAIT, "needs_customer"),
        (Classification(AUTH, "x"), WAIT, "authentication_required"),
    ],
)
def test_decisions_without_retry(classification, action, reason):
    decision = decide(classification, [attempt(NOW, classification.category)], NOW)
    assert (decision.action, decision.at, decision.reason) == (action, None, reason)


HARD_DECLINES = [
    *[
        Decline("stripe", code)
        for code, cat in sorted(STRIPE_DECLINE_CATEGORIES.items())
        if cat is HARD
    ],
    *[Decline("stripe", "do_not_honor", network_advice_code=mac) for mac in ("03", "21")],
    Decline("stripe", "do_not_honor", advice_code="do_not_try_again"),
    Decline("stripe", network_decline_code="43", card_network="visa"),
    Decline("demo", "cancel"),
    Decline("demo", "error", message="demo_hard"),
]


@pytest.mark.parametrize("decline", HARD_DECLINES, ids=repr)
def test_hard_decline_stops_at_once(decline):
    """C-4: a hard decline (lost, stolen, closed, invalid number...) stops the schedule at once."""
    decision = decide(classify(decline), [attempt(NOW, HARD)], NOW)
    assert (decision.action, decision.at) == (STOP, None)
    assert decision.reason in ("hard_decline", "never_again")


# === next_retry: business schedule === #


def soft_history(*moments, category=SOFT):
    return [attempt(moment, category) for moment in moments]


def test_first_soft_retry_is_next_day_at_ten():
    decision = decide(Classification(SOFT, "x"), soft_history(NOW), NOW)
    assert (decision.action, decision.at, decision.reason) == (
        RETRY,
        paris("2025-06-11T10:00"),
        "schedule",
    )


@pytest.mark.parametrize(
    ("failures", "expected"),
    [
        (1, "2025-06-11T10:00"),
        (2, "2025-06-13T10:00"),
        (3, "2025-06-15T10:00"),
        (4, "2025-06-17T10:00"),
    ],
)
def test_soft_schedule_counts_from_first_failure(failures, expected):
    history = soft_history(*[NOW + timedelta(days=day) for day in (0, 1, 3, 5)][:failures])
    decision = decide(Classification(SOFT, "x"), history, history[-1].at)
    assert (decision.action, decision.at) == (RETRY, paris(expected))


def test_insufficient_funds_schedule():
    history = soft_history(NOW, category=FUNDS)
    assert decide(Classification(FUNDS, "x"), history, NOW).at == paris("2025-06-12T10:00")
    history = soft_history(NOW, NOW + timedelta(days=2), category=FUNDS)
    assert decide(Classification(FUNDS, "x"), history, history[-1].at).at == paris(
        "2025-06-15T10:00"
    )


def test_schedule_exhausted():
    history = soft_history(*[NOW + timedelta(days=day) for day in (0, 1, 3, 5, 7)])
    decision = decide(Classification(SOFT, "x"), history, history[-1].at)
    assert (decision.action, decision.at, decision.reason) == (
        EXHAUSTED,
        None,
        "schedule_exhausted",
    )


def test_empty_schedule_never_retries():
    policy = RetryPolicy({SOFT: RetrySchedule(()), FUNDS: RetrySchedule((1,))})
    decision = decide(Classification(SOFT, "x"), soft_history(NOW), NOW, policy)
    assert decision.action is EXHAUSTED


def test_technical_failures_do_not_use_schedule_days():
    history = [attempt(NOW, SOFT), attempt(NOW + timedelta(hours=1), TECH)]
    history.append(attempt(NOW + timedelta(hours=2), SOFT))
    decision = decide(Classification(SOFT, "x"), history, history[-1].at)
    assert decision.at == paris("2025-06-13T10:00")


def test_schedule_keeps_local_hour_across_spring_dst():
    """The last Sunday of March 2025 (30 March) moves Paris from UTC+1 to UTC+2."""
    first = paris("2025-03-28T15:00")
    assert decide(Classification(SOFT, "x"), soft_history(first), first).at == paris(
        "2025-03-29T10:00"
    )
    history = soft_history(first, paris("2025-03-29T10:00"))
    decision = decide(Classification(SOFT, "x"), history, history[-1].at)
    assert decision.at == paris("2025-03-31T10:00")
    assert decision.at.astimezone(UTC).hour == 8
    assert history[-1].at.astimezone(UTC).hour == 9


def test_schedule_keeps_local_hour_across_autumn_dst():
    """The last Sunday of October 2025 (26 October) moves Paris back to UTC+1."""
    first = paris("2025-10-24T09:00")
    history = soft_history(first, paris("2025-10-25T10:00"))
    decision = decide(Classification(SOFT, "x"), history, history[-1].at)
    assert decision.at == paris("2025-10-27T10:00")
    assert decision.at.astimezone(UTC).hour == 9


def test_retry_at_is_in_the_time_zone_of_now():
    now = NOW.astimezone(UTC)
    decision = decide(Classification(SOFT, "x"), soft_history(now), now)
    assert decision.at.tzinfo is UTC
    assert decision.at == paris("2025-06-11T10:00")


def test_schedule_hour_and_days_zero():
    policy = RetryPolicy({SOFT: RetrySchedule((0, 2), hour=18), FUNDS: RetrySchedule((1,))})
    decision = decide(Classification(SOFT, "x"), soft_history(NOW), NOW, policy)
    assert decision.at == paris("2025-06-10T18:00")


def test_past_slot_moves_to_next_slot_after_now():
    late = paris("2025-06-14T12:00")  # the second failure, long after its planned day
    history = soft_history(NOW, late)
    decision = decide(Classification(SOFT, "x"), history, late)
    assert (decision.action, decision.at) == (RETRY, paris("2025-06-15T10:00"))


def test_past_slot_after_last_day_is_exhausted():
    late = paris("2025-06-17T11:00")
    decision = decide(Classification(SOFT, "x"), soft_history(NOW, late), late)
    assert (decision.action, decision.reason) == (EXHAUSTED, "schedule_exhausted")


def test_min_wait_pushes_retry_to_a_slot():
    decision = decide(
        Classification(SOFT, "mac.27", min_wait=timedelta(days=4)), soft_history(NOW), NOW
    )
    assert (decision.action, decision.at, decision.reason) == (
        RETRY,
        paris("2025-06-14T10:00"),
        "network_wait",
    )


def test_short_min_wait_leaves_schedule():
    decision = decide(
        Classification(SOFT, "mac.24", min_wait=timedelta(hours=1)), soft_history(NOW), NOW
    )
    assert (decision.at, decision.reason) == (paris("2025-06-11T10:00"), "schedule")


def test_min_wait_beyond_schedule_is_exhausted():
    classification = Classification(SOFT, "mac.30", min_wait=timedelta(days=10))
    decision = decide(classification, soft_history(NOW), NOW)
    assert (decision.action, decision.reason) == (EXHAUSTED, "network_wait")


def test_missing_current_failure_counts_as_first():
    decision = decide(Classification(SOFT, "x"), [], NOW)
    assert decision.at == paris("2025-06-11T10:00")


# === next_retry: card cap (C-5) === #


def other_attempts(count, start, step=timedelta(hours=1), category=SOFT):
    return [
        attempt(start + index * step, category, invoice=f"inv:{index + 2}")
        for index in range(count)
    ]


def test_card_cap_allows_the_fifteenth_attempt():
    others = other_attempts(13, paris("2025-05-14T12:00"))
    decision = decide(Classification(SOFT, "x"), soft_history(NOW), NOW, others=others)
    assert (decision.at, decision.reason) == (paris("2025-06-11T10:00"), "schedule")


def test_card_cap_pushes_the_sixteenth_attempt():
    """C-5: with 15 counted attempts on the card in 30 days, the 16th waits for a free place."""
    others = other_attempts(14, paris("2025-05-14T12:00"))
    decision = decide(Classification(SOFT, "x"), soft_history(NOW), NOW, others=others)
    # the oldest attempt leaves the 30-day window on 13 June at 12:00
    assert (decision.action, decision.at, decision.reason) == (
        RETRY,
        paris("2025-06-14T10:00"),
        "card_cap",
    )


def test_card_cap_counts_successes_and_pending():
    others = other_attempts(14, paris("2025-05-14T12:00"), category=None)
    decision = decide(Classification(SOFT, "x"), soft_history(NOW), NOW, others=others)
    assert decision.reason == "card_cap"


def test_card_cap_ignores_technical_failures():
    others = other_attempts(13, paris("2025-05-14T12:00"))
    others += other_attempts(10, paris("2025-06-01T12:00"), category=TECH)
    decision = decide(Classification(SOFT, "x"), soft_history(NOW), NOW, others=others)
    assert decision.reason == "schedule"


def test_card_cap_counts_at_the_retry_moment():
    # 15 counted attempts now, but the oldest leaves the window before tomorrow 10:00
    others = other_attempts(14, paris("2025-05-11T12:00"))
    decision = decide(Classification(SOFT, "x"), soft_history(NOW), NOW, others=others)
    assert (decision.at, decision.reason) == (paris("2025-06-11T10:00"), "schedule")


def test_card_cap_ignores_attempts_outside_the_window():
    others = other_attempts(14, paris("2025-05-11T10:00"), step=timedelta(minutes=1))
    decision = decide(Classification(SOFT, "x"), soft_history(NOW), NOW, others=others)
    assert decision.reason == "schedule"


def test_card_cap_beyond_schedule_is_exhausted():
    """C-5: a retry the card cap pushes past the schedule's last day is not made."""
    others = other_attempts(14, paris("2025-06-01T12:00"))
    decision = decide(Classification(SOFT, "x"), soft_history(NOW), NOW, others=others)
    assert (decision.action, decision.at, decision.reason) == (EXHAUSTED, None, "card_cap")


def test_card_cap_is_configurable():
    policy = RetryPolicy(card_cap=20)
    others = other_attempts(14, paris("2025-06-01T12:00"))
    decision = decide(Classification(SOFT, "x"), soft_history(NOW), NOW, policy, others=others)
    assert decision.reason == "schedule"


def test_card_cap_applies_to_technical_retries():
    others = other_attempts(14, paris("2025-05-14T12:00"))
    history = [attempt(NOW - timedelta(minutes=5), SOFT), attempt(NOW, TECH)]
    decision = decide(Classification(TECH, "timeout"), history, NOW, others=others)
    assert (decision.action, decision.at, decision.reason) == (
        RETRY,
        paris("2025-06-13T12:00"),
        "card_cap",
    )


# === next_retry: technical backoff (C-7) === #


@pytest.mark.parametrize(
    ("streak", "minutes"), [(1, 15), (2, 30), (3, 60), (4, 120), (5, 240), (6, 480), (7, 960)]
)
def test_technical_backoff_grows(streak, minutes):
    history = [attempt(NOW, TECH)] * streak
    decision = decide(Classification(TECH, "timeout"), history, NOW)
    assert (decision.action, decision.at, decision.reason) == (
        RETRY,
        NOW + timedelta(minutes=minutes),
        "technical_backoff",
    )


def test_technical_backoff_is_capped():
    policy = RetryPolicy(technical=TechnicalBackoff(max_attempts=20))
    for streak in (8, 12, 19):
        decision = decide(
            Classification(TECH, "timeout"), [attempt(NOW, TECH)] * streak, NOW, policy
        )
        assert decision.at == NOW + timedelta(hours=24)


def test_technical_backoff_factor():
    policy = RetryPolicy(technical=TechnicalBackoff(first_minutes=10, factor=1.5))
    decision = decide(Classification(TECH, "timeout"), [attempt(NOW, TECH)] * 3, NOW, policy)
    assert decision.at == NOW + timedelta(minutes=22, seconds=30)


def test_technical_exhausted():
    """C-7: technical retries end as exhausted (past due), never as a decline."""
    decision = decide(Classification(TECH, "timeout"), [attempt(NOW, TECH)] * 8, NOW)
    assert (decision.action, decision.at, decision.reason) == (
        EXHAUSTED,
        None,
        "technical_exhausted",
    )


def test_technical_streak_counts_only_the_trailing_run():
    history = [attempt(NOW, category) for category in (TECH, TECH, TECH, SOFT, TECH, TECH)]
    decision = decide(Classification(TECH, "timeout"), history, NOW)
    assert decision.at == NOW + timedelta(minutes=30)


def test_technical_never_stops_even_if_flagged_never_again():
    decision = decide(Classification(TECH, "x", never_again=True), [attempt(NOW, TECH)], NOW)
    assert decision.action is RETRY


def test_technical_min_wait():
    classification = Classification(TECH, "x", min_wait=timedelta(hours=2))
    decision = decide(classification, [attempt(NOW, TECH)], NOW)
    assert (decision.at, decision.reason) == (NOW + timedelta(hours=2), "network_wait")


def test_technical_backoff_is_elapsed_time_across_dst():
    now = paris("2025-03-30T01:50")  # 02:00-03:00 does not exist that night
    decision = decide(Classification(TECH, "timeout"), [attempt(now, TECH)], now)
    assert decision.at.astimezone(UTC) == now.astimezone(UTC) + timedelta(minutes=15)
    assert decision.at.replace(tzinfo=None) == datetime(2025, 3, 30, 3, 5)


# === validation === #


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (lambda: RetrySchedule((-1, 2)), RetryErrorCode.DAY_NEGATIVE),
        (lambda: RetrySchedule((1, 1)), RetryErrorCode.DAYS_NOT_INCREASING),
        (lambda: RetrySchedule((3, 2)), RetryErrorCode.DAYS_NOT_INCREASING),
        (lambda: RetrySchedule((1,), hour=24), RetryErrorCode.HOUR_OUT_OF_RANGE),
        (lambda: RetrySchedule((1,), hour=-1), RetryErrorCode.HOUR_OUT_OF_RANGE),
        (lambda: RetryPolicy(card_cap=0), RetryErrorCode.CARD_CAP_NOT_POSITIVE),
        (lambda: RetryPolicy(cap_window_days=0), RetryErrorCode.CAP_WINDOW_NOT_POSITIVE),
        (lambda: RetryPolicy({SOFT: RetrySchedule((1,))}), RetryErrorCode.SCHEDULE_MISSING),
        (
            lambda: RetryPolicy(
                {SOFT: RetrySchedule((1,)), FUNDS: RetrySchedule((1,)), HARD: RetrySchedule((1,))}
            ),
            RetryErrorCode.SCHEDULE_NOT_ALLOWED,
        ),
        (lambda: TechnicalBackoff(first_minutes=0), RetryErrorCode.BACKOFF_MINUTES_INVALID),
        (
            lambda: TechnicalBackoff(first_minutes=60, max_minutes=30),
            RetryErrorCode.BACKOFF_MINUTES_INVALID,
        ),
        (lambda: TechnicalBackoff(factor=0.5), RetryErrorCode.BACKOFF_FACTOR_BELOW_ONE),
        (lambda: TechnicalBackoff(factor=float("nan")), RetryErrorCode.BACKOFF_FACTOR_BELOW_ONE),
        (lambda: TechnicalBackoff(max_attempts=0), RetryErrorCode.BACKOFF_ATTEMPTS_NOT_POSITIVE),
        (
            lambda: Classification(SOFT, "x", min_wait=timedelta(-1)),
            RetryErrorCode.MIN_WAIT_NEGATIVE,
        ),
        (lambda: attempt(datetime(2025, 1, 1), SOFT), RetryErrorCode.NAIVE_DATETIME),
        (
            lambda: decide(Classification(SOFT, "x"), [], datetime(2025, 1, 1)),
            RetryErrorCode.NAIVE_DATETIME,
        ),
        (lambda: idempotency_key("", 1, 1), RetryErrorCode.KEY_PART_INVALID),
        (lambda: idempotency_key("db", -1, 1), RetryErrorCode.KEY_PART_INVALID),
        (lambda: idempotency_key("db", 1, -1), RetryErrorCode.KEY_PART_INVALID),
    ],
)
def test_validation_errors(build, code):
    with pytest.raises(RetryError) as info:
        build()
    assert info.value.code is code
    assert info.value.params


@pytest.mark.parametrize(
    "build",
    [
        lambda: RetrySchedule((1.5,)),
        lambda: RetrySchedule((1,), hour=True),
        lambda: RetryPolicy(card_cap="15"),
        lambda: RetryPolicy({SOFT: (1, 2), FUNDS: RetrySchedule((1,))}),
        lambda: TechnicalBackoff(factor="2"),
        lambda: idempotency_key("db", "1", 1),
        lambda: next_retry(
            DEFAULT_POLICY,
            Classification(SOFT, "x"),
            invoice_attempts=[],
            card_attempts=[],
            now=NOW,
            tz="Europe/Paris",
        ),
    ],
)
def test_type_errors(build):
    with pytest.raises(TypeError):
        build()


def test_retry_error_pickles_and_prints():
    error = RetryError(RetryErrorCode.HOUR_OUT_OF_RANGE, hour=24)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.params) == (error.code, error.params)
    assert str(error) == "hour_out_of_range(hour=24)"


def test_policy_accepts_category_values_and_is_immutable():
    policy = RetryPolicy({"soft": RetrySchedule((1,)), "insufficient_funds": RetrySchedule((2,))})
    assert set(policy.schedules) == {SOFT, FUNDS}
    with pytest.raises(TypeError):
        policy.schedules[SOFT] = RetrySchedule((3,))
    assert hash(policy) == hash(RetryPolicy(dict(policy.schedules)))


def test_default_policy():
    assert DEFAULT_POLICY.schedules[SOFT] == RetrySchedule((1, 3, 5, 7), hour=10)
    assert DEFAULT_POLICY.schedules[FUNDS] == RetrySchedule((2, 5, 9, 14), hour=10)
    assert (DEFAULT_POLICY.card_cap, DEFAULT_POLICY.cap_window_days) == (15, 30)
    assert DEFAULT_POLICY.technical == TechnicalBackoff(15, 2.0, 1440, 8)


# === idempotency keys (C-2) === #


def test_idempotency_key_value():
    """C-2: the key is "rp-" and 48 hex digits of sha256("<db>:<invoice>:<attempt>")."""
    expected = "rp-" + hashlib.sha256(b"5f1e-db:42:3").hexdigest()[:48]
    assert idempotency_key("5f1e-db", 42, 3) == expected
    assert len(expected) == 51


@settings(max_examples=300, deadline=None)
@given(
    first=st.tuples(
        st.text(min_size=1).filter(str.strip), st.integers(0, 10**9), st.integers(0, 999)
    ),
    second=st.tuples(
        st.text(min_size=1).filter(str.strip), st.integers(0, 10**9), st.integers(0, 999)
    ),
)
def test_idempotency_key_is_a_pure_function_of_its_inputs(first, second):
    """C-2: the key depends on (database, invoice, attempt number) only, and on each of them."""
    key = idempotency_key(*first)
    assert key == idempotency_key(*first)
    assert key.startswith("rp-") and len(key) <= 255
    assert (idempotency_key(*second) == key) == (first == second)
    database, invoice, number = first
    assert idempotency_key(database + "x", invoice, number) != key
    assert idempotency_key(database, invoice + 1, number) != key
    assert idempotency_key(database, invoice, number + 1) != key


def test_idempotency_key_joined_text_is_unambiguous():
    """C-2: ("a:1", 2, 3) and ("a", 12, 3) or ("a:1:2", 3, 0) give different keys."""
    keys = {
        idempotency_key("a:1", 2, 3),
        idempotency_key("a", 12, 3),
        idempotency_key("a:1:2", 3, 0),
        idempotency_key("a", 1, 23),
    }
    assert len(keys) == 4


# === properties === #

ZONES = [
    PARIS,
    ZoneInfo("America/New_York"),
    ZoneInfo("Australia/Lord_Howe"),
    ZoneInfo("Asia/Kolkata"),
    UTC,
]
BASE = datetime(2025, 1, 1, tzinfo=UTC)

moments = st.builds(
    lambda minutes, zone: (BASE + timedelta(minutes=minutes)).astimezone(zone),
    st.integers(0, 2 * 366 * 24 * 60),
    st.sampled_from(ZONES),
)
categories = st.sampled_from([*FailureCategory, None])
waits = st.sampled_from([None, *MAC_WAITS.values()])


@st.composite
def schedules(draw):
    days = draw(st.lists(st.integers(0, 40), max_size=8, unique=True))
    return RetrySchedule(tuple(sorted(days)), hour=draw(st.integers(0, 23)))


@st.composite
def policies(draw):
    return RetryPolicy(
        {SOFT: draw(schedules()), FUNDS: draw(schedules())},
        card_cap=draw(st.integers(1, 20)),
        cap_window_days=draw(st.sampled_from([1, 7, 30, 31])),
        technical=TechnicalBackoff(
            first_minutes=draw(st.integers(1, 120)),
            factor=draw(st.floats(1, 4)),
            max_minutes=draw(st.integers(120, 3 * 24 * 60)),
            max_attempts=draw(st.integers(1, 10)),
        ),
    )


@st.composite
def histories(draw, now):
    """Return (invoice attempts, card attempts) made before ``now``, the last one at ``now``."""
    span = draw(st.sampled_from([60, 24 * 60, 7 * 24 * 60, 60 * 24 * 60]))  # minutes
    offsets = sorted(draw(st.lists(st.integers(1, span), max_size=30)), reverse=True)
    card = []
    invoice = []
    for offset in offsets:
        mine = draw(st.booleans())
        item = attempt(
            now - timedelta(minutes=offset), draw(categories), "inv:1" if mine else "inv:2"
        )
        card.append(item)
        if mine:
            invoice.append(item)
    last = attempt(now, draw(categories))
    return [*invoice, last], [*card, last]


def sometimes(strategy):
    """Return ``strategy`` or ``None``, ``None`` three times out of four."""
    return st.one_of(st.none(), st.none(), st.none(), strategy)


declines = st.builds(
    Decline,
    provider=st.sampled_from(["stripe", "demo", "adyen"]),
    code=st.one_of(
        st.none(),
        st.sampled_from(sorted({*STRIPE_DECLINE_CATEGORIES, *DEMO_STATES})),
        st.sampled_from(sorted({*STRIPE_DECLINE_CATEGORIES, *DEMO_STATES})),
        st.text(max_size=20),
    ),
    advice_code=sometimes(st.sampled_from(sorted(STRIPE_ADVICE_CATEGORIES))),
    network_advice_code=sometimes(st.sampled_from([*MASTERCARD_ADVICE, "99"])),
    network_decline_code=sometimes(st.sampled_from(["05", "14", "41", "51", "R0"])),
    card_network=st.sampled_from([None, "visa", "mastercard"]),
    message=st.one_of(st.none(), st.text(max_size=40)),
    timeout=st.sampled_from([False, False, False, True]),
)


def check_decision(decision, now):
    if decision.action is RETRY:
        assert decision.at is not None and decision.at.utcoffset() is not None
        assert decision.at.tzinfo is now.tzinfo
        # compared in UTC: two datetimes of one ZoneInfo compare by wall clock
        assert decision.at.astimezone(UTC) > now.astimezone(UTC)
    else:
        assert decision.at is None


@settings(max_examples=300, deadline=None)
@given(data=st.data(), decline=declines, policy=policies(), now=moments, tz=st.sampled_from(ZONES))
def test_hard_declines_are_never_retried(data, decline, policy, now, tz):
    """C-4: a hard decline or a network "never again" stops at once, whatever the history."""
    classification = classify(decline)
    if classification.never_again:
        assert classification.category is HARD
    invoice_attempts, card_attempts = data.draw(histories(now))
    first_failure = [attempt(now, classification.category)]
    for policy_, invoice_, card_ in (
        (policy, invoice_attempts, card_attempts),
        (DEFAULT_POLICY, first_failure, first_failure),
    ):
        decision = next_retry(
            policy_, classification, invoice_attempts=invoice_, card_attempts=card_, now=now, tz=tz
        )
        check_decision(decision, now)
        if classification.category is HARD or classification.never_again:
            assert decision.action is STOP
        if decision.action is STOP:
            assert classification.category is HARD or classification.never_again


@settings(max_examples=200, deadline=None)
@given(data=st.data(), policy=policies(), now=moments, tz=st.sampled_from(ZONES), wait=waits)
def test_authentication_required_is_never_retried(data, policy, now, tz, wait):
    """C-6: "authentication required" waits for the customer; it is never retried automatically."""
    invoice_attempts, card_attempts = data.draw(histories(now))
    for classification in (
        Classification(AUTH, "x", min_wait=wait),
        classify(Decline("stripe", "authentication_required")),
        classify(Decline("demo", "error", message="demo_authentication_required")),
    ):
        decision = next_retry(
            policy,
            classification,
            invoice_attempts=invoice_attempts,
            card_attempts=card_attempts,
            now=now,
            tz=tz,
        )
        assert (decision.action, decision.reason) == (WAIT, "authentication_required")


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    decline=declines,
    policy=policies(),
    now=moments,
    tz=st.sampled_from(ZONES),
    wait=waits,
    never_again=st.booleans(),
)
def test_technical_failures_never_stop_nor_wait_for_the_customer(
    data, decline, policy, now, tz, wait, never_again
):
    """C-7: a timeout is always TECHNICAL, and a TECHNICAL failure is retried or exhausted, never
    turned into a stop or a request to the customer (no "card declined" message)."""
    timed_out = classify(Decline(**{**decline.__dict__, "timeout": True}))
    assert timed_out.category is TECH and not timed_out.never_again
    invoice_attempts, card_attempts = data.draw(histories(now))
    for classification in (
        timed_out,
        Classification(TECH, "x", min_wait=wait, never_again=never_again),
    ):
        decision = next_retry(
            policy,
            classification,
            invoice_attempts=invoice_attempts,
            card_attempts=card_attempts,
            now=now,
            tz=tz,
        )
        check_decision(decision, now)
        assert decision.action in (RETRY, EXHAUSTED)


@settings(max_examples=400, deadline=None)
@given(
    data=st.data(),
    policy=policies(),
    now=moments,
    tz=st.sampled_from(ZONES),
    outcomes=st.lists(
        st.tuples(st.sampled_from([SOFT, FUNDS, TECH, TECH, None]), waits), min_size=1, max_size=40
    ),
)
def test_card_cap_holds_over_any_run(data, policy, now, tz, outcomes):
    """C-5: deciding, then attempting at the decided moment, over and over, never puts more than
    card_cap counted (non-technical) attempts on the card in any window of cap_window_days, and
    business retries happen at the schedule's local hour, no later than its last day."""
    invoice_attempts, card_attempts = data.draw(histories(now))
    category, wait = outcomes[0][0] or SOFT, outcomes[0][1]
    invoice_attempts[-1] = card_attempts[-1] = attempt(now, category)
    window = timedelta(days=policy.cap_window_days)
    scheduled = []
    for next_category, next_wait in outcomes[1:]:
        classification = Classification(category, "x", min_wait=wait)
        decision = next_retry(
            policy,
            classification,
            invoice_attempts=invoice_attempts,
            card_attempts=card_attempts,
            now=now,
            tz=tz,
        )
        check_decision(decision, now)
        if decision.action is not RETRY:
            assert decision.action is EXHAUSTED
            break
        if wait is not None:
            assert decision.at.astimezone(UTC) >= now.astimezone(UTC) + wait
        if category is not TECH:
            schedule = policy.schedules[category]
            local = decision.at.astimezone(tz)
            first_failure = next(a for a in invoice_attempts if a.category is not None)
            last_day = first_failure.at.astimezone(tz).date() + timedelta(days=schedule.days[-1])
            assert local.date() <= last_day
            assert local.hour in (schedule.hour, schedule.hour + 1)  # +1: a DST gap
        now = decision.at
        new = attempt(now, next_category)
        invoice_attempts.append(new)
        card_attempts.append(new)
        if next_category is not TECH:
            scheduled.append(now.astimezone(UTC))
        if next_category is None:
            break
        category, wait = next_category, next_wait
    counted = [a.at.astimezone(UTC) for a in card_attempts if a.category is not TECH]
    for end in scheduled:
        assert sum(1 for moment in counted if end - window < moment <= end) <= policy.card_cap


# === CUSTOMER NOTICES === #

_NOW = datetime(2025, 1, 1, 8, tzinfo=timezone.utc)


def _failed(category):
    return Attempt(at=_NOW, payment_method="token:1", category=category, invoice="invoice:1")


@pytest.mark.parametrize(
    ("category", "decision", "history", "expected"),
    [
        (FailureCategory.SOFT, RetryAction.RETRY, [FailureCategory.SOFT], CustomerNotice.RETRY),
        (
            FailureCategory.SOFT,
            RetryAction.RETRY,
            [FailureCategory.SOFT, FailureCategory.SOFT],
            None,
        ),
        (
            FailureCategory.INSUFFICIENT_FUNDS,
            RetryAction.RETRY,
            [FailureCategory.TECHNICAL, FailureCategory.INSUFFICIENT_FUNDS],
            CustomerNotice.RETRY,
        ),
        (FailureCategory.TECHNICAL, RetryAction.RETRY, [FailureCategory.TECHNICAL], None),
        (
            FailureCategory.TECHNICAL,
            RetryAction.EXHAUSTED,
            [FailureCategory.TECHNICAL],
            CustomerNotice.EXHAUSTED,
        ),
        (
            FailureCategory.SOFT,
            RetryAction.EXHAUSTED,
            [FailureCategory.SOFT],
            CustomerNotice.EXHAUSTED,
        ),
        (FailureCategory.HARD, RetryAction.STOP, [FailureCategory.HARD], CustomerNotice.NEW_METHOD),
        (
            FailureCategory.NEW_PAYMENT_METHOD,
            RetryAction.WAIT_CUSTOMER,
            [FailureCategory.NEW_PAYMENT_METHOD],
            CustomerNotice.NEW_METHOD,
        ),
        (
            FailureCategory.AUTHENTICATION_REQUIRED,
            RetryAction.WAIT_CUSTOMER,
            [FailureCategory.AUTHENTICATION_REQUIRED],
            CustomerNotice.AUTHENTICATION,
        ),
    ],
)
def test_customer_notice(category, decision, history, expected):
    """C-6, C-7: the customer is told once per situation, never of a technical failure."""
    notice = customer_notice(
        Classification(category, "test"),
        RetryDecision(decision, None, "test"),
        [_failed(item) for item in history],
    )
    assert notice == expected


@pytest.mark.parametrize(
    ("today", "last", "expected"),
    [
        (datetime(2025, 1, 1).date(), None, 30),  # 30 days left
        (datetime(2024, 12, 31).date(), None, None),  # 31 days left: too early
        (datetime(2025, 1, 1).date(), 30, None),  # already warned at 30
        (datetime(2025, 1, 24).date(), 30, 7),  # 7 days left
        (datetime(2025, 1, 28).date(), None, 7),  # late start: only the shortest period
        (datetime(2025, 1, 28).date(), 7, None),
        (datetime(2025, 2, 1).date(), None, None),  # expired
    ],
)
def test_card_expiry_notice(today, last, expected):
    """Each notice period before a card's expiry (31 January) is warned of once."""
    expires_on = datetime(2025, 1, 31).date()
    assert card_expiry_notice(expires_on, today, [30, 7], last) == expected


@pytest.mark.parametrize(
    ("today", "notice_days", "notified_for", "expected"),
    [
        (date(2025, 6, 23), 7, None, False),  # before the notice period
        (date(2025, 6, 24), 7, None, True),  # the notice day
        (date(2025, 6, 29), 7, None, True),  # later, still before the charge
        (date(2025, 7, 1), 7, None, False),  # the charge day itself
        (date(2025, 6, 26), 7, date(2025, 7, 1), False),  # told already for this charge
        (date(2025, 6, 26), 7, date(2025, 6, 1), True),  # told for the previous one
        (date(2025, 6, 26), 0, None, False),  # no notice on this plan
    ],
)
def test_upcoming_charge_notice_due(today, notice_days, notified_for, expected):
    assert (
        upcoming_charge_notice_due(date(2025, 7, 1), today, notice_days, notified_for) is expected
    )
