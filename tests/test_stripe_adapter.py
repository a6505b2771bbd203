"""Tests of :mod:`recurring_payments_core.stripe_adapter`.

Three kinds of tests:

- over real HTTP against localstripe (fixture ``localstripe`` of ``conftest.py``):
  customers, card PaymentMethods, off-session charges that succeed, decline or need
  authentication, look-ups by reference, webhooks signed by localstripe;
- over real HTTP against a tiny local server started here on 127.0.0.1 (``stub``) that
  records every request (method, path, headers, form) and replays recorded Stripe
  responses from ``tests/data/stripe/``. Those files were written by hand from the
  response shapes of Stripe's API reference, not captured from Stripe; they cover what
  localstripe cannot play: ``decline_code``, ``advice_code`` and the network codes, the
  ``authentication_required`` error of a real off-session charge, the Idempotency-Key
  header (localstripe ignores it), timeouts and server errors;
- pure functions: webhook signatures and events, cross-checked with the SDK.
"""

import json
import pickle
import socket
import threading
import time
import urllib.request
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import stripe

from recurring_payments_core.stripe_adapter import (
    CardDetails,
    ChargeResult,
    ChargeStatus,
    DeclineDetails,
    StripeAdapter,
    StripeAdapterError,
    StripeAdapterErrorCode,
    WebhookError,
    WebhookErrorCode,
    card_details_from_event,
    charge_result_from_event,
    sign_webhook,
    status_may_replace,
    verify_webhook,
)

DATA = Path(__file__).resolve().parent / "data" / "stripe"
API_KEY = "sk_test_recurring"
SECRET = "whsec_test_recurring"


def recorded(name):
    """A recorded response: ``{"status": ..., "headers": {...}, "body": {...}}``."""
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


# === LOCAL STUB SERVER === #


class StubStripe:
    """A local HTTP server that records requests and replays scripted responses.

    Each request takes the next scripted response: ``(status, body, headers)``, or
    ``HANG`` (no answer until the test ends, at most ``HANG_SECONDS``). When the script
    is empty the server answers 500.
    """

    HANG = object()
    HANG_SECONDS = 10.0

    def __init__(self):
        self.requests = []
        self._script = []
        self._lock = threading.Lock()
        self.release = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):  # noqa: A002 - quiet
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8") if length else ""
                split = urlsplit(self.path)
                with stub._lock:
                    stub.requests.append(
                        {
                            "method": self.command,
                            "path": split.path,
                            "query": dict(parse_qsl(split.query, keep_blank_values=True)),
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "form": dict(parse_qsl(body, keep_blank_values=True)),
                            "body": body,
                        }
                    )
                    step = stub._script.pop(0) if stub._script else (500, {"error": {}}, {})
                if step is StubStripe.HANG:
                    stub.release.wait(StubStripe.HANG_SECONDS)
                    return
                status, payload, headers = step
                data = json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    if key.lower() not in ("content-type", "content-length"):
                        self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def reply(self, status, body, headers=None):
        self._script.append((status, body, dict(headers or {})))

    def replay(self, name):
        response = recorded(name)
        self.reply(response["status"], response["body"], response.get("headers"))
        return response

    def hang(self):
        self._script.append(StubStripe.HANG)

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub():
    server = StubStripe()
    yield server
    server.close()


def stub_adapter(stub, **kwargs):
    kwargs.setdefault("max_network_retries", 0)
    return StripeAdapter(API_KEY, api_base=stub.url, **kwargs)


CHARGE = {
    "customer": "cus_RcMemberA1",
    "payment_method": "pm_1VisaSucceeds0001",
    "amount_minor": 4990,
    "currency": "EUR",
    "reference": "INV/2026/00045",
    "idempotency_key": "db1-inv42-attempt1",
}


# === LOCALSTRIPE HELPERS === #


@pytest.fixture
def sdk(localstripe):
    """A plain SDK client on localstripe, to set up customers and cards."""
    return stripe.StripeClient(
        API_KEY,
        base_addresses={"api": localstripe},
        http_client=stripe.RequestsClient(timeout=10),
    )


@pytest.fixture
def adapter(localstripe):
    return StripeAdapter(API_KEY, api_base=localstripe, timeout=10, max_network_retries=0)


def new_customer(sdk):
    return sdk.v1.customers.create({"email": "member@example.com"}).id


def new_card(sdk, customer, number, exp_month=12, exp_year=2030):
    payment_method = sdk.v1.payment_methods.create(
        {
            "type": "card",
            "card": {"number": number, "exp_month": exp_month, "exp_year": exp_year, "cvc": "123"},
        }
    )
    sdk.v1.payment_methods.attach(payment_method.id, {"customer": customer})
    return payment_method.id


def charge(adapter, customer, payment_method, reference, key=None, **kwargs):
    return adapter.charge_off_session(
        customer=customer,
        payment_method=payment_method,
        amount_minor=kwargs.pop("amount_minor", 1250),
        currency=kwargs.pop("currency", "eur"),
        reference=reference,
        idempotency_key=key or f"key-{reference}",
        **kwargs,
    )


# === CARDS OVER LOCALSTRIPE === #


def test_card_details_reads_the_full_card_from_localstripe(sdk, adapter):
    """Brand, last 4, expiry, funding, country, fingerprint and network, not only last 4."""
    customer = new_customer(sdk)
    pm_id = new_card(sdk, customer, "4242424242424242", exp_month=7, exp_year=2031)
    same_card = new_card(sdk, customer, "4242424242424242")
    other_card = new_card(sdk, customer, "5555555555554444")

    details = adapter.card_details(pm_id)

    assert details == CardDetails(
        payment_method_id=pm_id,
        brand="visa",
        last4="4242",
        exp_month=7,
        exp_year=2031,
        funding="credit",
        country="FR",
        fingerprint=details.fingerprint,
        network="visa",  # no card.networks in localstripe: the brand
    )
    assert details.fingerprint
    assert adapter.card_details(same_card).fingerprint == details.fingerprint
    assert adapter.card_details(other_card).fingerprint != details.fingerprint


def test_card_details_of_a_missing_payment_method_is_not_found(adapter):
    with pytest.raises(StripeAdapterError) as caught:
        adapter.card_details("pm_doesnotexist")
    assert caught.value.code is StripeAdapterErrorCode.NOT_FOUND
    assert caught.value.params["http_status"] == 404
    assert caught.value.retryable is False


def test_a_refused_key_is_an_authentication_error(localstripe):
    """localstripe accepts only ``sk_`` keys: a publishable key gets a real 401."""
    adapter = StripeAdapter("pk_test_wrong", api_base=localstripe, max_network_retries=0)
    with pytest.raises(StripeAdapterError) as caught:
        adapter.card_details("pm_card_visa")
    assert caught.value.code is StripeAdapterErrorCode.AUTHENTICATION
    assert caught.value.retryable is False


def test_adapters_never_touch_the_sdk_global_settings(localstripe, stub):
    """Several companies, several keys: each adapter has its own client."""
    before = (stripe.api_key, stripe.api_base)
    first = StripeAdapter(API_KEY, api_base=localstripe, max_network_retries=0)
    second = stub_adapter(stub)
    stub.replay("payment_intent_succeeded")

    assert first.card_details("pm_card_visa").last4 == "4242"
    assert second.charge_off_session(**CHARGE).status is ChargeStatus.SUCCEEDED
    assert stub.requests[0]["headers"]["authorization"] == f"Bearer {API_KEY}"
    assert (stripe.api_key, stripe.api_base) == before


@pytest.mark.parametrize("api_key", ["", None])
def test_no_api_key_is_not_configured(api_key):
    with pytest.raises(StripeAdapterError) as caught:
        StripeAdapter(api_key)
    assert caught.value.code is StripeAdapterErrorCode.NOT_CONFIGURED


# === CHARGES OVER LOCALSTRIPE === #


def test_charge_off_session_succeeds_with_a_good_card(sdk, adapter):
    customer = new_customer(sdk)
    pm_id = new_card(sdk, customer, "4242424242424242")

    result = charge(
        adapter, customer, pm_id, "INV/2026/0001", currency="EUR", metadata={"attempt": "1"}
    )

    assert result.status is ChargeStatus.SUCCEEDED
    assert result.status == "succeeded"
    assert result.decline is None
    intent = sdk.v1.payment_intents.retrieve(result.payment_intent_id)
    assert (intent.amount, intent.currency, intent.customer) == (1250, "eur", customer)
    assert intent.payment_method == pm_id
    assert intent.last_response.data["metadata"] == {"reference": "INV/2026/0001", "attempt": "1"}
    assert adapter.decline_details(result.payment_intent_id) is None


def test_charge_off_session_declined_card_fails_with_decline_details(sdk, adapter):
    """4000000000000341 attaches but its charges decline (localstripe: plain card_declined)."""
    customer = new_customer(sdk)
    pm_id = new_card(sdk, customer, "4000000000000341")

    result = charge(adapter, customer, pm_id, "INV/2026/0002")

    assert result.status is ChargeStatus.FAILED
    assert result.decline.code == "card_declined"
    assert result.decline.decline_code is None  # localstripe sends none
    assert result.decline.message == "Your card was declined."
    # localstripe names only the charge: the PaymentIntent is found through it.
    assert result.payment_intent_id.startswith("pi_")
    assert result.decline.payment_intent_id == result.payment_intent_id

    details = adapter.decline_details(result.payment_intent_id)
    assert details.code == "card_declined"
    assert details.payment_intent_id == result.payment_intent_id
    assert details.payment_intent_status == "requires_payment_method"
    assert details.message == "Your card was declined."


def test_charge_off_session_authentication_card_requires_action(sdk, adapter):
    """4000002760003184 always needs 3-D Secure; localstripe leaves it in requires_action."""
    customer = new_customer(sdk)
    pm_id = new_card(sdk, customer, "4000002760003184")

    result = charge(adapter, customer, pm_id, "INV/2026/0003")

    assert result.status is ChargeStatus.REQUIRES_ACTION
    assert result.payment_intent_status == "requires_action"
    assert result.payment_intent_id.startswith("pi_")
    assert result.decline is None


def test_find_payment_intents_by_reference_repairs_a_crash(sdk, adapter):
    """C-3: after a crash, the charge accepted by Stripe is found by its reference."""
    first = new_customer(sdk)
    second = new_customer(sdk)
    first_card = new_card(sdk, first, "4242424242424242")
    second_card = new_card(sdk, second, "4242424242424242")
    wanted = charge(adapter, first, first_card, "INV/2026/0010")
    charge(adapter, first, first_card, "INV/2026/0011")
    other_customer = charge(adapter, second, second_card, "INV/2026/0010")

    found = adapter.find_payment_intents(customer=first, metadata_reference="INV/2026/0010")
    assert [intent["id"] for intent in found] == [wanted.payment_intent_id]
    assert found[0]["status"] == "succeeded"
    assert found[0]["metadata"]["reference"] == "INV/2026/0010"

    # Without a customer: localstripe has no Search API, the adapter lists instead.
    by_reference = adapter.find_payment_intents(metadata_reference="INV/2026/0010")
    assert {intent["id"] for intent in by_reference} == {
        wanted.payment_intent_id,
        other_customer.payment_intent_id,
    }
    assert len(adapter.find_payment_intents(customer=first)) == 2
    later = int(time.time()) + 3600
    assert adapter.find_payment_intents(customer=first, created_after=later) == []
    assert adapter.find_payment_intents(metadata_reference="INV/2026/9999") == []


def test_find_payment_intents_needs_a_filter(stub):
    with pytest.raises(StripeAdapterError) as caught:
        stub_adapter(stub).find_payment_intents()
    assert caught.value.code is StripeAdapterErrorCode.INVALID_ARGUMENT
    assert stub.requests == []


# === WEBHOOKS FROM LOCALSTRIPE === #


class _WebhookSink:
    """Receives localstripe's webhook deliveries on 127.0.0.1."""

    def __init__(self):
        self.deliveries = []
        self.arrived = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):  # noqa: A002 - quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sink.deliveries.append((body, self.headers.get("Stripe-Signature")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                sink.arrived.set()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def wait_for(self, payment_intent_id, timeout):
        """The delivery about this PaymentIntent (earlier tests' events may come too)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for body, header in list(self.deliveries):
                if payment_intent_id.encode() in body:
                    return body, header
            self.arrived.wait(0.1)
            self.arrived.clear()
        return None


def _register_webhook(base_url, url, events):
    body = json.dumps({"url": url, "secret": SECRET, "events": events}).encode()
    request = urllib.request.Request(
        base_url + "/_config/webhooks/recurring_tests",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        response.read()


def test_webhook_signed_by_localstripe_is_verified(sdk, adapter, localstripe):
    """W-1 against a third implementation: localstripe signs as Stripe does."""
    sink = _WebhookSink()
    _register_webhook(localstripe, sink.url, ["payment_intent.succeeded"])
    try:
        customer = new_customer(sdk)
        result = charge(adapter, customer, new_card(sdk, customer, "4242424242424242"), "INV/W1")
        ours = sink.wait_for(result.payment_intent_id, timeout=10)
    finally:
        _register_webhook(localstripe, sink.url, ["recurring.tests.never_sent"])
        sink.server.shutdown()
        sink.server.server_close()

    assert ours is not None, "localstripe sent no webhook for the charge"
    body, header = ours
    event = verify_webhook(body, header, SECRET, now=int(time.time()))
    assert event["type"] == "payment_intent.succeeded"
    assert charge_result_from_event(event) == ChargeResult(
        status=ChargeStatus.SUCCEEDED,
        payment_intent_id=result.payment_intent_id,
        payment_intent_status="succeeded",
    )
    with pytest.raises(WebhookError) as caught:
        verify_webhook(body, header, "whsec_other", now=int(time.time()))
    assert caught.value.code is WebhookErrorCode.BAD_SIGNATURE


# === IDEMPOTENCY AND TIMEOUTS (LOCAL STUB) === #


def test_charge_sends_the_idempotency_key_and_off_session_parameters(stub):
    """C-2: the Idempotency-Key header carries the caller's key, exactly."""
    stub.replay("payment_intent_succeeded")

    result = stub_adapter(stub).charge_off_session(**CHARGE, metadata={"attempt": "1"})

    assert result == ChargeResult(
        status=ChargeStatus.SUCCEEDED,
        payment_intent_id="pi_1VisaSucceeds0001",
        payment_intent_status="succeeded",
    )
    (request,) = stub.requests
    assert (request["method"], request["path"]) == ("POST", "/v1/payment_intents")
    assert request["headers"]["idempotency-key"] == "db1-inv42-attempt1"
    assert request["form"] == {
        "amount": "4990",
        "currency": "eur",
        "customer": "cus_RcMemberA1",
        "payment_method": "pm_1VisaSucceeds0001",
        "confirm": "true",
        "off_session": "true",
        "payment_method_types[0]": "card",
        "metadata[attempt]": "1",
        "metadata[reference]": "INV/2026/00045",
    }


def test_timeout_raises_a_retryable_timeout_within_the_configured_time(stub):
    """C-7: no answer → TIMEOUT, retryable: the attempt stays pending, never "declined"."""
    stub.hang()
    started = time.monotonic()
    with pytest.raises(StripeAdapterError) as caught:
        stub_adapter(stub, timeout=0.5).charge_off_session(**CHARGE)
    elapsed = time.monotonic() - started

    assert caught.value.code is StripeAdapterErrorCode.TIMEOUT
    assert caught.value.retryable is True
    assert caught.value.params["cause"] == "ReadTimeout"
    # The server would hold the request for 10 s: the 0.5 s timeout cut it short.
    assert elapsed < StubStripe.HANG_SECONDS / 2
    assert len(stub.requests) == 1


def test_connection_refused_is_a_retryable_timeout():
    """C-7: nobody listening is also an unknown outcome, never a decline."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    adapter = StripeAdapter(
        API_KEY, api_base=f"http://127.0.0.1:{port}", timeout=0.5, max_network_retries=0
    )
    with pytest.raises(StripeAdapterError) as caught:
        adapter.charge_off_session(**CHARGE)
    assert caught.value.code is StripeAdapterErrorCode.TIMEOUT
    assert caught.value.retryable is True
    assert caught.value.params["cause"] == "ConnectionError"


def test_replay_after_a_timeout_sends_the_same_key(stub):
    """C-2: the caller replays the charge after a timeout with the same key."""
    stub.hang()
    stub.replay("payment_intent_succeeded")
    adapter = stub_adapter(stub, timeout=0.5)

    with pytest.raises(StripeAdapterError) as caught:
        adapter.charge_off_session(**CHARGE)
    assert caught.value.code is StripeAdapterErrorCode.TIMEOUT
    result = adapter.charge_off_session(**CHARGE)

    assert result.status is ChargeStatus.SUCCEEDED
    keys = [request["headers"].get("idempotency-key") for request in stub.requests]
    assert keys == ["db1-inv42-attempt1", "db1-inv42-attempt1"]
    assert stub.requests[0]["form"] == stub.requests[1]["form"]


def test_sdk_network_retry_after_a_timeout_sends_the_same_key(stub):
    """C-2: the SDK's own retry (max_network_retries) reuses the caller's key."""
    stub.hang()
    stub.replay("payment_intent_succeeded")

    result = stub_adapter(stub, timeout=0.5, max_network_retries=1).charge_off_session(**CHARGE)

    assert result.status is ChargeStatus.SUCCEEDED
    keys = [request["headers"].get("idempotency-key") for request in stub.requests]
    assert keys == ["db1-inv42-attempt1", "db1-inv42-attempt1"]


# === RECORDED DECLINES (LOCAL STUB) === #

INSUFFICIENT_FUNDS = DeclineDetails(
    code="card_declined",
    decline_code="insufficient_funds",
    advice_code="try_again_later",
    network_advice_code="24",
    network_decline_code="51",
    message="Your card has insufficient funds.",
    payment_intent_id="pi_1McInsufficient01",
    payment_intent_status="requires_payment_method",
    card_network="mastercard",
)
LOST_CARD = DeclineDetails(
    code="card_declined",
    decline_code="lost_card",
    advice_code="do_not_try_again",
    network_advice_code=None,
    network_decline_code="41",
    message="Your card was declined.",
    payment_intent_id="pi_1VisaLostCard0001",
    payment_intent_status="requires_payment_method",
    card_network="visa",
)
AUTHENTICATION_REQUIRED = DeclineDetails(
    code="authentication_required",
    decline_code="authentication_required",
    advice_code=None,
    network_advice_code=None,
    network_decline_code="1A",
    message="Your card was declined. This transaction requires authentication.",
    payment_intent_id="pi_1Visa3dsRequired1",
    payment_intent_status="requires_payment_method",
    card_network="cartes_bancaires",  # card.networks.preferred wins over the brand
)
RECORDED_DECLINES = [
    ("card_error_insufficient_funds", ChargeStatus.FAILED, INSUFFICIENT_FUNDS),
    ("card_error_lost_card", ChargeStatus.FAILED, LOST_CARD),
    ("card_error_authentication_required", ChargeStatus.REQUIRES_ACTION, AUTHENTICATION_REQUIRED),
]


@pytest.mark.parametrize(("name", "status", "expected"), RECORDED_DECLINES)
def test_charge_off_session_parses_every_field_of_a_card_error(stub, name, status, expected):
    stub.replay(name)

    result = stub_adapter(stub).charge_off_session(**CHARGE)

    assert result == ChargeResult(
        status=status,
        payment_intent_id=expected.payment_intent_id,
        decline=expected,
        payment_intent_status="requires_payment_method",
    )
    assert len(stub.requests) == 1  # the error names its PaymentIntent: no look-up


@pytest.mark.parametrize(("name", "status", "expected"), RECORDED_DECLINES)
def test_decline_from_error_reads_the_sdk_error(stub, name, status, expected):
    """The CardError the SDK raises for the recorded answer, read by decline_from_error."""
    stub.replay(name)
    client = stripe.StripeClient(API_KEY, base_addresses={"api": stub.url})
    with pytest.raises(stripe.CardError) as caught:
        client.v1.payment_intents.create({"amount": 4990, "currency": "eur", "confirm": True})

    assert StripeAdapter.decline_from_error(caught.value) == expected


def test_decline_details_completes_the_error_from_the_charge_outcome(stub):
    """advice and network codes missing from last_payment_error come from the charge."""
    stub.replay("payment_intent_failed_expanded")

    details = stub_adapter(stub).decline_details("pi_1McDoNotHonor0001")

    assert details == DeclineDetails(
        code="card_declined",
        decline_code="do_not_honor",
        advice_code="try_again_later",
        network_advice_code="01",
        network_decline_code="05",
        message="Your card was declined.",
        payment_intent_id="pi_1McDoNotHonor0001",
        payment_intent_status="requires_payment_method",
        card_network="mastercard",
    )
    (request,) = stub.requests
    assert request["path"] == "/v1/payment_intents/pi_1McDoNotHonor0001"
    assert request["query"] == {"expand[0]": "latest_charge"}


# === ERRORS (LOCAL STUB) === #


@pytest.mark.parametrize(
    ("status", "error", "headers", "code", "retryable"),
    [
        (
            429,
            {"type": "invalid_request_error", "code": "rate_limit"},
            {},
            StripeAdapterErrorCode.RATE_LIMITED,
            True,
        ),
        (500, {"type": "api_error"}, {}, StripeAdapterErrorCode.API_ERROR, True),
        (
            503,
            {"type": "api_error"},
            {"Stripe-Should-Retry": "false"},
            StripeAdapterErrorCode.API_ERROR,
            False,
        ),
        (
            409,
            {"type": "invalid_request_error", "code": "lock_timeout"},
            {},
            StripeAdapterErrorCode.API_ERROR,
            True,
        ),
        (401, {"type": "invalid_request_error"}, {}, StripeAdapterErrorCode.AUTHENTICATION, False),
        (403, {"type": "invalid_request_error"}, {}, StripeAdapterErrorCode.PERMISSION, False),
        (
            404,
            {"type": "invalid_request_error", "code": "resource_missing"},
            {},
            StripeAdapterErrorCode.NOT_FOUND,
            False,
        ),
        (
            400,
            {"type": "idempotency_error"},
            {},
            StripeAdapterErrorCode.IDEMPOTENCY_CONFLICT,
            False,
        ),
        (
            400,
            {"type": "invalid_request_error", "code": "parameter_invalid_integer"},
            {},
            StripeAdapterErrorCode.INVALID_REQUEST,
            False,
        ),
        (
            400,
            {"type": "invalid_request_error", "code": "lock_timeout"},
            {"Stripe-Should-Retry": "true"},
            StripeAdapterErrorCode.INVALID_REQUEST,
            True,
        ),
    ],
)
def test_errors_say_whether_they_are_retryable(stub, status, error, headers, code, retryable):
    """C-7: only a card error is a decline; everything else raises a typed error."""
    stub.reply(
        status,
        {"error": {**error, "message": "Recorded message."}},
        {"Request-Id": "req_Recorded01", **headers},
    )

    with pytest.raises(StripeAdapterError) as caught:
        stub_adapter(stub).charge_off_session(**CHARGE)

    assert caught.value.code is code
    assert caught.value.retryable is retryable
    assert caught.value.params["http_status"] == status
    assert caught.value.params["request_id"] == "req_Recorded01"
    assert caught.value.params["stripe_message"] == "Recorded message."


@pytest.mark.parametrize(
    "change",
    [
        {"amount_minor": 0},
        {"amount_minor": -100},
        {"amount_minor": True},
        {"amount_minor": 49.9},
        {"currency": "EURO"},
        {"currency": ""},
        {"reference": ""},
        {"idempotency_key": ""},
        {"idempotency_key": None},
        {"metadata": {"reference": "INV/OTHER"}},
    ],
)
def test_charge_refuses_bad_arguments_before_calling_stripe(stub, change):
    """C-2: no charge ever leaves without an idempotency key."""
    with pytest.raises(StripeAdapterError) as caught:
        stub_adapter(stub).charge_off_session(**{**CHARGE, **change})
    assert caught.value.code is StripeAdapterErrorCode.INVALID_ARGUMENT
    assert caught.value.retryable is False
    assert stub.requests == []


def test_card_details_of_a_sepa_payment_method_is_not_a_card(stub):
    stub.reply(
        200,
        {
            "id": "pm_1Sepa",
            "object": "payment_method",
            "type": "sepa_debit",
            "sepa_debit": {"last4": "3000"},
        },
    )
    with pytest.raises(StripeAdapterError) as caught:
        stub_adapter(stub).card_details("pm_1Sepa")
    assert caught.value.code is StripeAdapterErrorCode.NOT_A_CARD


def test_adapter_errors_survive_pickling():
    error = StripeAdapterError(StripeAdapterErrorCode.TIMEOUT, cause="ReadTimeout")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.params, copy.retryable) == (
        StripeAdapterErrorCode.TIMEOUT,
        {"cause": "ReadTimeout"},
        True,
    )
    assert str(copy) == "timeout(cause='ReadTimeout')"
    webhook_error = pickle.loads(pickle.dumps(WebhookError(WebhookErrorCode.MALFORMED, a=1)))
    assert (webhook_error.code, webhook_error.params) == (WebhookErrorCode.MALFORMED, {"a": 1})


# === LOOK-UPS (LOCAL STUB) === #


def _intent(pi_id, reference, customer="cus_A", created=1767225600):
    return {
        "id": pi_id,
        "object": "payment_intent",
        "customer": customer,
        "created": created,
        "status": "succeeded",
        "metadata": {"reference": reference},
    }


def test_find_payment_intents_without_customer_uses_search_and_its_pages(stub):
    stub.reply(
        200,
        {
            "object": "search_result",
            "has_more": True,
            "next_page": "page_2",
            "data": [_intent("pi_1", "INV/it's")],
        },
    )
    stub.reply(
        200,
        {
            "object": "search_result",
            "has_more": False,
            "next_page": None,
            "data": [_intent("pi_2", "INV/it's"), _intent("pi_3", "INV/other")],
        },
    )

    found = stub_adapter(stub).find_payment_intents(
        metadata_reference="INV/it's", created_after=1767225600
    )

    assert [intent["id"] for intent in found] == ["pi_1", "pi_2"]  # pi_3 filtered out
    first, second = stub.requests
    assert first["path"] == "/v1/payment_intents/search"
    assert first["query"]["query"] == ("metadata['reference']:'INV/it\\'s' AND created>=1767225600")
    assert second["query"]["page"] == "page_2"


def test_find_payment_intents_with_customer_lists_every_page(stub):
    stub.reply(
        200,
        {
            "object": "list",
            "has_more": True,
            "data": [_intent("pi_1", "INV/1"), _intent("pi_2", "INV/2")],
        },
    )
    stub.reply(200, {"object": "list", "has_more": False, "data": [_intent("pi_3", "INV/1")]})

    found = stub_adapter(stub).find_payment_intents(customer="cus_A", metadata_reference="INV/1")

    assert [intent["id"] for intent in found] == ["pi_1", "pi_3"]
    first, second = stub.requests
    assert first["path"] == "/v1/payment_intents"
    assert first["query"] == {"customer": "cus_A", "limit": "100"}
    assert second["query"] == {"customer": "cus_A", "limit": "100", "starting_after": "pi_2"}


def test_find_payment_intents_keeps_a_real_refusal(stub):
    """A refusal naming its parameter (no such customer) is not hidden by listing all."""
    stub.reply(
        400,
        {
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "param": "customer",
                "message": "No such customer",
            }
        },
    )
    with pytest.raises(StripeAdapterError) as caught:
        stub_adapter(stub).find_payment_intents(customer="cus_missing")
    assert caught.value.code is StripeAdapterErrorCode.NOT_FOUND
    assert len(stub.requests) == 1


# === WEBHOOK SIGNATURES (PURE) === #

PAYLOAD = json.dumps({"id": "evt_1", "object": "event", "type": "payment_intent.succeeded"})
NOW = 1767225600


def test_verify_webhook_returns_the_event_of_a_signed_payload():
    header = sign_webhook(PAYLOAD.encode(), SECRET, timestamp=NOW)
    assert header.startswith(f"t={NOW},v1=")
    assert verify_webhook(PAYLOAD.encode(), header, SECRET, now=NOW) == json.loads(PAYLOAD)
    assert verify_webhook(PAYLOAD, header, SECRET, now=NOW)["id"] == "evt_1"


@pytest.mark.parametrize("secret", [None, ""])
def test_webhook_without_secret_is_refused(secret):
    """W-1: no secret configured → refused, even with a header signed by some secret."""
    header = sign_webhook(PAYLOAD, SECRET, timestamp=NOW)
    with pytest.raises(WebhookError) as caught:
        verify_webhook(PAYLOAD.encode(), header, secret, now=NOW)
    assert caught.value.code is WebhookErrorCode.NO_SECRET


@pytest.mark.parametrize(
    "header", [None, "", f"t={NOW}", "v1=" + "0" * 64, f"t=soon,v1={'0' * 64}", "garbage"]
)
def test_webhook_without_a_usable_signature_header_is_refused(header):
    """W-1: a missing header, or one without timestamp or v1 signature."""
    with pytest.raises(WebhookError) as caught:
        verify_webhook(PAYLOAD.encode(), header, SECRET, now=NOW)
    assert caught.value.code is WebhookErrorCode.NO_SIGNATURE


def _v1(header):
    return header.split("v1=", 1)[1]


@pytest.mark.parametrize(
    "header",
    [
        sign_webhook(PAYLOAD, "whsec_other", timestamp=NOW),  # another secret
        sign_webhook(PAYLOAD + " ", SECRET, timestamp=NOW),  # another payload
        f"t={NOW + 1},v1={_v1(sign_webhook(PAYLOAD, SECRET, timestamp=NOW))}",  # other t
        f"t={NOW},v0={_v1(sign_webhook(PAYLOAD, SECRET, timestamp=NOW))},v1={'a' * 64}",
        f"t={NOW},v1={_v1(sign_webhook(PAYLOAD, SECRET, timestamp=NOW)).upper()}",
        f"t={NOW},v1=\u00e9t\u00e9",
    ],
)
def test_webhook_with_a_bad_signature_is_refused(header):
    """W-1: no v1 matches (a v0 signature does not count)."""
    with pytest.raises(WebhookError) as caught:
        verify_webhook(PAYLOAD.encode(), header, SECRET, now=NOW)
    assert caught.value.code is WebhookErrorCode.BAD_SIGNATURE


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(-301, False), (-300, True), (0, True), (300, True), (301, False), (86400, False)],
)
def test_webhook_timestamp_must_be_within_tolerance_both_ways(offset, accepted):
    """W-1: a replayed (old) or a future timestamp beyond the tolerance is refused."""
    header = sign_webhook(PAYLOAD, SECRET, timestamp=NOW + offset)
    if accepted:
        assert verify_webhook(PAYLOAD.encode(), header, SECRET, now=NOW)["id"] == "evt_1"
    else:
        with pytest.raises(WebhookError) as caught:
            verify_webhook(PAYLOAD.encode(), header, SECRET, now=NOW)
        assert caught.value.code is WebhookErrorCode.STALE_TIMESTAMP
        assert caught.value.params == {"timestamp": NOW + offset, "now": NOW, "tolerance": 300}


def test_webhook_signature_is_checked_before_the_timestamp():
    """W-1: a stale forgery says BAD_SIGNATURE, not that only its time is wrong."""
    header = sign_webhook(PAYLOAD, "whsec_other", timestamp=NOW - 3600)
    with pytest.raises(WebhookError) as caught:
        verify_webhook(PAYLOAD.encode(), header, SECRET, now=NOW)
    assert caught.value.code is WebhookErrorCode.BAD_SIGNATURE


@pytest.mark.parametrize("position", [0, 1, 2])
def test_webhook_with_several_v1_is_accepted_if_one_matches(position):
    """W-1: Stripe sends several v1 signatures while a secret is being rolled."""
    good = _v1(sign_webhook(PAYLOAD, SECRET, timestamp=NOW))
    candidates = ["b" * 64, "c" * 64]
    candidates.insert(position, good)
    header = f"t={NOW}," + ",".join(f"v1={candidate}" for candidate in candidates)
    assert verify_webhook(PAYLOAD.encode(), header, SECRET, now=NOW)["id"] == "evt_1"


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]", b'"text"', b"\xff\xfe{}", b""])
def test_webhook_with_a_payload_that_is_not_a_json_object_is_malformed(payload):
    header = sign_webhook(payload, SECRET, timestamp=NOW)
    with pytest.raises(WebhookError) as caught:
        verify_webhook(payload, header, SECRET, now=NOW)
    assert caught.value.code is WebhookErrorCode.MALFORMED


def test_webhook_checks_agree_with_the_stripe_sdk():
    """W-1: same verdict as ``stripe.WebhookSignature.verify_header`` (past timestamps)."""
    now = int(time.time())
    good = sign_webhook(PAYLOAD, SECRET, timestamp=now)
    cases = {
        good: True,
        f"t={now},v1={'d' * 64},v1={_v1(good)}": True,
        sign_webhook(PAYLOAD, "whsec_other", timestamp=now): False,
        sign_webhook(PAYLOAD, SECRET, timestamp=now - 600): False,
        f"t={now},v0={_v1(good)}": False,
    }
    for header, expected in cases.items():
        try:
            stripe.WebhookSignature.verify_header(PAYLOAD, header, SECRET, tolerance=300)
            sdk_accepts = True
        except stripe.SignatureVerificationError:
            sdk_accepts = False
        try:
            verify_webhook(PAYLOAD.encode(), header, SECRET, now=now)
            we_accept = True
        except WebhookError:
            we_accept = False
        assert (sdk_accepts, we_accept) == (expected, expected), header


# === EVENTS (PURE) === #


def test_card_details_from_an_automatically_updated_card():
    event = recorded("event_payment_method_automatically_updated")["body"]

    assert card_details_from_event(event) == CardDetails(
        payment_method_id="pm_1VisaSucceeds0001",
        brand="visa",
        last4="1881",
        exp_month=9,
        exp_year=2031,
        funding="credit",
        country="FR",
        fingerprint="Vi1881Fp7uJ8i9K0",
        network="visa",
    )


@pytest.mark.parametrize("event_type", ["payment_method.attached", "payment_method.updated"])
def test_card_details_from_other_payment_method_events(event_type):
    event = {**recorded("event_payment_method_automatically_updated")["body"], "type": event_type}
    assert card_details_from_event(event).exp_year == 2031


def test_events_without_card_details_give_none():
    event = recorded("event_payment_method_automatically_updated")["body"]
    assert card_details_from_event({**event, "type": "customer.updated"}) is None
    sepa = {"id": "pm_1Sepa", "object": "payment_method", "type": "sepa_debit"}
    sepa_event = {**event, "data": {"object": sepa}}
    assert card_details_from_event(sepa_event) is None
    assert charge_result_from_event(event) is None


def test_charge_result_from_a_payment_failed_event():
    intent = recorded("payment_intent_failed_expanded")["body"]
    event = {
        "id": "evt_2",
        "object": "event",
        "type": "payment_intent.payment_failed",
        "data": {"object": intent},
    }

    result = charge_result_from_event(event)

    assert result.status is ChargeStatus.FAILED
    assert result.payment_intent_id == "pi_1McDoNotHonor0001"
    assert result.decline.decline_code == "do_not_honor"
    assert result.decline.network_advice_code == "01"


S = ChargeStatus


@pytest.mark.parametrize(
    ("current", "incoming", "allowed"),
    [
        (None, S.PROCESSING, True),
        (None, S.FAILED, True),
        (S.PROCESSING, S.SUCCEEDED, True),
        (S.PROCESSING, S.FAILED, True),
        (S.REQUIRES_ACTION, S.SUCCEEDED, True),
        (S.PROCESSING, S.REQUIRES_ACTION, True),
        (S.FAILED, S.SUCCEEDED, True),
        (S.SUCCEEDED, S.SUCCEEDED, False),  # the same event twice changes state once
        (S.FAILED, S.FAILED, False),
        (S.SUCCEEDED, S.FAILED, False),  # a late "failed" never downgrades a "done"
        (S.SUCCEEDED, S.PROCESSING, False),
        (S.SUCCEEDED, S.REQUIRES_ACTION, False),
        (S.FAILED, S.PROCESSING, False),
        ("processing", "succeeded", True),
    ],
)
def test_status_may_replace(current, incoming, allowed):
    """W-2: duplicates are no-ops and a success is never downgraded."""
    assert status_may_replace(current, incoming) is allowed


def test_recorded_files_say_they_are_written_from_documented_shapes():
    for path in DATA.glob("*.json"):
        note = json.loads(path.read_text(encoding="utf-8"))["note"]
        assert "not captured from Stripe" in note, path.name


def test_decline_details_are_plain_values():
    """The addon stores them as they are: only strings and None."""
    for value in asdict(INSUFFICIENT_FUNDS).values():
        assert value is None or isinstance(value, str)
