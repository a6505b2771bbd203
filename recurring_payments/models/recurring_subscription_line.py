# Part of recurring payments for Odoo. License LGPL-3.
from odoo import api, fields, models


class RecurringSubscriptionLine(models.Model):
    _name = "recurring.subscription.line"
    _description = "Subscription Line"
    _order = "subscription_id, sequence, id"
    _check_company_auto = True

    subscription_id = fields.Many2one(
        comodel_name="recurring.subscription",
        required=True,
        index=True,
        ondelete="cascade",
    )
    company_id = fields.Many2one(related="subscription_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="subscription_id.currency_id", store=True)
    sequence = fields.Integer(default=10)
    display_type = fields.Selection(
        selection=[("line_section", "Section"), ("line_note", "Note")],
        default=False,
    )
    product_id = fields.Many2one(
        comodel_name="product.product",
        check_company=True,
        domain="[('sale_ok', '=', True)]",
        ondelete="restrict",
    )
    name = fields.Text(
        string="Description",
        compute="_compute_name",
        store=True,
        readonly=False,
        required=True,
        precompute=True,
    )
    quantity = fields.Float(digits="Product Unit of Measure", default=1.0)
    product_uom_id = fields.Many2one(
        comodel_name="uom.uom",
        string="Unit",
        compute="_compute_product_uom_id",
        store=True,
        readonly=False,
        precompute=True,
        domain="[('category_id', '=', product_uom_category_id)]",
    )
    product_uom_category_id = fields.Many2one(related="product_id.uom_id.category_id")
    price_unit = fields.Float(
        string="Unit Price",
        digits="Product Price",
        compute="_compute_price_unit",
        store=True,
        readonly=False,
        precompute=True,
    )
    discount = fields.Float(string="Discount (%)", digits="Discount", default=0.0)
    tax_ids = fields.Many2many(
        comodel_name="account.tax",
        string="Taxes",
        compute="_compute_tax_ids",
        store=True,
        readonly=False,
        check_company=True,
        domain="[('type_tax_use', '=', 'sale')]",
    )
    price_subtotal = fields.Monetary(string="Subtotal", compute="_compute_amounts", store=True)
    price_tax = fields.Monetary(string="Tax", compute="_compute_amounts", store=True)
    price_total = fields.Monetary(string="Total", compute="_compute_amounts", store=True)

    _sql_constraints = [
        (
            "accountable_required_fields",
            "CHECK(display_type IS NOT NULL OR product_id IS NOT NULL)",
            "A subscription line needs a product.",
        ),
        (
            "quantity_not_negative",
            "CHECK(display_type IS NOT NULL OR quantity >= 0)",
            "The quantity of a subscription line cannot be negative.",
        ),
    ]

    # === COMPUTE METHODS === #

    @api.depends("product_id")
    def _compute_name(self):
        for line in self:
            if line.display_type or not line.product_id:
                line.name = line.name or False
                continue
            lang = line.subscription_id.partner_id.lang or self.env.lang
            line.name = line.product_id.with_context(
                lang=lang
            ).get_product_multiline_description_sale()

    @api.depends("product_id")
    def _compute_product_uom_id(self):
        for line in self:
            if (
                not line.product_uom_id
                or line.product_id.uom_id.category_id != line.product_uom_id.category_id
            ):
                line.product_uom_id = line.product_id.uom_id

    @api.depends("product_id", "product_uom_id", "quantity", "subscription_id.pricelist_id")
    def _compute_price_unit(self):
        for line in self:
            if not line.product_id:
                line.price_unit = 0.0
                continue
            pricelist = line.subscription_id.pricelist_id
            if pricelist:
                line.price_unit = pricelist._get_product_price(
                    line.product_id,
                    line.quantity or 1.0,
                    uom=line.product_uom_id,
                    date=line.subscription_id.date_start,
                )
            else:
                line.price_unit = line.product_id.uom_id._compute_price(
                    line.product_id.lst_price, line.product_uom_id or line.product_id.uom_id
                )

    @api.depends("product_id", "subscription_id.fiscal_position_id", "company_id")
    def _compute_tax_ids(self):
        for line in self:
            company = line.company_id or self.env.company
            taxes = line.product_id.taxes_id._filter_taxes_by_company(company)
            fiscal_position = line.subscription_id.fiscal_position_id
            line.tax_ids = fiscal_position.map_tax(taxes) if fiscal_position else taxes

    @api.depends("quantity", "price_unit", "discount", "tax_ids", "currency_id")
    def _compute_amounts(self):
        AccountTax = self.env["account.tax"]
        for line in self:
            if line.display_type:
                line.price_subtotal = line.price_tax = line.price_total = 0.0
                continue
            base_line = AccountTax._prepare_base_line_for_taxes_computation(
                line,
                tax_ids=line.tax_ids,
                quantity=line.quantity,
                partner_id=line.subscription_id.partner_id,
                currency_id=line.currency_id or line.company_id.currency_id,
                price_unit=line.price_unit,
                discount=line.discount,
                product_id=line.product_id,
            )
            AccountTax._add_tax_details_in_base_line(base_line, line.company_id or self.env.company)
            line.price_subtotal = base_line["tax_details"]["raw_total_excluded_currency"]
            line.price_total = base_line["tax_details"]["raw_total_included_currency"]
            line.price_tax = line.price_total - line.price_subtotal
