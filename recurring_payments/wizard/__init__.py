from . import recurring_subscription_transition_wizard
from . import recurring_subscription_change_wizard
from . import recurring_invoicing_preview
from . import recurring_sepa_return_import
