"""Stripe for the recurring payments addons: off-session charges, card details, declines, webhooks.

Odoo's ``payment_stripe`` charges saved cards by itself; this adapter does what it leaves
out: it keeps every field of a decline (``decline_code``, ``advice_code``,
``network_advice_code``, ``network_decline_code``) for the retry rules, reads the full
card (brand, expiry, funding, fingerprint, network), talks to a configurable API base
with its own key (one :class:`StripeAdapter` per company, never the SDK's global
settings), always sends an idempotency key, and verifies webhook signatures without
ever accepting an unsigned one.

Network calls go through a private :class:`stripe.StripeClient`. Everything else is a
pure function of its arguments: no clock (webhook checks take ``now``), no environment,
no randomness. Errors carry codes (enums) and never user-facing text; the caller turns
them into messages.

Plain values are read from the JSON Stripe returned (``last_response.data``), never from
the SDK's objects, so that the result is the same ``dict`` whatever the SDK version.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

import stripe

from .errors import CoreError

__all__ = [
    "CardDetails",
    "ChargeResult",
    "ChargeStatus",
    "DeclineDetails",
    "StripeAdapter",
    "StripeAdapterError",
    "StripeAdapterErrorCode",
    "WebhookError",
    "WebhookErrorCode",
    "card_details_from_event",
    "card_details_from_payment_method",
    "charge_result_from_event",
    "sign_webhook",
    "status_may_replace",
    "verify_webhook",
]

#: Event types whose ``data.object`` is a PaymentMethod with fresh card details.
CARD_EVENT_TYPES = frozenset(
    {
        "payment_method.attached",
        "payment_method.automatically_updated",
        "payment_method.updated",
    }
)

#: PaymentIntent event types, and the :class:`ChargeStatus` each one reports.
_PAYMENT_INTENT_EVENT_TYPES = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.processing",
        "payment_intent.payment_failed",
        "payment_intent.requires_action",
        "payment_intent.canceled",
    }
)

_SEARCH_PAGE_SIZE = 100
_LIST_PAGE_SIZE = 100


# === ERRORS === #


class StripeAdapterErrorCode(str, Enum):
    """Reasons why a call to Stripe did not give an answer; the caller maps them to messages."""

    #: no API key (the provider is not set up).
    NOT_CONFIGURED = "not_configured"
    #: bad arguments from the caller (empty idempotency key, amount not positive...).
    INVALID_ARGUMENT = "invalid_argument"
    #: no answer in time, or the connection broke: the outcome is unknown (C-7).
    TIMEOUT = "timeout"
    #: Stripe asks to slow down (HTTP 429).
    RATE_LIMITED = "rate_limited"
    #: a server-side error (5xx, 409 lock conflict) or an unexpected failure.
    API_ERROR = "api_error"
    #: the API key is refused (HTTP 401).
    AUTHENTICATION = "authentication"
    #: the API key may not do this (HTTP 403).
    PERMISSION = "permission"
    #: the object does not exist (HTTP 404).
    NOT_FOUND = "not_found"
    #: Stripe refused the request (HTTP 400).
    INVALID_REQUEST = "invalid_request"
    #: the idempotency key was already used with other parameters.
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    #: a card error outside a charge (for example while reading a card).
    CARD_ERROR = "card_error"
    #: the payment method is not a card.
    NOT_A_CARD = "not_a_card"
    #: the answer is not the JSON object expected.
    MALFORMED_RESPONSE = "malformed_response"


#: Codes that are worth retrying later with the same idempotency key.
_RETRYABLE_CODES = frozenset(
    {
        StripeAdapterErrorCode.TIMEOUT,
        StripeAdapterErrorCode.RATE_LIMITED,
        StripeAdapterErrorCode.API_ERROR,
    }
)


def _restore_adapter_error(
    code: StripeAdapterErrorCode, retryable: bool, params: dict[str, Any]
) -> StripeAdapterError:
    return StripeAdapterError(code, retryable=retryable, **params)


class StripeAdapterError(Exception):
    """A call to Stripe that did not give an answer the caller can act on.

    :ivar code: the :class:`StripeAdapterErrorCode` saying what went wrong.
    :ivar params: details by name (``http_status``, ``stripe_code``, ``request_id``,
        ``cause``...), for logs and the caller's message.
    :ivar retryable: whether the same request may be sent again later (with the same
        idempotency key): timeouts, connection errors, 5xx, 409 and rate limits are;
        refusals (4xx) are not. A ``Stripe-Should-Retry`` header overrides the default.
    """

    def __init__(
        self, code: StripeAdapterErrorCode, *, retryable: bool | None = None, **params: Any
    ) -> None:
        self.code = StripeAdapterErrorCode(code)
        self.params = dict(params)
        self.retryable = self.code in _RETRYABLE_CODES if retryable is None else bool(retryable)
        super().__init__(self.code.value, self.params)

    def __str__(self) -> str:
        details = ", ".join(f"{key}={value!r}" for key, value in sorted(self.params.items()))
        return f"{self.code.value}({details})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore_adapter_error, (self.code, self.retryable, self.params))


class WebhookErrorCode(str, Enum):
    """Reasons why a webhook delivery is refused (W-1); all of them call for a 4xx answer."""

    #: no signing secret configured: every delivery is refused, never accepted unchecked.
    NO_SECRET = "no_secret"
    #: no ``Stripe-Signature`` header, or one without a timestamp or a ``v1`` signature.
    NO_SIGNATURE = "no_signature"
    #: no ``v1`` signature of the header matches the payload.
    BAD_SIGNATURE = "bad_signature"
    #: the signed timestamp is further from ``now`` than the tolerance (replay).
    STALE_TIMESTAMP = "stale_timestamp"
    #: the signed payload is not a JSON object.
    MALFORMED = "malformed"


class WebhookError(CoreError):
    """A webhook delivery that must be refused.

    :ivar code: the :class:`WebhookErrorCode` saying what is wrong.
    :ivar params: the offending values, by name, for the caller's message.
    """

    codes = WebhookErrorCode


# === VALUE OBJECTS === #


@dataclass(frozen=True)
class CardDetails:
    """What the addon stores about a saved card: references and display data, never the number.

    :param payment_method_id: the Stripe PaymentMethod id (``pm_...``).
    :param brand: ``visa``, ``mastercard``...
    :param network: the network the card is charged on: ``card.networks.preferred``,
        else the brand.
    :param fingerprint: Stripe's fingerprint of the card number, the same for every
        PaymentMethod made from the same card.
    """

    payment_method_id: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    funding: str | None
    country: str | None
    fingerprint: str | None
    network: str | None


@dataclass(frozen=True)
class DeclineDetails:
    """Everything the retry rules need about a failed charge.

    Read from a PaymentIntent's ``last_payment_error`` or from the error of a confirm
    call. ``code`` is Stripe's error code (``card_declined``, ``authentication_required``,
    ``expired_card``...); ``decline_code`` the issuer's reason (``insufficient_funds``,
    ``lost_card``...); ``advice_code`` Stripe's advice (``try_again_later``,
    ``do_not_try_again``, ``confirm_card_data``); ``network_advice_code`` and
    ``network_decline_code`` the raw codes of the card network (Mastercard MAC...).
    ``message`` is Stripe's English text, for logs only.
    """

    code: str | None
    decline_code: str | None
    advice_code: str | None
    network_advice_code: str | None
    network_decline_code: str | None
    message: str | None
    payment_intent_id: str | None
    payment_intent_status: str | None
    card_network: str | None


class ChargeStatus(str, Enum):
    """Outcome of an off-session charge, as the addon records it."""

    #: the money is taken.
    SUCCEEDED = "succeeded"
    #: accepted, not settled yet, or not known yet: keep the attempt pending and look later.
    PROCESSING = "processing"
    #: the bank wants the customer to authenticate (3-D Secure): ask them to pay on-session.
    REQUIRES_ACTION = "requires_action"
    #: declined; :attr:`ChargeResult.decline` says why.
    FAILED = "failed"


@dataclass(frozen=True)
class ChargeResult:
    """Answer of :meth:`StripeAdapter.charge_off_session`.

    :param status: the :class:`ChargeStatus`.
    :param payment_intent_id: the PaymentIntent created, when Stripe says which.
    :param decline: why the charge failed or needs the customer, when Stripe says.
    :param payment_intent_status: Stripe's own status of the PaymentIntent.
    """

    status: ChargeStatus
    payment_intent_id: str | None
    decline: DeclineDetails | None = None
    payment_intent_status: str | None = None


# === HELPERS === #


def _mapping(value: Any) -> Mapping[str, Any]:
    """Return ``value`` when it is a mapping (an expanded object), else an empty one."""
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    """Return ``value`` as a non-empty string, or ``None``."""
    if value is None or isinstance(value, (Mapping, list, bool)):
        return None
    text = str(value)
    return text or None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _object_id(value: Any) -> str | None:
    """The id of an expandable field: a plain id or an expanded object."""
    if isinstance(value, Mapping):
        return _text(value.get("id"))
    return _text(value)


def _card_network(card: Mapping[str, Any]) -> str | None:
    preferred = _text(_mapping(card.get("networks")).get("preferred"))
    return preferred or _text(card.get("brand"))


def card_details_from_payment_method(payment_method: Mapping[str, Any]) -> CardDetails | None:
    """Return the :class:`CardDetails` of a PaymentMethod object, or ``None`` if not a card.

    :param payment_method: a PaymentMethod as Stripe sends it (JSON object).
    """
    pm_id = _text(payment_method.get("id"))
    card = payment_method.get("card")
    if not pm_id or payment_method.get("type", "card") != "card" or not isinstance(card, Mapping):
        return None
    return CardDetails(
        payment_method_id=pm_id,
        brand=_text(card.get("brand")),
        last4=_text(card.get("last4")),
        exp_month=_int(card.get("exp_month")),
        exp_year=_int(card.get("exp_year")),
        funding=_text(card.get("funding")),
        country=_text(card.get("country")),
        fingerprint=_text(card.get("fingerprint")),
        network=_card_network(card),
    )


def _decline_from_error_object(
    error: Mapping[str, Any],
    *,
    code: str | None = None,
    payment_intent: Mapping[str, Any] | None = None,
) -> DeclineDetails:
    """Build :class:`DeclineDetails` from a Stripe error object (API error or last_payment_error).

    :param payment_intent: the PaymentIntent the error belongs to, when known apart.
    """
    intent = payment_intent if payment_intent is not None else _mapping(error.get("payment_intent"))
    card = _mapping(_mapping(error.get("payment_method")).get("card"))
    return DeclineDetails(
        code=_text(error.get("code")) or code,
        decline_code=_text(error.get("decline_code")),
        advice_code=_text(error.get("advice_code")),
        network_advice_code=_text(error.get("network_advice_code")),
        network_decline_code=_text(error.get("network_decline_code")),
        message=_text(error.get("message")),
        payment_intent_id=_text(intent.get("id")) or _object_id(error.get("payment_intent")),
        payment_intent_status=_text(intent.get("status")),
        card_network=_card_network(card) if card else None,
    )


def _fill_from_charge(decline: DeclineDetails, charge: Mapping[str, Any]) -> DeclineDetails:
    """Complete missing decline fields from a Charge's ``outcome`` and card details."""
    outcome = _mapping(charge.get("outcome"))
    card = _mapping(_mapping(charge.get("payment_method_details")).get("card"))
    return replace(
        decline,
        code=decline.code or _text(charge.get("failure_code")),
        advice_code=decline.advice_code or _text(outcome.get("advice_code")),
        network_advice_code=decline.network_advice_code
        or _text(outcome.get("network_advice_code")),
        network_decline_code=decline.network_decline_code
        or _text(outcome.get("network_decline_code")),
        card_network=decline.card_network or (_card_network(card) if card else None),
    )


_STATUS_BY_INTENT_STATUS = {
    "succeeded": ChargeStatus.SUCCEEDED,
    "processing": ChargeStatus.PROCESSING,
    "requires_capture": ChargeStatus.PROCESSING,
    "requires_action": ChargeStatus.REQUIRES_ACTION,
    "requires_payment_method": ChargeStatus.FAILED,
    "canceled": ChargeStatus.FAILED,
}


def _result_from_payment_intent(intent: Mapping[str, Any]) -> ChargeResult:
    """Turn a PaymentIntent into a :class:`ChargeResult`.

    A status this module does not know is reported as ``PROCESSING``: the outcome is left
    to a later look-up, never guessed as a failure (C-7).
    """
    intent_status = _text(intent.get("status"))
    status = _STATUS_BY_INTENT_STATUS.get(intent_status or "", ChargeStatus.PROCESSING)
    error = _mapping(intent.get("last_payment_error"))
    decline = None
    if error and status in (ChargeStatus.FAILED, ChargeStatus.REQUIRES_ACTION):
        decline = _decline_from_error_object(error, payment_intent=intent)
        latest_charge = intent.get("latest_charge")
        if isinstance(latest_charge, Mapping):
            decline = _fill_from_charge(decline, latest_charge)
    return ChargeResult(
        status=status,
        payment_intent_id=_text(intent.get("id")),
        decline=decline,
        payment_intent_status=intent_status,
    )


def _response_data(obj: Any) -> dict[str, Any]:
    """The JSON object Stripe answered with, as plain Python values."""
    response = getattr(obj, "last_response", None)
    data = getattr(response, "data", None)
    if not isinstance(data, dict):
        raise StripeAdapterError(StripeAdapterErrorCode.MALFORMED_RESPONSE)
    return data


def _error_body(error: stripe.StripeError) -> Mapping[str, Any]:
    return _mapping(_mapping(error.json_body).get("error"))


def _should_retry_header(error: stripe.StripeError) -> bool | None:
    headers = error.headers or {}
    value = next(
        (str(val).lower() for key, val in headers.items() if key.lower() == "stripe-should-retry"),
        None,
    )
    return {"true": True, "false": False}.get(value or "")


def _adapter_error(error: stripe.StripeError) -> StripeAdapterError:
    """Translate an SDK error into a :class:`StripeAdapterError` that says if it is retryable."""
    params: dict[str, Any] = {
        key: value
        for key, value in (
            ("http_status", error.http_status),
            ("stripe_code", error.code),
            ("request_id", error.request_id),
            ("stripe_message", _text(_error_body(error).get("message"))),
        )
        if value is not None
    }
    if isinstance(error, stripe.APIConnectionError):
        if error.__cause__ is not None:
            params["cause"] = type(error.__cause__).__name__
        if error.should_retry:
            return StripeAdapterError(StripeAdapterErrorCode.TIMEOUT, retryable=True, **params)
        # TLS failures and the like: the request never left, and sending it again will fail.
        return StripeAdapterError(StripeAdapterErrorCode.API_ERROR, retryable=False, **params)
    if isinstance(error, stripe.RateLimitError):
        code = StripeAdapterErrorCode.RATE_LIMITED
    elif isinstance(error, stripe.AuthenticationError):
        code = StripeAdapterErrorCode.AUTHENTICATION
    elif isinstance(error, stripe.PermissionError):
        code = StripeAdapterErrorCode.PERMISSION
    elif isinstance(error, stripe.IdempotencyError):
        code = StripeAdapterErrorCode.IDEMPOTENCY_CONFLICT
    elif isinstance(error, stripe.CardError):
        code = StripeAdapterErrorCode.CARD_ERROR
    elif isinstance(error, stripe.InvalidRequestError):
        code = (
            StripeAdapterErrorCode.NOT_FOUND
            if error.http_status == 404 or error.code == "resource_missing"
            else StripeAdapterErrorCode.INVALID_REQUEST
        )
    else:
        code = StripeAdapterErrorCode.API_ERROR
    retryable = _should_retry_header(error)
    if retryable is None:
        status = error.http_status or 0
        retryable = code in _RETRYABLE_CODES or status == 409 or status >= 500
    return StripeAdapterError(code, retryable=retryable, **params)


def _quote_search_value(value: str) -> str:
    """Quote a value for Stripe's search query language."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _matches(
    intent: Mapping[str, Any],
    customer: str | None,
    metadata_reference: str | None,
    created_after: int | None,
) -> bool:
    if customer is not None and _object_id(intent.get("customer")) != customer:
        return False
    if metadata_reference is not None:
        if _mapping(intent.get("metadata")).get("reference") != metadata_reference:
            return False
    if created_after is not None:
        created = _int(intent.get("created"))
        if created is None or created < created_after:
            return False
    return True


# === ADAPTER === #


class StripeAdapter:
    """Calls to Stripe for one account (one API key), through a private client.

    Never touches the SDK's global settings (``stripe.api_key``, ``stripe.api_base``):
    several companies, each with its key, can hold adapters at the same time.

    :param api_key: the secret key (``sk_...`` or ``rk_...``).
    :param api_base: the API address, ``https://api.stripe.com`` when ``None``.
    :param timeout: seconds to wait for an answer (connection and each read).
    :param max_network_retries: how many times the SDK itself sends a request again
        after a timeout, a connection error or a 409/5xx, with the same idempotency key.
    :raises StripeAdapterError: ``NOT_CONFIGURED`` when ``api_key`` is empty.
    """

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str | None = None,
        timeout: float = 20.0,
        max_network_retries: int = 2,
    ) -> None:
        if not api_key or not isinstance(api_key, str):
            raise StripeAdapterError(StripeAdapterErrorCode.NOT_CONFIGURED)
        if timeout <= 0:
            raise StripeAdapterError(StripeAdapterErrorCode.INVALID_ARGUMENT, timeout=timeout)
        if max_network_retries < 0:
            raise StripeAdapterError(
                StripeAdapterErrorCode.INVALID_ARGUMENT, max_network_retries=max_network_retries
            )
        self._http_client = stripe.RequestsClient(timeout=timeout)
        base_addresses: dict[str, str] = {"api": api_base.rstrip("/")} if api_base else {}
        self._client = stripe.StripeClient(
            api_key,
            base_addresses=base_addresses,  # type: ignore[arg-type]
            http_client=self._http_client,
            max_network_retries=max_network_retries,
        )

    def close(self) -> None:
        """Close the HTTP connections this adapter holds."""
        self._http_client.close()

    # --- reading --- #

    def card_details(self, payment_method_id: str) -> CardDetails:
        """Return brand, last 4 digits, expiry, funding, country, fingerprint and network.

        :raises StripeAdapterError: ``NOT_A_CARD`` for a PaymentMethod of another type,
            or the error of the call.
        """
        try:
            payment_method = self._client.v1.payment_methods.retrieve(payment_method_id)
        except stripe.StripeError as error:
            raise _adapter_error(error) from error
        details = card_details_from_payment_method(_response_data(payment_method))
        if details is None:
            raise StripeAdapterError(
                StripeAdapterErrorCode.NOT_A_CARD, payment_method_id=payment_method_id
            )
        return details

    def decline_details(self, payment_intent_id: str) -> DeclineDetails | None:
        """Return why a PaymentIntent's last attempt failed, or ``None`` if it did not.

        Reads ``last_payment_error``, completed by the latest charge's ``outcome`` (advice
        and network codes) where the error leaves them out.
        """
        try:
            intent_obj = self._client.v1.payment_intents.retrieve(
                payment_intent_id, {"expand": ["latest_charge"]}
            )
        except stripe.StripeError as error:
            raise _adapter_error(error) from error
        intent = _response_data(intent_obj)
        error_object = _mapping(intent.get("last_payment_error"))
        if not error_object:
            return None
        decline = _decline_from_error_object(error_object, payment_intent=intent)
        latest_charge = intent.get("latest_charge")
        if isinstance(latest_charge, Mapping):
            decline = _fill_from_charge(decline, latest_charge)
        return decline

    @staticmethod
    def decline_from_error(error: stripe.StripeError) -> DeclineDetails:
        """Return the :class:`DeclineDetails` of an error raised by a confirm call.

        Reads ``error.code`` and the ``error`` object of the JSON body: ``decline_code``,
        ``advice_code``, ``network_advice_code``, ``network_decline_code``,
        ``payment_intent`` (id and status) and ``payment_method`` (card network).
        """
        return _decline_from_error_object(_error_body(error), code=_text(error.code))

    def find_payment_intents(
        self,
        *,
        customer: str | None = None,
        metadata_reference: str | None = None,
        created_after: int | None = None,
    ) -> list[dict[str, Any]]:
        """Return the PaymentIntents matching every filter given, as Stripe's JSON objects.

        C-3: repairs a crash between Stripe's answer and the commit: the charge is found
        again by the ``reference`` written in its metadata. With a ``customer``, the
        PaymentIntents are listed (strongly consistent, narrow); without, Stripe's Search
        API is used (it may lag about a minute behind writes), and listing when the
        server has no search. A server that refuses the list filters is listed without
        them. Every result is checked against every filter here, whichever way it came.

        :param created_after: Unix time; only PaymentIntents created at or after it.
        :raises StripeAdapterError: ``INVALID_ARGUMENT`` without any filter, or the error
            of the call.
        """
        if customer is None and metadata_reference is None and created_after is None:
            raise StripeAdapterError(StripeAdapterErrorCode.INVALID_ARGUMENT, filters=None)
        try:
            if customer is None and metadata_reference is not None:
                found = self._search_payment_intents(metadata_reference, created_after)
                if found is not None:
                    candidates: Iterator[dict[str, Any]] | list[dict[str, Any]] = found
                else:
                    candidates = self._list_payment_intents(customer, created_after)
            else:
                candidates = self._list_payment_intents(customer, created_after)
            return [
                intent
                for intent in candidates
                if _matches(intent, customer, metadata_reference, created_after)
            ]
        except stripe.StripeError as error:
            raise _adapter_error(error) from error

    def _search_payment_intents(
        self, metadata_reference: str, created_after: int | None
    ) -> list[dict[str, Any]] | None:
        """Search by metadata reference; ``None`` when the server has no Search API."""
        query = f"metadata['reference']:{_quote_search_value(metadata_reference)}"
        if created_after is not None:
            query += f" AND created>={int(created_after)}"
        params: dict[str, Any] = {"query": query, "limit": _SEARCH_PAGE_SIZE}
        found: list[dict[str, Any]] = []
        while True:
            try:
                page = _response_data(self._client.v1.payment_intents.search(params))
            except stripe.InvalidRequestError:
                if found:
                    raise
                return None
            found.extend(item for item in page.get("data") or () if isinstance(item, dict))
            next_page = page.get("next_page")
            if not page.get("has_more") or not next_page:
                return found
            params = {**params, "page": next_page}

    def _list_payment_intents(
        self, customer: str | None, created_after: int | None
    ) -> Iterator[dict[str, Any]]:
        filters: dict[str, Any] = {}
        if customer is not None:
            filters["customer"] = customer
        if created_after is not None:
            filters["created"] = {"gte": int(created_after)}
        try:
            yield from self._list_pages(filters)
        except stripe.InvalidRequestError as error:
            # A server that refuses the filters without naming one (no code, no param)
            # does not know them: list everything and filter here.
            if not filters or error.code or getattr(error, "param", None):
                raise
            yield from self._list_pages({})

    def _list_pages(self, filters: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {**filters, "limit": _LIST_PAGE_SIZE}
        while True:
            page = _response_data(self._client.v1.payment_intents.list(params))
            items = [item for item in page.get("data") or () if isinstance(item, dict)]
            yield from items
            if not page.get("has_more") or not items:
                return
            params = {**params, "starting_after": items[-1]["id"]}

    # --- charging --- #

    def charge_off_session(
        self,
        *,
        customer: str,
        payment_method: str,
        amount_minor: int,
        currency: str,
        reference: str,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> ChargeResult:
        """Charge a saved card without the customer: a PaymentIntent confirmed off-session.

        C-2: the ``Idempotency-Key`` header is always sent, with ``idempotency_key``
        exactly (the SDK's own network retries send it again unchanged); the caller derives
        it from (database, invoice, attempt), so a replay charges once. The ``reference``
        goes to ``metadata["reference"]`` so that :meth:`find_payment_intents` finds the
        charge after a crash (C-3).

        C-7: a timeout or a broken connection raises ``TIMEOUT`` (retryable): the outcome
        is unknown, the caller keeps the attempt pending and never reports a decline. The
        same holds for every retryable error (a 5xx may come after the charge was made):
        only a :class:`ChargeResult` says that a charge failed.

        A card error gives status ``FAILED`` with the :class:`DeclineDetails`; an error
        ``authentication_required`` (the bank wants 3-D Secure) gives ``REQUIRES_ACTION``
        with them, as does a PaymentIntent left in ``requires_action``.

        :param amount_minor: the amount in the currency's minor unit (cents), ``> 0``.
        :param currency: ISO 4217 code, any case.
        :param metadata: more metadata; its ``reference``, if any, must equal ``reference``.
        :raises StripeAdapterError: ``INVALID_ARGUMENT``, ``TIMEOUT`` and the other errors
            of the call (each saying whether it is retryable).
        """
        self._check_charge_arguments(amount_minor, currency, reference, idempotency_key, metadata)
        params: dict[str, Any] = {
            "amount": amount_minor,
            "currency": currency.lower(),
            "customer": customer,
            "payment_method": payment_method,
            "confirm": True,
            "off_session": True,
            "payment_method_types": ["card"],
            "metadata": {**(metadata or {}), "reference": reference},
        }
        try:
            intent = self._client.v1.payment_intents.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            )
        except stripe.CardError as error:
            return self._declined(error)
        except stripe.StripeError as error:
            raise _adapter_error(error) from error
        return _result_from_payment_intent(_response_data(intent))

    @staticmethod
    def _check_charge_arguments(
        amount_minor: int,
        currency: str,
        reference: str,
        idempotency_key: str,
        metadata: Mapping[str, str] | None,
    ) -> None:
        invalid = StripeAdapterErrorCode.INVALID_ARGUMENT
        if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
            raise StripeAdapterError(invalid, amount_minor=amount_minor)
        if amount_minor <= 0:
            raise StripeAdapterError(invalid, amount_minor=amount_minor)
        if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
            raise StripeAdapterError(invalid, currency=currency)
        if not reference or not isinstance(reference, str):
            raise StripeAdapterError(invalid, reference=reference)
        if not idempotency_key or not isinstance(idempotency_key, str):
            raise StripeAdapterError(invalid, idempotency_key=idempotency_key)
        if metadata and metadata.get("reference", reference) != reference:
            raise StripeAdapterError(invalid, metadata_reference=metadata.get("reference"))

    def _declined(self, error: stripe.CardError) -> ChargeResult:
        """The result of a charge refused with a card error."""
        decline = self.decline_from_error(error)
        charge_id = _text(_error_body(error).get("charge"))
        if decline.payment_intent_id is None and charge_id:
            # Some servers name only the charge: its PaymentIntent is one call away.
            try:
                charge = _response_data(self._client.v1.charges.retrieve(charge_id))
            except (stripe.StripeError, StripeAdapterError):
                charge = {}
            decline = replace(decline, payment_intent_id=_object_id(charge.get("payment_intent")))
            decline = _fill_from_charge(decline, charge)
        status = (
            ChargeStatus.REQUIRES_ACTION
            if "authentication_required" in (decline.code, decline.decline_code)
            else ChargeStatus.FAILED
        )
        return ChargeResult(
            status=status,
            payment_intent_id=decline.payment_intent_id,
            decline=decline,
            payment_intent_status=decline.payment_intent_status,
        )


# === EVENTS === #


def card_details_from_event(event: Mapping[str, Any]) -> CardDetails | None:
    """Return the new card details carried by a PaymentMethod event, else ``None``.

    Handles ``payment_method.automatically_updated`` (the network updated the card:
    new expiry or number), ``payment_method.updated`` and ``payment_method.attached``.
    """
    if event.get("type") not in CARD_EVENT_TYPES:
        return None
    payment_method = _mapping(_mapping(event.get("data")).get("object"))
    if payment_method.get("object", "payment_method") != "payment_method":
        return None
    return card_details_from_payment_method(payment_method)


def charge_result_from_event(event: Mapping[str, Any]) -> ChargeResult | None:
    """Return the :class:`ChargeResult` a ``payment_intent.*`` event reports, else ``None``.

    The status comes from the PaymentIntent in the event, read like the answer of
    :meth:`StripeAdapter.charge_off_session`; apply it with :func:`status_may_replace`
    (W-2).
    """
    if event.get("type") not in _PAYMENT_INTENT_EVENT_TYPES:
        return None
    intent = _mapping(_mapping(event.get("data")).get("object"))
    if intent.get("object", "payment_intent") != "payment_intent" or not intent.get("id"):
        return None
    return _result_from_payment_intent(intent)


def status_may_replace(current: ChargeStatus | str | None, incoming: ChargeStatus | str) -> bool:
    """Whether a status learnt later (webhook, look-up) may replace the recorded one.

    W-2: the same status again changes nothing (a repeated event is a no-op), a success
    is final (a late "failed" never downgrades it), a success always wins (the money is
    taken), and a failure is not reopened by a late "processing" or "requires_action".

    :param current: the recorded status, ``None`` when nothing is known yet.
    """
    incoming = ChargeStatus(incoming)
    if current is None:
        return True
    current = ChargeStatus(current)
    if current is incoming or current is ChargeStatus.SUCCEEDED:
        return False
    if incoming is ChargeStatus.SUCCEEDED:
        return True
    return current is not ChargeStatus.FAILED


# === WEBHOOKS === #


def _as_bytes(payload: bytes | str) -> bytes:
    return payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)


def _signature(payload: bytes, secret: str, timestamp: int) -> str:
    signed_payload = str(int(timestamp)).encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), signed_payload, hashlib.sha256).hexdigest()


def sign_webhook(payload: bytes | str, secret: str, *, timestamp: int) -> str:
    """Return a ``Stripe-Signature`` header for ``payload``, as Stripe signs it.

    For tests and checks without Stripe: ``t=<timestamp>,v1=<HMAC-SHA256 hex of
    "<timestamp>.<payload>" keyed by the secret>``.
    """
    return f"t={int(timestamp)},v1={_signature(_as_bytes(payload), secret, timestamp)}"


def _parse_signature_header(header: str) -> tuple[int | None, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t" and timestamp is None:
            timestamp = _int(value.strip()) if value.strip().isdigit() else None
        elif key == "v1":
            signatures.append(value.strip())
    return timestamp, signatures


def verify_webhook(
    payload: bytes | str,
    signature_header: str | None,
    secret: str | None,
    *,
    now: int,
    tolerance: int = 300,
) -> dict[str, Any]:
    """Check a webhook delivery and return its event.

    W-1: without a secret every delivery is refused (``NO_SECRET``), never accepted
    unchecked; a missing header is ``NO_SIGNATURE``; the header is accepted when ANY of
    its ``v1`` signatures is the HMAC-SHA256 of ``"<t>.<payload>"`` (compared in constant
    time), else ``BAD_SIGNATURE``; a timestamp more than ``tolerance`` seconds before or
    after ``now`` is ``STALE_TIMESTAMP`` (a replay; Stripe's SDK checks only the past);
    a payload that is not a JSON object is ``MALFORMED``.

    :param payload: the raw request body, exactly as received.
    :param now: the current Unix time, from the caller.
    :raises WebhookError: with the code saying why the delivery is refused.
    """
    if not secret:
        raise WebhookError(WebhookErrorCode.NO_SECRET)
    if not signature_header:
        raise WebhookError(WebhookErrorCode.NO_SIGNATURE)
    timestamp, signatures = _parse_signature_header(signature_header)
    if timestamp is None or not signatures:
        raise WebhookError(
            WebhookErrorCode.NO_SIGNATURE,
            timestamp=timestamp is not None,
            v1_count=len(signatures),
        )
    body = _as_bytes(payload)
    expected = _signature(body, secret, timestamp).encode("ascii")
    # Check every candidate, so the time taken does not tell which one matched.
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(expected, candidate.encode("utf-8", "replace"))
    if not matched:
        raise WebhookError(WebhookErrorCode.BAD_SIGNATURE, v1_count=len(signatures))
    if abs(int(now) - timestamp) > tolerance:
        raise WebhookError(
            WebhookErrorCode.STALE_TIMESTAMP, timestamp=timestamp, now=int(now), tolerance=tolerance
        )
    try:
        event = json.loads(body)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        raise WebhookError(WebhookErrorCode.MALFORMED) from error
    if not isinstance(event, dict):
        raise WebhookError(WebhookErrorCode.MALFORMED, json_type=type(event).__name__)
    return event
