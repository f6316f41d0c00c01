{
    "name": "CRM E-mail Automation",
    "summary": "Automated CRM and sales e-mail scenarios: triggers, multi-step "
    "sequences, delays and a cron-driven sending queue",
    "version": "18.0.1.0.0",
    "category": "Marketing/Email Marketing",
    "website": "https://github.com/crm-email-automation/crm_email_automation",
    "author": "CRM E-mail Automation contributors",
    "license": "LGPL-3",
    "application": True,
    "installable": True,
    "depends": ["mail", "crm", "sale"],
    "data": [
        "security/crm_email_automation_groups.xml",
        "security/ir.model.access.csv",
        "security/email_automation_security.xml",
        "data/ir_cron_data.xml",
        "data/ir_actions_server_data.xml",
        "views/email_automation_step_views.xml",
        "views/email_automation_scenario_views.xml",
        "views/email_automation_participant_views.xml",
        "views/email_automation_trace_views.xml",
        "views/email_automation_enrolment_views.xml",
        "views/ir_actions_server_views.xml",
        "views/res_config_settings_views.xml",
        "wizard/email_automation_enrol_wizard_views.xml",
        "views/crm_email_automation_menus.xml",
    ],
    "demo": [
        "demo/mail_template_demo.xml",
        "demo/email_automation_scenario_demo.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "crm_email_automation/static/tests/tours/*.js",
        ],
    },
}
