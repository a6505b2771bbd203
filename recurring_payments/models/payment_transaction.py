# Part of recurring payments for Odoo. License LGPL-3.
import dataclasses
from collections import defaultdict
from datetime import timezone

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, format_date

from recurring_payments_core.retry import Decline
from recurring_payments_core.sepa.calendar import collection_date as core_collection_date
from recurring_payments_core.sepa.errors import SepaError
from recurring_payments_core.sepa.pain008 import Debit, Scheme, end_to_end_id
from recurring_payments_core.sepa.sequence import Amendment, SequenceType, sequence_type
from recurring_payments_core.stripe_adapter import StripeAdapterError

from ..const import INVOICING_TIME_BUDGET, SEPA_PROVIDER_CODE, SEPA_SCHEMES, SEPA_SEQUENCE_TYPES
from ..utils import run_cron_batches, send_customer_mail, sepa_error_message, to_decimal
from .recurring_sepa_batch import sepa_postal_address
from .recurring_sepa_mandate import SEPA_FULL_ACCESS_GROUPS

#: Seconds before the transaction's creation from which its PaymentIntent is looked for.
STRIPE_LOOKUP_MARGIN = 300

#: Customers pre-notified per committed batch by the SEPA preparation cron.
SEPA_PREPARE_BATCH_SIZE = 100
#: Longest identifier of a pain.008 file (message, payment information, end-to-end).
#: Transactions (alias ``t``) queued for the next SEPA collection and not pre-notified yet.
SEPA_TO_PREPARE_WHERE = SQL(
    """
    t.state = 'pending'
    AND t.recurring_sepa_mandate_id IS NOT NULL
    AND t.recurring_sepa_prenotified_on IS NULL
    """
)


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    recurring_attempt_ids = fields.One2many(
        comodel_name="recurring.payment.attempt",
        inverse_name="transaction_id",
        string="Payment Attempts",
        readonly=True,
    )
    # === SEPA Direct Debit (provider ``recurring_sepa``) === #
    recurring_sepa_mandate_id = fields.Many2one(
        comodel_name="recurring.sepa.mandate",
        string="SEPA Mandate",
        readonly=True,
        index="btree_not_null",
    )
    recurring_sepa_batch_id = fields.Many2one(
        comodel_name="recurring.sepa.batch",
        string="Direct Debit Batch",
        readonly=True,
        index="btree_not_null",
    )
    recurring_sepa_collection_date = fields.Date(string="Collection Date", readonly=True)
    recurring_sepa_sequence_type = fields.Selection(
        selection=SEPA_SEQUENCE_TYPES, string="Sequence Type", readonly=True
    )
    recurring_sepa_prenotified_on = fields.Date(string="Pre-notified On", readonly=True)
    recurring_sepa_end_to_end_id = fields.Char(
        string="End-to-End Id", readonly=True, index="btree_not_null"
    )
    recurring_sepa_return_reason = fields.Char(string="Return Reason Code", readonly=True)
    # What the bank is sent, captured when the transaction joins a batch: a later change
    # of the mandate (a new IBAN) does not alter the collection it is in.
    recurring_sepa_scheme = fields.Selection(selection=SEPA_SCHEMES, string="Scheme", readonly=True)
    recurring_sepa_debtor_iban = fields.Char(
        string="Debtor IBAN", readonly=True, groups=SEPA_FULL_ACCESS_GROUPS
    )
    recurring_sepa_debtor_bic = fields.Char(string="Debtor BIC", readonly=True)
    recurring_sepa_amendment = fields.Json(
        string="Amendment",
        readonly=True,
        help="The amendment block of the collection (original mandate data), if any.",
    )

    def init(self):
        res = super().init()
        # The SEPA preparation cron looks for these on every run.
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS payment_transaction_recurring_sepa_to_prepare_idx
                ON payment_transaction (id)
             WHERE state = 'pending'
               AND recurring_sepa_mandate_id IS NOT NULL
               AND recurring_sepa_prenotified_on IS NULL
            """
        )
        return res

    # === CONSTRAINT METHODS === #

    @api.constrains(
        "recurring_sepa_batch_id",
        "recurring_sepa_collection_date",
        "recurring_sepa_sequence_type",
        "recurring_sepa_scheme",
    )
    def _check_recurring_sepa_batch(self):
        """A batch never mixes collection dates, sequence types, schemes or companies (S-4)."""
        for transaction in self.filtered("recurring_sepa_batch_id"):
            batch = transaction.recurring_sepa_batch_id
            # The scheme is captured when the transaction joins a batch; else its mandate's.
            scheme = (
                transaction.recurring_sepa_scheme or transaction.recurring_sepa_mandate_id.scheme
            )
            if (
                transaction.recurring_sepa_collection_date,
                transaction.recurring_sepa_sequence_type,
                scheme,
                transaction.company_id,
            ) != (batch.collection_date, batch.sequence_type, batch.scheme, batch.company_id):
                raise ValidationError(
                    _(
                        "The direct debit %(reference)s cannot join the batch %(batch)s: a batch "
                        "holds the collections of one company, one collection date, one "
                        "sequence type and one scheme.",
                        reference=transaction.reference,
                        batch=batch.name,
                    )
                )

    def _update_state(self, allowed_states, target_state, state_message):
        """Override of `payment` to record the outcome on the payment attempts.

        Outcomes that arrive later (a webhook, a provider's notification) reach the
        attempt here; a late failure never undoes a success (W-2): Odoo refuses the
        transition and the attempt of a paid invoice is final.
        """
        changed = super()._update_state(allowed_states, target_state, state_message)
        if not self.env.context.get("recurring_sending"):
            # While a charge is being sent, its outcome is recorded by the sender itself.
            self.recurring_attempt_ids._recurring_sync()
        return changed

    def _post_process(self):
        """Override of `payment` to post-process the transactions of attempts once (C-9).

        The rows are locked first: when the cron's post-processing and a webhook arrive
        together, the second waits, sees the first's work and does nothing (or, if the
        first committed meanwhile, fails to serialize and is retried later).
        """
        to_process = self
        recurring = self.filtered("recurring_attempt_ids")
        if recurring:
            self.env.flush_all()
            self.env.cr.execute(
                "SELECT id FROM payment_transaction WHERE id IN %s FOR NO KEY UPDATE",
                [tuple(recurring.ids)],
            )
            recurring.invalidate_recordset(["is_post_processed", "payment_id"])
            to_process = self - recurring.filtered("is_post_processed")
        return super(PaymentTransaction, to_process)._post_process()

    def _recurring_post_process_once(self):
        """Post-process now (payment and reconciliation) unless it was done already."""
        self._post_process()

    def _recurring_decline(self):
        """Return the core ``Decline`` describing why this transaction failed."""
        self.ensure_one()
        message = self.state_message or ""
        if self.provider_code == SEPA_PROVIDER_CODE:
            # The bank's reason code; none when the mandate could not be collected at all.
            return Decline(
                provider="sepa", code=self.recurring_sepa_return_reason or None, message=message
            )
        if self.provider_code == "demo":
            code = "cancel" if self.state == "cancel" else "error"
            # ``demo_<category>`` in the message simulates each category with payment_demo.
            for word in message.replace(":", " ").split():
                if word.startswith("demo_"):
                    code = word
            return Decline(provider="demo", code=code, message=message)
        if self.provider_code == "stripe":
            # payment_stripe keeps only Stripe's message: the codes the retry rules need
            # are read from the PaymentIntent. A provider that does not answer is a
            # timeout, never a decline (C-7).
            try:
                adapter = self.provider_id._recurring_stripe_adapter()
                try:
                    intent_id = self.provider_reference
                    if not (intent_id or "").startswith("pi_") and self.token_id.provider_ref:
                        # A declined off-session charge leaves no reference on the
                        # transaction: find its PaymentIntent, described by our reference.
                        created = self.create_date.replace(tzinfo=timezone.utc).timestamp()
                        intents = adapter.find_payment_intents(
                            customer=self.token_id.provider_ref,
                            created_after=int(created) - STRIPE_LOOKUP_MARGIN,
                        )
                        intent_id = next(
                            (i["id"] for i in intents if i.get("description") == self.reference),
                            None,
                        )
                    details = adapter.decline_details(intent_id) if intent_id else None
                finally:
                    adapter.close()
            except StripeAdapterError as error:
                return Decline(provider="stripe", message=message, timeout=error.retryable)
            if details:
                return Decline(
                    provider="stripe",
                    code=details.decline_code or details.code,
                    advice_code=details.advice_code,
                    network_advice_code=details.network_advice_code,
                    network_decline_code=details.network_decline_code,
                    card_network=details.card_network,
                    message=details.message or message,
                )
            return Decline(provider="stripe", message=message)
        return Decline(provider=self.provider_code or "unknown", message=message)

    # === BUSINESS METHODS: SEPA DIRECT DEBIT, QUEUEING === #

    def _send_payment_request(self):
        """Override of `payment` to queue a SEPA direct debit for the next collection.

        No bank is called: the mandate is checked, the transaction gets its end-to-end
        identifier and its requested collection date (the invoice's due date, else today)
        and waits, ``pending``, for the preparation cron to pre-notify the customer and put
        it in a batch. A mandate that cannot be collected (revoked, lapsed, a one-off
        already used) puts the transaction in error instead of raising: the attempt then
        fails as "needs a new payment method" and the customer is asked for a new mandate.

        Note: self.ensure_one()
        """
        super()._send_payment_request()
        if self.provider_code != SEPA_PROVIDER_CODE:
            return
        requested = self._recurring_sepa_requested_date()
        mandate = self.token_id.recurring_sepa_mandate_id
        error = None
        if not mandate:
            error = _(
                "The payment method %(token)s is not linked to a SEPA mandate.",
                token=self.token_id.display_name,
            )
        elif self.currency_id.name != "EUR":
            error = _(
                "SEPA direct debits are in euros only (got %(currency)s).",
                currency=self.currency_id.name,
            )
        else:
            try:
                mandate._recurring_sepa_check_collectable(requested)
            except UserError as user_error:
                error = user_error.args[0]
        if error:
            self._set_error(error)
            return
        self.write(
            {
                "recurring_sepa_mandate_id": mandate.id,
                "recurring_sepa_collection_date": requested,
                "recurring_sepa_end_to_end_id": self._recurring_sepa_end_to_end_id(),
            }
        )
        self._set_pending(
            state_message=_(
                "Queued for the SEPA direct debit of %(date)s.",
                date=format_date(self.env, requested),
            )
        )

    def _recurring_sepa_requested_date(self):
        """Return the day the customer expects to be debited: the due date of the invoice
        (today for an invoice already due)."""
        self.ensure_one()
        today = fields.Date.context_today(self)
        due_dates = [due for due in self.invoice_ids.mapped("invoice_date_due") if due]
        return max(min(due_dates), today) if due_dates else today

    def _recurring_sepa_end_to_end_id(self):
        """Return the end-to-end identifier of the debit: the transaction's reference in the
        SEPA character set, at most 35 characters, no leading ``/`` nor ``//``; made unique
        with the transaction's id when needed."""
        self.ensure_one()
        try:
            identifier = end_to_end_id(self.reference)
            if not identifier or self.sudo().search_count(
                [("recurring_sepa_end_to_end_id", "=", identifier), ("id", "!=", self.id)],
                limit=1,
            ):
                identifier = end_to_end_id(self.reference, unique_suffix=f"-{self.id}")
        except SepaError as error:
            raise UserError(sepa_error_message(self.env, error)) from error
        return identifier

    # === BUSINESS METHODS: SEPA DIRECT DEBIT, PRE-NOTIFICATION AND BATCHES === #

    @api.model
    def _cron_recurring_sepa_prepare(
        self, batch_size=SEPA_PREPARE_BATCH_SIZE, time_budget=INVOICING_TIME_BUDGET
    ):
        """Pre-notify the queued SEPA direct debits and put them in collection batches.

        The queued transactions of up to ``batch_size`` customers are claimed with
        ``FOR NO KEY UPDATE SKIP LOCKED``, so several workers share the work; each
        customer gets one email listing their debits, and each debit joins the draft batch
        of its company, collection date, sequence type and scheme. Every batch of
        customers is committed on its own and reported with ``ir.cron._notify_progress``;
        after ``time_budget`` seconds the call returns and the scheduler calls again.
        A transaction pre-notified once is never taken again, so a second run on the same
        day sends nothing twice.

        :return: the number of transactions handled (pre-notified or failed).
        """
        today = fields.Date.context_today(self)
        return run_cron_batches(
            self.env,
            claim=lambda: self._recurring_sepa_claim_to_prepare(batch_size),
            process=lambda transactions: transactions._recurring_sepa_prepare(today),
            count_remaining=self._recurring_sepa_count_to_prepare,
            can_commit=self.env["recurring.subscription"]._recurring_can_commit(),
            time_budget=time_budget,
        )

    @api.model
    def _recurring_sepa_claim_to_prepare(self, limit):
        """Lock and return the queued SEPA transactions of up to ``limit`` customers.

        All the queued debits of a customer are taken together, so that they get one
        pre-notification. Rows locked by another worker are skipped.
        """
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                WITH customers AS (
                    SELECT DISTINCT t.company_id, p.commercial_partner_id
                      FROM payment_transaction t
                      JOIN res_partner p ON p.id = t.partner_id
                     WHERE %(where)s
                     ORDER BY t.company_id, p.commercial_partner_id
                     LIMIT %(limit)s
                )
                SELECT t.id
                  FROM payment_transaction t
                  JOIN res_partner p ON p.id = t.partner_id
                  JOIN customers c
                    ON c.company_id = t.company_id
                   AND c.commercial_partner_id = p.commercial_partner_id
                 WHERE %(where)s
                 ORDER BY t.id
                   FOR NO KEY UPDATE OF t SKIP LOCKED
                """,
                where=SEPA_TO_PREPARE_WHERE,
                limit=limit,
            ),
            log_exceptions=False,  # a lost race is retried by the caller, not an error
        )
        transactions = self.sudo().browse([row[0] for row in self.env.cr.fetchall()])
        transactions.invalidate_recordset()
        return transactions

    @api.model
    def _recurring_sepa_count_to_prepare(self):
        self.env.flush_all()
        self.env.cr.execute(
            SQL("SELECT COUNT(*) FROM payment_transaction t WHERE %s", SEPA_TO_PREPARE_WHERE)
        )
        return self.env.cr.fetchone()[0]

    def _recurring_sepa_prepare(self, today):
        """Fix the collection date and sequence type of each queued transaction, put it in
        its draft batch and send each customer one pre-notification.

        The debits of one mandate are handled in the order of their requested dates, each
        one registered on the mandate before the next is decided: a second debit sees the
        first and is never a second FRST, nor collected on the same day.

        :param date today: the day of the pre-notification.
        :return: the transactions pre-notified (the others failed).
        """
        batches = {}
        prepared_ids = []
        for transaction in self.sorted(lambda t: (t.recurring_sepa_collection_date or today, t.id)):
            if transaction._recurring_sepa_join_batch(today, batches):
                prepared_ids.append(transaction.id)
        prepared = self.browse(prepared_ids)
        prepared._recurring_sepa_send_prenotifications()
        return prepared

    def _recurring_sepa_join_batch(self, today, batches):
        """Pre-notify this transaction today and put it in its draft batch.

        The collection date is the requested one, but never before the pre-notification
        plus the notice period and the bank's lead time (S-7), on a TARGET2 business day,
        and after a first collection (FRST) of the mandate still to be presented. A mandate
        that can no longer be collected puts the transaction in error.

        :param date today: the day of the pre-notification.
        :param dict batches: the draft batches of this run, by key (filled here).
        :return: whether the transaction joined a batch.
        """
        self.ensure_one()
        company = self.company_id
        mandate = self.recurring_sepa_mandate_id
        if self._recurring_sepa_invoices_settled():
            self._recurring_sepa_withdraw(
                _("Withdrawn before collection: the invoice was settled otherwise.")
            )
            return False
        if not mandate.partner_id.email:
            # The pre-notification is due before any collection (S-7): without an address
            # to send it to, a person must step in; the debit is not collected.
            self._set_error(
                _(
                    "%(customer)s has no email address: the SEPA pre-notification cannot be "
                    "sent, so the debit is not collected. Add an address, then charge again.",
                    customer=mandate.partner_id.display_name,
                )
            )
            return False
        first = self._recurring_sepa_pending_first(mandate)
        collection_date = core_collection_date(
            self.recurring_sepa_collection_date or today,
            prenotified_on=today,
            notice_days=company.recurring_sepa_notice_days,
            lead_days=company.recurring_sepa_lead_days,
            after=first.recurring_sepa_collection_date if first else None,
        )
        try:
            mandate._recurring_sepa_check_collectable(collection_date)
            sequence = sequence_type(
                mandate._recurring_sepa_history(),
                rcur_from_first=company.recurring_sepa_rcur_from_first,
            )
            # A debit put back in the queue keeps the amendment the bank has not seen yet.
            amendment = self.recurring_sepa_amendment or None
            if not amendment:
                core_amendment = mandate._recurring_sepa_amendment()
                amendment = dataclasses.asdict(core_amendment) if core_amendment else None
        except UserError as error:
            self._set_error(error.args[0])
            return False
        except SepaError as error:
            self._set_error(sepa_error_message(self.env, error))
            return False
        bank_sudo = mandate.sudo().partner_bank_id
        batch = self.env["recurring.sepa.batch"]._recurring_draft_batch(
            company, collection_date, sequence.value, mandate.scheme, batches
        )
        self.write(
            {
                "recurring_sepa_collection_date": collection_date,
                "recurring_sepa_sequence_type": sequence.value,
                "recurring_sepa_scheme": mandate.scheme,
                "recurring_sepa_prenotified_on": today,
                "recurring_sepa_debtor_iban": bank_sudo.sanitized_acc_number,
                "recurring_sepa_debtor_bic": bank_sudo.bank_bic or False,
                "recurring_sepa_amendment": amendment,
                "recurring_sepa_batch_id": batch.id,
                "state_message": _(
                    "Pre-notified on %(today)s; to be collected on %(date)s with the batch "
                    "%(batch)s.",
                    today=format_date(self.env, today),
                    date=format_date(self.env, collection_date),
                    batch=batch.name,
                ),
            }
        )
        mandate._recurring_sepa_register_collection(collection_date)
        return True

    def _recurring_sepa_pending_first(self, mandate):
        """Return the first collection (FRST) of ``mandate`` batched and not yet settled,
        if any: the collections that follow it are requested for a later day."""
        return self.sudo().search(
            [
                ("recurring_sepa_mandate_id", "=", mandate.id),
                ("recurring_sepa_batch_id.state", "in", ("draft", "generated", "sent")),
                ("recurring_sepa_sequence_type", "=", "FRST"),
                ("state", "=", "pending"),
                ("id", "!=", self.id),
            ],
            order="recurring_sepa_collection_date desc",
            limit=1,
        )

    def _recurring_sepa_invoices_settled(self):
        """Whether every invoice of this debit was paid, reversed or cancelled meanwhile
        (a transfer, a credit note): collecting it would charge the customer twice."""
        self.ensure_one()
        invoices = self.invoice_ids
        return bool(invoices) and all(
            invoice.state != "posted" or invoice.payment_state in ("paid", "in_payment", "reversed")
            for invoice in invoices
        )

    def _recurring_sepa_withdraw(self, message):
        """Withdraw debits not yet sent to the bank whose invoices no longer need them.

        The transaction is cancelled without being counted as a failure: its attempt is
        cancelled, the mandate forgets the collection it had registered, and nothing is
        retried.
        """
        for transaction in self:
            if transaction.recurring_sepa_batch_id:
                transaction.recurring_sepa_mandate_id.sudo()._recurring_sepa_unregister_collection()
        self.write({"recurring_sepa_batch_id": False})
        # The attempt is closed here, not classified as a declined charge.
        self.with_context(recurring_sending=True)._set_canceled(state_message=message)
        attempts = self.recurring_attempt_ids.filtered(lambda a: a.state in ("sending", "pending"))
        attempts.write({"state": "cancelled", "next_retry_at": False})
        for invoice in attempts.invoice_id:
            paid = invoice.state == "posted" and invoice.payment_state in ("paid", "in_payment")
            invoice.write(
                {
                    "recurring_charge_state": "paid" if paid else False,
                    "recurring_next_charge_at": False,
                }
            )

    def _recurring_sepa_send_prenotifications(self):
        """Send each customer one email listing their debits of ``self`` (amount,
        collection date, mandate reference, creditor identifier, invoice)."""
        template = self.env.ref(
            "recurring_payments.mail_template_sepa_prenotification", raise_if_not_found=False
        )
        if not template:
            return
        by_customer = defaultdict(list)
        for transaction in self:
            customer = transaction.recurring_sepa_mandate_id.partner_id
            by_customer[transaction.company_id, customer].append(transaction.id)
        for (company, customer), transaction_ids in by_customer.items():
            transactions = self.browse(transaction_ids).sorted(
                lambda t: (t.recurring_sepa_collection_date, t.id)
            )
            send_customer_mail(
                customer,
                template.with_company(company).with_context(
                    recurring_sepa_company=company, recurring_sepa_transactions=transactions
                ),
            )

    def _recurring_sepa_requeue(self, message):
        """Put transactions of a batch cancelled before it was sent back in the queue.

        They were never presented to the bank: their collection is uncounted on the
        mandate, and the next preparation run pre-notifies them again with a new
        collection date. An amendment they carried is kept for the next batch.

        :param str message: why, shown on the transactions.
        """
        for transaction in self:
            mandate_sudo = transaction.recurring_sepa_mandate_id.sudo()
            mandate_sudo._recurring_sepa_unregister_collection()
            if (transaction.recurring_sepa_amendment or {}).get("smnda"):
                mandate_sudo.debtor_bank_changed = True
        self.write(
            {
                "recurring_sepa_batch_id": False,
                "recurring_sepa_prenotified_on": False,
                "recurring_sepa_sequence_type": False,
                "state_message": message,
            }
        )

    def _recurring_sepa_debit(self):
        """Return the core ``Debit`` of this transaction, as captured in its batch."""
        self.ensure_one()
        mandate = self.recurring_sepa_mandate_id
        debtor = mandate.partner_id
        if not mandate.signature_date:
            raise UserError(_("The mandate %(name)s has no signature date.", name=mandate.name))
        amendment = self.recurring_sepa_amendment
        return Debit(
            end_to_end_id=self.recurring_sepa_end_to_end_id or "",
            amount=to_decimal(self.amount, self.currency_id),
            mandate_id=mandate.name,
            mandate_date=mandate.signature_date,
            sequence_type=SequenceType(self.recurring_sepa_sequence_type),
            collection_date=self.recurring_sepa_collection_date,
            debtor_name=debtor.name or "",
            debtor_iban=self.recurring_sepa_debtor_iban or mandate._recurring_sepa_iban(),
            debtor_bic=self.recurring_sepa_debtor_bic or mandate.debtor_bic or None,
            debtor_address=sepa_postal_address(debtor),
            scheme=Scheme(self.recurring_sepa_scheme or mandate.scheme),
            debtor_is_company=debtor.is_company,
            currency=self.currency_id.name,
            remittance=", ".join(self.invoice_ids.mapped("name")) or self.reference,
            amendment=Amendment(**amendment) if amendment else None,
        )
