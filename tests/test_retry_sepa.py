"""The retry rules of SEPA collections returned by the bank (S-10)."""

from datetime import timedelta

import pytest

from recurring_payments_core.retry import (
    DEFAULT_POLICY,
    SEPA_ACTION_CATEGORIES,
    Classification,
    Decline,
    FailureCategory,
    RetryAction,
    classify,
    next_retry,
)
from recurring_payments_core.sepa.returns import REASON_ACTIONS, ReasonAction
from test_retry import NOW, PARIS, attempt

HARD = FailureCategory.HARD
NEW_PM = FailureCategory.NEW_PAYMENT_METHOD
FUNDS = FailureCategory.INSUFFICIENT_FUNDS
SOFT = FailureCategory.SOFT


def sepa(code):
    return classify(Decline(provider="sepa", code=code))


def decide(classification, history, now):
    return next_retry(
        DEFAULT_POLICY,
        classification,
        invoice_attempts=history,
        card_attempts=history,
        now=now,
        tz=PARIS,
    )


@pytest.mark.parametrize(
    ("code", "category"),
    [
        ("AM04", FUNDS),
        ("MS03", SOFT),
        ("AC01", NEW_PM),
        ("AC04", NEW_PM),
        ("AC06", NEW_PM),
        ("MD01", NEW_PM),
        ("MD07", NEW_PM),
        ("SL01", NEW_PM),
        ("MD02", NEW_PM),
        ("MD06", HARD),
        ("MS02", HARD),
        ("AG01", HARD),
        ("RR01", HARD),
        ("RR04", HARD),
        ("AM05", HARD),
        ("BE05", HARD),
    ],
)
def test_reason_codes(code, category):
    classification = sepa(code)
    assert (classification.category, classification.reason) == (category, f"sepa.{code}")


def test_every_action_has_a_category():
    assert set(SEPA_ACTION_CATEGORIES) == set(ReasonAction)


@pytest.mark.parametrize("code", sorted(REASON_ACTIONS))
def test_each_listed_code_follows_its_action(code):
    assert sepa(code).category is SEPA_ACTION_CATEGORIES[REASON_ACTIONS[code]]


@pytest.mark.parametrize("code", ["am04", " AM04 ", "Am04"])
def test_reason_code_is_read_case_and_space_insensitively(code):
    assert sepa(code).reason == "sepa.AM04"


def test_unknown_code_never_retries():
    classification = sepa("ZZ99")
    assert classification.category is HARD
    decision = decide(classification, [attempt(NOW, HARD)], NOW)
    assert decision.action is RetryAction.STOP


def test_no_code_means_the_mandate_cannot_be_collected():
    classification = sepa(None)
    assert (classification.category, classification.reason) == (NEW_PM, "sepa.mandate_unusable")
    assert decide(classification, [attempt(NOW, NEW_PM)], NOW).action is RetryAction.WAIT_CUSTOMER


def test_refund_request_is_never_debited_again():
    classification = sepa("MD06")
    assert classification.never_again
    assert decide(classification, [attempt(NOW, HARD)], NOW).action is RetryAction.STOP


def test_insufficient_funds_is_retried_on_the_schedule():
    decision = decide(sepa("AM04"), [attempt(NOW, FUNDS)], NOW)
    assert decision.action is RetryAction.RETRY
    assert decision.at > NOW


def test_ms03_is_retried_once_then_exhausted():
    classification = sepa("MS03")
    assert classification.max_retries == 1
    first = decide(classification, [attempt(NOW, SOFT)], NOW)
    assert first.action is RetryAction.RETRY
    later = NOW + timedelta(days=3)
    second = decide(classification, [attempt(NOW, SOFT), attempt(later, SOFT)], later)
    assert (second.action, second.reason) == (RetryAction.EXHAUSTED, "retry_limit")


def test_max_retries_zero_never_retries():
    decision = decide(Classification(SOFT, "x", max_retries=0), [attempt(NOW, SOFT)], NOW)
    assert (decision.action, decision.reason) == (RetryAction.EXHAUSTED, "retry_limit")


@pytest.mark.parametrize("value", [-1, 1.5, "1", True])
def test_max_retries_must_be_a_non_negative_int(value):
    with pytest.raises(TypeError):
        Classification(SOFT, "x", max_retries=value)


def test_sepa_codes_are_not_read_for_other_providers():
    assert classify(Decline(provider="stripe", code="AM04")).reason.startswith("generic.")
