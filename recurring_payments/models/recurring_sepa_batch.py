# Part of recurring payments for Odoo. License LGPL-3.
import tempfile
from datetime import datetime, timezone

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import format_amount, split_every

from recurring_payments_core.sepa.errors import SepaError
from recurring_payments_core.sepa.identifiers import check_iban
from recurring_payments_core.sepa.pain008 import (
    Creditor,
    MessageHeader,
    Pain008Version,
    PostalAddress,
    write_pain008,
)

from ..const import SEPA_BATCH_STATES, SEPA_PAIN_VERSIONS, SEPA_SCHEMES, SEPA_SEQUENCE_TYPES
from ..utils import sepa_error_message

#: Transactions read at once while a file is written (memory stays bounded by it).
SEPA_FILE_CHUNK_SIZE = 1000


def sepa_postal_address(partner):
    """Return the core ``PostalAddress`` of ``partner``, or ``None`` without a town and a
    country (a structured address needs both, S-9)."""
    if not (partner.city and partner.country_id):
        return None
    street = " ".join(part for part in (partner.street, partner.street2) if part)
    return PostalAddress(
        country=partner.country_id.code,
        town=partner.city,
        street=street or None,
        postcode=partner.zip or None,
    )


class _BatchDebits:
    """The core debits of a batch's transactions, for ``write_pain008``.

    The writer reads the debits twice: every iteration reads the transactions again, a
    chunk at a time, and empties the cache after each chunk, so memory does not grow with
    the size of the batch. ``current`` is the transaction whose debit was read last (the
    one a ``SepaError`` is about).
    """

    def __init__(self, transactions):
        self.env = transactions.env
        self.ids = sorted(transactions.ids)
        self.current = transactions.browse()

    def __iter__(self):
        for ids in split_every(SEPA_FILE_CHUNK_SIZE, self.ids):
            for transaction in self.env["payment.transaction"].browse(ids):
                self.current = transaction
                yield transaction._recurring_sepa_debit()
            self.env.invalidate_all()


class RecurringSepaBatch(models.Model):
    _name = "recurring.sepa.batch"
    _description = "SEPA Direct Debit Batch"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "collection_date desc, id desc"
    _check_company_auto = True

    name = fields.Char(
        string="Message Identifier",
        required=True,
        copy=False,
        readonly=True,
        default=lambda self: _("New"),
    )
    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        readonly=True,
        default=lambda self: self.env.company,
        index=True,
    )
    currency_id = fields.Many2one(
        comodel_name="res.currency",
        required=True,
        readonly=True,
        default=lambda self: self.env.ref("base.EUR"),
    )
    collection_date = fields.Date(required=True, readonly=True, index=True, tracking=True)
    sequence_type = fields.Selection(selection=SEPA_SEQUENCE_TYPES, required=True, readonly=True)
    scheme = fields.Selection(selection=SEPA_SCHEMES, required=True, readonly=True)
    pain_version = fields.Selection(
        selection=SEPA_PAIN_VERSIONS,
        readonly=True,
        default=lambda self: self.env.company.recurring_sepa_pain_version,
    )
    state = fields.Selection(
        selection=SEPA_BATCH_STATES,
        required=True,
        default="draft",
        readonly=True,
        tracking=True,
        index=True,
        copy=False,
    )
    transaction_ids = fields.One2many(
        comodel_name="payment.transaction",
        inverse_name="recurring_sepa_batch_id",
        string="Collections",
        readonly=True,
    )
    transaction_count = fields.Integer(
        string="Number of Collections", compute="_compute_totals", store=True
    )
    amount_total = fields.Monetary(
        string="Control Sum", compute="_compute_totals", store=True, currency_field="currency_id"
    )
    file_id = fields.Many2one(comodel_name="ir.attachment", readonly=True)
    generated_at = fields.Datetime(readonly=True, copy=False)
    sent_at = fields.Datetime(readonly=True, copy=False)
    settled_at = fields.Datetime(readonly=True, copy=False)

    # === COMPUTE METHODS === #

    @api.depends("transaction_ids.amount")
    def _compute_totals(self):
        # One grouped query, however many collections the batches hold.
        totals = {
            batch.id: (count, amount)
            for batch, count, amount in self.env["payment.transaction"]
            .sudo()
            ._read_group(
                [("recurring_sepa_batch_id", "in", self.ids)],
                ["recurring_sepa_batch_id"],
                ["__count", "amount:sum"],
            )
        }
        for batch in self:
            count, amount = totals.get(batch.id, (0, 0.0))
            batch.transaction_count = count
            batch.amount_total = amount

    # === CONSTRAINT METHODS === #

    @api.constrains("collection_date", "sequence_type", "scheme", "company_id")
    def _check_transactions_match(self):
        """A batch never mixes collection dates, sequence types, schemes or companies (S-4)."""
        for batch in self:
            mismatched = batch.transaction_ids.sudo().filtered(
                lambda t, b=batch: (
                    (
                        t.recurring_sepa_collection_date,
                        t.recurring_sepa_sequence_type,
                        t.recurring_sepa_scheme or t.recurring_sepa_mandate_id.scheme,
                        t.company_id,
                    )
                    != (b.collection_date, b.sequence_type, b.scheme, b.company_id)
                )
            )
            if mismatched:
                raise ValidationError(
                    _(
                        "The batch %(batch)s would mix collection dates, sequence types, "
                        "schemes or companies (%(references)s).",
                        batch=batch.name,
                        references=", ".join(mismatched.mapped("reference")),
                    )
                )

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if not vals.get("name") or vals["name"] == _("New"):
                vals["name"] = self.env["ir.sequence"].next_by_code("recurring.sepa.batch")
        return super().create(vals_list)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_used(self):
        for batch in self:
            if batch.state != "cancelled" and (batch.state != "draft" or batch.transaction_ids):
                raise UserError(
                    _(
                        "The batch %(batch)s holds collections: cancel it instead of deleting it.",
                        batch=batch.name,
                    )
                )

    # === ACTION METHODS === #

    def action_generate(self):
        """Write the pain.008 file of each batch and attach it (state ``generated``).

        A batch already sent is never written again. The file is written to a temporary
        file first and attached only when complete: a collection the bank would refuse
        stops the generation with a message naming it, and nothing is kept.
        """
        for batch in self:
            if batch.state not in ("draft", "generated"):
                raise UserError(
                    _(
                        "The file of the batch %(batch)s can no longer be generated: it was "
                        "sent to the bank.",
                        batch=batch.name,
                    )
                )
        self._recurring_lock()
        for batch in self:
            batch._recurring_write_file()
        return True

    def action_download(self):
        """Download the pain.008 file of the batch."""
        self.ensure_one()
        if not self.file_id:
            raise UserError(_("Generate the file of the batch %(batch)s first.", batch=self.name))
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{self.file_id.id}?download=true",
            "target": "self",
        }

    def action_mark_sent(self):
        """Record that the file was handed to the bank: it can no longer change."""
        for batch in self:
            if batch.state != "generated":
                raise UserError(
                    _(
                        "Only a batch whose file is generated can be marked as sent (%(batch)s).",
                        batch=batch.name,
                    )
                )
        self.write({"state": "sent", "sent_at": fields.Datetime.now()})
        return True

    def action_settle(self):
        """Record that the bank credited the collections: each pending transaction is done,
        and its attempt pays and reconciles its invoice on the company's direct debit bank
        journal and sends the receipt. Collections rejected meanwhile are left as they are.
        """
        for batch in self:
            if batch.state != "sent":
                raise UserError(
                    _(
                        "Only a batch sent to the bank can be marked as settled (%(batch)s).",
                        batch=batch.name,
                    )
                )
        self._recurring_lock()
        for batch in self:
            transactions_sudo = batch.transaction_ids.sudo().filtered(
                lambda t: t.state == "pending"
            )
            for provider_sudo in transactions_sudo.provider_id:
                if not provider_sudo.journal_id:
                    raise UserError(
                        _(
                            "Choose the direct debit bank journal of %(company)s in the "
                            "settings: the collections are paid on it.",
                            company=batch.company_id.name,
                        )
                    )
            transactions_sudo._set_done(
                state_message=_("Collected with the batch %(batch)s.", batch=batch.name)
            )
            transactions_sudo.recurring_attempt_ids._recurring_sync()
            # Debits paid from the portal with a mandate's token have no attempt.
            without_attempt = transactions_sudo.filtered(lambda t: not t.recurring_attempt_ids)
            if without_attempt:
                without_attempt._recurring_post_process_once()
            batch.write({"state": "settled", "settled_at": fields.Datetime.now()})
            batch.message_post(
                body=_("Settled: %(count)s collections paid.", count=len(transactions_sudo))
            )
        return True

    def action_cancel(self):
        """Cancel batches not sent yet. Their collections go back to the queue: the next
        preparation run pre-notifies them again with a new collection date and puts them
        in a new batch, so no invoice is left without its debit."""
        for batch in self:
            if batch.state not in ("draft", "generated"):
                raise UserError(
                    _(
                        "The batch %(batch)s was sent to the bank: it can no longer be "
                        "cancelled. Import the bank's return instead.",
                        batch=batch.name,
                    )
                )
        self._recurring_lock()
        for batch in self:
            transactions_sudo = batch.transaction_ids.sudo()
            transactions_sudo._recurring_sepa_requeue(
                _(
                    "The batch %(batch)s was cancelled: back in the queue for the next collection.",
                    batch=batch.name,
                )
            )
            batch.write({"state": "cancelled"})
            batch.message_post(
                body=_(
                    "Cancelled: %(count)s collections are back in the queue.",
                    count=len(transactions_sudo),
                )
            )
        return True

    # === BUSINESS METHODS === #

    def _recurring_lock(self):
        """Lock the batches' rows: the preparation cron adds to draft batches under the same
        lock, so a file never misses a collection added while it is written."""
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT id FROM recurring_sepa_batch WHERE id IN %s FOR NO KEY UPDATE",
            [tuple(self.ids)],
        )
        self.invalidate_recordset()
        self.transaction_ids.invalidate_recordset()

    @api.model
    def _recurring_draft_batch(self, company, collection_date, sequence_type, scheme, batches):
        """Return the draft batch of this key, locked, creating it when there is none.

        :param dict batches: the batches already found in this run, by key (filled here).
        """
        key = (company.id, collection_date, sequence_type, scheme)
        if key in batches:
            return batches[key]
        self.flush_model()
        self.env.cr.execute(
            """
            SELECT id
              FROM recurring_sepa_batch
             WHERE company_id = %s
               AND collection_date = %s
               AND sequence_type = %s
               AND scheme = %s
               AND state = 'draft'
             ORDER BY id
             LIMIT 1
               FOR NO KEY UPDATE
            """,
            list(key),
        )
        row = self.env.cr.fetchone()
        if row:
            batch = self.sudo().browse(row[0])
        else:
            batch = (
                self.sudo()
                .with_company(company)
                .create(
                    {
                        "company_id": company.id,
                        "collection_date": collection_date,
                        "sequence_type": sequence_type,
                        "scheme": scheme,
                        "pain_version": company.recurring_sepa_pain_version,
                    }
                )
            )
        batches[key] = batch
        return batch

    def _recurring_sepa_creditor(self):
        """Return the core ``Creditor`` of the batch's company."""
        self.ensure_one()
        company = self.company_id
        bank_account = company.recurring_sepa_journal_id.bank_account_id.sudo()
        if not company.recurring_sepa_creditor_identifier:
            raise UserError(
                _(
                    "Enter the SEPA creditor identifier of %(company)s in the settings.",
                    company=company.name,
                )
            )
        if not bank_account.acc_number:
            raise UserError(
                _(
                    "Choose the direct debit bank journal of %(company)s in the settings, "
                    "with its bank account: its IBAN is credited by the collections.",
                    company=company.name,
                )
            )
        try:
            check_iban(bank_account.acc_number)
        except SepaError as error:
            raise UserError(
                _(
                    "The account %(account)s of the direct debit bank journal of %(company)s "
                    "cannot be credited by SEPA direct debits: %(error)s",
                    account=bank_account.display_name,
                    company=company.name,
                    error=sepa_error_message(self.env, error),
                )
            ) from error
        return Creditor(
            name=company.name,
            iban=bank_account.acc_number,
            creditor_id=company.recurring_sepa_creditor_identifier,
            bic=bank_account.bank_bic or None,
            address=sepa_postal_address(company.partner_id),
        )

    def _recurring_write_file(self):
        """Write the pain.008 file of the batch and attach it.

        Collections no longer pending (rejected or cancelled since) leave the batch first.
        """
        self.ensure_one()
        transactions_sudo = self.transaction_ids.sudo()
        gone = transactions_sudo.filtered(lambda t: t.state != "pending")
        if gone:
            gone.recurring_sepa_batch_id = False
            transactions_sudo -= gone
        # An invoice paid otherwise since its pre-notification must not be collected too.
        settled = transactions_sudo.filtered(lambda t: t._recurring_sepa_invoices_settled())
        if settled:
            settled._recurring_sepa_withdraw(
                _("Withdrawn before collection: the invoice was settled otherwise.")
            )
            transactions_sudo -= settled
            self.message_post(
                body=_(
                    "%(count)s collections withdrawn: their invoices were settled otherwise.",
                    count=len(settled),
                )
            )
        if not transactions_sudo:
            self.write({"state": "cancelled"})
            self.message_post(body=_("Cancelled: no collection is left to send."))
            return self.env["ir.attachment"]
        creditor = self._recurring_sepa_creditor()
        header = MessageHeader(message_id=self.name, created_at=datetime.now(timezone.utc))
        debits = _BatchDebits(transactions_sudo)
        with tempfile.TemporaryFile() as stream:
            try:
                summary = write_pain008(
                    stream,
                    header,
                    creditor,
                    debits,
                    version=Pain008Version(self.pain_version or "pain.008.001.08"),
                )
            except SepaError as error:
                message = sepa_error_message(self.env, error)
                if debits.current:
                    message = _(
                        "The collection %(reference)s of %(customer)s cannot be written: %(error)s",
                        reference=debits.current.reference,
                        customer=debits.current.partner_id.display_name,
                        error=message,
                    )
                raise UserError(message) from error
            stream.seek(0)
            raw = stream.read()
        previous_file = self.file_id
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .create(
                {
                    "name": f"{self.name}.xml",
                    "raw": raw,
                    "mimetype": "application/xml",
                    "res_model": self._name,
                    "res_id": self.id,
                }
            )
        )
        self.write(
            {"file_id": attachment.id, "state": "generated", "generated_at": fields.Datetime.now()}
        )
        previous_file.sudo().unlink()
        self.message_post(
            body=_(
                "File %(file)s generated: %(count)s collections, %(amount)s.",
                file=attachment.name,
                count=summary.number_of_transactions,
                amount=format_amount(self.env, float(summary.control_sum), self.currency_id),
            )
        )
        return attachment
