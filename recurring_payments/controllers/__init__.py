from . import recurring_payments
