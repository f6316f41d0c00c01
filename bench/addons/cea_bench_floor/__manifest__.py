{
    "name": "E-mail Automation bench: minimal POST route",
    "summary": "The floor the webhook benchmark compares against; installed in bench databases only",
    "version": "18.0.1.0.0",
    "license": "LGPL-3",
    "author": "crm_email_automation",
    "depends": ["web"],
    "installable": True,
}
