from . import email_automation_enrol_wizard
from . import email_automation_consent_wizard
from . import email_automation_remove_wizard
from . import email_automation_test_run
from . import email_automation_preview
from . import email_automation_simulate
from . import email_automation_scenario_import
