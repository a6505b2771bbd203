# Part of recurring payments for Odoo. License LGPL-3.
import base64
from datetime import date

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged

from recurring_payments_core.sepa.sequence import SequenceType, sequence_type

from .common_sepa import SEPA_CREDITOR_IDENTIFIER, SepaCommon

#: Two accounts at the same bank (BNP Paribas, bank code 30004) and one at another.
IBAN_BNP = "FR7630004008200001122334402"
IBAN_BNP_OTHER = "FR7630004000035556667778810"
IBAN_AGRICOLE = "FR7630006000011234567890189"
IBAN_DE = "DE89370400440532013000"


@tagged("post_install", "-at_install")
class TestSepaMandate(SepaCommon):
    """Mandates: lifecycle, evidence, amendments, expiry, masking and the printed form."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.debtor = cls._sepa_partner(
            "Dupont SARL",
            IBAN_BNP,
            street="3 rue Neuve",
            zip="69001",
            city="Lyon",
            country_id=cls.env.ref("base.fr").id,
        )
        cls.recurring_user = new_test_user(
            cls.env,
            login="sepa_recurring_user",
            groups="base.group_user,recurring_payments.recurring_payments_group_user",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )
        cls.accountant = new_test_user(
            cls.env,
            login="sepa_accountant",
            groups="base.group_user,account.group_account_user,"
            "recurring_payments.recurring_payments_group_user",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )

    def _mails(self, mandate):
        return self.env["mail.mail"].search(
            [("model", "=", "recurring.sepa.mandate"), ("res_id", "=", mandate.id)]
        )

    # === LIFECYCLE === #

    @freeze_time("2025-01-02")
    def test_validate_creates_token_and_confirms(self):
        """A validated mandate owns one active SEPA token showing the masked IBAN, and the
        customer is sent the reference and the creditor identifier."""
        mandate = self._sepa_mandate(self.debtor, validate=False)
        self.assertEqual(mandate.state, "draft")
        self.assertTrue(mandate.name.startswith("MDT-2025-"))
        self.assertFalse(mandate.payment_token_id)
        mandate.action_validate()
        self.assertEqual(mandate.state, "valid")
        token = mandate.payment_token_id
        self.assertTrue(token.active)
        self.assertEqual(token.provider_id, self.sepa_provider)
        self.assertEqual(token.payment_method_id, self.sepa_method)
        self.assertEqual(token.partner_id, self.debtor)
        self.assertEqual(token.provider_ref, mandate.name)
        self.assertEqual(token.payment_details, "FR76 **** **** **** **** ***4 402")
        self.assertEqual(token.recurring_sepa_mandate_id, mandate)
        self.assertEqual(mandate.iban_masked, token.payment_details)
        self.assertTrue(any("validated" in message.body for message in mandate.message_ids))
        self.assertNotIn(IBAN_BNP, str(mandate.message_ids.mapped("body")))
        mail = self._mails(mandate)
        self.assertEqual(len(mail), 1)
        self.assertIn(mandate.name, mail.subject)
        self.assertIn(SEPA_CREDITOR_IDENTIFIER, mail.body_html)
        self.assertIn(mandate.iban_masked, mail.body_html)
        self.assertNotIn(IBAN_BNP[4:], mail.body_html.replace(" ", ""))
        self.assertEqual(mandate.expiry_date, date(2028, 1, 1))
        with self.assertRaisesRegex(UserError, "Only a draft mandate"):
            mandate.action_validate()

    @freeze_time("2025-01-02")
    def test_validate_checks_configuration(self):
        """Validation needs the creditor identifier and the provider; the signature date
        defaults to today and cannot be in the future."""
        mandate = self._sepa_mandate(self.debtor, validate=False, signature_date=False)
        self.company.recurring_sepa_creditor_identifier = False
        with self.assertRaisesRegex(UserError, "creditor identifier"):
            mandate.action_validate()
        self.company.recurring_sepa_creditor_identifier = SEPA_CREDITOR_IDENTIFIER
        self.sepa_provider.sudo().state = "disabled"
        with self.assertRaisesRegex(UserError, "Enable the SEPA Direct Debit payment provider"):
            mandate.action_validate()
        self.sepa_provider.sudo().state = "test"
        mandate.signature_date = date(2025, 1, 3)
        with self.assertRaisesRegex(UserError, "a date still to come"):
            mandate.action_validate()
        mandate.signature_date = False
        mandate.action_validate()
        self.assertEqual(mandate.signature_date, date(2025, 1, 2))
        self.assertEqual(mandate.state, "valid")

    def test_invalid_and_non_sepa_iban_refused(self):
        """S-12: a wrong IBAN and an IBAN outside the SEPA area are refused, masked in
        the message."""
        wrong = self._sepa_partner("Wrong Checksum", "FR7630004008200001122334403")
        with self.assertRaisesRegex(ValidationError, r"FR76 \*{4}.* is not a valid IBAN"):
            self._sepa_mandate(wrong, validate=False)
        brazil = self._sepa_partner("Rio Ltda", "BR1800360305000010009795493C1")
        with self.assertRaisesRegex(ValidationError, "not from a country of the SEPA area"):
            self._sepa_mandate(brazil, validate=False)
        # The account number of a valid mandate cannot become a non-SEPA one either.
        mandate = self._sepa_mandate(self.debtor)
        with self.assertRaisesRegex(UserError, "not from a country of the SEPA area"):
            mandate.partner_bank_id.acc_number = "TR330006100519786457841326"

    def test_non_eea_sepa_iban_needs_address(self):
        """S-12: Swiss and British IBANs are accepted, with the debtor's town and country."""
        swiss = self._sepa_partner(
            "Zurich AG",
            "CH9300762011623852957",
            city="Zürich",
            country_id=self.env.ref("base.ch").id,
        )
        self.assertEqual(self._sepa_mandate(swiss).state, "valid")
        british = self._sepa_partner("London Ltd", "GB29NWBK60161331926819")
        mandate = self._sepa_mandate(british, validate=False)
        with self.assertRaisesRegex(UserError, "outside the European Economic Area"):
            mandate.action_validate()
        self.assertEqual(mandate.state, "draft")
        british.write({"city": "London", "country_id": self.env.ref("base.uk").id})
        mandate.action_validate()
        self.assertEqual(mandate.state, "valid")

    def test_b2b_needs_company(self):
        """S-4: a B2B mandate needs a company as debtor."""
        person = self._sepa_partner("Jean Martin", IBAN_AGRICOLE, is_company=False)
        with self.assertRaisesRegex(ValidationError, "B2B mandate needs a company"):
            self._sepa_mandate(person, validate=False, scheme="B2B")
        self.assertEqual(self._sepa_mandate(person, scheme="CORE").state, "valid")
        self.assertEqual(self._sepa_mandate(self.debtor, scheme="B2B").state, "valid")

    def test_reference_checked_and_unique_ignoring_case(self):
        """S-1: references follow the SEPA rules and are unique per company, in any case."""
        first = self._sepa_mandate(self.debtor, validate=False, name="ABC-Ref-1")
        with self.assertRaisesRegex(ValidationError, "already used by the mandate ABC-Ref-1"):
            self._sepa_mandate(self.debtor, validate=False, name="abc-REF-1")
        with self.assertRaisesRegex(ValidationError, "cannot start or end with /"):
            self._sepa_mandate(self.debtor, validate=False, name="ABC//2")
        with self.assertRaisesRegex(ValidationError, "longer than 35 characters"):
            self._sepa_mandate(self.debtor, validate=False, name="X" * 36)
        second = self._sepa_mandate(self.debtor, validate=False)
        with self.assertRaisesRegex(ValidationError, "already used"):
            second.name = "ABC-REF-1"
        other_company = self.env["res.company"].create({"name": "Other Creditor"})
        copy = self._sepa_mandate(
            self.debtor, validate=False, name="ABC-REF-1", company_id=other_company.id
        )
        self.assertEqual(copy.company_id, other_company)
        self.assertEqual(first.name, "ABC-Ref-1")

    @freeze_time("2025-01-02")
    def test_evidence_immutable_once_valid(self):
        """X-5: the evidence of a signed mandate cannot change, field by field; the same
        value may be written again; a signed mandate cannot be deleted."""
        document = base64.b64encode(b"%PDF-1.4 signed")
        mandate = self._sepa_mandate(
            self.debtor,
            validate=False,
            consent_text="I authorise SEPA Creditor SAS.",
            signed_ip="192.0.2.10",
            signed_user_agent="Mozilla/5.0",
            signed_document=document,
            signed_document_name="mandate.pdf",
        )
        mandate.signature_place = "Lyon"  # a draft can still change
        mandate.action_validate()
        other_partner = self._sepa_partner("Other SA", IBAN_DE)
        changes = {
            "consent_text": "Something else",
            "signed_ip": "198.51.100.1",
            "signed_user_agent": "curl/8",
            "signed_document": base64.b64encode(b"%PDF-1.4 forged"),
            "signed_document_name": "forged.pdf",
            "signature_date": date(2024, 12, 1),
            "signature_place": "Marseille",
            "partner_id": other_partner.id,
            "scheme": "B2B",
            "mandate_type": "oneoff",
            "name": "MDT-FORGED",
        }
        for fname, value in changes.items():
            with self.subTest(field=fname), self.assertRaisesRegex(UserError, "is signed"):
                mandate.write({fname: value})
        self.assertEqual(mandate.consent_text, "I authorise SEPA Creditor SAS.")
        self.assertEqual(mandate.signed_document, document)
        self.assertEqual(mandate.signature_place, "Lyon")
        # Writing the values it already has changes nothing and is allowed.
        mandate.write(
            {"signed_document": document, "signature_place": "Lyon", "partner_id": self.debtor.id}
        )
        mandate._recurring_sepa_revoke("Customer letter")
        with self.assertRaisesRegex(UserError, "is signed"):
            mandate.sudo().signed_ip = "203.0.113.5"
        with self.assertRaisesRegex(UserError, "kept as evidence"):
            mandate.unlink()

    @freeze_time("2025-01-02")
    def test_revoke(self):
        """A revoked mandate archives its token; its subscriptions keep running, are
        told so, and the mandate cannot be collected any more."""
        mandate = self._sepa_mandate(self.debtor)
        subscription = self._sepa_subscription(mandate, 40.0)
        self.assertEqual(subscription.payment_token_id, mandate.payment_token_id)
        self.assertEqual(mandate.subscription_count, 1)
        action = mandate.action_view_subscriptions()
        self.assertEqual(self.env["recurring.subscription"].search(action["domain"]), subscription)
        with self.assertRaisesRegex(UserError, "Revocation Reason"):
            mandate.action_revoke()
        state_before = subscription.state
        mandate.revocation_reason = "Letter of the customer"
        mandate.action_revoke()
        self.assertEqual(mandate.state, "revoked")
        self.assertFalse(mandate.payment_token_id.active)
        self.assertEqual(subscription.state, state_before)
        self.assertIn("was revoked", subscription.message_ids[0].body)
        with self.assertRaisesRegex(UserError, "not valid"):
            mandate._recurring_sepa_check_collectable(date(2025, 2, 1))
        with self.assertRaisesRegex(UserError, "Only a valid mandate"):
            mandate.action_revoke("again")

    def test_revoke_from_bank_return_without_rights(self):
        """The bank-return code revokes as any user, with no wizard; done twice, nothing
        changes the second time."""
        mandate = self._sepa_mandate(self.debtor)
        user_mandate = mandate.with_user(self.recurring_user)
        revoked = user_mandate._recurring_sepa_revoke("Bank return MD01: no valid mandate")
        self.assertEqual(revoked, mandate)
        self.assertEqual(mandate.state, "revoked")
        self.assertEqual(mandate.revocation_reason, "Bank return MD01: no valid mandate")
        self.assertFalse(mandate.payment_token_id.active)
        self.assertFalse(user_mandate._recurring_sepa_revoke("again"))
        self.assertEqual(mandate.revocation_reason, "Bank return MD01: no valid mandate")

    def test_cancel(self):
        """Draft mandates and valid ones never collected can be cancelled, not others."""
        draft = self._sepa_mandate(self.debtor, validate=False)
        draft.action_cancel()
        self.assertEqual(draft.state, "cancelled")
        unused = self._sepa_mandate(self.debtor)
        unused.action_cancel()
        self.assertEqual(unused.state, "cancelled")
        self.assertFalse(unused.payment_token_id.active)
        collected = self._sepa_mandate(self.debtor)
        collected._recurring_sepa_register_collection(date(2025, 2, 3))
        with self.assertRaisesRegex(UserError, "revoke it instead"):
            collected.action_cancel()
        with self.assertRaisesRegex(UserError, "cannot be cancelled"):
            draft.action_cancel()

    # === COLLECTIONS AND AMENDMENTS === #

    def test_register_and_unregister_collection(self):
        """S-5: collections are counted (a rejected first one uncounted, never below 0)
        and the last collection date only moves forward, with the lapse date."""
        mandate = self._sepa_mandate(self.debtor)
        self.assertEqual(sequence_type(mandate._recurring_sepa_history()), SequenceType.FIRST)
        mandate._recurring_sepa_register_collection(date(2025, 3, 5))
        self.assertEqual(mandate.collection_count, 1)
        self.assertEqual(mandate.last_collection_date, date(2025, 3, 5))
        self.assertEqual(mandate.expiry_date, date(2028, 3, 5))
        self.assertEqual(mandate.collected_reference, mandate.name)
        self.assertEqual(mandate.collected_creditor_identifier, SEPA_CREDITOR_IDENTIFIER)
        self.assertEqual(mandate.collected_iban, IBAN_BNP)
        self.assertEqual(sequence_type(mandate._recurring_sepa_history()), SequenceType.RECURRING)
        mandate._recurring_sepa_register_collection(date(2025, 2, 5))
        self.assertEqual(mandate.collection_count, 2)
        self.assertEqual(mandate.last_collection_date, date(2025, 3, 5))
        mandate._recurring_sepa_unregister_collection()
        mandate._recurring_sepa_unregister_collection()
        mandate._recurring_sepa_unregister_collection()
        self.assertEqual(mandate.collection_count, 0)
        self.assertEqual(sequence_type(mandate._recurring_sepa_history()), SequenceType.FIRST)

    def test_iban_change_never_collected_is_no_amendment(self):
        """A mandate never collected takes a new account without amendment."""
        mandate = self._sepa_mandate(self.debtor)
        reference = mandate.name
        new_account = self.env["res.partner.bank"].create(
            {"acc_number": IBAN_AGRICOLE, "partner_id": self.debtor.id}
        )
        mandate.partner_bank_id = new_account
        self.assertEqual(mandate.name, reference)
        self.assertFalse(mandate.collected_iban)
        self.assertFalse(mandate.debtor_bank_changed)
        self.assertIsNone(mandate._recurring_sepa_amendment())
        self.assertEqual(mandate.payment_token_id.payment_details, mandate.iban_masked)

    def test_amendment_same_bank(self):
        """S-8: a new account at the same bank keeps the reference and sends the former
        account as original debtor account; no SMNDA."""
        mandate = self._sepa_mandate(self.debtor)
        reference = mandate.name
        mandate._recurring_sepa_register_collection(date(2025, 2, 3))
        self.assertIsNone(mandate._recurring_sepa_amendment())
        mandate.with_context(tracking_disable=False, mail_notrack=False).partner_bank_id = self.env[
            "res.partner.bank"
        ].create({"acc_number": IBAN_BNP_OTHER, "partner_id": self.debtor.id})
        self.env.cr.precommit.run()  # the tracking of the change
        self.assertEqual(mandate.name, reference)
        self.assertEqual(mandate.state, "valid")
        # the chatter shows the accounts masked only.
        tracked = mandate.message_ids.tracking_value_ids
        self.assertIn("FR76 **** **** **** **** ***8 810", tracked.mapped("new_value_char"))
        chatter = str(mandate.message_ids.mapped("body")) + str(
            tracked.mapped("old_value_char") + tracked.mapped("new_value_char")
        )
        self.assertNotIn(IBAN_BNP, chatter)
        self.assertNotIn(IBAN_BNP_OTHER, chatter)
        self.assertEqual(mandate.collected_iban, IBAN_BNP)
        self.assertFalse(mandate.debtor_bank_changed)
        amendment = mandate._recurring_sepa_amendment()
        self.assertEqual(amendment.original_debtor_iban, IBAN_BNP)
        self.assertFalse(amendment.smnda)
        self.assertIsNone(amendment.original_mandate_id)
        self.assertEqual(
            mandate.payment_token_id.payment_details, "FR76 **** **** **** **** ***8 810"
        )
        self.assertEqual(sequence_type(mandate._recurring_sepa_history()), SequenceType.RECURRING)
        # Once collected with the new account, the amendment is done.
        mandate._recurring_sepa_register_collection(date(2025, 3, 3))
        self.assertIsNone(mandate._recurring_sepa_amendment())
        self.assertEqual(mandate.collected_iban, IBAN_BNP_OTHER)

    def test_amendment_other_bank(self):
        """S-8: a new account at another bank is SMNDA and resets the sequence to FRST;
        a second change before the next collection keeps the originals the bank knows."""
        mandate = self._sepa_mandate(self.debtor)
        reference = mandate.name
        mandate._recurring_sepa_register_collection(date(2025, 2, 3))
        # Editing the account number itself amends the mandate too.
        mandate.partner_bank_id.acc_number = IBAN_DE
        self.assertEqual(mandate.name, reference)
        self.assertEqual(mandate.collected_iban, IBAN_BNP)
        self.assertTrue(mandate.debtor_bank_changed)
        amendment = mandate._recurring_sepa_amendment()
        self.assertTrue(amendment.smnda)
        self.assertIsNone(amendment.original_debtor_iban)
        self.assertEqual(sequence_type(mandate._recurring_sepa_history()), SequenceType.FIRST)
        self.assertEqual(mandate.payment_token_id.payment_details, mandate.iban_masked)
        self.assertTrue(mandate.iban_masked.startswith("DE89"))
        # Back to an account at the first bank before any collection: same bank as known.
        mandate.partner_bank_id = self.env["res.partner.bank"].create(
            {"acc_number": IBAN_BNP_OTHER, "partner_id": self.debtor.id}
        )
        self.assertEqual(mandate.collected_iban, IBAN_BNP)
        self.assertFalse(mandate.debtor_bank_changed)
        self.assertEqual(mandate._recurring_sepa_amendment().original_debtor_iban, IBAN_BNP)
        mandate._recurring_sepa_register_collection(date(2025, 3, 3))
        self.assertFalse(mandate.debtor_bank_changed)
        self.assertIsNone(mandate._recurring_sepa_amendment())

    def test_oneoff_collected_once(self):
        """A one-off mandate never lapses and is collected once."""
        mandate = self._sepa_mandate(self.debtor, mandate_type="oneoff")
        self.assertFalse(mandate.expiry_date)
        mandate._recurring_sepa_check_collectable(date(2030, 1, 1))
        mandate._recurring_sepa_register_collection(date(2025, 2, 3))
        with self.assertRaisesRegex(UserError, "one-off mandate .* already collected"):
            mandate._recurring_sepa_check_collectable(date(2025, 3, 3))

    # === EXPIRY === #

    def test_expiry_notice_then_expired(self):
        """S-6: the customer is told once, 30 days before the mandate lapses, 36 months
        after its last use; then the mandate expires and cannot be collected."""
        with freeze_time("2025-01-01"):
            mandate = self._sepa_mandate(self.debtor)
        self.assertEqual(mandate.expiry_date, date(2028, 1, 1))
        mandate._recurring_sepa_check_collectable(date(2027, 12, 31))
        with self.assertRaisesRegex(UserError, "lapsed on"):
            mandate._recurring_sepa_check_collectable(date(2028, 1, 1))
        before = self._mails(mandate)
        cron = self.env["recurring.sepa.mandate"]._cron_recurring_sepa_expire_mandates
        with freeze_time("2027-12-01"):
            warned, expired = cron()
        self.assertFalse(warned)
        self.assertFalse(mandate.expiry_notice_sent)
        with freeze_time("2027-12-02"):
            warned, expired = cron()
        self.assertEqual(warned, mandate)
        self.assertFalse(expired)
        self.assertTrue(mandate.expiry_notice_sent)
        notice = self._mails(mandate) - before
        self.assertEqual(len(notice), 1)
        self.assertIn("lapses soon", notice.subject)
        self.assertIn("01/01/2028", notice.body_html)
        with freeze_time("2027-12-20"):
            cron()
        self.assertEqual(len(self._mails(mandate) - before), 1, "told once")
        self.assertEqual(mandate.state, "valid")
        with freeze_time("2028-01-01"):
            warned, expired = cron()
        self.assertEqual(expired, mandate)
        self.assertEqual(mandate.state, "expired")
        self.assertFalse(mandate.payment_token_id.active)
        self.assertIn("expired", mandate.message_ids[0].body)
        with self.assertRaisesRegex(UserError, "not valid"):
            mandate._recurring_sepa_check_collectable(date(2028, 1, 2))

    def test_collection_resets_expiry_notice(self):
        """A collection after the notice pushes the lapse date back and re-arms the notice."""
        with freeze_time("2025-01-01"):
            mandate = self._sepa_mandate(self.debtor)
        with freeze_time("2027-12-15"):
            self.env["recurring.sepa.mandate"]._cron_recurring_sepa_expire_mandates()
        self.assertTrue(mandate.expiry_notice_sent)
        mandate._recurring_sepa_register_collection(date(2027, 12, 20))
        self.assertFalse(mandate.expiry_notice_sent)
        self.assertEqual(mandate.expiry_date, date(2030, 12, 20))
        with freeze_time("2028-01-02"):
            warned, expired = self.env[
                "recurring.sepa.mandate"
            ]._cron_recurring_sepa_expire_mandates()
        self.assertFalse(warned | expired)
        self.assertEqual(mandate.state, "valid")

    # === ACCESS AND MASKING === #

    def test_masked_iban_outside_accounting(self):
        """X-4: outside the accounting groups, bank accounts show masked and the evidence
        cannot be read; accountants see both in full, Odoo's bank views included."""
        mandate = self._sepa_mandate(self.debtor, consent_text="I agree")
        bank = mandate.partner_bank_id
        user_bank = bank.with_user(self.recurring_user)
        self.assertEqual(user_bank.display_name, "FR76 **** **** **** **** ***4 402")
        user_mandate = mandate.with_user(self.recurring_user)
        self.assertEqual(user_mandate.iban_masked, "FR76 **** **** **** **** ***4 402")
        data = user_mandate.web_read({"partner_bank_id": {"fields": {"display_name": {}}}})
        self.assertNotIn(IBAN_BNP, str(data))
        self.assertIn("***4 402", str(data))
        for fname in ("consent_text", "signed_ip", "signed_document", "collected_iban"):
            with self.subTest(field=fname), self.assertRaises(AccessError):
                user_mandate.read([fname])
        # Accountants: the full number, in Odoo's own views of bank accounts too.
        accountant_bank = bank.with_user(self.accountant)
        self.assertEqual(accountant_bank.display_name, IBAN_BNP)
        self.assertEqual(mandate.with_user(self.accountant).consent_text, "I agree")
        Bank = self.env["res.partner.bank"].with_user(self.accountant)
        views = Bank.get_views([(False, "list"), (False, "form")])
        self.assertIn("acc_number", views["views"]["form"]["arch"])
        read = accountant_bank.web_read({"acc_number": {}, "display_name": {}})
        self.assertEqual(read[0]["display_name"], IBAN_BNP)
        self.assertEqual(Bank.name_search(IBAN_BNP[-6:])[0][1], IBAN_BNP)
        # With the bank's name, as account shows it.
        bank.bank_id = self.env["res.bank"].create({"name": "BNP Lyon", "bic": "BNPAFRPPLYO"})
        self.assertEqual(accountant_bank.display_name, f"{IBAN_BNP} - BNP Lyon")
        user_bank.invalidate_recordset()
        self.assertEqual(user_bank.display_name, "FR76 **** **** **** **** ***4 402 - BNP Lyon")

    def test_mandate_form_view_for_both_groups(self):
        """The form opens for recurring users (no evidence page) and accountants."""
        user_arch = (
            self.env["recurring.sepa.mandate"]
            .with_user(self.recurring_user)
            .get_views([(False, "form")])["views"]["form"]["arch"]
        )
        self.assertIn('name="iban_masked"', user_arch)
        self.assertNotIn('name="consent_text"', user_arch)
        self.assertNotIn('string="Print"', user_arch)
        accountant_arch = (
            self.env["recurring.sepa.mandate"]
            .with_user(self.accountant)
            .get_views([(False, "form")])["views"]["form"]["arch"]
        )
        self.assertIn('name="consent_text"', accountant_arch)
        views = (
            self.env["recurring.sepa.mandate"]
            .with_user(self.recurring_user)
            .get_views([(False, "list"), (False, "search")])["views"]
        )
        self.assertIn('name="iban_masked"', views["list"]["arch"])
        self.assertIn('name="filter_lapsing"', views["search"]["arch"])
        self.assertIn('string="Print"', accountant_arch)

    def test_report_renders(self):
        """The printed form has every field of the EPC rulebook and the right text per
        scheme; only accountants may print it."""
        mandate = self._sepa_mandate(self.debtor)
        report = self.env["ir.actions.report"].with_user(self.accountant)
        html = " ".join(
            report._render_qweb_html(
                "recurring_payments.report_recurring_sepa_mandate", mandate.ids
            )[0]
            .decode()
            .split()
        )
        self.assertIn("SEPA Direct Debit Mandate", html)
        self.assertIn(mandate.name, html)
        self.assertIn(SEPA_CREDITOR_IDENTIFIER, html)
        self.assertIn("SEPA Creditor SAS", html)
        self.assertIn("Paris", html)  # creditor's address
        self.assertIn("Dupont SARL", html)
        self.assertIn("Lyon", html)  # debtor's address
        self.assertIn("FR76 3000 4008 2000 0112 2334 402", html)
        self.assertIn("BNPAFRPP", html)
        self.assertIn("within 8 weeks", html)
        self.assertIn("Recurrent payment", html)
        b2b = self._sepa_mandate(self.debtor, scheme="B2B", mandate_type="oneoff")
        html = " ".join(
            report._render_qweb_html("recurring_payments.report_recurring_sepa_mandate", b2b.ids)[0]
            .decode()
            .split()
        )
        self.assertIn("Business-to-Business", html)
        self.assertIn("not entitled to a refund", html)
        self.assertNotIn("within 8 weeks", html)
        self.assertIn("☒ One-off payment", html)
        action = self.env.ref("recurring_payments.recurring_sepa_mandate_report")
        self.assertIn(self.env.ref("account.group_account_user"), action.groups_id)
        with self.assertRaises(AccessError):
            self.env["ir.actions.report"].with_user(self.recurring_user)._render_qweb_html(
                "recurring_payments.report_recurring_sepa_mandate", mandate.ids
            )

    def test_multi_company_rule(self):
        """A user of another company sees none of this company's mandates."""
        mandate = self._sepa_mandate(self.debtor)
        company_b = self.env["res.company"].create({"name": "Company B"})
        user_b = new_test_user(
            self.env,
            login="sepa_user_company_b",
            groups="base.group_user,recurring_payments.recurring_payments_group_manager",
            company_id=company_b.id,
            company_ids=[Command.set(company_b.ids)],
        )
        Mandate = self.env["recurring.sepa.mandate"].with_user(user_b)
        self.assertFalse(Mandate.search([("id", "=", mandate.id)]))
        with self.assertRaises(AccessError):
            mandate.with_user(user_b).read(["name"])
        self.assertEqual(
            self.env["recurring.sepa.mandate"]
            .with_user(self.recurring_user)
            .search([("id", "=", mandate.id)]),
            mandate,
        )
