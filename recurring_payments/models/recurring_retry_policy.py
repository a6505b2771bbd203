# Part of recurring payments for Odoo. License LGPL-3.
from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from recurring_payments_core.retry import (
    FailureCategory,
    RetryError,
    RetryPolicy,
    RetrySchedule,
    TechnicalBackoff,
)


def _parse_days(text):
    """Return the retry days of a "1, 3, 5" text as a tuple of integers."""
    parts = [part.strip() for part in (text or "").replace(";", ",").split(",")]
    return tuple(int(part) for part in parts if part)


class RecurringRetryPolicy(models.Model):
    _name = "recurring.retry.policy"
    _description = "Payment Retry Policy"
    _order = "company_id, sequence, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        comodel_name="res.company", required=True, default=lambda self: self.env.company
    )
    is_default = fields.Boolean(
        string="Company Default",
        help="Used by every plan of the company that has no policy of its own.",
    )
    soft_days = fields.Char(
        string="Soft Declines: Retry Days",
        required=True,
        default="1, 3, 5, 7",
        help="Days after the first failure on which a soft decline is retried.",
    )
    funds_days = fields.Char(
        string="Insufficient Funds: Retry Days",
        required=True,
        default="2, 5, 9, 14",
        help="Days after the first failure on which a payment declined for insufficient "
        "funds is retried.",
    )
    retry_hour = fields.Integer(
        string="Hour of Retries",
        default=10,
        help="Local hour (company time zone) at which retries run.",
    )
    card_cap = fields.Integer(
        string="Attempts per Card",
        default=15,
        help="Card networks' cap: at most this many attempts per card in the window below.",
    )
    cap_window_days = fields.Integer(string="Cap Window (Days)", default=30)
    technical_first_minutes = fields.Integer(
        string="Technical Failures: First Wait (Minutes)", default=15
    )
    technical_max_attempts = fields.Integer(
        string="Technical Failures: Attempts in a Row", default=8
    )

    @api.constrains(
        "soft_days",
        "funds_days",
        "retry_hour",
        "card_cap",
        "cap_window_days",
        "technical_first_minutes",
        "technical_max_attempts",
    )
    def _check_policy(self):
        for policy in self:
            policy._recurring_core_policy()

    @api.constrains("is_default", "company_id")
    def _check_one_default(self):
        for policy in self.filtered("is_default"):
            others = self.search_count(
                [
                    ("company_id", "=", policy.company_id.id),
                    ("is_default", "=", True),
                    ("id", "!=", policy.id),
                ]
            )
            if others:
                raise ValidationError(
                    _(
                        "A company has one default retry policy; %(name)s cannot be another one.",
                        name=policy.name,
                    )
                )

    def _recurring_core_policy(self):
        """Return the core ``RetryPolicy`` of the record; a clear error if it is invalid."""
        self.ensure_one()
        try:
            return RetryPolicy(
                schedules={
                    FailureCategory.SOFT: RetrySchedule(
                        _parse_days(self.soft_days), self.retry_hour
                    ),
                    FailureCategory.INSUFFICIENT_FUNDS: RetrySchedule(
                        _parse_days(self.funds_days), self.retry_hour
                    ),
                },
                card_cap=self.card_cap,
                cap_window_days=self.cap_window_days,
                technical=TechnicalBackoff(
                    first_minutes=self.technical_first_minutes,
                    max_attempts=self.technical_max_attempts,
                ),
            )
        except (RetryError, ValueError, TypeError) as error:
            raise ValidationError(
                _(
                    "The retry policy %(name)s is not valid: retry days must be whole numbers "
                    "in increasing order, the hour between 0 and 23, and the caps at least 1. "
                    "(%(detail)s)",
                    name=self.name,
                    detail=error,
                )
            ) from error
