from . import email_automation_report
