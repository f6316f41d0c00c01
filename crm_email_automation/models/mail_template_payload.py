from odoo import models

# The context key the mail sender sets while it renders the e-mails of one outside event.
PAYLOAD_CONTEXT_KEY = "email_automation_payload"


class MailTemplate(models.Model):
    _inherit = "mail.template"

    def _render_eval_context(self):
        # `payload`: the data of the outside event that enrolled the record (see the event
        # API), {} elsewhere, so that a template reading it also renders in a preview.
        render_context = super()._render_eval_context()
        render_context["payload"] = self.env.context.get(PAYLOAD_CONTEXT_KEY) or {}
        return render_context
