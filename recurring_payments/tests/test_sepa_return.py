# Part of recurring payments for Odoo. License LGPL-3.
import base64
from datetime import date

from freezegun import freeze_time
from markupsafe import escape

from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, new_test_user, tagged
from odoo.tools import file_open

from recurring_payments_core.sepa.returns import REASON_ACTIONS

from ..models.recurring_sepa_return import SEPA_REASON_LABELS, reason_label
from .common_sepa import SepaCommon

#: Namespaces of the files the bank sends back (any version is read).
PAIN002_NS = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"
CAMT054_NS = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"


@tagged("post_install", "-at_install")
class TestSepaReturn(SepaCommon):
    """Importing bank returns: pain.002 rejections before settlement and camt.054 returns
    after it, matched by end-to-end id, applied through the retry rules (S-10, S-11)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.partner_id.tz = "Europe/Paris"
        cls.debtor_count = 0

    # === HELPERS === #

    def _sepa_collection(self, amount=30.0, settle=False):
        """Return a SEPA direct debit of a new customer's first invoice, pending in a batch
        sent to the bank (settled, its invoice paid, with ``settle``).

        The collection goes the real way: a valid mandate, a subscription paid by its
        token, the invoicing and charging crons (``_send_payment_request`` queues the
        transaction), the preparation cron (pre-notification and batch), then the
        batch is generated and sent (and settled).

        :return: the transaction (sudoed) of the collection.
        """
        type(self).debtor_count += 1
        number = self.debtor_count
        partner = self._sepa_partner(
            f"Debtor {number}", f"DE{self._de_check_digits(number)}370400440532013{number:03d}"
        )
        mandate = self._sepa_mandate(partner)
        subscription = self._sepa_subscription(mandate, amount, start=date.today())
        self.env["recurring.subscription"]._cron_generate_invoices()
        invoice = self._invoices(subscription)
        self.env["account.move"]._cron_charge_invoices()
        transaction = invoice.recurring_attempt_ids.transaction_id.sudo()
        self.assertEqual(transaction.state, "pending")
        self.assertTrue(transaction.recurring_sepa_end_to_end_id)
        self._sepa_batch(transaction, settle=settle)
        return transaction

    def _sepa_batch(self, transactions, settle=False):
        """Pre-notify the queued ``transactions``, put them in their batch, generate its
        file and send it to the bank (and settle it, with ``settle``).

        :return: the batch.
        """
        self.env["payment.transaction"]._cron_recurring_sepa_prepare()
        batch = transactions.recurring_sepa_batch_id
        self.assertEqual(len(batch), 1)
        batch.action_generate()
        batch.action_mark_sent()
        if settle:
            batch.action_settle()
        return batch

    @staticmethod
    def _de_check_digits(number):
        """Return the check digits of the German IBAN ``DE..370400440532013<number>``."""
        bban = f"370400440532013{number:03d}"
        digits = "".join(str(int(char, 36)) for char in f"{bban}DE00")
        return f"{98 - int(digits) % 97:02d}"

    def _pain002(self, lines, message_id="STS-0001", original=None):
        """Return a pain.002 status report.

        :param lines: (transaction or end-to-end id, status, reason code) tuples.
        :param original: the original message id (the batch's name).
        """
        rows = []
        for target, status, reason in lines:
            e2e = target if isinstance(target, str) else target.recurring_sepa_end_to_end_id
            amount = (
                ""
                if isinstance(target, str)
                else (
                    f'<OrgnlTxRef><Amt><InstdAmt Ccy="EUR">{target.amount:.2f}</InstdAmt></Amt>'
                    "</OrgnlTxRef>"
                )
            )
            reason_xml = f"<StsRsnInf><Rsn><Cd>{reason}</Cd></Rsn></StsRsnInf>" if reason else ""
            rows.append(
                f"<TxInfAndSts><OrgnlEndToEndId>{escape(e2e)}</OrgnlEndToEndId>"
                f"<TxSts>{status}</TxSts>{reason_xml}{amount}</TxInfAndSts>"
            )
        original_xml = (
            f"<OrgnlGrpInfAndSts><OrgnlMsgId>{escape(original)}</OrgnlMsgId>"
            "<OrgnlMsgNmId>pain.008.001.08</OrgnlMsgNmId><GrpSts>PART</GrpSts>"
            "</OrgnlGrpInfAndSts>"
            if original
            else ""
        )
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{PAIN002_NS}">'
            f"<CstmrPmtStsRpt><GrpHdr><MsgId>{escape(message_id)}</MsgId>"
            f"<CreDtTm>2025-01-20T08:00:00</CreDtTm></GrpHdr>{original_xml}"
            f"<OrgnlPmtInfAndSts><OrgnlPmtInfId>PMT-1</OrgnlPmtInfId>{''.join(rows)}"
            "</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"
        ).encode()

    def _camt054(self, lines, message_id="NTF-0001", original=None):
        """Return a camt.054 debit notification of returns booked after settlement.

        :param lines: (transaction, reason code) tuples.
        :param original: the original message id (the batch's name).
        """
        rows = "".join(
            f"<TxDtls><Refs><EndToEndId>{escape(tx.recurring_sepa_end_to_end_id)}</EndToEndId>"
            f'</Refs><Amt Ccy="EUR">{tx.amount:.2f}</Amt><CdtDbtInd>DBIT</CdtDbtInd>'
            f"<RtrInf><Rsn><Cd>{reason}</Cd></Rsn></RtrInf></TxDtls>"
            for tx, reason in lines
        )
        total = sum(tx.amount for tx, _reason in lines)
        batch = f"<Btch><MsgId>{escape(original)}</MsgId></Btch>" if original else ""
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{CAMT054_NS}">'
            f"<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>{escape(message_id)}</MsgId>"
            "<CreDtTm>2025-02-10T08:00:00</CreDtTm></GrpHdr><Ntfctn><Id>N-1</Id>"
            f'<Ntry><Amt Ccy="EUR">{total:.2f}</Amt><CdtDbtInd>DBIT</CdtDbtInd>'
            f"<Sts><Cd>BOOK</Cd></Sts><NtryDtls>{batch}{rows}</NtryDtls></Ntry>"
            "</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"
        ).encode()

    def _import(self, data, file_name="return.xml", user=None):
        """Import ``data`` through the wizard's form and return the created bank return."""
        env = self.env(user=user) if user else self.env
        # The binary widget fills the (invisible) file name in the browser.
        wizard = env["recurring.sepa.return.import"].with_context(default_file_name=file_name)
        with Form(wizard) as form:
            form.file = base64.b64encode(data)
        action = form.record.action_import()
        self.assertEqual(action["res_model"], "recurring.sepa.return")
        return env["recurring.sepa.return"].browse(action["res_id"])

    def _returns(self):
        return self.env["recurring.sepa.return"].search_count([])

    # === TESTS: rejections before settlement (pain.002) === #

    @freeze_time("2025-01-01 08:00:00")
    def test_insufficient_funds_rejection_is_retried(self):
        """AM04 before settlement: the collection fails, the invoice stays open and the
        retry rules plan a new attempt."""
        transaction = self._sepa_collection()
        attempt = transaction.recurring_attempt_ids
        invoice = attempt.invoice_id
        batch = transaction.recurring_sepa_batch_id
        bank_return = self._import(
            self._pain002([(transaction, "RJCT", "AM04")], original=batch.name)
        )
        self.assertEqual(bank_return.state, "done")
        self.assertEqual(bank_return.file_kind, "pain.002")
        self.assertEqual(bank_return.name, "STS-0001")
        self.assertEqual(bank_return.batch_id, batch)
        self.assertEqual(bank_return.file_id.raw[:5], b"<?xml")
        line = bank_return.line_ids
        self.assertRecordValues(
            line,
            [
                {
                    "status": "rejected",
                    "reason_code": "AM04",
                    "action": "retry",
                    "amount": 30.0,
                    "transaction_id": transaction.id,
                    "invoice_id": invoice.id,
                    "applied": True,
                }
            ],
        )
        self.assertEqual(line.reason_label, "insufficient funds")
        self.assertEqual(transaction.state, "error")
        self.assertEqual(transaction.recurring_sepa_return_reason, "AM04")
        self.assertIn("insufficient funds", transaction.state_message)
        self.assertEqual(attempt.state, "failed")
        self.assertEqual(attempt.failure_category, "insufficient_funds")
        self.assertEqual(attempt.decline_code, "AM04")
        self.assertEqual(attempt.decision, "retry")
        self.assertTrue(attempt.next_retry_at)
        self.assertEqual(invoice.recurring_charge_state, "retry")
        self.assertEqual(invoice.recurring_next_charge_at, attempt.next_retry_at)
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertEqual(transaction.recurring_sepa_batch_id, batch, "kept in its batch")
        subscription = invoice.recurring_subscription_id
        self.assertTrue(
            subscription.message_ids.filtered(
                lambda m: "rejected by the customer's bank: insufficient funds (AM04)" in m.body
            )
        )

    @freeze_time("2025-01-01 08:00:00")
    def test_closed_account_asks_for_a_new_mandate(self):
        """AC04: no retry, the customer must give a new mandate; the mandate is revoked."""
        transaction = self._sepa_collection()
        mandate = transaction.recurring_sepa_mandate_id
        attempt = transaction.recurring_attempt_ids
        bank_return = self._import(self._pain002([(transaction, "RJCT", "AC04")]))
        # No original message id in the report: the batch is the one of its lines.
        self.assertEqual(bank_return.batch_id, transaction.recurring_sepa_batch_id)
        self.assertEqual(bank_return.line_ids.action, "new_mandate")
        self.assertEqual(transaction.state, "error")
        self.assertEqual(attempt.failure_category, "new_payment_method")
        self.assertEqual(attempt.decision, "wait_customer")
        self.assertFalse(attempt.next_retry_at)
        self.assertEqual(attempt.invoice_id.recurring_charge_state, "waiting_customer")
        self.assertEqual(mandate.state, "revoked")
        self.assertIn("the account is closed", mandate.revocation_reason)
        self.assertFalse(mandate.payment_token_id.active)

    @freeze_time("2025-01-01 08:00:00")
    def test_rejected_first_collection_is_not_counted(self):
        """A rejected FRST does not count: the next collection is a first one again."""
        transaction = self._sepa_collection()
        mandate = transaction.recurring_sepa_mandate_id
        self.assertEqual(transaction.recurring_sepa_sequence_type, "FRST")
        self.assertEqual(mandate.collection_count, 1)
        self._import(self._pain002([(transaction, "RJCT", "AM04")]))
        self.assertEqual(mandate.collection_count, 0)

    @freeze_time("2025-01-01 08:00:00")
    def test_accepted_and_pending_lines_change_nothing(self):
        """ACCP and PDNG lines are listed and change nothing."""
        accepted = self._sepa_collection()
        pending = self._sepa_collection()
        bank_return = self._import(
            self._pain002([(accepted, "ACCP", None), (pending, "PDNG", None)])
        )
        self.assertEqual(bank_return.line_ids.mapped("status"), ["accepted", "pending"])
        self.assertEqual(bank_return.returned_count, 0)
        self.assertEqual((accepted | pending).mapped("state"), ["pending", "pending"])
        self.assertEqual(
            (accepted | pending).recurring_attempt_ids.mapped("state"), ["pending", "pending"]
        )
        self.assertEqual(accepted.recurring_sepa_mandate_id.collection_count, 1)

    # === TESTS: returns after settlement (camt.054) === #

    @freeze_time("2025-01-01 08:00:00")
    def test_refund_after_settlement_reopens_the_invoice(self):
        """MD06 after settlement: the payment is cancelled, the invoice is open again and
        is never debited again automatically; the accountant gets an activity."""
        transaction = self._sepa_collection(settle=True)
        attempt = transaction.recurring_attempt_ids
        invoice = attempt.invoice_id
        subscription = invoice.recurring_subscription_id
        payment = transaction.payment_id
        self.assertEqual(attempt.state, "done")
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self._import(self._camt054([(transaction, "MD06")]))
        self.assertEqual(payment.state, "canceled")
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertEqual(invoice.amount_residual, 30.0)
        self.assertEqual(transaction.state, "done", "a done transaction stays done")
        self.assertEqual(transaction.recurring_sepa_return_reason, "MD06")
        self.assertEqual(attempt.state, "failed")
        self.assertEqual(attempt.failure_category, "hard")
        self.assertEqual(attempt.decision, "stop")
        self.assertFalse(attempt.next_retry_at)
        self.assertEqual(invoice.recurring_charge_state, "stopped")
        self.assertFalse(invoice.recurring_next_charge_at)
        self.assertEqual(subscription.state, "past_due")
        self.assertEqual(
            transaction.recurring_sepa_mandate_id.collection_count, 1, "a return still counts"
        )
        self.assertIn("Refund requested by the customer", invoice.activity_ids.mapped("summary"))
        for record in (invoice, subscription):
            self.assertTrue(
                any(
                    "asked their bank for a refund" in message.body
                    for message in record.message_ids
                ),
                record,
            )
        # Nothing is debited again: the charging cron leaves the invoice alone.
        with freeze_time("2025-03-01 10:00:00"):
            self.assertEqual(self.env["account.move"]._cron_charge_invoices(), 0)
        self.assertEqual(len(invoice.recurring_attempt_ids), 1)
        # Odoo's post-processing does not pay the invoice again.
        self.env["payment.transaction"]._cron_post_process()
        self.assertEqual(invoice.payment_state, "not_paid")

    @freeze_time("2025-01-01 08:00:00")
    def test_closed_account_after_settlement_revokes_the_mandate(self):
        """AC04 returned after settlement: the invoice is open again, waiting for the
        customer's new mandate; the mandate is revoked."""
        transaction = self._sepa_collection(settle=True)
        mandate = transaction.recurring_sepa_mandate_id
        invoice = transaction.recurring_attempt_ids.invoice_id
        batch = transaction.recurring_sepa_batch_id
        bank_return = self._import(self._camt054([(transaction, "AC04")], original=batch.name))
        self.assertEqual(bank_return.file_kind, "camt.054")
        self.assertEqual(bank_return.batch_id, batch)
        self.assertEqual(bank_return.line_ids.status, "returned")
        self.assertEqual(transaction.payment_id.state, "canceled")
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertEqual(transaction.recurring_attempt_ids.failure_category, "new_payment_method")
        self.assertEqual(invoice.recurring_charge_state, "waiting_customer")
        self.assertEqual(mandate.state, "revoked")
        self.assertEqual(batch.state, "settled")

    @freeze_time("2025-01-01 08:00:00")
    def test_unspecified_reason_is_retried_once(self):
        """MS03 is retried once; the retry returned again exhausts the retries."""
        first = self._sepa_collection()
        invoice = first.recurring_attempt_ids.invoice_id
        self._import(self._pain002([(first, "RJCT", "MS03")], message_id="STS-1"))
        attempt = first.recurring_attempt_ids
        self.assertEqual(attempt.failure_category, "soft")
        self.assertEqual(attempt.decision, "retry")
        self.assertEqual(invoice.recurring_charge_state, "retry")
        with freeze_time(attempt.next_retry_at):
            self.assertEqual(self.env["account.move"]._cron_charge_invoices(), 1)
            second = (invoice.recurring_attempt_ids - attempt).transaction_id.sudo()
            self.assertEqual(second.state, "pending")
            self._sepa_batch(second)
            self._import(self._pain002([(second, "RJCT", "MS03")], message_id="STS-2"))
        second_attempt = second.recurring_attempt_ids
        self.assertEqual(second_attempt.attempt_number, 2)
        self.assertEqual(second_attempt.decision, "exhausted")
        self.assertEqual(invoice.recurring_charge_state, "exhausted")

    # === TESTS: matching, refusals, all or nothing === #

    @freeze_time("2025-01-01 08:00:00")
    def test_unmatched_lines_are_listed(self):
        """S-11: lines matching no collection of the company are kept and listed."""
        transaction = self._sepa_collection()
        bank_return = self._import(
            self._pain002(
                [
                    ("UNKNOWN-E2E-1", "RJCT", "AM04"),
                    (transaction, "RJCT", "AM04"),
                    ("UNKNOWN-E2E-2", "RJCT", "AC04"),
                ]
            )
        )
        self.assertEqual(bank_return.line_count, 3)
        self.assertEqual(bank_return.unmatched_count, 2)
        self.assertEqual(bank_return.returned_count, 3)
        unmatched = bank_return.line_ids.filtered(lambda line: not line.transaction_id)
        self.assertEqual(unmatched.mapped("end_to_end_id"), ["UNKNOWN-E2E-1", "UNKNOWN-E2E-2"])
        self.assertEqual(unmatched.mapped("reason_code"), ["AM04", "AC04"])
        self.assertTrue(all(unmatched.mapped("applied")))
        self.assertEqual(transaction.state, "error")
        summary = bank_return.message_ids.filtered(lambda m: "UNKNOWN-E2E-2" in m.body)
        self.assertTrue(summary)
        self.assertIn("2 line(s) match no direct debit", summary.body)
        form = Form(bank_return)
        self.assertEqual(len(form.line_ids), 3)
        action = bank_return.action_view_unmatched()
        self.assertEqual(self.env["recurring.sepa.return.line"].search(action["domain"]), unmatched)

    @freeze_time("2025-01-01 08:00:00")
    def test_other_company_collection_is_not_matched(self):
        """Matching is per company: a collection of another company is left alone."""
        transaction = self._sepa_collection()
        other = self.setup_other_company()["company"]
        wizard = (
            self.env["recurring.sepa.return.import"]
            .with_company(other)
            .create({"file": base64.b64encode(self._pain002([(transaction, "RJCT", "AC04")]))})
        )
        bank_return = self.env["recurring.sepa.return"].browse(wizard.action_import()["res_id"])
        self.assertEqual(bank_return.company_id, other)
        self.assertEqual(bank_return.unmatched_count, 1)
        self.assertEqual(transaction.state, "pending")
        self.assertEqual(transaction.recurring_sepa_mandate_id.state, "valid")

    def test_malformed_file_is_refused(self):
        """S-11: a file that is not XML imports nothing and says why."""
        before = self._returns()
        with file_open(
            "recurring_payments/tests/data/sepa_return_malformed.xml.part", "rb"
        ) as file:
            data = file.read()
        with self.assertRaisesRegex(UserError, "not a readable bank return"):
            self._import(data)
        with self.assertRaisesRegex(UserError, "not a readable bank return"):
            self._import(b"%PDF-1.4 this is no XML")
        # A line the bank could not identify makes the whole file unreadable.
        incomplete = self._pain002([("E2E-KNOWN", "RJCT", "AM04"), ("NOTPROVIDED", "RJCT", None)])
        with self.assertRaisesRegex(UserError, "Line 2 of the bank return has no EndToEndId"):
            self._import(incomplete)
        self.assertEqual(self._returns(), before)

    @freeze_time("2025-01-01 08:00:00")
    def test_foreign_file_is_refused(self):
        """S-11: another ISO 20022 message is refused: an account statement (camt.053), or
        the batch's own pain.008 file uploaded by mistake."""
        transaction = self._sepa_collection()
        path = "recurring_payments/tests/data/sepa_return_foreign_camt053.xml"
        with file_open(path, "rb") as file:
            statement = file.read()
        direct_debits = transaction.recurring_sepa_batch_id.file_id.raw
        self.assertIn(b"pain.008.001.08", direct_debits)
        before = self._returns()
        for data, namespace in ((statement, "camt.053.001.08"), (direct_debits, "pain.008.001.08")):
            with self.assertRaisesRegex(UserError, f"not a pain.002 .*{namespace}"):
                self._import(data)
        self.assertEqual(self._returns(), before)
        self.assertEqual(transaction.state, "pending")

    def test_empty_file_is_refused(self):
        """An empty file imports nothing: the form wants a file, the import says why."""
        before = self._returns()
        with self.assertRaises(AssertionError), Form(self.env["recurring.sepa.return.import"]):
            pass
        Return = self.env["recurring.sepa.return"]
        for data in (b"", b"  \n"):
            with self.assertRaisesRegex(UserError, "The file is empty"):
                Return._recurring_import_file(data, "empty.xml")
        wizard = self.env["recurring.sepa.return.import"].new({"file": False})
        with self.assertRaisesRegex(UserError, "The file is empty"):
            wizard.action_import()
        self.assertEqual(self._returns(), before)

    @freeze_time("2025-01-01 08:00:00")
    def test_same_file_twice_is_refused(self):
        """A file is imported once: the second import is refused and changes nothing."""
        transaction = self._sepa_collection()
        attempt = transaction.recurring_attempt_ids
        data = self._pain002([(transaction, "RJCT", "AM04")])
        self._import(data)
        next_retry_at = attempt.next_retry_at
        messages = len(attempt.invoice_id.message_ids)
        with self.assertRaisesRegex(UserError, "already imported"):
            self._import(data, file_name="again.xml")
        # The same message id under another content is the same report too.
        with self.assertRaisesRegex(UserError, "already imported"):
            self._import(data.replace(b"PMT-1", b"PMT-2"))
        self.assertEqual(self._returns(), 1)
        self.assertEqual(attempt.next_retry_at, next_retry_at)
        self.assertEqual(len(attempt.invoice_id.message_ids), messages)

    @freeze_time("2025-01-01 08:00:00")
    def test_applying_again_does_nothing(self):
        """Idempotence: a line applied is not applied again, and a collection already
        failed by a report is not failed again by the notification that follows."""
        transaction = self._sepa_collection()
        attempt = transaction.recurring_attempt_ids
        invoice = attempt.invoice_id
        bank_return = self._import(self._pain002([(transaction, "RJCT", "AM04")]))
        next_retry_at = attempt.next_retry_at
        bank_return.state = "draft"
        bank_return._recurring_apply()
        self.assertEqual(bank_return.state, "done")
        self.assertEqual(attempt.next_retry_at, next_retry_at)
        # The bank's notification repeating the return changes nothing either.
        notification = self._import(
            self._camt054([(transaction, "AM04")]).replace(b"<Cd>BOOK</Cd>", b"<Cd>PDNG</Cd>")
        )
        self.assertEqual(notification.line_ids.status, "rejected")
        self.assertIn(bank_return.name, notification.line_ids.outcome)
        self.assertEqual(attempt.next_retry_at, next_retry_at)
        self.assertEqual(len(invoice.recurring_attempt_ids), 1)
        self.assertEqual(invoice.recurring_charge_state, "retry")

    def test_all_or_nothing(self):
        """A line that cannot be applied keeps nothing of its file, not even the lines
        before it: here the second collection was settled in a period locked since."""
        with freeze_time("2025-01-01 08:00:00"):
            locked = self._sepa_collection(settle=True)
        self.company.fiscalyear_lock_date = date(2025, 1, 31)
        with freeze_time("2025-02-01 08:00:00"):
            open_ = self._sepa_collection(settle=True)
            self.assertEqual(open_.payment_id.date, date(2025, 2, 1))
            invoice = open_.recurring_attempt_ids.invoice_id
            before = self._returns()
            with self.assertRaisesRegex(
                UserError, f"Line 2 .*{locked.recurring_sepa_end_to_end_id}.*prior to"
            ):
                self._import(self._camt054([(open_, "AM04"), (locked, "MD06")]))
        self.assertEqual(self._returns(), before)
        self.assertEqual(open_.payment_id.state, "paid")
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(open_.recurring_attempt_ids.state, "done")
        self.assertFalse(open_.recurring_sepa_return_reason)
        self.assertEqual(invoice.recurring_charge_state, "paid")
        self.assertFalse(
            self.env["ir.attachment"].search([("res_model", "=", "recurring.sepa.return")])
        )

    @freeze_time("2025-01-01 08:00:00")
    def test_wrong_creditor_identifier_alerts_a_manager(self):
        """BE05: the creditor configuration is wrong; a manager gets an activity."""
        transaction = self._sepa_collection()
        bank_return = self._import(self._pain002([(transaction, "RJCT", "BE05")]))
        self.assertEqual(bank_return.line_ids.action, "stop_run")
        activity = bank_return.activity_ids
        self.assertEqual(activity.summary, "Check the creditor configuration")
        self.assertTrue(
            activity.user_id.has_group("recurring_payments.recurring_payments_group_manager")
        )
        self.assertEqual(transaction.recurring_attempt_ids.decision, "stop")

    # === TESTS: reason codes and access === #

    def test_every_reason_code_has_a_label(self):
        for code in REASON_ACTIONS:
            self.assertIn(code, SEPA_REASON_LABELS)
        self.assertEqual(
            reason_label(self.env, "md06"), "the customer asked their bank for a refund"
        )
        self.assertIn("ZZ99", reason_label(self.env, "ZZ99"))

    @freeze_time("2025-01-01 08:00:00")
    def test_access(self):
        """An accountant imports bank returns; an invoicing user only reads them; a portal
        user cannot read them at all."""
        transaction = self._sepa_collection()
        accountant = new_test_user(
            self.env,
            login="sepa_accountant",
            groups="account.group_account_user",
            company_id=self.company.id,
            company_ids=[self.company.id],
        )
        self.assertFalse(accountant.has_group("recurring_payments.recurring_payments_group_user"))
        bank_return = self._import(self._pain002([(transaction, "RJCT", "AM04")]), user=accountant)
        self.assertEqual(bank_return.create_uid, accountant)
        self.assertEqual(bank_return.line_ids.transaction_id, transaction)
        self.assertEqual(transaction.state, "error")
        self.assertEqual(transaction.recurring_attempt_ids.decision, "retry")
        billing = new_test_user(
            self.env,
            login="sepa_billing",
            groups="account.group_account_invoice",
            company_id=self.company.id,
            company_ids=[self.company.id],
        )
        self.assertEqual(bank_return.with_user(billing).line_ids.reason_code, "AM04")
        with self.assertRaises(AccessError):
            self.env["recurring.sepa.return.import"].with_user(billing).create({"file": b"eA=="})
        portal = new_test_user(self.env, login="sepa_portal", groups="base.group_portal")
        with self.assertRaises(AccessError):
            bank_return.with_user(portal).read(["name"])
        with self.assertRaises(AccessError):
            self.env["recurring.sepa.return.line"].with_user(portal).search([])
        with self.assertRaises(AccessError):
            self.env["recurring.sepa.return.import"].with_user(portal).create({"file": b"eA=="})
