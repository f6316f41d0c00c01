from . import email_automation_enrol_wizard
