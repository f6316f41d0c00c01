from . import email_automation_enrol_wizard
from . import email_automation_consent_wizard
from . import email_automation_remove_wizard
