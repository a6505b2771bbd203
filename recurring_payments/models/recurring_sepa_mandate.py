# Part of recurring payments for Odoo. License LGPL-3.
from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from recurring_payments_core.sepa.errors import SepaError
from recurring_payments_core.sepa.identifiers import check_iban, check_mandate_reference, mask_iban
from recurring_payments_core.sepa.sequence import MandateHistory, mandate_expiry_date

from ..const import SEPA_MANDATE_STATES, SEPA_MANDATE_TYPES, SEPA_SCHEMES
from ..utils import sepa_error_message

#: Groups that see full IBANs and mandate evidence.
SEPA_FULL_ACCESS_GROUPS = "account.group_account_user,account.group_account_manager"


class RecurringSepaMandate(models.Model):
    _name = "recurring.sepa.mandate"
    _description = "SEPA Direct Debit Mandate"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "signature_date desc, id desc"
    _check_company_auto = True

    name = fields.Char(
        string="Mandate Reference",
        required=True,
        copy=False,
        readonly=True,
        default=lambda self: _("New"),
        tracking=True,
        help="Unique mandate reference (UMR): 1 to 35 characters, never reused.",
    )
    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        default=lambda self: self.env.company,
        index=True,
    )
    creditor_identifier = fields.Char(
        related="company_id.recurring_sepa_creditor_identifier", string="Creditor Identifier"
    )
    partner_id = fields.Many2one(
        comodel_name="res.partner",
        string="Debtor",
        required=True,
        tracking=True,
        index=True,
        domain="[('is_company', '=', True), ('parent_id', '=', False)]"
        " if scheme == 'B2B' else [('parent_id', '=', False)]",
        help="The customer (commercial partner) whose account is debited.",
    )
    partner_bank_id = fields.Many2one(
        comodel_name="res.partner.bank",
        string="Debtor Account",
        required=True,
        tracking=True,
        check_company=True,
        domain="[('partner_id', '=', partner_id)]",
    )
    iban_masked = fields.Char(
        string="Debtor IBAN",
        compute="_compute_iban_masked",
        store=True,
        help="The IBAN with all but its country and last four characters hidden.",
    )
    debtor_bic = fields.Char(string="Debtor BIC", compute="_compute_iban_masked", store=True)
    scheme = fields.Selection(
        selection=SEPA_SCHEMES,
        required=True,
        default=lambda self: self.env.company.recurring_sepa_scheme or "CORE",
        tracking=True,
    )
    mandate_type = fields.Selection(
        selection=SEPA_MANDATE_TYPES,
        string="Type",
        required=True,
        default="recurrent",
        tracking=True,
    )
    state = fields.Selection(
        selection=SEPA_MANDATE_STATES,
        required=True,
        default="draft",
        tracking=True,
        copy=False,
        index=True,
    )
    signature_date = fields.Date(tracking=True, copy=False)
    signature_place = fields.Char(copy=False)
    # Evidence: immutable once the mandate is valid.
    consent_text = fields.Text(copy=False, groups=SEPA_FULL_ACCESS_GROUPS)
    signed_ip = fields.Char(string="Signed from IP", copy=False, groups=SEPA_FULL_ACCESS_GROUPS)
    signed_user_agent = fields.Char(copy=False, groups=SEPA_FULL_ACCESS_GROUPS)
    signed_document = fields.Binary(
        string="Signed Mandate", attachment=True, copy=False, groups=SEPA_FULL_ACCESS_GROUPS
    )
    signed_document_name = fields.Char(copy=False, groups=SEPA_FULL_ACCESS_GROUPS)
    payment_token_id = fields.Many2one(
        comodel_name="payment.token",
        string="Payment Method",
        readonly=True,
        copy=False,
        help="The saved payment method through which subscriptions are debited.",
    )
    transaction_ids = fields.One2many(
        comodel_name="payment.transaction",
        inverse_name="recurring_sepa_mandate_id",
        string="Collections",
        readonly=True,
    )
    collection_count = fields.Integer(
        string="Collections Presented",
        readonly=True,
        copy=False,
        help="Collections presented under this mandate and not rejected before settlement.",
    )
    last_collection_date = fields.Date(readonly=True, copy=False, tracking=True)
    expiry_date = fields.Date(
        string="Lapses On",
        compute="_compute_expiry_date",
        store=True,
        help="36 months after the last collection (or the signature when never collected).",
    )
    expiry_notice_sent = fields.Boolean(copy=False, readonly=True)
    # Amendments (S-8): the mandate as last collected, and whether the next collection
    # carries an amendment.
    collected_reference = fields.Char(readonly=True, copy=False)
    collected_creditor_identifier = fields.Char(readonly=True, copy=False)
    collected_iban = fields.Char(readonly=True, copy=False, groups=SEPA_FULL_ACCESS_GROUPS)
    debtor_bank_changed = fields.Boolean(
        readonly=True,
        copy=False,
        help="The debtor moved to another bank since the last collection: the next one "
        "is sent as amended (SMNDA).",
    )
    revocation_reason = fields.Char(readonly=True, copy=False, tracking=True)

    _sql_constraints = [
        (
            "collection_count_positive",
            "CHECK(collection_count >= 0)",
            "A mandate cannot have a negative number of collections.",
        ),
    ]

    def init(self):
        # S-1: a reference is unique per creditor (hence company), whatever its case.
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS recurring_sepa_mandate_reference_uniq
                ON recurring_sepa_mandate (company_id, upper(name))
            """
        )

    # === COMPUTE METHODS === #

    @api.depends("partner_bank_id.acc_number", "partner_bank_id.bank_bic")
    def _compute_iban_masked(self):
        for mandate in self:
            bank = mandate.sudo().partner_bank_id
            number = bank.acc_number or ""
            mandate.iban_masked = mask_iban(number) if number else False
            mandate.debtor_bic = bank.bank_bic or False

    @api.depends("last_collection_date", "signature_date", "mandate_type")
    def _compute_expiry_date(self):
        for mandate in self:
            last_used = mandate.last_collection_date or mandate.signature_date
            if mandate.mandate_type == "recurrent" and last_used:
                mandate.expiry_date = mandate_expiry_date(last_used)
            else:
                mandate.expiry_date = False

    # === CONSTRAINT METHODS === #

    @api.constrains("name")
    def _check_name(self):
        for mandate in self:
            if mandate.name == _("New"):
                continue
            try:
                check_mandate_reference(mandate.name)
            except SepaError as error:
                raise ValidationError(sepa_error_message(self.env, error)) from error

    @api.constrains("partner_bank_id")
    def _check_partner_bank(self):
        for mandate in self.sudo():
            try:
                check_iban(mandate.partner_bank_id.acc_number or "")
            except SepaError as error:
                raise ValidationError(sepa_error_message(self.env, error)) from error

    @api.constrains("scheme", "partner_id")
    def _check_scheme(self):
        for mandate in self:
            if mandate.scheme == "B2B" and not mandate.partner_id.is_company:
                raise ValidationError(
                    _(
                        "A B2B mandate needs a company as debtor; %(name)s is a person.",
                        name=mandate.partner_id.display_name,
                    )
                )

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if not vals.get("name") or vals["name"] == _("New"):
                vals["name"] = self.env["ir.sequence"].next_by_code("recurring.sepa.mandate")
        return super().create(vals_list)

    # === BUSINESS METHODS === #

    def _recurring_sepa_history(self):
        """Return the core ``MandateHistory`` deciding the next sequence type (S-5)."""
        self.ensure_one()
        return MandateHistory(
            recurrent=self.mandate_type == "recurrent",
            collections=self.collection_count,
            debtor_bank_changed=self.debtor_bank_changed,
        )

    def _recurring_sepa_check_collectable(self, collection_date):
        """Raise a translated ``UserError`` unless the mandate may be collected then."""
        self.ensure_one()
        if self.state != "valid":
            raise UserError(
                _(
                    "The mandate %(name)s is not valid: it cannot be collected.",
                    name=self.name,
                )
            )
        if self.expiry_date and collection_date >= self.expiry_date:
            raise UserError(
                _(
                    "The mandate %(name)s lapsed on %(date)s (36 months unused): ask the "
                    "customer for a new one.",
                    name=self.name,
                    date=self.expiry_date,
                )
            )
