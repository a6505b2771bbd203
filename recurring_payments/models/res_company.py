# Part of recurring payments for Odoo. License LGPL-3.
from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from recurring_payments_core.sepa.calendar import DEFAULT_LEAD_DAYS, DEFAULT_NOTICE_DAYS
from recurring_payments_core.sepa.errors import SepaError
from recurring_payments_core.sepa.identifiers import check_creditor_identifier, check_iban

from ..const import SEPA_PAIN_VERSIONS, SEPA_SCHEMES
from ..utils import sepa_error_message


class ResCompany(models.Model):
    _inherit = "res.company"

    recurring_sepa_creditor_identifier = fields.Char(
        string="SEPA Creditor Identifier",
        help="The creditor identifier your bank or national bank gave the company, for "
        "example FR72ZZZ123456.",
    )
    recurring_sepa_scheme = fields.Selection(
        selection=SEPA_SCHEMES,
        string="Default SEPA Scheme",
        default="CORE",
        required=True,
    )
    recurring_sepa_pain_version = fields.Selection(
        selection=SEPA_PAIN_VERSIONS,
        string="pain.008 Version",
        default="pain.008.001.08",
        required=True,
        help="pain.008.001.08 is the EPC's current version, with structured addresses; "
        "use pain.008.001.02 only for a bank that does not take it yet.",
    )
    recurring_sepa_batch_booking = fields.Boolean(
        string="Batch Booking",
        default=True,
        help="Ask the bank to book each batch as a single credit on the statement.",
    )
    recurring_sepa_journal_id = fields.Many2one(
        comodel_name="account.journal",
        string="Direct Debit Bank Journal",
        domain="[('type', '=', 'bank'), ('company_id', '=', id)]",
        help="The bank account credited by the collections: its IBAN and BIC are the "
        "creditor's in the pain.008 files.",
    )
    recurring_sepa_notice_days = fields.Integer(
        string="Pre-notification Days",
        default=DEFAULT_NOTICE_DAYS,
        help="Calendar days between the pre-notification sent to the customer and the "
        "collection: 14 unless your contracts agree a shorter period.",
    )
    recurring_sepa_lead_days = fields.Integer(
        string="Bank Lead Time",
        default=DEFAULT_LEAD_DAYS,
        help="TARGET2 business days the bank needs between receiving a file and the "
        "collection date.",
    )
    recurring_sepa_rcur_from_first = fields.Boolean(
        string="RCUR from the First Collection",
        help="Send the first collection of a recurrent mandate as RCUR instead of FRST "
        "(allowed by the EPC since November 2016; some banks still expect FRST).",
    )

    @api.constrains("recurring_sepa_creditor_identifier")
    def _check_recurring_sepa_creditor_identifier(self):
        for company in self.filtered("recurring_sepa_creditor_identifier"):
            try:
                normalized = check_creditor_identifier(company.recurring_sepa_creditor_identifier)
            except SepaError as error:
                raise ValidationError(sepa_error_message(self.env, error)) from error
            if normalized != company.recurring_sepa_creditor_identifier:
                company.recurring_sepa_creditor_identifier = normalized

    @api.constrains("recurring_sepa_journal_id")
    def _check_recurring_sepa_journal_id(self):
        for company in self.filtered("recurring_sepa_journal_id"):
            account = company.recurring_sepa_journal_id.bank_account_id.sudo()
            if not account.acc_number:
                continue
            try:
                check_iban(account.acc_number)
            except SepaError as error:
                raise ValidationError(
                    _(
                        "The direct debit bank journal must hold an IBAN of the SEPA area: "
                        "%(error)s",
                        error=sepa_error_message(self.env, error),
                    )
                ) from error

    @api.constrains("recurring_sepa_notice_days", "recurring_sepa_lead_days")
    def _check_recurring_sepa_days(self):
        for company in self:
            if company.recurring_sepa_notice_days < 0 or company.recurring_sepa_lead_days < 0:
                raise ValidationError(
                    _("The pre-notification days and the bank lead time cannot be negative.")
                )
