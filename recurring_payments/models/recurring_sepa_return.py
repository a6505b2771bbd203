# Part of recurring payments for Odoo. License LGPL-3.
import hashlib
import logging

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_amount, format_date
from odoo.tools.translate import LazyTranslate

from recurring_payments_core.sepa.errors import SepaError
from recurring_payments_core.sepa.returns import LineStatus, match, read_return_file

from ..const import (
    SEPA_PROVIDER_CODE,
    SEPA_REASON_ACTIONS,
    SEPA_RETURN_LINE_STATUSES,
    SEPA_RETURN_STATES,
)
from ..utils import sepa_error_message

_logger = logging.getLogger(__name__)
_lt = LazyTranslate(__name__)

#: Plain-words meaning of the SEPA return reason codes (ISO 20022 external status reason
#: codes as the EPC uses them for R-transactions).
SEPA_REASON_LABELS = {
    "AC01": _lt("the account number (IBAN) is wrong"),
    "AC04": _lt("the account is closed"),
    "AC06": _lt("the account is blocked"),
    "AG01": _lt("direct debits are not allowed on this account"),
    "AM04": _lt("insufficient funds"),
    "AM05": _lt("duplicate collection"),
    "BE05": _lt("the creditor identifier is wrong (a configuration error on our side)"),
    "MD01": _lt("there is no valid mandate"),
    "MD02": _lt("mandate data are missing or wrong"),
    "MD06": _lt("the customer asked their bank for a refund"),
    "MD07": _lt("the account holder has died"),
    "MS02": _lt("the customer refused the direct debit"),
    "MS03": _lt("the bank gave no reason"),
    "RR01": _lt("regulatory reason: the debtor's account or identification is missing"),
    "RR02": _lt("regulatory reason: the debtor's name or address is missing"),
    "RR03": _lt("regulatory reason: our name or address is missing"),
    "RR04": _lt("regulatory reason"),
    "SL01": _lt("the customer's bank blocks direct debits from us (a service of their bank)"),
}

#: Statuses of a line telling that the collection failed.
FAILED_STATUSES = (LineStatus.REJECTED.value, LineStatus.RETURNED.value)

#: Transaction states of a collection not settled yet.
UNSETTLED_STATES = ("draft", "pending", "authorized")

#: Actions asking for a new mandate, hence revoking the current one.
NEW_MANDATE_ACTIONS = ("new_mandate",)


def reason_label(env, code):
    """Return the translated, plain-words meaning of a return reason code.

    :param env: the environment whose language is used.
    :param str code: the reason code (``AM04``…), possibly empty.
    """
    if not code:
        return env._("no reason given")
    label = SEPA_REASON_LABELS.get(code.strip().upper())
    if label is None:
        return env._("reason %(code)s, unknown to us", code=code)
    return env._(label)


class RecurringSepaReturn(models.Model):
    _name = "recurring.sepa.return"
    _description = "SEPA Bank Return"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "date desc, id desc"
    _check_company_auto = True

    name = fields.Char(
        string="Message Identifier",
        readonly=True,
        help="The identifier the bank gave to the status report or notification.",
    )
    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        readonly=True,
        default=lambda self: self.env.company,
        index=True,
    )
    date = fields.Datetime(
        string="Imported On", required=True, readonly=True, default=fields.Datetime.now
    )
    file_kind = fields.Selection(
        selection=[("pain.002", "pain.002 status report"), ("camt.054", "camt.054 notification")],
        string="Kind",
        readonly=True,
    )
    file_name = fields.Char(readonly=True)
    file_id = fields.Many2one(comodel_name="ir.attachment", readonly=True)
    file_checksum = fields.Char(
        readonly=True, index=True, help="SHA-256 of the file: the same file is imported once."
    )
    original_message_id = fields.Char(
        readonly=True, help="The direct debit file the bank reports on (a batch)."
    )
    group_status = fields.Char(
        readonly=True, help="The status of the whole original file, as given by a pain.002."
    )
    batch_id = fields.Many2one(
        comodel_name="recurring.sepa.batch", readonly=True, check_company=True, index=True
    )
    state = fields.Selection(
        selection=SEPA_RETURN_STATES, required=True, default="draft", readonly=True, tracking=True
    )
    line_ids = fields.One2many(
        comodel_name="recurring.sepa.return.line", inverse_name="return_id", readonly=True
    )
    line_count = fields.Integer(string="Lines", compute="_compute_counts", store=True)
    unmatched_count = fields.Integer(string="Unmatched", compute="_compute_counts", store=True)
    returned_count = fields.Integer(
        string="Returned",
        compute="_compute_counts",
        store=True,
        help="Lines of direct debits rejected before settlement or returned after it.",
    )

    _sql_constraints = [
        (
            "message_uniq",
            "UNIQUE(company_id, file_kind, name)",
            "This bank file was already imported.",
        ),
    ]

    # === COMPUTE METHODS === #

    @api.depends("line_ids.transaction_id", "line_ids.status")
    def _compute_counts(self):
        for bank_return in self:
            lines = bank_return.line_ids
            bank_return.line_count = len(lines)
            bank_return.unmatched_count = len(lines.filtered(lambda line: not line.transaction_id))
            bank_return.returned_count = len(
                lines.filtered(lambda line: line.status in FAILED_STATUSES)
            )

    # === ACTION METHODS === #

    def action_view_unmatched(self):
        """Open the lines of the return that match no collection."""
        self.ensure_one()
        return self.line_ids.filtered(lambda line: not line.transaction_id)._get_records_action(
            name=_("Unmatched Lines")
        )

    # === BUSINESS METHODS: import === #

    @api.model
    def _recurring_import_file(self, data, file_name=False):
        """Read a pain.002 or camt.054 file, record it and apply its lines, all or nothing.

        The file is read by the core reader first: a malformed, foreign or incomplete file
        creates nothing (S-11). Then the return, its lines and their effects are written
        under one savepoint: if a single line cannot be applied, nothing of the file is
        kept and the error names the line.

        :param bytes data: the file's content.
        :param str file_name: the name of the uploaded file.
        :return: the created return, state ``done``.
        :rtype: recordset of `recurring.sepa.return`
        :raise UserError: the file is empty, unreadable, foreign, already imported, or one
            of its lines cannot be applied.
        """
        if not data or not data.strip():
            raise UserError(
                _("The file is empty: choose the bank's status report or notification.")
            )
        try:
            report = read_return_file(data)
        except SepaError as error:
            raise UserError(sepa_error_message(self.env, error)) from error
        with self.env.cr.savepoint():
            bank_return = self._recurring_create_from_report(report, data, file_name)
            bank_return._recurring_apply()
        _logger.info(
            "Bank return %s (%s) imported in %s: %s line(s), %s failed, %s unmatched",
            bank_return.name,
            bank_return.file_kind,
            bank_return.company_id.name,
            bank_return.line_count,
            bank_return.returned_count,
            bank_return.unmatched_count,
        )
        return bank_return

    @api.model
    def _recurring_create_from_report(self, report, data, file_name=False):
        """Create the return of a read file and its lines, each matched to its collection.

        :param report: the core ``ReturnReport``.
        :param bytes data: the file's content, attached to the return.
        :param str file_name: the name of the uploaded file.
        :return: the return, state ``draft``.
        :raise UserError: the file was already imported in this company.
        """
        company = self.env.company
        kind = report.kind.value
        checksum = hashlib.sha256(data).hexdigest()
        name = report.message_id or file_name or checksum[:16]
        duplicate = self.sudo().search(
            [
                ("company_id", "=", company.id),
                "|",
                ("file_checksum", "=", checksum),
                "&",
                ("file_kind", "=", kind),
                ("name", "=", name),
            ],
            limit=1,
        )
        if duplicate:
            raise UserError(
                _(
                    "This bank file (%(kind)s %(name)s) was already imported on %(date)s: "
                    "its lines were applied then and are not applied twice.",
                    kind=kind,
                    name=duplicate.name,
                    date=format_date(self.env, duplicate.date),
                )
            )
        transactions = self._recurring_match_transactions(
            company, [line.end_to_end_id for line in report.lines]
        )
        batch = self.env["recurring.sepa.batch"]
        if report.original_message_id:
            batch = batch.sudo().search(
                [("company_id", "=", company.id), ("name", "=", report.original_message_id)],
                limit=1,
            )
        if not batch:
            # A notification without the original message id: the batch of its lines.
            batches = self.env["payment.transaction"].union(*transactions.values())
            batch = batches.recurring_sepa_batch_id
            batch = batch if len(batch) == 1 else self.env["recurring.sepa.batch"]
        bank_return = self.create(
            {
                "name": name,
                "company_id": company.id,
                "file_kind": kind,
                "file_name": file_name,
                "file_checksum": checksum,
                "original_message_id": report.original_message_id,
                "group_status": report.group_status,
                "batch_id": batch.id,
                "line_ids": [
                    fields.Command.create(
                        self.env["recurring.sepa.return.line"]._recurring_line_values(
                            number, line, transactions.get(line.end_to_end_id)
                        )
                    )
                    for number, line in enumerate(report.lines, 1)
                ],
            }
        )
        bank_return.file_id = self.env["ir.attachment"].create(
            {
                "name": file_name or f"{name}.xml",
                "raw": data,
                "mimetype": "application/xml",
                "res_model": self._name,
                "res_id": bank_return.id,
            }
        )
        unmatched = match(report.lines, transactions).unmatched
        bank_return._recurring_post_summary(unmatched)
        return bank_return

    @api.model
    def _recurring_match_transactions(self, company, end_to_end_ids):
        """Return the SEPA collections of ``company`` with the given end-to-end ids.

        :return: a dict mapping each known end-to-end id to its transaction (sudoed).
        """
        if not end_to_end_ids:
            return {}
        transactions_sudo = (
            self.env["payment.transaction"]
            .sudo()
            .search(
                [
                    ("recurring_sepa_end_to_end_id", "in", list(set(end_to_end_ids))),
                    ("provider_code", "=", SEPA_PROVIDER_CODE),
                    ("company_id", "=", company.id),
                ],
                order="id",
            )
        )
        return {tx.recurring_sepa_end_to_end_id: tx for tx in transactions_sudo}

    def _recurring_post_summary(self, unmatched):
        """Say in the chatter what the file holds, listing the lines that match nothing."""
        self.ensure_one()
        lines = self.line_ids
        count = {
            status: len(lines.filtered(lambda line, s=status: line.status == s))
            for status, _label in SEPA_RETURN_LINE_STATUSES
        }
        body = Markup("<p>%s</p>") % _(
            "%(total)s line(s): %(rejected)s rejected before settlement, %(returned)s returned "
            "after settlement, %(accepted)s accepted, %(pending)s pending.",
            total=len(lines),
            rejected=count["rejected"],
            returned=count["returned"],
            accepted=count["accepted"],
            pending=count["pending"],
        )
        if unmatched:
            body += Markup("<p>%s</p><ul>%s</ul>") % (
                _(
                    "%(count)s line(s) match no direct debit of this company; they are kept "
                    "in the return for you to check:",
                    count=len(unmatched),
                ),
                Markup().join(
                    Markup("<li>%s</li>") % self._recurring_unmatched_text(line)
                    for line in unmatched
                ),
            )
        self.message_post(body=body, subtype_xmlid="mail.mt_note")

    def _recurring_unmatched_text(self, line):
        """Describe an unmatched core ``ReturnLine`` in one line."""
        text = line.end_to_end_id
        if line.amount is not None:
            text = f"{text} ({line.amount} {line.currency or ''})".replace(" )", ")")
        if line.reason_code:
            text = f"{text}, {line.reason_code}: {reason_label(self.env, line.reason_code)}"
        return text

    # === BUSINESS METHODS: applying === #

    def _recurring_apply(self):
        """Apply the lines of draft returns to their collections, then mark them done.

        Idempotent: a line already applied is skipped, and so is a collection that an
        earlier line already failed. Rejected and returned lines fail their collection
        and feed the retry rules; accepted and pending lines change nothing.

        :raise UserError: naming the line that could not be applied; the caller rolls
            everything back.
        """
        for bank_return in self.filtered(lambda r: r.state == "draft"):
            for line in bank_return.line_ids.filtered(lambda line: not line.applied):
                try:
                    line._recurring_apply_line()
                except UserError as error:
                    raise UserError(
                        _(
                            "Line %(number)s of the bank file (end-to-end id %(end_to_end_id)s) "
                            "cannot be applied, so nothing of the file was imported: %(error)s",
                            number=line.number,
                            end_to_end_id=line.end_to_end_id,
                            error=error.args[0] if error.args else str(error),
                        )
                    ) from error
            stop_run = bank_return.line_ids.filtered(lambda line: line.action == "stop_run")
            if stop_run:
                bank_return._recurring_schedule_configuration_check(stop_run)
            bank_return.state = "done"

    def _recurring_schedule_configuration_check(self, lines):
        """Give a manager an activity: the bank refused our creditor identifier (BE05)."""
        self.ensure_one()
        manager = self._recurring_responsible("recurring_payments.recurring_payments_group_manager")
        self.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=_("Check the creditor configuration"),
            note=_(
                "The bank refused %(count)s direct debit(s) because the creditor identifier "
                "is wrong (BE05). Check the SEPA creditor identifier of %(company)s and its "
                "bank account with the bank before sending another batch.",
                count=len(lines),
                company=self.company_id.name,
            ),
            user_id=manager.id,
        )

    def _recurring_responsible(self, group_xmlid):
        """Return the user to give an activity to: the current user when in ``group_xmlid``,
        else an active internal user of the company in it, else the current user."""
        self.ensure_one()
        if self.env.user.has_group(group_xmlid):
            return self.env.user
        group = self.env.ref(group_xmlid, raise_if_not_found=False)
        users = (group.sudo().users if group else self.env["res.users"]).filtered(
            lambda user: not user.share and self.company_id in user.company_ids
        )
        return users.sorted("id")[:1] or self.env.user


class RecurringSepaReturnLine(models.Model):
    _name = "recurring.sepa.return.line"
    _description = "SEPA Bank Return Line"
    _order = "return_id, number, id"
    _check_company_auto = True

    return_id = fields.Many2one(
        comodel_name="recurring.sepa.return", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="return_id.company_id", store=True, index=True)
    number = fields.Integer(string="Line", readonly=True, help="Position in the bank file.")
    end_to_end_id = fields.Char(string="End-to-End Id", required=True, readonly=True, index=True)
    status = fields.Selection(selection=SEPA_RETURN_LINE_STATUSES, required=True, readonly=True)
    reason_code = fields.Char(readonly=True)
    reason_label = fields.Char(string="Reason", compute="_compute_reason_label")
    action = fields.Selection(selection=SEPA_REASON_ACTIONS, readonly=True)
    amount = fields.Monetary(readonly=True, currency_field="currency_id")
    currency_name = fields.Char(string="Currency Code", readonly=True)
    currency_id = fields.Many2one(comodel_name="res.currency", readonly=True)
    transaction_id = fields.Many2one(
        comodel_name="payment.transaction",
        string="Collection",
        readonly=True,
        index="btree_not_null",
    )
    invoice_id = fields.Many2one(comodel_name="account.move", readonly=True, index="btree_not_null")
    subscription_id = fields.Many2one(
        related="invoice_id.recurring_subscription_id", string="Subscription"
    )
    mandate_id = fields.Many2one(
        related="transaction_id.recurring_sepa_mandate_id", string="Mandate"
    )
    partner_id = fields.Many2one(related="transaction_id.partner_id", string="Customer", store=True)
    applied = fields.Boolean(readonly=True, copy=False)
    outcome = fields.Char(readonly=True, copy=False, help="What importing the line did.")

    # === COMPUTE METHODS === #

    @api.depends("reason_code")
    def _compute_reason_label(self):
        for line in self:
            line.reason_label = reason_label(self.env, line.reason_code) if line.reason_code else ""

    # === BUSINESS METHODS === #

    @api.model
    def _recurring_line_values(self, number, line, transaction):
        """Return the values of the record of a core ``ReturnLine``.

        :param int number: the line's position in the file.
        :param line: the core ``ReturnLine``.
        :param transaction: its collection (sudoed ``payment.transaction``), or ``None``.
        """
        currency = self.env["res.currency"]
        if line.currency:
            currency = currency.with_context(active_test=False).search(
                [("name", "=", line.currency.upper())], limit=1
            )
        invoice = transaction.invoice_ids[:1] if transaction else self.env["account.move"]
        return {
            "number": number,
            "end_to_end_id": line.end_to_end_id,
            "status": line.status.value,
            "reason_code": line.reason_code,
            "action": line.action.value,
            # A pain.002 line may not repeat the amount: the collection's then.
            "amount": float(line.amount)
            if line.amount is not None
            else (transaction.amount if transaction else 0.0),
            "currency_name": line.currency,
            "currency_id": currency.id or (transaction.currency_id.id if transaction else False),
            "transaction_id": transaction.id if transaction else False,
            "invoice_id": invoice.id,
        }

    def _recurring_apply_line(self):
        """Apply one line to its collection (sudo: the effects reach payments and attempts).

        - rejected or returned lines fail their collection: a collection not settled yet
          goes in error and its attempt is classified by the retry rules; a settled one
          has its payment cancelled, so its invoice is open again, and its attempt fails;
        - the reason's action follows: a new mandate is needed (the mandate is revoked),
          no automatic re-debit (an activity for the accountant), an investigation;
        - accepted, pending and unmatched lines change nothing.
        """
        self.ensure_one()
        line = self.sudo()
        transaction = line.transaction_id
        if not transaction:
            line.write({"applied": True, "outcome": _("Matches no direct debit: nothing done.")})
            return
        if line.status not in FAILED_STATUSES:
            line.write({"applied": True, "outcome": line._recurring_status_outcome()})
            return
        earlier = line.search(
            [
                ("transaction_id", "=", transaction.id),
                ("status", "in", FAILED_STATUSES),
                ("applied", "=", True),
                ("id", "!=", line.id),
            ],
            limit=1,
        )
        if earlier:
            line.write(
                {
                    "applied": True,
                    "outcome": _(
                        "Already recorded as failed by the bank file %(name)s: nothing done.",
                        name=earlier.return_id.name,
                    ),
                }
            )
            return
        if transaction.state in UNSETTLED_STATES:
            line._recurring_reject(transaction)
        elif transaction.state == "done":
            line._recurring_return(transaction)
        else:
            line.write(
                {
                    "applied": True,
                    "outcome": _("The direct debit had already failed: nothing done."),
                }
            )
            return
        line._recurring_apply_action(transaction)

    def _recurring_status_outcome(self):
        self.ensure_one()
        if self.status == "accepted":
            return _("Accepted by the bank.")
        return _("Pending at the bank: wait for the next report.")

    def _recurring_reason_text(self):
        """Return the reason of the line in plain words, with its code."""
        self.ensure_one()
        if not self.reason_code:
            return reason_label(self.env, False)
        return _(
            "%(label)s (%(code)s)",
            label=reason_label(self.env, self.reason_code),
            code=self.reason_code,
        )

    def _recurring_reject(self, transaction):
        """Fail a collection the bank refused before settlement.

        The transaction goes in error with the reason code; the payment framework then
        syncs its attempt, which the retry rules classify through the transaction's
        ``_recurring_decline``. A refused first collection does not count as a use of
        the mandate.
        """
        self.ensure_one()
        transaction.recurring_sepa_return_reason = self.reason_code
        transaction._set_error(
            _(
                "The debtor's bank rejected the direct debit before settlement: %(reason)s.",
                reason=self._recurring_reason_text(),
            )
        )
        mandate = self._recurring_mandate(transaction)
        if (
            mandate
            and self.status == "rejected"
            and transaction.recurring_sepa_sequence_type == "FRST"
        ):
            # Rejected before settlement, a first collection is not one (S-5); a return
            # after settlement is.
            mandate._recurring_sepa_unregister_collection()
        # The payment framework already logs the error on the invoices.
        self._recurring_log_on_documents(
            transaction.invoice_ids.recurring_subscription_id,
            _(
                "The direct debit %(reference)s of %(amount)s was rejected by the customer's "
                "bank: %(reason)s.",
                reference=transaction.reference,
                amount=format_amount(self.env, transaction.amount, transaction.currency_id),
                reason=self._recurring_reason_text(),
            ),
        )
        self.write(
            {
                "applied": True,
                "outcome": self._recurring_attempt_outcome(transaction, _("Rejected")),
            }
        )

    def _recurring_return(self, transaction):
        """Fail a settled collection the bank took back (a return or a refund).

        Its payment is cancelled, which undoes the reconciliation, so the invoice is open
        again; the transaction stays ``done`` for the payment framework (a done
        transaction never goes in error) and keeps the reason code; its attempt fails
        and the retry rules decide what follows.
        """
        self.ensure_one()
        payment = transaction.payment_id
        if payment and payment.state != "canceled":
            payment.action_draft()
            payment.action_cancel()
        transaction.write(
            {
                "recurring_sepa_return_reason": self.reason_code,
                "state_message": _(
                    "Returned by the debtor's bank after settlement: %(reason)s.",
                    reason=self._recurring_reason_text(),
                ),
                # Never post-processed later: it would pay the invoice again.
                "is_post_processed": True,
            }
        )
        attempt = transaction.recurring_attempt_ids.sorted("attempt_number")[-1:]
        if attempt and attempt.state != "failed":
            attempt.invoice_id._recurring_apply_failure(attempt, transaction._recurring_decline())
        invoices = transaction.invoice_ids
        note = _(
            "The direct debit %(reference)s of %(amount)s was returned by the customer's "
            "bank: %(reason)s. The payment is cancelled and the invoice is open again.",
            reference=transaction.reference,
            amount=format_amount(self.env, transaction.amount, transaction.currency_id),
            reason=self._recurring_reason_text(),
        )
        self._recurring_log_on_documents(invoices, note)
        self._recurring_log_on_documents(invoices.recurring_subscription_id, note)
        self.write(
            {
                "applied": True,
                "outcome": self._recurring_attempt_outcome(transaction, _("Returned")),
            }
        )

    def _recurring_attempt_outcome(self, transaction, what):
        """Describe what happened to the collection and what comes next, in one line."""
        attempt = transaction.recurring_attempt_ids.sorted("attempt_number")[-1:]
        if not attempt.decision:
            return what
        decision = dict(attempt._fields["decision"]._description_selection(self.env))
        return _(
            "%(what)s; next step: %(decision)s.",
            what=what,
            decision=decision.get(attempt.decision),
        )

    def _recurring_mandate(self, transaction):
        """Return the mandate a collection was made under (the one of its token)."""
        mandate = transaction.recurring_sepa_mandate_id
        token = transaction.token_id
        if not mandate and "recurring_sepa_mandate_id" in token._fields:
            mandate = token.recurring_sepa_mandate_id
        return mandate

    def _recurring_log_on_documents(self, records, message):
        """Post ``message`` as a note on ``records`` (invoices, subscriptions)."""
        for record in records:
            record.message_post(body=message, subtype_xmlid="mail.mt_note")

    def _recurring_apply_action(self, transaction):
        """Apply what the reason code asks beyond the retry rules (S-10)."""
        self.ensure_one()
        mandate = self._recurring_mandate(transaction)
        invoice = self.invoice_id or transaction.invoice_ids[:1]
        if self.action in NEW_MANDATE_ACTIONS:
            if mandate and mandate.state == "valid":
                mandate._recurring_sepa_revoke(
                    _(
                        "Bank return %(code)s: %(label)s",
                        code=self.reason_code,
                        label=reason_label(self.env, self.reason_code),
                    )
                )
        elif self.action == "no_auto_redebit" and invoice:
            invoice.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=_("Refund requested by the customer"),
                note=_(
                    "The customer asked their bank to refund the direct debit %(reference)s "
                    "of %(amount)s (MD06). It is not collected again automatically: agree "
                    "another way of paying with the customer.",
                    reference=transaction.reference,
                    amount=format_amount(self.env, transaction.amount, transaction.currency_id),
                ),
                user_id=self.return_id._recurring_responsible("account.group_account_user").id,
            )
        elif self.action == "investigate" and invoice:
            invoice.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=_("Check for a duplicate direct debit"),
                note=_(
                    "The customer's bank returned the direct debit %(reference)s as a "
                    "duplicate (AM05): check that the invoice was not collected twice.",
                    reference=transaction.reference,
                ),
                user_id=self.return_id._recurring_responsible("account.group_account_user").id,
            )
        elif self.action == "fix_mandate" and mandate:
            mandate.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=_("Fix the mandate"),
                note=_(
                    "The customer's bank says the data of mandate %(mandate)s are missing or "
                    "wrong (MD02): check them against the signed mandate.",
                    mandate=mandate.name,
                ),
                user_id=self.return_id._recurring_responsible("account.group_account_user").id,
            )
