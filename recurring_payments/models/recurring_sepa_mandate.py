# Part of recurring payments for Odoo. License LGPL-3.
import base64
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from recurring_payments_core.sepa.errors import SepaError
from recurring_payments_core.sepa.identifiers import check_iban, check_mandate_reference, mask_iban
from recurring_payments_core.sepa.sequence import (
    MandateHistory,
    MandateState,
    amendment_between,
    mandate_expiry_date,
)

from ..const import (
    INVOICING_TIME_BUDGET,
    SEPA_MANDATE_EXPIRY_NOTICE_DAYS,
    SEPA_MANDATE_STATES,
    SEPA_MANDATE_TYPES,
    SEPA_PROVIDER_CODE,
    SEPA_SCHEMES,
)
from ..utils import claim_records, run_cron_batches, send_customer_mail, sepa_error_message

#: Groups that see full IBANs and mandate evidence.
SEPA_FULL_ACCESS_GROUPS = "account.group_account_user,account.group_account_manager"

#: Fields that make up the signed mandate: they cannot change once it is valid (X-5).
SEPA_MANDATE_EVIDENCE_FIELDS = (
    "name",
    "company_id",
    "partner_id",
    "scheme",
    "mandate_type",
    "signature_date",
    "signature_place",
    "consent_text",
    "signed_ip",
    "signed_user_agent",
    "signed_document",
    "signed_document_name",
)

#: Mandates handled per committed batch by the expiry cron.
SEPA_MANDATE_CRON_BATCH_SIZE = 100


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
        check_company=True,
        domain="[('partner_id', '=', partner_id)]",
    )
    iban_masked = fields.Char(
        string="Debtor IBAN",
        compute="_compute_iban_masked",
        store=True,
        tracking=True,  # rather than the account, whose name shows the full IBAN
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
    signature_date = fields.Date(
        tracking=True, copy=False, default=lambda self: fields.Date.context_today(self)
    )
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
    revocation_reason = fields.Char(
        copy=False,
        tracking=True,
        help="Why the mandate was revoked: the customer's request, a bank return…",
    )
    subscription_count = fields.Integer(
        string="Subscriptions", compute="_compute_subscription_count"
    )

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
            bic = bank.bank_bic
            if not bic and number:
                # The BIC of the bank from its code in the IBAN (schwifty's registry).
                try:
                    bic = check_iban(number, sepa_only=False).bic
                except SepaError:
                    bic = False
            mandate.debtor_bic = bic or False

    @api.depends("last_collection_date", "signature_date", "mandate_type")
    def _compute_expiry_date(self):
        for mandate in self:
            last_used = mandate.last_collection_date or mandate.signature_date
            if mandate.mandate_type == "recurrent" and last_used:
                mandate.expiry_date = mandate_expiry_date(last_used)
            else:
                mandate.expiry_date = False

    def _compute_subscription_count(self):
        tokens = self.payment_token_id
        counts = {}
        if tokens:
            counts = dict(
                self.env["recurring.subscription"]._read_group(
                    [("payment_token_id", "in", tokens.ids)], ["payment_token_id"], ["__count"]
                )
            )
        for mandate in self:
            mandate.subscription_count = counts.get(mandate.payment_token_id, 0)

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

    @api.constrains("partner_id", "partner_bank_id")
    def _check_partner_bank(self):
        for mandate in self.sudo():
            if mandate.partner_id != mandate.partner_id.commercial_partner_id:
                raise ValidationError(
                    _(
                        "The debtor of a mandate is a customer, not one of its contacts: "
                        "choose %(customer)s instead of %(contact)s.",
                        customer=mandate.partner_id.commercial_partner_id.display_name,
                        contact=mandate.partner_id.display_name,
                    )
                )
            bank = mandate.partner_bank_id
            if bank.partner_id.commercial_partner_id != mandate.partner_id:
                raise ValidationError(
                    _(
                        "The bank account %(account)s does not belong to %(customer)s.",
                        account=mask_iban(bank.acc_number or ""),
                        customer=mandate.partner_id.display_name,
                    )
                )
            try:
                check_iban(bank.acc_number or "")
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
            company = self.env["res.company"].browse(vals.get("company_id")) or self.env.company
            self._recurring_sepa_check_reference_unique(vals["name"], company)
        return super().create(vals_list)

    def write(self, vals):
        """Override to keep the evidence of signed mandates (X-5) and to record what the
        bank last saw before the debtor account changes (S-8)."""
        locked = [fname for fname in SEPA_MANDATE_EVIDENCE_FIELDS if fname in vals]
        if "name" in vals or "company_id" in vals:
            for mandate in self:
                company = (
                    self.env["res.company"].browse(vals["company_id"])
                    if "company_id" in vals
                    else mandate.company_id
                )
                self._recurring_sepa_check_reference_unique(
                    vals.get("name", mandate.name), company, exclude=mandate
                )
        if locked:
            for mandate in self.filtered(lambda m: m.state != "draft"):
                changed = [
                    fname
                    for fname in locked
                    if mandate._recurring_sepa_value_differs(fname, vals[fname])
                ]
                if changed:
                    raise UserError(
                        _(
                            "The mandate %(name)s is signed: %(fields)s cannot be changed. "
                            "Only the debtor account may change (the mandate is then sent "
                            "as amended); for anything else, revoke it and sign a new one.",
                            name=mandate.name,
                            fields=", ".join(
                                self._fields[fname]._description_string(self.env)
                                for fname in changed
                            ),
                        )
                    )
        bank_changed = self.browse()
        if "partner_bank_id" in vals:
            new_bank = self.env["res.partner.bank"].browse(vals["partner_bank_id"]).sudo()
            bank_changed = self.filtered(lambda m: m.partner_bank_id != new_bank)
            finished = bank_changed.filtered(lambda m: m.state not in ("draft", "valid"))
            if finished:
                raise UserError(
                    _(
                        "The mandate %(name)s is %(state)s: its debtor account cannot change.",
                        name=finished[0].name,
                        state=finished[0]._recurring_sepa_state_label(),
                    )
                )
            bank_changed.filtered(lambda m: m.state == "valid")._recurring_sepa_prepare_iban_change(
                new_bank.acc_number or ""
            )
        result = super().write(vals)
        if bank_changed:
            valid = bank_changed.filtered(lambda m: m.state == "valid")
            for mandate in valid:
                mandate._recurring_sepa_check_debtor()
            valid._recurring_sepa_update_token()
        return result

    @api.ondelete(at_uninstall=False)
    def _unlink_except_signed(self):
        signed = self.filtered(lambda m: m.state != "draft")
        if signed:
            raise UserError(
                _(
                    "The mandate %(name)s was signed: it is kept as evidence and cannot be "
                    "deleted.",
                    name=signed[0].name,
                )
            )

    @api.model
    def _recurring_sepa_check_reference_unique(self, reference, company, exclude=None):
        """Raise a translated ``ValidationError`` when ``reference`` is already used in
        ``company``, whatever its case (S-1). The unique index on ``upper(name)`` stops
        concurrent duplicates; this check, made before writing, gives the readable message.
        """
        pattern = reference.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        domain = [("company_id", "=", company.id), ("name", "=ilike", pattern)]
        if exclude:
            domain.append(("id", "not in", exclude.ids))
        duplicate = self.sudo().search(domain, limit=1)
        if duplicate:
            raise ValidationError(
                _(
                    "The mandate reference %(name)s is already used by the mandate %(other)s "
                    "of %(company)s: a reference is unique per creditor, whatever its case, "
                    "and never reused.",
                    name=reference,
                    other=duplicate.name,
                    company=company.name,
                )
            )

    # === ACTION METHODS === #

    def action_validate(self):
        """Validate signed mandates: check them, then create the payment method that
        subscriptions are debited with."""
        for mandate in self:
            if mandate.state != "draft":
                raise UserError(
                    _("Only a draft mandate can be validated (%(name)s).", name=mandate.name)
                )
            if not mandate.signature_date:
                mandate.signature_date = fields.Date.context_today(mandate)
            if mandate.signature_date > fields.Date.context_today(mandate):
                raise UserError(
                    _(
                        "The mandate %(name)s is signed on %(date)s, a date still to come.",
                        name=mandate.name,
                        date=mandate.signature_date,
                    )
                )
            if not mandate.company_id.recurring_sepa_creditor_identifier:
                raise UserError(
                    _(
                        "Set the SEPA creditor identifier of %(company)s in the settings "
                        "before validating mandates.",
                        company=mandate.company_id.name,
                    )
                )
            mandate._recurring_sepa_check_debtor()
            token = mandate._recurring_sepa_create_token()
            mandate.write({"state": "valid", "payment_token_id": token.id})
            mandate.message_post(
                body=_(
                    "Mandate signed on %(date)s validated: %(customer)s authorises the "
                    "direct debits from %(iban)s (%(scheme)s, %(type)s).",
                    date=mandate.signature_date,
                    customer=mandate.partner_id.display_name,
                    iban=mandate.iban_masked,
                    scheme=mandate.scheme,
                    type=mandate._recurring_sepa_type_label(),
                )
            )
            if mandate.partner_id.email:
                send_customer_mail(
                    mandate,
                    self.env.ref("recurring_payments.mail_template_sepa_mandate_valid"),
                )
        return True

    def action_revoke(self, reason=None):
        """Revoke valid mandates, for ``reason`` or the reason written on them."""
        for mandate in self:
            if mandate.state != "valid":
                raise UserError(
                    _("Only a valid mandate can be revoked (%(name)s).", name=mandate.name)
                )
            if not (reason or mandate.revocation_reason):
                raise UserError(
                    _(
                        "Write why the mandate %(name)s is revoked in its Revocation Reason "
                        "(for example: the customer's letter of today), then revoke it.",
                        name=mandate.name,
                    )
                )
            mandate._recurring_sepa_revoke(reason or mandate.revocation_reason)
        return True

    def action_cancel(self):
        """Cancel draft mandates, or valid ones that were never collected."""
        for mandate in self:
            if mandate.state not in ("draft", "valid"):
                raise UserError(
                    _(
                        "The mandate %(name)s is %(state)s: it cannot be cancelled.",
                        name=mandate.name,
                        state=mandate._recurring_sepa_state_label(),
                    )
                )
            if mandate.collection_count or mandate.sudo().transaction_ids.filtered(
                lambda t: t.state == "done"
            ):
                raise UserError(
                    _(
                        "The mandate %(name)s was already collected: revoke it instead of "
                        "cancelling it.",
                        name=mandate.name,
                    )
                )
            was_valid = mandate.state == "valid"
            mandate.state = "cancelled"
            if was_valid:
                mandate.payment_token_id.sudo().active = False
                mandate._recurring_sepa_notify_subscriptions(
                    _(
                        "The SEPA mandate %(name)s was cancelled: this subscription is no "
                        "longer debited automatically. Ask the customer for another payment "
                        "method.",
                        name=mandate.name,
                    )
                )
            mandate.message_post(body=_("Mandate cancelled."))
        return True

    def action_view_subscriptions(self):
        """Open the subscriptions paid through this mandate."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "recurring_payments.recurring_subscription_action"
        )
        action["domain"] = [("payment_token_id", "in", self.payment_token_id.ids)]
        action["context"] = {
            "default_partner_id": self.partner_id.id,
            "default_payment_mode": "token",
            "default_payment_token_id": self.payment_token_id.id,
        }
        return action

    # === BUSINESS METHODS === #

    def _recurring_sepa_state_label(self):
        self.ensure_one()
        return dict(self._fields["state"]._description_selection(self.env))[self.state]

    def _recurring_sepa_type_label(self):
        self.ensure_one()
        return dict(self._fields["mandate_type"]._description_selection(self.env))[
            self.mandate_type
        ]

    def _recurring_sepa_value_differs(self, fname, value):
        """Whether writing ``value`` on ``fname`` would change this mandate."""
        self.ensure_one()
        field = self._fields[fname]
        current = self.sudo().with_context(bin_size=False)[fname]
        if field.type == "many2one":
            if isinstance(value, models.BaseModel):
                value = value.id
            return (value or False) != current.id
        if field.type == "date":
            return fields.Date.to_date(value) != current
        if field.type == "binary":

            def as_bytes(data):
                if not data:
                    return b""
                return data.encode() if isinstance(data, str) else data

            return base64.b64decode(as_bytes(value)) != base64.b64decode(as_bytes(current))
        return (value or False) != (current or False)

    def _recurring_sepa_check_debtor(self):
        """Raise a translated ``UserError`` unless the debtor account can be debited:
        a valid IBAN of the SEPA area (any country, S-12), with the debtor's town and
        country when the account is outside the EEA."""
        self.ensure_one()
        mandate_sudo = self.sudo()
        try:
            info = check_iban(mandate_sudo.partner_bank_id.acc_number or "")
        except SepaError as error:
            raise UserError(sepa_error_message(self.env, error)) from error
        partner = mandate_sudo.partner_id
        if info.needs_debtor_address and not (partner.city and partner.country_id):
            raise UserError(
                _(
                    "The account %(iban)s of %(customer)s is outside the European Economic "
                    "Area: enter the customer's address (town and country at least) first.",
                    iban=mask_iban(info.iban),
                    customer=partner.display_name,
                )
            )
        return info

    def _recurring_sepa_iban(self):
        """Return the debtor's IBAN in compact form (empty when the account has none)."""
        self.ensure_one()
        return "".join((self.sudo().partner_bank_id.acc_number or "").split()).upper()

    def _recurring_sepa_report_iban(self):
        """Return the debtor's full IBAN grouped by four, for the signed form only."""
        self.ensure_one()
        iban = self._recurring_sepa_iban()
        return " ".join(iban[index : index + 4] for index in range(0, len(iban), 4))

    def _recurring_sepa_create_token(self):
        """Create the payment token through which this mandate is debited."""
        self.ensure_one()
        provider_sudo = (
            self.env["payment.provider"]
            .sudo()
            .search(
                [
                    ("code", "=", SEPA_PROVIDER_CODE),
                    ("company_id", "=", self.company_id.id),
                    ("state", "!=", "disabled"),
                ],
                limit=1,
            )
        )
        if not provider_sudo:
            raise UserError(
                _(
                    "Enable the SEPA Direct Debit payment provider of %(company)s before "
                    "validating mandates.",
                    company=self.company_id.name,
                )
            )
        return (
            self.env["payment.token"]
            .sudo()
            .create(
                {
                    "provider_id": provider_sudo.id,
                    "payment_method_id": self.env.ref(
                        "payment.payment_method_sepa_direct_debit"
                    ).id,
                    "partner_id": self.partner_id.id,
                    "provider_ref": self.name,
                    "payment_details": self.iban_masked,
                    "recurring_sepa_mandate_id": self.id,
                }
            )
        )

    def _recurring_sepa_update_token(self):
        """Show the new masked IBAN on the payment tokens of the mandates."""
        for mandate in self.filtered("payment_token_id"):
            mandate.payment_token_id.sudo().payment_details = mandate.iban_masked

    def _recurring_sepa_prepare_iban_change(self, new_iban):
        """Record, before the debtor account of valid mandates changes, what their next
        collection must tell the bank (S-8).

        A mandate never collected needs no amendment: its first collection carries the new
        account. Otherwise the mandate as last collected is kept (unless an amendment is
        already pending, whose originals stay those the bank knows) and the amendment says
        whether the debtor moved to another bank (SMNDA).

        :param str new_iban: the account number the mandates are about to debit.
        """
        for mandate_sudo in self.sudo():
            if not mandate_sudo.collection_count:
                continue
            current_iban = mandate_sudo._recurring_sepa_iban()
            pending = mandate_sudo.collected_iban and (
                mandate_sudo.collected_iban != current_iban
                or mandate_sudo.collected_reference != mandate_sudo.name
            )
            if not pending:
                mandate_sudo.write(
                    {
                        "collected_reference": mandate_sudo.name,
                        "collected_creditor_identifier": (
                            mandate_sudo.collected_creditor_identifier
                            or mandate_sudo.company_id.recurring_sepa_creditor_identifier
                        ),
                        "collected_iban": current_iban,
                    }
                )
            try:
                amendment = amendment_between(
                    mandate_sudo._recurring_sepa_collected_state(),
                    MandateState(
                        mandate_id=mandate_sudo.name,
                        creditor_id=mandate_sudo.collected_creditor_identifier or "",
                        debtor_iban=new_iban,
                    ),
                )
            except SepaError as error:
                raise UserError(sepa_error_message(self.env, error)) from error
            mandate_sudo.debtor_bank_changed = bool(amendment and amendment.smnda)
            mandate_sudo.message_post(
                body=_(
                    "Debtor account changed from %(old)s to %(new)s: the next collection "
                    "keeps the reference %(name)s and is sent as amended%(smnda)s.",
                    old=mask_iban(current_iban),
                    new=mask_iban(new_iban),
                    name=mandate_sudo.name,
                    smnda=_(" (new debtor bank)") if mandate_sudo.debtor_bank_changed else "",
                )
            )

    def _recurring_sepa_collected_state(self):
        """Return the core ``MandateState`` the bank last collected, or ``None``."""
        self.ensure_one()
        mandate_sudo = self.sudo()
        if not (mandate_sudo.collected_reference and mandate_sudo.collected_iban):
            return None
        return MandateState(
            mandate_id=mandate_sudo.collected_reference,
            creditor_id=mandate_sudo.collected_creditor_identifier or "",
            debtor_iban=mandate_sudo.collected_iban,
        )

    def _recurring_sepa_amendment(self):
        """Return the core ``Amendment`` the next collection carries (S-8), or ``None``
        when the mandate is collected as the bank last saw it (or never was)."""
        self.ensure_one()
        previous = self._recurring_sepa_collected_state()
        if not self.collection_count or previous is None:
            return None
        mandate_sudo = self.sudo()
        current = MandateState(
            mandate_id=mandate_sudo.name,
            creditor_id=mandate_sudo.company_id.recurring_sepa_creditor_identifier or "",
            debtor_iban=mandate_sudo._recurring_sepa_iban(),
        )
        try:
            return amendment_between(previous, current)
        except SepaError as error:
            raise UserError(sepa_error_message(self.env, error)) from error

    def _recurring_sepa_register_collection(self, collection_date):
        """Count a collection presented on ``collection_date`` (a transaction joined a
        batch): the mandate is now known to the bank as it is, so a pending amendment is
        done and the 36-month period starts again (S-5, S-6, S-8).

        :param date collection_date: the requested collection date.
        """
        for mandate_sudo in self.sudo():
            last = mandate_sudo.last_collection_date
            mandate_sudo.write(
                {
                    "collection_count": mandate_sudo.collection_count + 1,
                    "last_collection_date": max(last, collection_date) if last else collection_date,
                    "collected_reference": mandate_sudo.name,
                    "collected_creditor_identifier": (
                        mandate_sudo.company_id.recurring_sepa_creditor_identifier
                    ),
                    "collected_iban": mandate_sudo._recurring_sepa_iban(),
                    "debtor_bank_changed": False,
                    "expiry_notice_sent": False,
                }
            )
        return True

    def _recurring_sepa_unregister_collection(self):
        """Uncount a collection rejected before settlement (a rejected FRST does not
        count: the next collection is a first one again, S-5)."""
        for mandate_sudo in self.sudo():
            mandate_sudo.collection_count = max(mandate_sudo.collection_count - 1, 0)
        return True

    def _recurring_sepa_revoke(self, reason):
        """Revoke valid mandates without a wizard (the bank-return code calls it, as any
        user): the payment method is archived and the subscriptions it paid are told they
        are no longer debited automatically. Mandates no longer valid are left alone.

        :param str reason: why, shown on the mandate and its subscriptions.
        :return: the mandates revoked.
        """
        revoked = self.sudo().filtered(lambda m: m.state == "valid")
        for mandate_sudo in revoked:
            mandate_sudo.write({"state": "revoked", "revocation_reason": reason})
            mandate_sudo.payment_token_id.active = False
            mandate_sudo.message_post(
                body=_("Mandate revoked: %(reason)s", reason=reason),
            )
            mandate_sudo._recurring_sepa_notify_subscriptions(
                _(
                    "The SEPA mandate %(name)s was revoked (%(reason)s): this subscription "
                    "keeps running but is no longer debited automatically. Ask the customer "
                    "for a new mandate or another payment method.",
                    name=mandate_sudo.name,
                    reason=reason,
                )
            )
        return self.browse(revoked.ids)

    def _recurring_sepa_expire(self):
        """Mark mandates unused for 36 months as expired and archive their payment
        method (S-6)."""
        for mandate_sudo in self.sudo():
            mandate_sudo.state = "expired"
            mandate_sudo.payment_token_id.active = False
            mandate_sudo.message_post(
                body=_(
                    "Mandate expired on %(date)s: unused for 36 months, it can no longer be "
                    "collected.",
                    date=mandate_sudo.expiry_date,
                )
            )
            mandate_sudo._recurring_sepa_notify_subscriptions(
                _(
                    "The SEPA mandate %(name)s expired (unused for 36 months): this "
                    "subscription is no longer debited automatically. Ask the customer for a "
                    "new mandate.",
                    name=mandate_sudo.name,
                )
            )
        return True

    def _recurring_sepa_notify_subscriptions(self, message):
        """Post ``message`` on the running subscriptions paid through this mandate."""
        self.ensure_one()
        if not self.payment_token_id:
            return
        subscriptions = (
            self.env["recurring.subscription"]
            .sudo()
            .search(
                [
                    ("payment_token_id", "=", self.payment_token_id.id),
                    ("state", "not in", ("draft", "cancelled", "closed")),
                ]
            )
        )
        for subscription in subscriptions:
            subscription.message_post(body=message)

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
        if self.mandate_type == "oneoff" and self.collection_count:
            raise UserError(
                _(
                    "The one-off mandate %(name)s was already collected: it cannot be used again.",
                    name=self.name,
                )
            )

    # === CRON METHODS === #

    @api.model
    def _cron_recurring_sepa_expire_mandates(self, batch_size=SEPA_MANDATE_CRON_BATCH_SIZE):
        """Warn customers before their mandate lapses, then expire lapsed mandates (S-6).

        A recurrent mandate unused for 36 months lapses on its ``expiry_date``; its
        customer is told once, ``SEPA_MANDATE_EXPIRY_NOTICE_DAYS`` before (told again
        only after a new collection).

        :return: the mandates warned and the mandates expired.
        """
        can_commit = self.env["recurring.subscription"]._recurring_can_commit()
        today = fields.Date.context_today(self)
        Mandate = self.sudo()
        valid = [("state", "=", "valid"), ("mandate_type", "=", "recurrent")]
        to_warn = [
            *valid,
            ("expiry_notice_sent", "=", False),
            ("expiry_date", ">", today),
            ("expiry_date", "<=", today + timedelta(days=SEPA_MANDATE_EXPIRY_NOTICE_DAYS)),
        ]
        to_expire = [*valid, ("expiry_date", "<=", today)]
        warned, expired = Mandate, Mandate

        def warn(mandates):
            nonlocal warned
            mandates._recurring_sepa_warn_expiry()
            warned |= mandates

        def expire(mandates):
            nonlocal expired
            mandates._recurring_sepa_expire()
            expired |= mandates

        for domain, process in ((to_warn, warn), (to_expire, expire)):
            run_cron_batches(
                self.env,
                claim=lambda domain=domain: claim_records(Mandate, domain, batch_size),
                process=process,
                count_remaining=lambda domain=domain: Mandate.search_count(domain),
                can_commit=can_commit,
                time_budget=INVOICING_TIME_BUDGET,
            )
        return warned, expired

    def _recurring_sepa_warn_expiry(self):
        """Tell each customer, once, that their mandate lapses soon (S-6)."""
        template = self.env.ref("recurring_payments.mail_template_sepa_mandate_expiry_notice")
        for mandate in self:
            if mandate.partner_id.email:
                send_customer_mail(mandate, template)
            else:
                mandate.message_post(
                    body=_(
                        "The mandate lapses on %(date)s but %(customer)s has no email "
                        "address: tell them by another means.",
                        date=mandate.expiry_date,
                        customer=mandate.partner_id.display_name,
                    )
                )
        self.expiry_notice_sent = True


class ReportRecurringSepaMandate(models.AbstractModel):
    """The printable mandate form shows the full IBAN: only accounting groups print it."""

    _name = "report.recurring_payments.report_recurring_sepa_mandate"
    _description = "SEPA Direct Debit Mandate Form"

    @api.model
    def _get_report_values(self, docids, data=None):
        if not self.env.su and not self.env.user.has_groups(SEPA_FULL_ACCESS_GROUPS):
            raise AccessError(
                _("Only accounting users may print mandate forms: they show the full IBAN.")
            )
        return {
            "doc_ids": docids,
            "doc_model": "recurring.sepa.mandate",
            "docs": self.env["recurring.sepa.mandate"].browse(docids),
            "data": data,
        }
