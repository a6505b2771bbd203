"""Selection values and mappings of the recurring_payments addon (no logic)."""

PERIOD_UNITS = [
    ("day", "Days"),
    ("week", "Weeks"),
    ("month", "Months"),
    ("year", "Years"),
]

BILLING_MODES = [
    ("advance", "In advance"),
    ("arrears", "In arrears"),
]

SUBSCRIPTION_STATES = [
    ("draft", "Draft"),
    ("trial", "Trial"),
    ("active", "Active"),
    ("paused", "Paused"),
    ("past_due", "Past Due"),
    ("suspended", "Suspended"),
    ("cancelled", "Cancelled"),
    ("closed", "Closed"),
]

#: States in which a subscription is billed by the invoicing cron.
BILLABLE_STATES = ("trial", "active", "past_due")

#: States a subscription may be paused, suspended or cancelled from.
RUNNING_STATES = ("trial", "active", "past_due")

PAYMENT_MODES = [
    ("manual", "Manual payment (transfer)"),
    ("token", "Saved payment method"),
]

REASON_TYPES = [
    ("pause", "Pause"),
    ("suspend", "Suspension"),
    ("cancel", "Cancellation"),
]

TRANSITIONS = [
    ("pause", "Pause"),
    ("resume", "Resume"),
    ("suspend", "Suspend"),
    ("reinstate", "Reinstate"),
    ("cancel", "Cancel"),
]

#: Number of subscriptions invoiced per committed batch by the invoicing cron.
INVOICING_BATCH_SIZE = 100

#: Seconds one cron call keeps taking batches before it hands back to the scheduler
#: (Odoo's default worker limit is 120 s per call; the scheduler calls again while work remains).
INVOICING_TIME_BUDGET = 60

ATTEMPT_STATES = [
    ("sending", "Sending"),
    ("pending", "Pending"),
    ("done", "Paid"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
]

#: Values of ``recurring_payments_core.retry.FailureCategory``.
FAILURE_CATEGORIES = [
    ("hard", "Hard decline"),
    ("new_payment_method", "Needs a new payment method"),
    ("insufficient_funds", "Insufficient funds"),
    ("authentication_required", "Authentication required"),
    ("soft", "Soft decline"),
    ("technical", "Technical failure"),
]

#: Values of ``recurring_payments_core.retry.RetryAction``.
RETRY_ACTIONS = [
    ("retry", "Retry"),
    ("wait_customer", "Wait for the customer"),
    ("stop", "Stopped"),
    ("exhausted", "Retries exhausted"),
]

#: Where an invoice of an automatically paid subscription stands in the charging pipeline.
CHARGE_STATES = [
    ("to_charge", "To Charge"),
    ("pending", "Pending"),
    ("retry", "To Retry"),
    ("waiting_customer", "Waiting for the Customer"),
    ("stopped", "Stopped"),
    ("exhausted", "Retries Exhausted"),
    ("paid", "Paid"),
]

#: Number of invoices charged per committed batch by the charging cron.
CHARGING_BATCH_SIZE = 50

#: Minutes after which an attempt still "sending" (a crash between the provider call
#: and the commit) is repaired from the provider.
SENDING_REPAIR_MINUTES = 10
