from . import test_recurring_plan
from . import test_subscription_lifecycle
from . import test_invoicing_cron
from . import test_invoicing_concurrency
from . import test_proration
from . import test_multi_company
from . import test_access_rights
from . import test_charging
