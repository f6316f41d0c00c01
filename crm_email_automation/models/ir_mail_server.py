from odoo import models

# Brevo's SMTP relay: https://help.brevo.com/hc/en-us/articles/7924908994450
BREVO_RELAY = {"smtp_host": "smtp-relay.brevo.com", "smtp_port": 587, "smtp_encryption": "starttls"}


class IrMailServer(models.Model):
    _inherit = "ir.mail_server"

    def action_use_brevo_relay(self):
        """Fill in Brevo's SMTP relay; the login and the SMTP key (not the API key) stay
        for the user to enter."""
        values = dict(BREVO_RELAY)
        if "smtp_authentication" in self._fields:
            values["smtp_authentication"] = "login"
        self.write(values)
        return True
