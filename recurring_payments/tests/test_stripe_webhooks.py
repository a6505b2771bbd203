# Part of recurring payments for Odoo. License LGPL-3.
"""Stripe: the webhook endpoint of recurring_payments, card details and declines.

The events are signed here with the core's ``sign_webhook``, as Stripe signs them. The
declines are read over real HTTP from a tiny server started on 127.0.0.1 that replays
a recorded PaymentIntent (``tests/data/stripe/payment_intent_failed_expanded.json`` at
the repository's root, written from Stripe's API reference): localstripe produces no
``decline_code``, advice code or network codes.
"""

import json
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from odoo.exceptions import UserError
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from recurring_payments_core.stripe_adapter import sign_webhook

SECRET = "whsec_test_recurring"
CONTROLLER_LOGGER = "odoo.addons.recurring_payments.controllers.recurring_payments"
PAYMENT_METHOD_ID = "pm_1VisaSucceeds0001"
CUSTOMER_ID = "cus_RcMemberA1"
#: Recorded Stripe responses shared with the core's tests.
RECORDED = Path(__file__).resolve().parents[2] / "tests" / "data" / "stripe"


class StubStripe:
    """A local HTTP server answering Stripe API calls with scripted JSON objects.

    ``routes`` maps a path (``/v1/payment_intents/pi_...``) to ``(status, body)``; any
    other path answers 404. Every request is recorded as ``(method, path, query)``.
    """

    def __init__(self, routes):
        self.routes = routes
        self.requests = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - name imposed by BaseHTTPRequestHandler
                url = urlsplit(self.path)
                stub.requests.append(("GET", url.path, dict(parse_qsl(url.query))))
                status, body = stub.routes.get(
                    url.path,
                    (404, {"error": {"type": "invalid_request_error", "code": "resource_missing"}}),
                )
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Stripe-Should-Retry", "false")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@tagged("post_install", "-at_install")
class TestStripeWebhooks(HttpCase):
    """Card events from Stripe refresh saved cards once (W-1, W-2); declines keep their codes."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if cls.env["ir.module.module"]._get("payment_stripe").state != "installed":
            cls.skipTest(cls, "payment_stripe is not installed")
        cls.provider = cls.env["payment.provider"].create(
            {
                "name": "Stripe (recurring tests)",
                "code": "stripe",
                "state": "test",
                "stripe_publishable_key": "pk_test_recurring",
                "stripe_secret_key": "sk_test_recurring",
                "recurring_webhook_secret": SECRET,
            }
        )
        cls.partner = cls.env["res.partner"].create({"name": "Zoë Customer"})
        cls.token = cls.env["payment.token"].create(
            {
                "provider_id": cls.provider.id,
                "payment_method_id": cls.env.ref("payment.payment_method_card").id,
                "partner_id": cls.partner.id,
                "provider_ref": CUSTOMER_ID,
                "stripe_payment_method": PAYMENT_METHOD_ID,
                "payment_details": "4242",
            }
        )
        cls.url = f"/recurring_payments/stripe/webhook/{cls.provider.id}"

    # --- helpers --- #

    @staticmethod
    def _event(
        event_id="evt_1CardAutoUpdated1",
        created=1767312000,
        event_type="payment_method.automatically_updated",
        payment_method=PAYMENT_METHOD_ID,
        exp=(9, 2031),
        last4="1881",
        brand="visa",
        funding="credit",
    ):
        """A Stripe event about a card PaymentMethod, as a JSON payload (bytes)."""
        event = {
            "id": event_id,
            "object": "event",
            "api_version": "2026-03-25.dahlia",
            "created": created,
            "livemode": False,
            "type": event_type,
            "data": {
                "object": {
                    "id": payment_method,
                    "object": "payment_method",
                    "type": "card",
                    "customer": CUSTOMER_ID,
                    "card": {
                        "brand": brand,
                        "exp_month": exp[0],
                        "exp_year": exp[1],
                        "funding": funding,
                        "last4": last4,
                        "country": "FR",
                        "networks": {"available": [brand], "preferred": None},
                    },
                }
            },
        }
        return json.dumps(event).encode()

    def _post(self, payload, signature=None, secret=SECRET, timestamp=None, url=None):
        """POST ``payload`` to the webhook, signed with ``secret`` unless ``signature`` given."""
        headers = {"Content-Type": "application/json"}
        if signature is None and secret:
            timestamp = int(time.time()) if timestamp is None else timestamp
            signature = sign_webhook(payload, secret, timestamp=timestamp)
        if signature:
            headers["Stripe-Signature"] = signature
        return self.url_open(url or self.url, data=payload, headers=headers)

    def _events(self):
        return self.env["recurring.webhook.event"].search([("provider_id", "=", self.provider.id)])

    def _assert_nothing_written(self):
        self.env.invalidate_all()
        self.assertFalse(self._events())
        self.assertEqual(self.token.payment_details, "4242")
        self.assertFalse(self.token.recurring_card_updated_at)
        self.assertFalse(self.token.recurring_exp_year)

    # --- W-1: refused deliveries --- #

    @mute_logger(CONTROLLER_LOGGER)
    def test_no_secret_refused(self):
        """W-1: without a signing secret on the provider every delivery is refused (403)."""
        self.provider.recurring_webhook_secret = False
        response = self._post(self._event(), secret="whsec_guessed")
        self.assertEqual(response.status_code, 403)
        self._assert_nothing_written()

    @mute_logger(CONTROLLER_LOGGER)
    def test_bad_signature_refused(self):
        """W-1: a delivery signed with another secret is refused (400), nothing written."""
        response = self._post(self._event(), secret="whsec_someone_else")
        self.assertEqual(response.status_code, 400)
        self._assert_nothing_written()

    @mute_logger(CONTROLLER_LOGGER)
    def test_tampered_payload_refused(self):
        """W-1: a signature made for another payload is refused (400), nothing written."""
        signature = sign_webhook(self._event(exp=(1, 2040)), SECRET, timestamp=int(time.time()))
        response = self._post(self._event(), signature=signature)
        self.assertEqual(response.status_code, 400)
        self._assert_nothing_written()

    @mute_logger(CONTROLLER_LOGGER)
    def test_missing_signature_refused(self):
        """W-1: a delivery without a Stripe-Signature header is refused (400)."""
        response = self._post(self._event(), secret=None)
        self.assertEqual(response.status_code, 400)
        self._assert_nothing_written()

    @mute_logger(CONTROLLER_LOGGER)
    def test_stale_timestamp_refused(self):
        """W-1: a well signed delivery older than the tolerance is a replay: refused (400)."""
        response = self._post(self._event(), timestamp=int(time.time()) - 600)
        self.assertEqual(response.status_code, 400)
        self._assert_nothing_written()

    def test_several_v1_signatures_accepted(self):
        """W-1: a header with several v1 signatures is accepted when one of them matches."""
        payload = self._event()
        timestamp = int(time.time())
        good = sign_webhook(payload, SECRET, timestamp=timestamp).split(",v1=")[1]
        bad = sign_webhook(payload, "whsec_rolled_secret", timestamp=timestamp).split(",v1=")[1]
        response = self._post(payload, signature=f"t={timestamp},v1={bad},v1={good}")
        self.assertEqual(response.status_code, 200)
        self.env.invalidate_all()
        self.assertEqual(len(self._events()), 1)
        self.assertEqual(self.token.payment_details, "1881")

    def test_unknown_provider(self):
        """An endpoint of a provider that does not exist answers 404 and writes nothing."""
        missing = self.provider.search([], order="id desc", limit=1).id + 1
        response = self._post(self._event(), url=f"/recurring_payments/stripe/webhook/{missing}")
        self.assertEqual(response.status_code, 404)
        self._assert_nothing_written()

    # --- card events --- #

    def test_card_refreshed_from_event(self):
        """A card updated by the network (new number and expiry) refreshes the saved card."""
        response = self._post(self._event(exp=(9, 2031), last4="1881", funding="debit"))
        self.assertEqual(response.status_code, 200)
        self.env.invalidate_all()
        self.assertRecordValues(
            self.token,
            [
                {
                    "payment_details": "1881",
                    "recurring_card_brand": "visa",
                    "recurring_exp_month": 9,
                    "recurring_exp_year": 2031,
                    "recurring_funding": "debit",
                    "recurring_card_updated_at": datetime(2026, 1, 2, 0, 0),
                }
            ],
        )
        self.assertEqual(str(self.token.recurring_expiry_date), "2031-09-30")
        event = self._events()
        self.assertRecordValues(
            event,
            [
                {
                    "event_id": "evt_1CardAutoUpdated1",
                    "event_type": "payment_method.automatically_updated",
                    "event_created_at": datetime(2026, 1, 2, 0, 0),
                }
            ],
        )

    def test_other_card_untouched(self):
        """An event about another PaymentMethod changes no token."""
        response = self._post(self._event(payment_method="pm_SomeoneElse0001"))
        self.assertEqual(response.status_code, 200)
        self.env.invalidate_all()
        self.assertEqual(self.token.payment_details, "4242")
        self.assertFalse(self.token.recurring_card_updated_at)

    def test_ignored_event(self):
        """An event type the addon does not handle is acknowledged (200) and not recorded."""
        payload = json.dumps(
            {
                "id": "evt_1Ignored00000001",
                "object": "event",
                "created": 1767312000,
                "type": "customer.created",
                "data": {"object": {"id": CUSTOMER_ID, "object": "customer"}},
            }
        ).encode()
        response = self._post(payload)
        self.assertEqual(response.status_code, 200)
        self._assert_nothing_written()

    # --- W-2: replays and late events --- #

    def test_same_event_twice_applied_once(self):
        """W-2: the same event delivered twice changes state once."""
        payload = self._event()
        self.assertEqual(self._post(payload).status_code, 200)
        self.env.invalidate_all()
        self.assertEqual(self.token.payment_details, "1881")
        # Changed here after the first delivery: a second application would undo it.
        self.token.write({"payment_details": "0000", "recurring_exp_year": 2035})
        self.env.flush_all()
        self.assertEqual(self._post(payload).status_code, 200)
        self.env.invalidate_all()
        self.assertEqual(len(self._events()), 1)
        self.assertEqual(self.token.payment_details, "0000")
        self.assertEqual(self.token.recurring_exp_year, 2035)

    def test_late_event_does_not_overwrite(self):
        """W-2: an event older than the stored card details never overwrites them."""
        newer = self._event("evt_1Newer000000001", created=1767312000, exp=(9, 2031), last4="1881")
        older = self._event(
            "evt_1Older000000001",
            created=1767225600,
            event_type="payment_method.updated",
            exp=(8, 2029),
            last4="4242",
        )
        self.assertEqual(self._post(newer).status_code, 200)
        self.assertEqual(self._post(older).status_code, 200)
        self.env.invalidate_all()
        self.assertEqual(len(self._events()), 2)
        self.assertRecordValues(
            self.token,
            [
                {
                    "payment_details": "1881",
                    "recurring_exp_month": 9,
                    "recurring_exp_year": 2031,
                    "recurring_card_updated_at": datetime(2026, 1, 2, 0, 0),
                }
            ],
        )

    # --- reading from Stripe --- #

    def _payment_method(self):
        return {
            "id": PAYMENT_METHOD_ID,
            "object": "payment_method",
            "type": "card",
            "customer": CUSTOMER_ID,
            "card": {
                "brand": "mastercard",
                "exp_month": 3,
                "exp_year": 2028,
                "funding": "prepaid",
                "last4": "4444",
                "country": "FR",
                "networks": {"available": ["mastercard"], "preferred": "mastercard"},
            },
        }

    def test_refresh_button_reads_stripe(self):
        """The token's button reads the card from Stripe (the API base set in the parameter)."""
        routes = {f"/v1/payment_methods/{PAYMENT_METHOD_ID}": (200, self._payment_method())}
        with StubStripe(routes) as stub:
            self.env["ir.config_parameter"].set_param(
                "recurring_payments.stripe_api_base", stub.base_url
            )
            self.token.action_recurring_refresh_card_details()
        self.assertEqual(stub.requests[0][:2], ("GET", f"/v1/payment_methods/{PAYMENT_METHOD_ID}"))
        self.assertRecordValues(
            self.token,
            [
                {
                    "payment_details": "4444",
                    "recurring_card_brand": "mastercard",
                    "recurring_exp_month": 3,
                    "recurring_exp_year": 2028,
                    "recurring_funding": "prepaid",
                }
            ],
        )
        self.assertTrue(self.token.recurring_card_updated_at)

    def test_refresh_button_error(self):
        """A refusal of Stripe is a clear error for the user, and nothing is written."""
        with StubStripe({}) as stub:
            self.env["ir.config_parameter"].set_param(
                "recurring_payments.stripe_api_base", stub.base_url
            )
            with self.assertRaises(UserError):
                self.token.action_recurring_refresh_card_details()
        self.assertEqual(self.token.payment_details, "4242")
        self.assertFalse(self.token.recurring_card_updated_at)

    def test_card_event_without_card_reads_stripe(self):
        """A card event that does not carry the card details reads them from Stripe."""
        payload = json.dumps(
            {
                "id": "evt_1ThinPayload0001",
                "object": "event",
                "created": 1767312000,
                "type": "payment_method.attached",
                "data": {
                    "object": {"id": PAYMENT_METHOD_ID, "object": "payment_method", "type": "card"}
                },
            }
        ).encode()
        routes = {f"/v1/payment_methods/{PAYMENT_METHOD_ID}": (200, self._payment_method())}
        with StubStripe(routes) as stub:
            self.env["ir.config_parameter"].set_param(
                "recurring_payments.stripe_api_base", stub.base_url
            )
            self.env.flush_all()
            response = self._post(payload)
        self.assertEqual(response.status_code, 200)
        self.env.invalidate_all()
        self.assertEqual(self.token.payment_details, "4444")
        self.assertEqual(len(self._events()), 1)

    # --- declines --- #

    def _stripe_transaction(self, provider_reference=None, reference="INV/2026/00046-1"):
        return self.env["payment.transaction"].create(
            {
                "provider_id": self.provider.id,
                "payment_method_id": self.token.payment_method_id.id,
                "token_id": self.token.id,
                "partner_id": self.partner.id,
                "amount": 49.90,
                "currency_id": self.env.ref("base.EUR").id,
                "operation": "offline",
                "reference": reference,
                "provider_reference": provider_reference,
                "state": "error",
                "state_message": "Stripe: Your card was declined.",
            }
        )

    def _recorded_intent(self):
        path = RECORDED / "payment_intent_failed_expanded.json"
        if not path.exists():
            self.skipTest(f"recorded Stripe responses not found in {RECORDED}")
        return json.loads(path.read_text(encoding="utf-8"))["body"]

    def test_decline_codes_read_from_payment_intent(self):
        """C-5: a Stripe decline keeps the decline, advice and network codes for the rules."""
        intent = self._recorded_intent()
        transaction = self._stripe_transaction(intent["id"])
        routes = {f"/v1/payment_intents/{intent['id']}": (200, intent)}
        with StubStripe(routes) as stub:
            self.env["ir.config_parameter"].set_param(
                "recurring_payments.stripe_api_base", stub.base_url
            )
            decline = transaction._recurring_decline()
        self.assertEqual(stub.requests[0][2].get("expand[0]"), "latest_charge")
        self.assertEqual(decline.provider, "stripe")
        self.assertEqual(decline.code, "do_not_honor")
        self.assertEqual(decline.advice_code, "try_again_later")
        self.assertEqual(decline.network_advice_code, "01")
        self.assertEqual(decline.network_decline_code, "05")
        self.assertEqual(decline.card_network, "mastercard")
        self.assertFalse(decline.timeout)

    def test_decline_found_by_reference(self):
        """A declined off-session charge left no reference: its PaymentIntent is found by ours."""
        transaction = self._stripe_transaction()
        intent = dict(
            self._recorded_intent(),
            description=transaction.reference,
            created=int(transaction.create_date.replace(tzinfo=timezone.utc).timestamp()),
        )
        routes = {
            "/v1/payment_intents": (
                200,
                {"object": "list", "data": [intent], "has_more": False},
            ),
            f"/v1/payment_intents/{intent['id']}": (200, intent),
        }
        with StubStripe(routes) as stub:
            self.env["ir.config_parameter"].set_param(
                "recurring_payments.stripe_api_base", stub.base_url
            )
            decline = transaction._recurring_decline()
        self.assertEqual(stub.requests[0][2].get("customer"), CUSTOMER_ID)
        self.assertEqual(decline.code, "do_not_honor")

    def test_decline_without_answer_is_timeout(self):
        """C-7: when Stripe does not answer, the decline is a timeout, never "declined"."""
        transaction = self._stripe_transaction("pi_1McDoNotHonor0001")
        with StubStripe({}) as stub:
            base_url = stub.base_url
        # The server is stopped: the connection is refused.
        self.env["ir.config_parameter"].set_param("recurring_payments.stripe_api_base", base_url)
        decline = transaction._recurring_decline()
        self.assertTrue(decline.timeout)
        self.assertIsNone(decline.code)
        self.assertEqual(decline.message, "Stripe: Your card was declined.")
