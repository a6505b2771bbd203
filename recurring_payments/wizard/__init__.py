from . import recurring_subscription_transition_wizard
from . import recurring_subscription_change_wizard
from . import recurring_invoicing_preview
