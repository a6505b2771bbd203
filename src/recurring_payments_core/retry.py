"""Payment failures: which kind of failure it is, and when (or whether) to try again.

Everything here is a pure function of its arguments: no clock, no environment, no
randomness. The caller passes ``now`` and the time zone explicitly, and turns the
codes of :class:`RetryError`, :class:`Classification` and :class:`RetryDecision` into
messages.

Two steps, as in Kill Bill, keep *business* retries (declines, spread over days on a
schedule) apart from *technical* retries (the provider did not answer: exponential
backoff in minutes):

1. :func:`classify` turns what the provider said (:class:`Decline`) into a
   :class:`FailureCategory`, with the stable code of the rule that decided it. The
   precedence is: provider timeout, then the card network's advice (Mastercard Merchant
   Advice Codes, Visa category-1 response codes), then Stripe's ``advice_code``, then
   the provider's decline code tables, then a keyword fallback on the code and message.
2. :func:`next_retry` turns a classification, the invoice's attempts and the card's
   attempts into a :class:`RetryDecision`: retry at a given moment, wait for the
   customer, stop, or give up because the schedule or the card's caps are used up.

Attempts are counted per card (payment token) over a sliding window for the networks'
caps (Visa allows 15 reattempts per card in 30 days; keep it configurable): every
attempt sent to the network counts, whatever its outcome, except the ones that failed
for a technical reason (the network never answered them).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from enum import Enum
from types import MappingProxyType

from .errors import CoreError
from .sepa.returns import ReasonAction, action_for

__all__ = [
    "CustomerNotice",
    "card_expiry_notice",
    "customer_notice",
    "upcoming_charge_notice_due",
    "DEFAULT_POLICY",
    "DEFAULT_SCHEDULES",
    "DEMO_STATES",
    "GENERIC_KEYWORDS",
    "MASTERCARD_ADVICE",
    "STRIPE_ADVICE_CATEGORIES",
    "STRIPE_CODE_WAITS",
    "STRIPE_DECLINE_CATEGORIES",
    "VISA_CATEGORY_1_CODES",
    "AdviceRule",
    "Attempt",
    "Classification",
    "Decline",
    "FailureCategory",
    "RetryAction",
    "RetryDecision",
    "RetryError",
    "RetryErrorCode",
    "RetryPolicy",
    "RetrySchedule",
    "TechnicalBackoff",
    "classify",
    "idempotency_key",
    "next_retry",
]

_UTC = timezone.utc


class FailureCategory(str, Enum):
    """What kind of failure a payment attempt met, which decides what happens next."""

    #: never retry this card; ask for a new payment method.
    HARD = "hard"
    #: expired card, wrong card data: no blind retry, the customer must update the card.
    NEW_PAYMENT_METHOD = "new_payment_method"
    #: retried on its own schedule (funds may come back, e.g. on pay day).
    INSUFFICIENT_FUNDS = "insufficient_funds"
    #: the issuer wants the customer present (3-D Secure): never retried automatically.
    AUTHENTICATION_REQUIRED = "authentication_required"
    #: the issuer declined for now: retried on schedule within the networks' caps.
    SOFT = "soft"
    #: gateway, network, timeout, rate limit on our side or the provider's: exponential
    #: backoff; never reported to the customer as a declined card.
    TECHNICAL = "technical"


class RetryAction(str, Enum):
    """What to do after a failed attempt."""

    #: try again at :attr:`RetryDecision.at`.
    RETRY = "retry"
    #: stop automatic retries; the customer must act (new payment method, authentication).
    WAIT_CUSTOMER = "wait_customer"
    #: hard stop: this card must not be charged again for this invoice.
    STOP = "stop"
    #: the schedule or the caps are used up: the subscription becomes past due.
    EXHAUSTED = "exhausted"


class RetryErrorCode(str, Enum):
    """Reasons why retry input is refused; the caller maps them to messages."""

    DAY_NEGATIVE = "day_negative"
    DAYS_NOT_INCREASING = "days_not_increasing"
    HOUR_OUT_OF_RANGE = "hour_out_of_range"
    CARD_CAP_NOT_POSITIVE = "card_cap_not_positive"
    CAP_WINDOW_NOT_POSITIVE = "cap_window_not_positive"
    #: ``first_minutes < 1`` or ``max_minutes < first_minutes``.
    BACKOFF_MINUTES_INVALID = "backoff_minutes_invalid"
    BACKOFF_FACTOR_BELOW_ONE = "backoff_factor_below_one"
    BACKOFF_ATTEMPTS_NOT_POSITIVE = "backoff_attempts_not_positive"
    #: a policy lacks the schedule of SOFT or INSUFFICIENT_FUNDS.
    SCHEDULE_MISSING = "schedule_missing"
    #: a policy gives a schedule to a category that is never scheduled.
    SCHEDULE_NOT_ALLOWED = "schedule_not_allowed"
    MIN_WAIT_NEGATIVE = "min_wait_negative"
    NAIVE_DATETIME = "naive_datetime"
    #: an empty database identifier, or a negative invoice id or attempt number.
    KEY_PART_INVALID = "key_part_invalid"


class RetryError(CoreError):
    """Invalid retry input.

    :ivar code: the :class:`RetryErrorCode` saying what is wrong.
    :ivar params: the offending values, by name, for the caller's message.
    """

    codes = RetryErrorCode


@dataclass(frozen=True)
class AdviceRule:
    """What a network or provider advice code means, in the tables below.

    :param category: the failure category it implies. ``SOFT`` means "retry later": a
        finer retryable category found by the decline code (``INSUFFICIENT_FUNDS``) is
        then kept.
    :param never_again: the network says this card must never be retried.
    :param min_wait: the network imposes at least this wait before the next attempt.
    """

    category: FailureCategory
    never_again: bool = False
    min_wait: timedelta | None = None


# === TABLES (mappings, no logic) === #

_H = FailureCategory.HARD
_N = FailureCategory.NEW_PAYMENT_METHOD
_I = FailureCategory.INSUFFICIENT_FUNDS
_A = FailureCategory.AUTHENTICATION_REQUIRED
_S = FailureCategory.SOFT
_T = FailureCategory.TECHNICAL

#: Stripe decline codes (https://docs.stripe.com/declines/codes) and the Stripe error
#: codes that reach a charge (``error.code`` when there is no ``decline_code``).
#: Lost, stolen, closed, revoked or blocked cards and codes Visa puts in category 1 are
#: HARD; wrong or outdated card data and PIN requests (never fixable off-session) need
#: the customer; issuer "not now" answers are SOFT.
STRIPE_DECLINE_CATEGORIES: Mapping[str, FailureCategory] = MappingProxyType(
    {
        # decline codes
        "authentication_required": _A,
        "approve_with_id": _S,
        "call_issuer": _S,
        "card_not_supported": _H,
        "card_velocity_exceeded": _S,
        "currency_not_supported": _H,
        "do_not_honor": _S,
        "do_not_try_again": _H,
        "duplicate_transaction": _S,
        "expired_card": _N,
        "fraudulent": _H,
        "generic_decline": _S,
        "incorrect_number": _H,
        "incorrect_cvc": _N,
        "incorrect_pin": _N,
        "incorrect_zip": _N,
        "insufficient_funds": _I,
        "invalid_account": _H,
        "invalid_amount": _S,
        "invalid_cvc": _N,
        "invalid_expiry_month": _N,
        "invalid_expiry_year": _N,
        "invalid_number": _H,
        "invalid_pin": _N,
        "issuer_not_available": _S,
        "lost_card": _H,
        "merchant_blacklist": _H,
        "new_account_information_available": _N,
        "no_action_taken": _S,
        "not_permitted": _H,
        "offline_pin_required": _N,
        "online_or_offline_pin_required": _N,
        "pickup_card": _H,
        "pin_try_exceeded": _N,
        "processing_error": _S,
        "reenter_transaction": _S,
        "restricted_card": _H,
        "revocation_of_all_authorizations": _H,
        "revocation_of_authorization": _H,
        "security_violation": _H,
        "service_not_allowed": _H,
        "stolen_card": _H,
        "stop_payment_order": _H,
        "testmode_decline": _H,
        "transaction_not_allowed": _H,
        "try_again_later": _S,
        "withdrawal_count_limit_exceeded": _S,
        # error codes (``error.code``) without a decline code
        "card_declined": _S,
        "card_decline_rate_limit_exceeded": _S,
        "payment_intent_authentication_failure": _A,
        "rate_limit": _T,
        "api_connection_error": _T,
        "api_error": _T,
        "lock_timeout": _T,
    }
)

#: Waits Stripe imposes for some codes: a card declined too often in 24 hours is
#: refused by Stripe itself until the 24 hours are over.
STRIPE_CODE_WAITS: Mapping[str, timedelta] = MappingProxyType(
    {"card_decline_rate_limit_exceeded": timedelta(hours=24)}
)

#: Stripe ``advice_code`` values (https://docs.stripe.com/declines/card).
STRIPE_ADVICE_CATEGORIES: Mapping[str, AdviceRule] = MappingProxyType(
    {
        "try_again_later": AdviceRule(_S),
        "do_not_try_again": AdviceRule(_H, never_again=True),
        "confirm_card_data": AdviceRule(_N),
    }
)

#: Mastercard Merchant Advice Codes (Stripe's ``network_advice_code``): 01 new account
#: information, 02 try again later, 03 do not try again, 04 token requirements not
#: met, 21 payment cancelled by the cardholder (stop recurring), 24-30 retry after
#: 1 hour, 24 hours, 2, 4, 6, 8 and 10 days.
MASTERCARD_ADVICE: Mapping[str, AdviceRule] = MappingProxyType(
    {
        "01": AdviceRule(_N),
        "02": AdviceRule(_S),
        "03": AdviceRule(_H, never_again=True),
        "04": AdviceRule(_N),
        "21": AdviceRule(_H, never_again=True),
        "24": AdviceRule(_S, min_wait=timedelta(hours=1)),
        "25": AdviceRule(_S, min_wait=timedelta(hours=24)),
        "26": AdviceRule(_S, min_wait=timedelta(days=2)),
        "27": AdviceRule(_S, min_wait=timedelta(days=4)),
        "28": AdviceRule(_S, min_wait=timedelta(days=6)),
        "29": AdviceRule(_S, min_wait=timedelta(days=8)),
        "30": AdviceRule(_S, min_wait=timedelta(days=10)),
    }
)

#: Visa response codes of decline category 1 ("the issuer will never approve"), which
#: must never be reattempted: pick up card (04, 07), invalid transaction (12), invalid
#: account number (14), no such issuer (15), lost (41), stolen (43), closed account
#: (46), not permitted to cardholder (57), stop payment and revocations (R0, R1, R3).
#: Published lists differ slightly over the years; this is the common core.
VISA_CATEGORY_1_CODES: frozenset[str] = frozenset(
    {"04", "07", "12", "14", "15", "41", "43", "46", "57", "R0", "R1", "R3"}
)

#: Odoo's ``payment_demo`` states (``error``, ``cancel``) and the codes the addons put
#: in a demo transaction's state message to simulate every category in tests.
DEMO_STATES: Mapping[str, FailureCategory] = MappingProxyType(
    {
        "error": _S,
        "cancel": _H,
        "demo_soft": _S,
        "demo_insufficient_funds": _I,
        "demo_expired_card": _N,
        "demo_authentication_required": _A,
        "demo_hard": _H,
        "demo_technical": _T,
    }
)

#: Fallback for codes and messages no table knows, tried in this order on the
#: lowercased text with ``_`` and ``-`` read as spaces: (rule name, regular expression,
#: category). Clear technical phrases come first (a "connection lost" is no lost card),
#: then the customer-side reasons from the most to the least definitive.
GENERIC_KEYWORDS: tuple[tuple[str, str, FailureCategory], ...] = (
    ("timeout", r"\btime ?out\b|\btimed out\b", _T),
    ("connection", r"\bconnection\b|\bgateway\b|\bacquirer error\b|\bunreachable\b", _T),
    ("stolen", r"\bstolen\b", _H),
    ("lost", r"\blost\b", _H),
    ("fraud", r"fraud", _H),
    ("pickup", r"\bpick ?up\b", _H),
    ("closed", r"\bclosed\b|\bblocked\b|\brevo(?:ked|cation)\b|\brestricted\b", _H),
    ("do_not_try_again", r"\bdo not (?:try|retry)\b", _H),
    ("authentication", r"authenticat|\b3ds\b|\b3d ?secure\b|\bsca\b", _A),
    ("expired", r"\bexpire", _N),
    ("card_data", r"\bcvc\b|\bcvv2?\b|\bincorrect\b|\bpin\b", _N),
    ("insufficient", r"insufficient|\bnot enough\b|\bnsf\b|\bfunds\b", _I),
    ("network", r"\bnetwork\b", _T),
)

del _H, _N, _I, _A, _S, _T

_RETRYABLE = frozenset({FailureCategory.SOFT, FailureCategory.INSUFFICIENT_FUNDS})


# === CLASSIFICATION === #


@dataclass(frozen=True)
class Decline:
    """What a provider said about a failed payment attempt.

    :param provider: the provider code (``"stripe"``, ``"demo"``, any other).
    :param code: Stripe's ``decline_code`` (or its error ``code`` when there is none),
        the ``payment_demo`` state or demo code, or another provider's code.
    :param advice_code: Stripe's ``advice_code`` (``try_again_later``,
        ``do_not_try_again``, ``confirm_card_data``).
    :param network_advice_code: the Mastercard Merchant Advice Code (``"01"``...``"30"``).
    :param network_decline_code: the network's response code (Visa ``"41"``, ``"R0"``...).
    :param card_network: ``"visa"``, ``"mastercard"``...
    :param message: the provider's message: kept for the log, never shown as is.
    :param timeout: the provider did not answer (the attempt's outcome is unknown).
    """

    provider: str
    code: str | None = None
    advice_code: str | None = None
    network_advice_code: str | None = None
    network_decline_code: str | None = None
    card_network: str | None = None
    message: str | None = None
    timeout: bool = False


@dataclass(frozen=True)
class Classification:
    """The category of a failure and the rule that decided it.

    :param category: the :class:`FailureCategory`.
    :param reason: a stable code naming the deciding rule: ``"timeout"``,
        ``"mac.03"``, ``"visa.category_1.41"``, ``"advice.do_not_try_again"``,
        ``"stripe.decline.stolen_card"``, ``"demo.error"``, ``"generic.expired"``,
        ``"generic.fallback"``.
    :param min_wait: a wait imposed by the network before the next attempt.
    :param never_again: the network said this card must never be retried
        (Mastercard 03/21, advice ``do_not_try_again``, Visa category 1).
    :param max_retries: at most this many retries of the invoice after business
        failures, whatever the category's schedule (SEPA ``MS03``: one).
    :raises RetryError: ``MIN_WAIT_NEGATIVE`` when ``min_wait`` is negative.
    """

    category: FailureCategory
    reason: str
    min_wait: timedelta | None = None
    never_again: bool = False
    max_retries: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "category", FailureCategory(self.category))
        if self.min_wait is not None:
            if not isinstance(self.min_wait, timedelta):
                raise TypeError("min_wait must be a datetime.timedelta or None")
            if self.min_wait < timedelta(0):
                raise RetryError(RetryErrorCode.MIN_WAIT_NEGATIVE, min_wait=self.min_wait)
        if self.max_retries is not None and (
            isinstance(self.max_retries, bool)
            or not isinstance(self.max_retries, int)
            or self.max_retries < 0
        ):
            raise TypeError("max_retries must be a non-negative int or None")


def _normalize(value: str | None) -> str:
    return (value or "").strip().lower()


def _network_code(value: str | None) -> str:
    """Return a network code upper-cased, with one-digit numbers padded (``"3"`` → ``"03"``)."""
    code = (value or "").strip().upper()
    return code.zfill(2) if code.isdigit() else code


def _code_category(decline: Decline) -> Classification | None:
    """Return the classification by the provider's own code tables, if one applies."""
    provider = _normalize(decline.provider)
    code = _normalize(decline.code)
    if provider == "stripe" and code in STRIPE_DECLINE_CATEGORIES:
        return Classification(
            STRIPE_DECLINE_CATEGORIES[code],
            f"stripe.decline.{code}",
            min_wait=STRIPE_CODE_WAITS.get(code),
        )
    if provider == "sepa":
        return _sepa_category(decline.code)
    if provider == "demo":
        # A demo code in the state message is finer than the state itself.
        candidates = re.findall(r"demo_[a-z_]+", _normalize(decline.message))
        for candidate in [code, *candidates]:
            if candidate.startswith("demo_") and candidate in DEMO_STATES:
                return Classification(DEMO_STATES[candidate], f"demo.{candidate}")
        if code in DEMO_STATES:
            return Classification(DEMO_STATES[code], f"demo.{code}")
    return None


#: What each SEPA return action means for the retry rules (S-10).
SEPA_ACTION_CATEGORIES: Mapping[ReasonAction, FailureCategory] = MappingProxyType(
    {
        ReasonAction.RETRY: FailureCategory.INSUFFICIENT_FUNDS,
        ReasonAction.RETRY_ONCE: FailureCategory.SOFT,
        ReasonAction.NEW_MANDATE: FailureCategory.NEW_PAYMENT_METHOD,
        ReasonAction.FIX_MANDATE: FailureCategory.NEW_PAYMENT_METHOD,
        ReasonAction.STOP: FailureCategory.HARD,
        ReasonAction.NO_AUTO_REDEBIT: FailureCategory.HARD,
        ReasonAction.INVESTIGATE: FailureCategory.HARD,
        ReasonAction.STOP_RUN: FailureCategory.HARD,
        ReasonAction.NONE: FailureCategory.SOFT,
    }
)


def _sepa_category(reason_code: str | None) -> Classification:
    """Return the classification of a SEPA collection that failed with ``reason_code``.

    Without a reason code the collection was refused before reaching the bank, because
    the mandate cannot be collected (revoked, lapsed, one-off already used): the
    customer must sign a new one (reason ``"sepa.mandate_unusable"``). Otherwise the
    code's action (:func:`recurring_payments_core.sepa.returns.action_for`) decides:
    reason ``"sepa.<CODE>"``; ``MS03`` is retried at most once; a refund asked by the
    debtor (``MD06``) is never debited again automatically.
    """
    code = (reason_code or "").strip().upper()
    if not code:
        return Classification(FailureCategory.NEW_PAYMENT_METHOD, "sepa.mandate_unusable")
    action = action_for(code)
    return Classification(
        SEPA_ACTION_CATEGORIES[action],
        f"sepa.{code}",
        never_again=action is ReasonAction.NO_AUTO_REDEBIT,
        max_retries=1 if action is ReasonAction.RETRY_ONCE else None,
    )


def _generic(decline: Decline) -> Classification:
    text = re.sub(r"[_\-]+", " ", f"{_normalize(decline.code)} {_normalize(decline.message)}")
    for name, pattern, category in GENERIC_KEYWORDS:
        if re.search(pattern, text):
            return Classification(category, f"generic.{name}")
    return Classification(FailureCategory.SOFT, "generic.fallback")


def _apply_advice(rule: AdviceRule, reason: str, decline: Decline) -> Classification:
    """Return the classification an advice rule gives, keeping a finer retryable category."""
    category = rule.category
    min_wait = rule.min_wait
    if category is FailureCategory.SOFT:
        lower = _code_category(decline) or _generic(decline)
        if lower.category in _RETRYABLE:
            category = lower.category
        if lower.min_wait is not None and (min_wait is None or lower.min_wait > min_wait):
            min_wait = lower.min_wait
    return Classification(category, reason, min_wait=min_wait, never_again=rule.never_again)


def classify(decline: Decline) -> Classification:
    """Return the category of a failed attempt and the rule that decided it.

    Precedence, first match wins:

    1. ``decline.timeout``: always ``TECHNICAL`` (reason ``"timeout"``).
    2. The card network: a Mastercard Merchant Advice Code in :data:`MASTERCARD_ADVICE`
       (reason ``"mac.<code>"``), whatever the provider; then, for Visa cards, a
       category-1 response code in :data:`VISA_CATEGORY_1_CODES` (``HARD``, never
       again; reason ``"visa.category_1.<code>"``).
    3. The ``advice_code`` in :data:`STRIPE_ADVICE_CATEGORIES` (reason
       ``"advice.<code>"``).
    4. The provider's code: :data:`STRIPE_DECLINE_CATEGORIES` for ``"stripe"`` (reason
       ``"stripe.decline.<code>"``), :data:`DEMO_STATES` for ``"demo"``, where a demo
       code in the code or the message wins over the state (reason ``"demo.<code>"``);
       for ``"sepa"`` the return reason code's action (reason ``"sepa.<CODE>"``, see
       :data:`SEPA_ACTION_CATEGORIES`).
    5. :data:`GENERIC_KEYWORDS` on the code and the message (reason
       ``"generic.<rule>"``), else ``SOFT`` (reason ``"generic.fallback"``).

    An advice meaning "retry later" (Mastercard 02 and 24-30, ``try_again_later``)
    gives ``SOFT``, unless the lower levels find ``INSUFFICIENT_FUNDS``, which is kept;
    the longest imposed wait of the levels is kept.
    """
    if decline.timeout:
        return Classification(FailureCategory.TECHNICAL, "timeout")
    mac = _network_code(decline.network_advice_code)
    if mac in MASTERCARD_ADVICE:
        return _apply_advice(MASTERCARD_ADVICE[mac], f"mac.{mac}", decline)
    network_code = _network_code(decline.network_decline_code)
    if _normalize(decline.card_network) == "visa" and network_code in VISA_CATEGORY_1_CODES:
        return Classification(
            FailureCategory.HARD, f"visa.category_1.{network_code}", never_again=True
        )
    advice = _normalize(decline.advice_code)
    if advice in STRIPE_ADVICE_CATEGORIES:
        return _apply_advice(STRIPE_ADVICE_CATEGORIES[advice], f"advice.{advice}", decline)
    return _code_category(decline) or _generic(decline)


# === POLICY === #


def _check_int(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int")


@dataclass(frozen=True)
class RetrySchedule:
    """When business retries happen, counted from the invoice's first failure.

    :param days: one offset in days per retry from the local date of the invoice's
        first failure, ``>= 0`` and strictly increasing, e.g. ``(1, 3, 5, 7)``. Empty:
        no retry at all.
    :param hour: the local hour (0-23) the retries run at.
    :raises RetryError: ``DAY_NEGATIVE``, ``DAYS_NOT_INCREASING``, ``HOUR_OUT_OF_RANGE``.
    """

    days: tuple[int, ...]
    hour: int = 10

    def __post_init__(self) -> None:
        object.__setattr__(self, "days", tuple(self.days))
        previous: int | None = None
        for day in self.days:
            _check_int(day, "days")
            if day < 0:
                raise RetryError(RetryErrorCode.DAY_NEGATIVE, day=day)
            if previous is not None and day <= previous:
                raise RetryError(RetryErrorCode.DAYS_NOT_INCREASING, day=day, previous=previous)
            previous = day
        _check_int(self.hour, "hour")
        if not 0 <= self.hour <= 23:
            raise RetryError(RetryErrorCode.HOUR_OUT_OF_RANGE, hour=self.hour)


@dataclass(frozen=True)
class TechnicalBackoff:
    """Exponential backoff of technical retries (the provider did not answer).

    After the ``k``-th technical failure in a row the next attempt waits
    ``min(first_minutes * factor ** (k - 1), max_minutes)`` minutes; a streak of
    ``max_attempts`` technical failures ends the retries.

    :raises RetryError: ``BACKOFF_MINUTES_INVALID`` (``first_minutes < 1`` or
        ``max_minutes < first_minutes``), ``BACKOFF_FACTOR_BELOW_ONE``,
        ``BACKOFF_ATTEMPTS_NOT_POSITIVE``.
    """

    first_minutes: int = 15
    factor: float = 2.0
    max_minutes: int = 24 * 60
    max_attempts: int = 8

    def __post_init__(self) -> None:
        _check_int(self.first_minutes, "first_minutes")
        _check_int(self.max_minutes, "max_minutes")
        _check_int(self.max_attempts, "max_attempts")
        if isinstance(self.factor, bool) or not isinstance(self.factor, (int, float)):
            raise TypeError("factor must be a number")
        if self.first_minutes < 1 or self.max_minutes < self.first_minutes:
            raise RetryError(
                RetryErrorCode.BACKOFF_MINUTES_INVALID,
                first_minutes=self.first_minutes,
                max_minutes=self.max_minutes,
            )
        if not self.factor >= 1:  # also refuses NaN
            raise RetryError(RetryErrorCode.BACKOFF_FACTOR_BELOW_ONE, factor=self.factor)
        if self.max_attempts < 1:
            raise RetryError(
                RetryErrorCode.BACKOFF_ATTEMPTS_NOT_POSITIVE, max_attempts=self.max_attempts
            )

    def delay(self, streak: int) -> timedelta:
        """Return the wait after the ``streak``-th technical failure in a row (``>= 1``)."""
        minutes = float(self.first_minutes)
        for _ in range(max(streak, 1) - 1):
            minutes *= self.factor
            if minutes >= self.max_minutes:
                break
        return timedelta(seconds=round(min(minutes, self.max_minutes) * 60))


#: Smart defaults, kept simple: a soft decline is retried 1, 3, 5 and 7 days after the
#: first failure; insufficient funds wait longer between tries (2, 5, 9 and 14 days),
#: to reach the next pay day within two weeks.
DEFAULT_SCHEDULES: Mapping[FailureCategory, RetrySchedule] = MappingProxyType(
    {
        FailureCategory.SOFT: RetrySchedule((1, 3, 5, 7)),
        FailureCategory.INSUFFICIENT_FUNDS: RetrySchedule((2, 5, 9, 14)),
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    """How failed payments are retried.

    :param schedules: the :class:`RetrySchedule` of ``SOFT`` and of
        ``INSUFFICIENT_FUNDS`` (the other categories are never scheduled).
    :param card_cap: at most this many attempts per card (all invoices together) in
        any window of ``cap_window_days``; technical failures are not counted.
    :param cap_window_days: the length of the sliding window of ``card_cap``.
    :param technical: the backoff of technical retries.
    :raises RetryError: ``SCHEDULE_MISSING``, ``SCHEDULE_NOT_ALLOWED``,
        ``CARD_CAP_NOT_POSITIVE``, ``CAP_WINDOW_NOT_POSITIVE``.
    """

    schedules: Mapping[FailureCategory, RetrySchedule] = field(
        default_factory=lambda: DEFAULT_SCHEDULES, hash=False
    )
    card_cap: int = 15
    cap_window_days: int = 30
    technical: TechnicalBackoff = field(default_factory=TechnicalBackoff)

    def __post_init__(self) -> None:
        schedules: dict[FailureCategory, RetrySchedule] = {}
        for key, schedule in dict(self.schedules).items():
            category = FailureCategory(key)
            if category not in _RETRYABLE:
                raise RetryError(RetryErrorCode.SCHEDULE_NOT_ALLOWED, category=category)
            if not isinstance(schedule, RetrySchedule):
                raise TypeError("schedules must map categories to RetrySchedule instances")
            schedules[category] = schedule
        for category in sorted(_RETRYABLE):
            if category not in schedules:
                raise RetryError(RetryErrorCode.SCHEDULE_MISSING, category=category)
        object.__setattr__(self, "schedules", MappingProxyType(schedules))
        _check_int(self.card_cap, "card_cap")
        _check_int(self.cap_window_days, "cap_window_days")
        if self.card_cap < 1:
            raise RetryError(RetryErrorCode.CARD_CAP_NOT_POSITIVE, card_cap=self.card_cap)
        if self.cap_window_days < 1:
            raise RetryError(
                RetryErrorCode.CAP_WINDOW_NOT_POSITIVE, cap_window_days=self.cap_window_days
            )
        if not isinstance(self.technical, TechnicalBackoff):
            raise TypeError("technical must be a TechnicalBackoff")


#: Stripe-Billing-like defaults: :data:`DEFAULT_SCHEDULES` at 10:00 local time, 15
#: attempts per card in 30 days (Visa's cap), technical retries after 15, 30, 60...
#: minutes, at most 24 hours apart, 8 technical failures in a row at most.
DEFAULT_POLICY = RetryPolicy()


# === DECISION === #


def _check_aware(moment: object, name: str) -> None:
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime.datetime")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise RetryError(RetryErrorCode.NAIVE_DATETIME, name=name, moment=moment)


@dataclass(frozen=True)
class Attempt:
    """One payment attempt sent (or meant to be sent) to the provider.

    :param at: when it was made: an aware datetime.
    :param payment_method: the identity of the card or token (e.g. ``"token:42"``).
    :param category: how it failed; ``None`` for a success or a pending attempt (they
        count toward the card cap too: every attempt the network answered counts).
    :param invoice: the identity of the invoice it was for.
    :raises RetryError: ``NAIVE_DATETIME`` when ``at`` has no UTC offset.
    """

    at: datetime
    payment_method: str
    category: FailureCategory | None
    invoice: str

    def __post_init__(self) -> None:
        _check_aware(self.at, "at")
        if self.category is not None:
            object.__setattr__(self, "category", FailureCategory(self.category))


@dataclass(frozen=True)
class RetryDecision:
    """What to do after a failed attempt.

    :param action: the :class:`RetryAction`.
    :param at: for ``RETRY`` only, when to try again: an aware datetime, in the time
        zone of the ``now`` given to :func:`next_retry`, strictly after it.
    :param reason: a stable code: ``"never_again"``, ``"hard_decline"``,
        ``"needs_customer"``, ``"authentication_required"``, ``"technical_backoff"``,
        ``"technical_exhausted"``, ``"schedule"``, ``"schedule_exhausted"``,
        ``"network_wait"``, ``"card_cap"``.
    """

    action: RetryAction
    at: datetime | None
    reason: str


def _slot(day: date, schedule: RetrySchedule, tz: tzinfo) -> datetime:
    """Return ``schedule.hour`` o'clock local time on ``day``, in UTC.

    A local time skipped by a DST change is read with the offset before the change, so
    it lands just after the gap.
    """
    return datetime.combine(day, time(schedule.hour), tzinfo=tz).astimezone(_UTC)


def _first_slot_from(moment: datetime, schedule: RetrySchedule, tz: tzinfo) -> datetime:
    """Return the first slot at or after ``moment`` (both in UTC)."""
    day = moment.astimezone(tz).date()
    slot = _slot(day, schedule, tz)
    while slot < moment:
        day += timedelta(days=1)
        slot = _slot(day, schedule, tz)
    return slot


def _cap_release(policy: RetryPolicy, counted: list[datetime], at: datetime) -> datetime | None:
    """Return when a new attempt at or after ``at`` fits under the card cap.

    :param counted: the counted attempts of the card, sorted, in UTC.
    :return: ``None`` when an attempt at ``at`` already fits, else the first moment at
        which enough of them have left the window.
    """
    window = timedelta(days=policy.cap_window_days)
    inside = [moment for moment in counted if at - window < moment <= at]
    if len(inside) < policy.card_cap:
        return None
    return inside[len(inside) - policy.card_cap] + window


def _technical_decision(
    policy: RetryPolicy,
    classification: Classification,
    invoice_attempts: Sequence[Attempt],
    counted: list[datetime],
    now: datetime,
) -> RetryDecision:
    streak = 0
    for attempt in reversed(invoice_attempts):
        if attempt.category is not FailureCategory.TECHNICAL:
            break
        streak += 1
    streak = max(streak, 1)
    backoff = policy.technical
    if streak >= backoff.max_attempts:
        return RetryDecision(RetryAction.EXHAUSTED, None, "technical_exhausted")
    at = now + backoff.delay(streak)
    reason = "technical_backoff"
    if classification.min_wait is not None and now + classification.min_wait > at:
        at, reason = now + classification.min_wait, "network_wait"
    release = _cap_release(policy, counted, at)
    if release is not None:
        at, reason = release, "card_cap"
    return RetryDecision(RetryAction.RETRY, at, reason)


def _business_decision(
    policy: RetryPolicy,
    classification: Classification,
    invoice_attempts: Sequence[Attempt],
    counted: list[datetime],
    now: datetime,
    tz: tzinfo,
) -> RetryDecision:
    schedule = policy.schedules[classification.category]
    failures = [attempt for attempt in invoice_attempts if attempt.category is not None]
    business = [a for a in failures if a.category is not FailureCategory.TECHNICAL]
    first = failures[0].at.astimezone(_UTC) if failures else now
    index = max(len(business), 1) - 1
    if classification.max_retries is not None and index >= classification.max_retries:
        return RetryDecision(RetryAction.EXHAUSTED, None, "retry_limit")
    if index >= len(schedule.days):
        return RetryDecision(RetryAction.EXHAUSTED, None, "schedule_exhausted")
    first_day = first.astimezone(tz).date()
    last = _slot(first_day + timedelta(days=schedule.days[-1]), schedule, tz)
    at = _slot(first_day + timedelta(days=schedule.days[index]), schedule, tz)
    reason = "schedule"
    if at <= now:
        at = _first_slot_from(now + timedelta(microseconds=1), schedule, tz)
    if classification.min_wait is not None and at < now + classification.min_wait:
        at, reason = _first_slot_from(now + classification.min_wait, schedule, tz), "network_wait"
    if at > last:
        exhausted = "network_wait" if reason == "network_wait" else "schedule_exhausted"
        return RetryDecision(RetryAction.EXHAUSTED, None, exhausted)
    release = _cap_release(policy, counted, at)
    if release is not None:
        at, reason = _first_slot_from(release, schedule, tz), "card_cap"
        if at > last:
            return RetryDecision(RetryAction.EXHAUSTED, None, "card_cap")
    return RetryDecision(RetryAction.RETRY, at, reason)


def next_retry(
    policy: RetryPolicy,
    classification: Classification,
    *,
    invoice_attempts: Sequence[Attempt],
    card_attempts: Sequence[Attempt],
    now: datetime,
    tz: tzinfo,
) -> RetryDecision:
    """Return what to do after the failure ``classification`` describes.

    :param invoice_attempts: every attempt of the invoice so far, oldest first,
        including the one that just failed.
    :param card_attempts: every attempt made with the card (all invoices), in any
        order, including the one that just failed; they count toward the card cap
        unless they failed for a technical reason.
    :param now: the caller's current moment, aware.
    :param tz: the time zone the schedule's days and hour are read in (DST-correct
        with :class:`zoneinfo.ZoneInfo`).
    :raises RetryError: ``NAIVE_DATETIME`` when ``now`` has no UTC offset.

    In order:

    - ``TECHNICAL`` (the provider never answered, so no advice can apply): with ``k``
      the technical failures in a row at the end of ``invoice_attempts``, ``EXHAUSTED``
      (``"technical_exhausted"``) when ``k >= technical.max_attempts``, else ``RETRY``
      at ``now`` plus the backoff (``"technical_backoff"``), or later for ``min_wait``
      (``"network_wait"``) or the card cap (``"card_cap"``). Never ``STOP`` nor
      ``WAIT_CUSTOMER``.
    - ``never_again`` → ``STOP`` (``"never_again"``); ``HARD`` → ``STOP``
      (``"hard_decline"``).
    - ``NEW_PAYMENT_METHOD`` → ``WAIT_CUSTOMER`` (``"needs_customer"``);
      ``AUTHENTICATION_REQUIRED`` → ``WAIT_CUSTOMER`` (``"authentication_required"``).
    - ``SOFT``, ``INSUFFICIENT_FUNDS``: with ``n`` the non-technical failures of the
      invoice (at least 1), the ``n``-th retry of the category's schedule: the local
      date of the invoice's first failure plus ``days[n - 1]``, at ``hour`` local
      time (``"schedule"``). A slot already past moves to the next slot after ``now``;
      a ``min_wait`` moves it to the first slot at or after ``now + min_wait``
      (``"network_wait"``); ``EXHAUSTED`` (``"retry_limit"``) when the invoice already
      had ``max_retries`` retries and the classification caps them; when the card
      already has ``card_cap`` counted attempts in the window before it, to the first
      slot at which enough of them have left the window (``"card_cap"``).
      ``EXHAUSTED`` when no day is left (``"schedule_exhausted"``) or when the moment
      found falls after the schedule's last slot (reason ``"schedule_exhausted"``,
      ``"network_wait"`` or ``"card_cap"`` for what pushed it there).
    """
    _check_aware(now, "now")
    if not isinstance(tz, tzinfo):
        raise TypeError("tz must be a datetime.tzinfo")
    category = classification.category
    now_utc = now.astimezone(_UTC)
    counted = sorted(
        attempt.at.astimezone(_UTC)
        for attempt in card_attempts
        if attempt.category is not FailureCategory.TECHNICAL
    )
    if category is FailureCategory.TECHNICAL:
        decision = _technical_decision(policy, classification, invoice_attempts, counted, now_utc)
    elif classification.never_again:
        return RetryDecision(RetryAction.STOP, None, "never_again")
    elif category is FailureCategory.HARD:
        return RetryDecision(RetryAction.STOP, None, "hard_decline")
    elif category is FailureCategory.NEW_PAYMENT_METHOD:
        return RetryDecision(RetryAction.WAIT_CUSTOMER, None, "needs_customer")
    elif category is FailureCategory.AUTHENTICATION_REQUIRED:
        return RetryDecision(RetryAction.WAIT_CUSTOMER, None, "authentication_required")
    else:
        decision = _business_decision(
            policy, classification, invoice_attempts, counted, now_utc, tz
        )
    if decision.at is None:
        return decision
    return RetryDecision(decision.action, decision.at.astimezone(now.tzinfo), decision.reason)


# === IDEMPOTENCY === #


def idempotency_key(database_uuid: str, invoice_id: int, attempt_number: int) -> str:
    """Return the idempotency key of the charge of one attempt of one invoice.

    The key is ``"rp-"`` followed by the first 48 hex digits of the SHA-256 of
    ``"<database_uuid>:<invoice_id>:<attempt_number>"`` (51 characters, well under
    Stripe's 255). It depends on nothing else, so a request replayed after a rollback
    sends the same key; the two trailing numbers make the joined text unambiguous.

    :raises RetryError: ``KEY_PART_INVALID`` for an empty ``database_uuid`` or a
        negative ``invoice_id`` or ``attempt_number``.
    """
    if not isinstance(database_uuid, str):
        raise TypeError("database_uuid must be a str")
    _check_int(invoice_id, "invoice_id")
    _check_int(attempt_number, "attempt_number")
    if not database_uuid.strip() or invoice_id < 0 or attempt_number < 0:
        raise RetryError(
            RetryErrorCode.KEY_PART_INVALID,
            database_uuid=database_uuid,
            invoice_id=invoice_id,
            attempt_number=attempt_number,
        )
    digest = hashlib.sha256(f"{database_uuid}:{invoice_id}:{attempt_number}".encode()).hexdigest()
    return f"rp-{digest[:48]}"


# === CUSTOMER NOTICES === #


class CustomerNotice(str, Enum):
    """What the customer is told after a failed attempt; the addon maps it to a template."""

    #: a first business decline that will be retried: nothing to do yet.
    RETRY = "retry"
    #: the card cannot be charged any more: a new payment method is needed.
    NEW_METHOD = "new_method"
    #: the bank wants the customer to confirm the payment (C-6).
    AUTHENTICATION = "authentication"
    #: every planned retry failed.
    EXHAUSTED = "exhausted"


def customer_notice(
    classification: Classification,
    decision: RetryDecision,
    invoice_attempts: Sequence[Attempt],
) -> CustomerNotice | None:
    """Return what to tell the customer after a failure, or ``None`` to say nothing.

    Told once per situation: a retried decline only at the invoice's first business
    failure; a technical failure never (C-7: a timeout is not a declined card), unless its
    retries ran out.

    :param invoice_attempts: every attempt of the invoice, including the one that failed.
    """
    if decision.action == RetryAction.EXHAUSTED:
        return CustomerNotice.EXHAUSTED
    if classification.category == FailureCategory.TECHNICAL:
        return None
    if decision.action == RetryAction.RETRY:
        business_failures = [
            attempt
            for attempt in invoice_attempts
            if attempt.category is not None and attempt.category != FailureCategory.TECHNICAL
        ]
        return CustomerNotice.RETRY if len(business_failures) <= 1 else None
    if classification.category == FailureCategory.AUTHENTICATION_REQUIRED:
        return CustomerNotice.AUTHENTICATION
    return CustomerNotice.NEW_METHOD


def card_expiry_notice(
    expires_on: date, today: date, notice_days: Sequence[int], last_notice: int | None
) -> int | None:
    """Return the notice period (days before expiry) to warn of now, or ``None``.

    ``notice_days`` are the periods at which the customer is warned (30 and 7 by
    default); ``last_notice`` is the period of the last warning sent for this card. Each
    period is warned of once, and a late start sends only the shortest period reached.
    """
    days_left = (expires_on - today).days
    reached = [days for days in notice_days if days >= days_left >= 0]
    if not reached:
        return None
    period = min(reached)
    if last_notice is not None and last_notice <= period:
        return None
    return period


def upcoming_charge_notice_due(
    charge_on: date, today: date, notice_days: int, notified_for: date | None
) -> bool:
    """Whether to tell the customer now of the charge due on ``charge_on``.

    The notice goes ``notice_days`` before the charge (or later, when the charge was
    planned late), never on or after the charge day, and once per charge:
    ``notified_for`` is the charge day of the last notice sent.
    """
    if notice_days <= 0 or charge_on <= today or notified_for == charge_on:
        return False
    return charge_on - timedelta(days=notice_days) <= today
