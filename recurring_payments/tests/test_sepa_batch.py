# Part of recurring payments for Odoo. License LGPL-3.
import importlib.util
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from freezegun import freeze_time
from lxml import etree

from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from recurring_payments_core.sepa.calendar import earliest_collection_date, is_target2_business_day

from .common_sepa import SEPA_CREDITOR_IDENTIFIER, SepaCommon

_SEPAXML = importlib.util.find_spec("sepaxml")
XSD_DIR = Path(next(iter(_SEPAXML.submodule_search_locations))) / "schemas" if _SEPAXML else None
#: A French IBAN: another bank than the German debtors' (a move there is SMNDA).
OTHER_BANK_IBAN = "FR7630006000011234567890189"
#: Queries per debit the preparation cron may add beyond a constant (P-1): about 8.5
#: today (pre-notification email included).
MAX_QUERIES_PER_TRANSACTION = 15


def de_iban(number):
    """Return the valid German IBAN ``DE..37040044053201<number:04d>`` (one bank)."""
    bban = f"37040044053201{number:04d}"
    digits = "".join(str(int(char, 36)) for char in f"{bban}DE00")
    return f"DE{98 - int(digits) % 97:02d}{bban}"


@tagged("post_install", "-at_install")
class TestSepaBatch(SepaCommon):
    """The SEPA Direct Debit provider, pre-notifications and collection batches."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.write({"email": "billing@creditor.example.com"})
        cls.company.partner_id.tz = "Europe/Paris"
        cls.debtor_count = 0

    # === HELPERS === #

    def _debtor(self, **vals):
        type(self).debtor_count += 1
        number = self.debtor_count
        return self._sepa_partner(f"Debtor {number}", de_iban(number), **vals)

    def _queue(self, mandate, amount=30.0, start=None, **vals):
        """Subscribe the mandate's debtor today and run the invoicing and charging crons:
        return the (sudoed) transaction the charging queued."""
        start = start or date.today()
        subscription = self._sepa_subscription(mandate, amount, start=start, **vals)
        self.env["recurring.subscription"]._cron_generate_invoices()
        self.env["account.move"]._cron_charge_invoices()
        invoice = self._invoices(subscription)
        return invoice.recurring_attempt_ids.transaction_id.sudo()

    def _prepare(self):
        return self.env["payment.transaction"]._cron_recurring_sepa_prepare()

    def _prenotifications(self, partner):
        return self.env["mail.mail"].search(
            [
                ("model", "=", "res.partner"),
                ("res_id", "=", partner.id),
                ("subject", "ilike", "upcoming SEPA direct debit"),
            ]
        )

    def _file(self, batch):
        """Return the parsed pain.008 file of the batch, validated against its XSD."""
        if XSD_DIR is None:
            self.skipTest("sepaxml (its XSDs) is not installed")
        root = etree.fromstring(batch.file_id.raw)
        schema = etree.XMLSchema(etree.parse(str(XSD_DIR / f"{batch.pain_version}.xsd")))
        schema.assertValid(root)
        return root, {"p": f"urn:iso:std:iso:20022:tech:xsd:{batch.pain_version}"}

    # === PROVIDER === #

    def test_provider_features_and_activation(self):
        """The provider tokenizes, has no express checkout nor refund, takes euros only, and
        activating it activates the SEPA Direct Debit payment method."""
        provider = self.sepa_provider.sudo()
        self.assertTrue(provider.support_tokenization)
        self.assertFalse(provider.support_express_checkout)
        self.assertEqual(provider.support_refund, "none")
        self.assertEqual(provider._get_default_payment_method_codes(), {"sepa_direct_debit"})
        self.assertEqual(provider.available_currency_ids.mapped("name"), ["EUR"])
        provider.state = "disabled"
        self.sepa_method.sudo().active = False
        provider.state = "test"
        self.assertTrue(self.sepa_method.active)
        self.assertEqual(provider.journal_id, self.sepa_journal)

    def test_provider_not_offered_at_checkout(self):
        """Without a mandate, the checkout never offers the direct debit; the flows paying
        with a mandate's token say so in the context."""
        Provider = self.env["payment.provider"].sudo()
        euro = self.env.ref("base.EUR")
        customer = self._debtor()
        report = {}
        providers = Provider._get_compatible_providers(
            self.company.id, customer.id, 30.0, currency_id=euro.id, report=report
        )
        self.assertNotIn(self.sepa_provider, providers)
        self.assertFalse(report["providers"][self.sepa_provider]["available"])
        providers = Provider.with_context(recurring_sepa_token_flow=True)._get_compatible_providers(
            self.company.id, customer.id, 30.0, currency_id=euro.id
        )
        self.assertIn(self.sepa_provider, providers)
        usd = self.env.ref("base.USD")
        providers = Provider.with_context(recurring_sepa_token_flow=True)._get_compatible_providers(
            self.company.id, customer.id, 30.0, currency_id=usd.id
        )
        self.assertNotIn(self.sepa_provider, providers, "euros only")

    # === QUEUEING === #

    @freeze_time("2025-03-03 08:00:00")
    def test_charging_queues_a_pending_transaction(self):
        """The charging cron queues the debit, pending, without calling any bank; the repair
        of stuck attempts leaves it alone."""
        mandate = self._sepa_mandate(self._debtor())
        transaction = self._queue(mandate)
        attempt = transaction.recurring_attempt_ids
        invoice = attempt.invoice_id
        self.assertEqual(transaction.state, "pending")
        self.assertEqual(transaction.operation, "offline")
        self.assertEqual(transaction.recurring_sepa_mandate_id, mandate)
        self.assertEqual(transaction.recurring_sepa_collection_date, date(2025, 3, 3))
        self.assertEqual(transaction.recurring_sepa_end_to_end_id, transaction.reference)
        self.assertIn("Queued for the SEPA direct debit", transaction.state_message)
        self.assertFalse(transaction.recurring_sepa_batch_id)
        self.assertFalse(transaction.recurring_sepa_prenotified_on)
        self.assertEqual(attempt.state, "pending")
        self.assertEqual(invoice.recurring_charge_state, "pending")
        with freeze_time("2025-03-03 09:00:00"):
            repaired = self.env["recurring.payment.attempt"]._recurring_repair_sending(False)
            self.env["account.move"]._cron_charge_invoices()
        self.assertNotIn(attempt, repaired, "a queued debit waits for the bank")
        self.assertEqual(len(invoice.recurring_attempt_ids), 1)
        self.assertEqual(attempt.state, "pending")

    @freeze_time("2025-03-03 08:00:00")
    def test_invalid_mandate_asks_for_a_new_one(self):
        """A mandate that cannot be collected fails the attempt as "needs a new payment
        method" with a plain message, instead of an error of the charging cron."""
        mandate = self._sepa_mandate(self._debtor(), signature_date=date(2021, 1, 4))
        self.assertLess(mandate.expiry_date, date(2025, 3, 3), "lapsed: unused for 36 months")
        transaction = self._queue(mandate)
        attempt = transaction.recurring_attempt_ids
        self.assertEqual(transaction.state, "error")
        self.assertIn(mandate.name, transaction.state_message)
        self.assertEqual(attempt.state, "failed")
        self.assertEqual(attempt.failure_category, "new_payment_method")
        self.assertEqual(attempt.invoice_id.recurring_charge_state, "waiting_customer")
        self.assertFalse(transaction.recurring_sepa_end_to_end_id)

    def test_charge_scheduled_notice_and_lead_before_due_date(self):
        """A SEPA invoice is queued the notice period and the bank's lead time before its
        due date, so that it is collected on the due date; cards on the due date."""
        self.plan_monthly.payment_term_id = self.env.ref("account.account_payment_term_30days")
        mandate = self._sepa_mandate(self._debtor())
        with freeze_time("2025-01-01 08:00:00"):
            subscription = self._sepa_subscription(mandate, 30.0, start=date(2025, 1, 1))
            self.env["recurring.subscription"]._cron_generate_invoices()
            invoice = self._invoices(subscription)
            self.assertEqual(invoice.invoice_date_due, date(2025, 1, 31))
            # 31 January less one TARGET2 business day (30 January), less 14 days.
            self.assertEqual(invoice.recurring_next_charge_at, datetime(2025, 1, 16))
            self.assertLessEqual(
                earliest_collection_date(date(2025, 1, 16), submitted_on=date(2025, 1, 16)),
                invoice.invoice_date_due,
            )
            demo = self.env.ref("payment.payment_provider_demo").sudo()
            self.assertEqual(
                demo._recurring_charge_date(date(2025, 1, 31), self.company), date(2025, 1, 31)
            )
            self.env["account.move"]._cron_charge_invoices()
            self.assertFalse(invoice.recurring_attempt_ids, "not before its day")
        with freeze_time("2025-01-16 08:00:00"):
            self.env["account.move"]._cron_charge_invoices()
            transaction = invoice.recurring_attempt_ids.transaction_id.sudo()
            self.assertEqual(transaction.state, "pending")
            self._prepare()
        self.assertEqual(transaction.recurring_sepa_collection_date, date(2025, 1, 31))
        with freeze_time("2025-01-25 08:00:00"):
            # A charge due in less than the notice period is queued at once.
            self.assertEqual(
                self.sepa_provider._recurring_charge_date(date(2025, 1, 31), self.company),
                date(2025, 1, 25),
            )

    # === PRE-NOTIFICATION === #

    @freeze_time("2025-03-03 08:00:00")
    def test_one_prenotification_per_customer(self):
        """Each customer gets one email listing all their debits: amount, collection date,
        mandate reference, creditor identifier and invoice."""
        customer = self._debtor()
        mandate = self._sepa_mandate(customer)
        first = self._queue(mandate, 30.0)
        second = self._queue(mandate, 12.5)
        other_customer = self._debtor()
        other = self._queue(self._sepa_mandate(other_customer), 99.0)
        self.assertEqual(self._prepare(), 3)
        mails = self._prenotifications(customer)
        self.assertEqual(len(mails), 1)
        body = mails.body_html
        for transaction in first | second:
            self.assertIn(transaction.invoice_ids.name, body)
            self.assertIn(transaction.recurring_sepa_collection_date.strftime("%m/%d/%Y"), body)
        self.assertIn("30.00", body)
        self.assertIn("12.50", body)
        self.assertIn(mandate.name, body)
        self.assertIn(SEPA_CREDITOR_IDENTIFIER, body)
        self.assertIn(customer, mails.recipient_ids)
        self.assertNotIn("99.00", body)
        other_mails = self._prenotifications(other_customer)
        self.assertEqual(len(other_mails), 1)
        self.assertIn("99.00", other_mails.body_html)
        self.assertIn(other.invoice_ids.name, other_mails.body_html)
        for transaction in first | second | other:
            self.assertEqual(transaction.recurring_sepa_prenotified_on, date(2025, 3, 3))
            self.assertEqual(transaction.state, "pending")

    def test_collection_date_respects_the_notice(self):
        """S-7: never before the pre-notification plus the notice period and the lead time,
        on a TARGET2 business day."""
        cases = [
            # (today, expected collection date)
            ("2025-03-03", date(2025, 3, 17)),  # Monday + 14 days: a Monday
            ("2025-03-01", date(2025, 3, 17)),  # Saturday + 14 days: a Saturday → Monday
            ("2025-04-07", date(2025, 4, 22)),  # + 14 days: Easter Monday → Tuesday
            ("2025-12-11", date(2025, 12, 29)),  # + 14 days: Christmas → 29 December
        ]
        for today, expected in cases:
            with self.subTest(today=today), freeze_time(f"{today} 08:00:00"):
                mandate = self._sepa_mandate(self._debtor())
                transaction = self._queue(mandate)
                self._prepare()
                prenotified = transaction.recurring_sepa_prenotified_on
                collection = transaction.recurring_sepa_collection_date
                self.assertEqual(prenotified, date.fromisoformat(today))
                self.assertEqual(collection, expected)
                self.assertGreaterEqual(collection, prenotified + timedelta(days=14))
                self.assertTrue(is_target2_business_day(collection))
                self.assertEqual(transaction.recurring_sepa_batch_id.collection_date, expected)

    # === BATCHES === #

    @freeze_time("2025-03-03 08:00:00")
    def test_batches_never_mix_keys(self):
        """S-4: CORE and B2B, FRST and RCUR, and two collection dates go to separate
        batches; a transaction cannot be put in a batch of another key."""
        core_first = self._queue(self._sepa_mandate(self._debtor()))
        b2b_first = self._queue(self._sepa_mandate(self._debtor(), scheme="B2B"))
        known = self._sepa_mandate(self._debtor())
        known._recurring_sepa_register_collection(date(2025, 1, 15))
        core_recurring = self._queue(known)
        core_first_later = self._queue(self._sepa_mandate(self._debtor()))
        # An invoice due later than the earliest collection date is collected on its date.
        core_first_later.recurring_sepa_collection_date = date(2025, 4, 2)
        self._prepare()
        transactions = core_first | b2b_first | core_recurring | core_first_later
        batches = transactions.recurring_sepa_batch_id
        self.assertEqual(len(batches), 4)
        self.assertEqual(
            [
                (t.recurring_sepa_batch_id.scheme, t.recurring_sepa_batch_id.sequence_type)
                for t in transactions
            ],
            [("CORE", "FRST"), ("B2B", "FRST"), ("CORE", "RCUR"), ("CORE", "FRST")],
        )
        self.assertEqual(core_first.recurring_sepa_batch_id.collection_date, date(2025, 3, 17))
        self.assertEqual(core_first_later.recurring_sepa_batch_id.collection_date, date(2025, 4, 2))
        for batch in batches:
            self.assertEqual(batch.transaction_count, 1)
            self.assertEqual(batch.state, "draft")
        with self.assertRaises(ValidationError):
            core_recurring.recurring_sepa_batch_id = core_first.recurring_sepa_batch_id

    def test_sequence_types_follow_the_mandate(self):
        """S-5: FRST, then RCUR, RCUR over three monthly collections; RCUR from the first
        with the company's option."""
        for rcur_from_first, expected in ((False, ["FRST", "RCUR", "RCUR"]), (True, ["RCUR"] * 3)):
            with self.subTest(rcur_from_first=rcur_from_first):
                self.company.recurring_sepa_rcur_from_first = rcur_from_first
                with freeze_time("2025-01-02 08:00:00"):
                    mandate = self._sepa_mandate(self._debtor())
                    subscription = self._sepa_subscription(mandate, 30.0, start=date(2025, 1, 2))
                sequence_types = []
                for month in (1, 2, 3):
                    with freeze_time(f"2025-{month:02d}-02 08:00:00"):
                        self.env["recurring.subscription"]._cron_generate_invoices()
                        self.env["account.move"]._cron_charge_invoices()
                        self._prepare()
                for invoice in self._invoices(subscription):
                    transaction = invoice.recurring_attempt_ids.transaction_id.sudo()
                    sequence_types.append(transaction.recurring_sepa_sequence_type)
                self.assertEqual(sequence_types, expected)
                self.assertEqual(mandate.collection_count, 3)

    @freeze_time("2025-03-03 08:00:00")
    def test_two_debits_of_a_mandate_in_one_run(self):
        """The debits of a mandate in one run see each other: one FRST, then RCURs
        collected after it, together on the next business day (not one per day)."""
        mandate = self._sepa_mandate(self._debtor())
        first = self._queue(mandate, 30.0)
        second = self._queue(mandate, 12.5)
        third = self._queue(mandate, 7.5)
        self._prepare()
        self.assertEqual(first.recurring_sepa_sequence_type, "FRST")
        self.assertEqual(second.recurring_sepa_sequence_type, "RCUR")
        self.assertEqual(third.recurring_sepa_sequence_type, "RCUR")
        self.assertGreater(
            second.recurring_sepa_collection_date, first.recurring_sepa_collection_date
        )
        self.assertTrue(is_target2_business_day(second.recurring_sepa_collection_date))
        self.assertEqual(
            third.recurring_sepa_collection_date, second.recurring_sepa_collection_date
        )
        self.assertEqual(third.recurring_sepa_batch_id, second.recurring_sepa_batch_id)
        self.assertEqual(mandate.collection_count, 3)

    @freeze_time("2025-03-03 08:00:00")
    def test_one_off_mandate_is_collected_once(self):
        """A one-off mandate is collected once, as OOFF; a second debit is refused with a
        plain message and asks the customer for a new mandate."""
        mandate = self._sepa_mandate(self._debtor(), mandate_type="oneoff")
        first = self._queue(mandate, 30.0)
        second = self._queue(mandate, 12.5)
        self._prepare()
        self.assertEqual(first.recurring_sepa_sequence_type, "OOFF")
        self.assertEqual(first.recurring_sepa_batch_id.sequence_type, "OOFF")
        self.assertEqual(second.state, "error")
        self.assertFalse(second.recurring_sepa_batch_id)
        self.assertIn(mandate.name, second.state_message)
        self.assertEqual(second.recurring_attempt_ids.failure_category, "new_payment_method")
        third = self._queue(mandate, 7.0)
        self.assertEqual(third.state, "error", "refused as soon as it is charged")

    @freeze_time("2025-03-03 08:00:00")
    def test_generated_file_validates(self):
        """S-3: the file of each version validates against its XSD, with the right totals;
        it is attached to the batch and cannot be written again once sent."""
        for version in ("pain.008.001.08", "pain.008.001.02"):
            with self.subTest(version=version):
                self.company.recurring_sepa_pain_version = version
                mandates = [
                    self._sepa_mandate(
                        self._debtor(city="Berlin", country_id=self.env.ref("base.de").id)
                    ),
                    self._sepa_mandate(self._debtor()),
                ]
                transactions = self._queue(mandates[0], 30.0) | self._queue(mandates[1], 12.5)
                self._prepare()
                batch = transactions.recurring_sepa_batch_id
                self.assertEqual(len(batch), 1)
                self.assertEqual(batch.pain_version, version)
                batch.action_generate()
                self.assertEqual(batch.state, "generated")
                self.assertEqual(batch.file_id.name, f"{batch.name}.xml")
                self.assertEqual(
                    (batch.file_id.res_model, batch.file_id.res_id), (batch._name, batch.id)
                )
                root, ns = self._file(batch)
                self.assertEqual(root.findtext(".//p:GrpHdr/p:MsgId", namespaces=ns), batch.name)
                self.assertEqual(root.findtext(".//p:GrpHdr/p:NbOfTxs", namespaces=ns), "2")
                self.assertEqual(root.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=ns), "42.50")
                self.assertEqual(root.findtext(".//p:PmtInf/p:NbOfTxs", namespaces=ns), "2")
                self.assertEqual(root.findtext(".//p:PmtInf/p:CtrlSum", namespaces=ns), "42.50")
                self.assertEqual(
                    root.findtext(".//p:PmtInf/p:ReqdColltnDt", namespaces=ns),
                    batch.collection_date.isoformat(),
                )
                self.assertEqual(
                    sorted(root.xpath(".//p:EndToEndId/text()", namespaces=ns)),
                    sorted(transactions.mapped("recurring_sepa_end_to_end_id")),
                )
                self.assertEqual(
                    sorted(root.xpath(".//p:RmtInf/p:Ustrd/text()", namespaces=ns)),
                    sorted(transactions.invoice_ids.mapped("name")),
                )
                self.assertEqual((batch.transaction_count, batch.amount_total), (2, 42.5))
                batch.action_download()
                batch.action_mark_sent()
                self.assertEqual(batch.state, "sent")
                with self.assertRaises(UserError):
                    batch.action_generate()
                with self.assertRaises(UserError):
                    batch.action_cancel()

    def test_amendment_after_iban_change(self):
        """S-8: after the debtor's IBAN changes, the next collection is sent as amended (the
        original account at the same bank, SMNDA at another bank), once; a change made
        after a debit joined its batch does not alter that batch's file."""
        debtor = self._debtor()
        mandate = self._sepa_mandate(debtor)
        with freeze_time("2025-01-02 08:00:00"):
            subscription = self._sepa_subscription(mandate, 30.0, start=date(2025, 1, 2))
        first_iban = mandate.partner_bank_id.sanitized_acc_number
        accounts = {
            iban: self.env["res.partner.bank"].create({"acc_number": iban, "partner_id": debtor.id})
            for iban in (OTHER_BANK_IBAN, de_iban(9002), de_iban(9003))
        }
        # (month, account changed to after the debit joined its batch, then after the file)
        changes = {
            1: (None, OTHER_BANK_IBAN),
            2: (de_iban(9002), None),
            3: (None, de_iban(9003)),
        }
        found = []
        for month in (1, 2, 3, 4, 5):
            before_file, after_file = changes.get(month, (None, None))
            with freeze_time(f"2025-{month:02d}-02 08:00:00"):
                self.env["recurring.subscription"]._cron_generate_invoices()
                self.env["account.move"]._cron_charge_invoices()
                self._prepare()
                batch = self.env["recurring.sepa.batch"].search(
                    [("state", "=", "draft"), ("company_id", "=", self.company.id)]
                )
                self.assertEqual(len(batch), 1)
                if before_file:
                    mandate.partner_bank_id = accounts[before_file]
                batch.action_generate()
                batch.action_mark_sent()
                root, ns = self._file(batch)
                found.append(
                    (
                        root.findtext(".//p:AmdmntInd", namespaces=ns),
                        root.findtext(".//p:OrgnlDbtrAcct/p:Id/p:IBAN", namespaces=ns),
                        root.findtext(".//p:OrgnlDbtrAgt/p:FinInstnId/p:Othr/p:Id", namespaces=ns),
                        root.findtext(".//p:DbtrAcct/p:Id/p:IBAN", namespaces=ns),
                        root.findtext(".//p:SeqTp", namespaces=ns),
                    )
                )
                if after_file:
                    mandate.partner_bank_id = accounts[after_file]
        self.assertEqual(
            found,
            [
                (None, None, None, first_iban, "FRST"),
                # Another bank: SMNDA, and a first collection again (S-5); the account
                # changed after the debit joined the batch is not in this file.
                ("true", None, "SMNDA", OTHER_BANK_IBAN, "FRST"),
                ("true", None, "SMNDA", de_iban(9002), "FRST"),
                # The same bank: the original account.
                ("true", de_iban(9002), None, de_iban(9003), "RCUR"),
                # Once only.
                (None, None, None, de_iban(9003), "RCUR"),
            ],
        )
        self.assertEqual(len(self._invoices(subscription)), 5)
        self.assertEqual(mandate.name, root.findtext(".//p:MndtId", namespaces=ns))

    @freeze_time("2025-03-03 08:00:00")
    def test_settlement_pays_and_reconciles(self):
        """Settling a batch marks its debits done; their invoices are paid on the direct
        debit journal, the subscription stays active and the receipt is queued."""
        customer = self._debtor()
        transaction = self._queue(self._sepa_mandate(customer), 30.0)
        invoice = transaction.invoice_ids
        subscription = invoice.recurring_subscription_id
        self._prepare()
        batch = transaction.recurring_sepa_batch_id
        with self.assertRaises(UserError):
            batch.action_settle()
        batch.action_generate()
        batch.action_mark_sent()
        batch.action_settle()
        self.assertEqual(batch.state, "settled")
        self.assertTrue(batch.settled_at)
        self.assertEqual(transaction.state, "done")
        self.assertEqual(transaction.recurring_attempt_ids.state, "done")
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(invoice.recurring_charge_state, "paid")
        self.assertEqual(transaction.payment_id.journal_id, self.sepa_journal)
        self.assertEqual(transaction.payment_id.amount, 30.0)
        self.assertEqual(subscription.state, "active")
        receipts = self.env["mail.mail"].search(
            [
                ("model", "=", "account.move"),
                ("res_id", "=", invoice.id),
                ("subject", "ilike", "payment received"),
            ]
        )
        self.assertEqual(len(receipts), 1)
        self.assertEqual(receipts.state, "outgoing")

    def test_prepare_twice_sends_nothing_twice(self):
        """Running the preparation twice on one day sends nothing twice and puts no debit
        in two batches."""
        with freeze_time("2025-03-03 08:00:00"):
            customer = self._debtor()
            transactions = self._queue(self._sepa_mandate(customer)) | self._queue(
                self._sepa_mandate(self._debtor())
            )
            self.assertEqual(self._prepare(), 2)
            batches = self.env["recurring.sepa.batch"].search([])
            mails = self.env["mail.mail"].search([])
        with freeze_time("2025-03-03 18:00:00"):
            self.assertEqual(self._prepare(), 0)
        self.assertEqual(self.env["recurring.sepa.batch"].search([]), batches)
        self.assertEqual(self.env["mail.mail"].search([]), mails)
        self.assertEqual(len(self._prenotifications(customer)), 1)
        self.assertEqual(sum(batches.mapped("transaction_count")), 2)
        self.assertEqual(batches.transaction_ids, transactions)

    def test_cancelled_batch_goes_back_to_the_queue(self):
        """Cancelling a batch not sent puts its debits back in the queue: uncounted on the
        mandate, pre-notified again with a new date, FRST again."""
        with freeze_time("2025-03-03 08:00:00"):
            customer = self._debtor()
            mandate = self._sepa_mandate(customer)
            transaction = self._queue(mandate)
            self._prepare()
            batch = transaction.recurring_sepa_batch_id
            batch.action_generate()
            batch.action_cancel()
        self.assertEqual(batch.state, "cancelled")
        self.assertFalse(transaction.recurring_sepa_batch_id)
        self.assertFalse(transaction.recurring_sepa_prenotified_on)
        self.assertEqual(transaction.state, "pending")
        self.assertEqual(mandate.collection_count, 0)
        with freeze_time("2025-03-05 08:00:00"):
            self.assertEqual(self._prepare(), 1)
        new_batch = transaction.recurring_sepa_batch_id
        self.assertNotEqual(new_batch, batch)
        self.assertEqual(transaction.recurring_sepa_sequence_type, "FRST")
        self.assertEqual(transaction.recurring_sepa_collection_date, date(2025, 3, 19))
        self.assertEqual(len(self._prenotifications(customer)), 2)
        self.assertEqual(mandate.collection_count, 1)

    def _pay_by_transfer(self, invoice):
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({})._create_payments()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))

    @freeze_time("2025-03-03 08:00:00")
    def test_invoice_paid_otherwise_before_prenotification_is_withdrawn(self):
        """A debit whose invoice was paid by transfer before its pre-notification is
        withdrawn: no email, no batch, the attempt cancelled rather than failed."""
        customer = self._debtor()
        mandate = self._sepa_mandate(customer)
        transaction = self._queue(mandate)
        invoice = transaction.invoice_ids
        self._pay_by_transfer(invoice)
        self._prepare()
        self.assertEqual(transaction.state, "cancel")
        self.assertFalse(transaction.recurring_sepa_batch_id)
        self.assertFalse(self._prenotifications(customer))
        self.assertEqual(transaction.recurring_attempt_ids.state, "cancelled")
        self.assertFalse(transaction.recurring_attempt_ids.failure_category)
        self.assertEqual(invoice.recurring_charge_state, "paid")
        self.assertEqual(mandate.collection_count, 0)
        self.assertFalse(self.env["recurring.sepa.batch"].search([]))

    @freeze_time("2025-03-03 08:00:00")
    def test_invoice_paid_otherwise_before_the_file_is_withdrawn(self):
        """An invoice paid by transfer after its pre-notification is not collected too: its
        debit leaves the batch when the file is written, and the mandate forgets it."""
        paid_mandate = self._sepa_mandate(self._debtor())
        paid = self._queue(paid_mandate)
        kept = self._queue(self._sepa_mandate(self._debtor()))
        self._prepare()
        batch = paid.recurring_sepa_batch_id
        self.assertEqual(kept.recurring_sepa_batch_id, batch)
        self.assertEqual(paid_mandate.collection_count, 1)
        self._pay_by_transfer(paid.invoice_ids)
        batch.action_generate()
        root, ns = self._file(batch)
        end_to_end_ids = root.xpath("//p:EndToEndId/text()", namespaces=ns)
        self.assertEqual(end_to_end_ids, [kept.recurring_sepa_end_to_end_id])
        self.assertEqual(root.xpath("string(//p:GrpHdr/p:NbOfTxs)", namespaces=ns), "1")
        self.assertEqual(batch.transaction_ids, kept)
        self.assertEqual(paid.state, "cancel")
        self.assertEqual(paid.recurring_attempt_ids.state, "cancelled")
        self.assertEqual(paid_mandate.collection_count, 0)

    @freeze_time("2025-03-03 08:00:00")
    def test_batch_of_paid_invoices_only_is_cancelled(self):
        """A batch left with nothing to collect is cancelled instead of written."""
        transaction = self._queue(self._sepa_mandate(self._debtor()))
        self._prepare()
        batch = transaction.recurring_sepa_batch_id
        self._pay_by_transfer(transaction.invoice_ids)
        batch.action_generate()
        self.assertEqual(batch.state, "cancelled")
        self.assertFalse(batch.file_id)
        self.assertEqual(transaction.state, "cancel")

    @freeze_time("2025-03-03 08:00:00")
    def test_customer_without_email_is_not_collected(self):
        """Without an address for the pre-notification the debit is not collected: the
        transaction fails, a person is needed, and no batch holds it."""
        customer = self._debtor()
        mandate = self._sepa_mandate(customer)
        transaction = self._queue(mandate)
        customer.email = False
        self._prepare()
        attempt = transaction.recurring_attempt_ids
        self.assertEqual(transaction.state, "error")
        self.assertIn("no email address", transaction.state_message)
        self.assertFalse(transaction.recurring_sepa_batch_id)
        self.assertEqual(attempt.state, "failed")
        self.assertEqual(attempt.failure_category, "new_payment_method")
        self.assertEqual(attempt.decision, "wait_customer")
        self.assertEqual(mandate.collection_count, 0)
        self.assertEqual(self._prepare(), 0)

    def test_direct_debit_journal_needs_an_iban(self):
        """The creditor account must be an IBAN: refused in the settings, and a file is
        not written with an account changed since."""
        journal = self.sepa_journal.copy({"name": "Other Bank", "code": "OBNK"})
        journal.bank_account_id = self.env["res.partner.bank"].create(
            {"acc_number": "BANK123456789", "partner_id": self.company.partner_id.id}
        )
        with self.assertRaisesRegex(ValidationError, "must hold an IBAN"):
            self.company.recurring_sepa_journal_id = journal
        with freeze_time("2025-03-03 08:00:00"):
            transaction = self._queue(self._sepa_mandate(self._debtor()))
            self._prepare()
        batch = transaction.recurring_sepa_batch_id
        self.sepa_journal.bank_account_id.sudo().acc_number = "BANK987654321"
        with self.assertRaisesRegex(UserError, "direct debit bank journal"):
            batch.action_generate()
        self.assertEqual(batch.state, "draft")
        self.assertFalse(batch.file_id)

    @freeze_time("2025-03-03 08:00:00")
    def test_invalid_debit_writes_nothing(self):
        """A debit the bank would refuse stops the file with a message naming it, and
        nothing is kept."""
        good = self._queue(self._sepa_mandate(self._debtor()))
        bad = self._queue(self._sepa_mandate(self._debtor()))
        self._prepare()
        batch = good.recurring_sepa_batch_id
        self.assertEqual(bad.recurring_sepa_batch_id, batch)
        bad.recurring_sepa_end_to_end_id = "//" + bad.reference
        with self.assertRaisesRegex(UserError, bad.reference):
            batch.action_generate()
        self.assertEqual(batch.state, "draft")
        self.assertFalse(batch.file_id)
        self.assertFalse(
            self.env["ir.attachment"].search(
                [("res_model", "=", batch._name), ("res_id", "=", batch.id)]
            )
        )

    @freeze_time("2025-03-03 08:00:00")
    def test_prepare_queries_bounded_per_transaction(self):
        """P-1: the queries of the preparation grow by a bounded number per debit."""

        def queries_to_prepare(count):
            for _index in range(count):
                self._queue(self._sepa_mandate(self._debtor()))
            self.env.flush_all()
            self.env.invalidate_all()
            mails = self.env["mail.mail"].search_count([])
            before = self.env.cr.sql_log_count
            self.assertEqual(self._prepare(), count)
            queries = self.env.cr.sql_log_count - before
            self.assertEqual(self.env["mail.mail"].search_count([]) - mails, count)
            return queries

        few = queries_to_prepare(5)
        many = queries_to_prepare(20)
        per_transaction = (many - few) / 15
        self.assertLess(per_transaction, MAX_QUERIES_PER_TRANSACTION, (few, many))
        self.assertEqual(
            sum(self.env["recurring.sepa.batch"].search([]).mapped("transaction_count")), 25
        )
        self.assertEqual(
            Decimal(str(sum(self.env["recurring.sepa.batch"].search([]).mapped("amount_total")))),
            Decimal("750.0"),
        )
