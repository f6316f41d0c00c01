from . import test_concurrency
from . import test_demo_idle_quotation
from . import test_flow
from . import test_sending
from . import test_triggers
from . import test_ui_tour
from . import test_validation
