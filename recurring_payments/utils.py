"""Adapters between records of the recurring_payments addon and the plain-Python core."""

from decimal import Decimal

from markupsafe import Markup

from odoo.tools import float_repr

from recurring_payments_core.schedule import (
    BillingMode,
    BillingTerms,
    Pause,
    PeriodUnit,
    Recurrence,
    ScheduleError,
    ScheduleErrorCode,
)


def to_decimal(amount, currency):
    """Return ``amount`` (a float of a Monetary field) as a Decimal at ``currency``'s precision."""
    return Decimal(float_repr(amount or 0.0, currency.decimal_places))


def plan_recurrence(plan):
    """Return the core :class:`Recurrence` of a ``recurring.plan`` record."""
    return Recurrence(PeriodUnit(plan.period_unit), plan.period_interval)


def plan_trial(plan):
    """Return the trial of a plan as a core :class:`Recurrence`, or ``None``."""
    if not plan.trial_interval:
        return None
    return Recurrence(PeriodUnit(plan.trial_unit), plan.trial_interval)


def subscription_terms(subscription, end_date=None):
    """Return the core :class:`BillingTerms` of a ``recurring.subscription`` record.

    The schedule runs from the start of the current plan (``date_schedule_start``, the
    subscription's start unless the plan was changed); the trial applies only to a
    schedule that starts with the subscription.

    :param date end_date: cut the schedule earlier than the subscription's end date.
    """
    plan = subscription.plan_id
    start = subscription.date_schedule_start or subscription.date_start
    pauses = tuple(
        Pause(pause.date_start, pause.date_end)
        for pause in subscription.pause_ids.sorted("date_start")
        if pause.date_end and pause.date_start >= start
    )
    ends = [day for day in (subscription.date_end, end_date) if day]
    return BillingTerms(
        recurrence=plan_recurrence(plan),
        start_date=start,
        mode=BillingMode(plan.billing_mode),
        trial=plan_trial(plan) if start == subscription.date_start else None,
        end_date=min(ends) if ends else None,
        anchor_day=plan.billing_day or None,
        pauses=pauses,
    )


def send_customer_mail(record, template):
    """Queue ``template`` for the customer of ``record`` and note it in its chatter.

    The email is queued rather than posted as a notification: a notification prepares
    the customer's portal sign-up, a write on the partner that two workers charging the
    same customer at once would collide on.

    :return: the queued ``mail.mail``
    """
    mail = record.env["mail.mail"].sudo().browse(template.send_mail(record.id, force_send=False))
    record._message_log(
        body=Markup(record.env._("Email sent to the customer: <b>%(subject)s</b>"))
        % {"subject": mail.subject}
    )
    return mail


def schedule_error_message(env, error):
    """Return a translated, user-facing message for a core :class:`ScheduleError`."""
    _ = env._
    code = error.code
    params = error.params
    messages = {
        ScheduleErrorCode.INTERVAL_NOT_POSITIVE: _("The interval of a period must be at least 1."),
        ScheduleErrorCode.ANCHOR_DAY_OUT_OF_RANGE: _("The billing day must be between 1 and 31."),
        ScheduleErrorCode.END_BEFORE_START: _("The end date cannot be before the start date."),
        ScheduleErrorCode.PAUSE_INVALID: _(
            "A pause must start on or after the start of the subscription, end after it "
            "starts and not overlap another pause."
        ),
        ScheduleErrorCode.DATE_OUTSIDE_PERIOD: _(
            "The date %(date)s is outside the billed period %(start)s – %(end)s.",
            date=params.get("date"),
            start=params.get("start"),
            end=params.get("end"),
        ),
        ScheduleErrorCode.NAIVE_DATETIME: _("A date and time without a time zone was given."),
    }
    return messages.get(code, str(error))


__all__ = [
    "ScheduleError",
    "plan_recurrence",
    "plan_trial",
    "schedule_error_message",
    "subscription_terms",
    "to_decimal",
]
