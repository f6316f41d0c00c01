from odoo import models


class EmailAutomationTrace(models.Model):
    _inherit = "email.automation.trace"  # pylint: disable=consider-merging-classes-inherited

    def init(self):
        res = super().init()
        # Serves the bounce and complaint rates (metrics and alerts): "the last N e-mails a
        # provider sent". Only sent traces are in it.
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS email_automation_trace_provider_sent_idx
                ON email_automation_trace (provider_id, sent_at DESC, id DESC)
             WHERE state = 'sent'
            """
        )
        return res
