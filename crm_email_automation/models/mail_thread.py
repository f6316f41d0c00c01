import re

from odoo import api, fields, models, tools

UNSUBSCRIBE_SUBJECT = re.compile(r"^\s*(?:re:\s*)?unsubscribe\s+([A-Za-z0-9_-]{40,})\s*$", re.IGNORECASE)
DSN_STATUS = re.compile(r"^\s*Status:\s*([245])\.\d{1,3}\.\d{1,3}", re.IGNORECASE | re.MULTILINE)


class MailThread(models.AbstractModel):
    _inherit = "mail.thread"

    @api.model
    def message_route(self, message, message_dict, model=None, thread_id=None, custom_values=None):
        """A reply to an automation e-mail is recorded on its trace. An e-mail answering the
        List-Unsubscribe mailto (its subject carries the signed token) unsubscribes its
        recipient and goes nowhere else."""
        if not message_dict.get("is_bounce"):
            self.env["email.automation.event"]._record_reply(message_dict)
        match = UNSUBSCRIBE_SUBJECT.match(message_dict.get("subject") or "")
        if match and not message_dict.get("is_bounce"):
            trace = self.env["email.automation.mail.sender"]._verify_unsubscribe_token(match.group(1))
            if trace:
                self.env["email.automation.mail.sender"]._unsubscribe_trace(trace, "email_link")
                return []
        return super().message_route(
            message, message_dict, model=model, thread_id=thread_id, custom_values=custom_values
        )

    @api.model
    def _routing_handle_bounce(self, email_message, message_dict):
        """Odoo's bounce handling, plus the automation's suppression and trace statistics."""
        res = super()._routing_handle_bounce(email_message, message_dict)
        bounced_email = message_dict.get("bounced_email")
        if bounced_email:
            hard = self._email_automation_is_hard_bounce(email_message)
            self.env["email.automation.suppression"]._register_bounce([bounced_email], hard=hard)
            message_ids = message_dict.get("bounced_msg_ids") or []
            if message_ids:
                # sudo: bounces arrive through the mail gateway, without a user.
                traces = self.env["email.automation.trace"].sudo().search([("message_id", "in", message_ids)])
                traces.filtered(lambda t: not t.bounced_at).write({"bounced_at": fields.Datetime.now()})
        return res

    @api.model
    def _email_automation_is_hard_bounce(self, email_message):
        """A DSN with a 4.x.x status is a soft bounce; anything else (5.x.x, no DSN) is hard."""
        for part in email_message.walk():
            if part.get_content_type() == "message/delivery-status":
                text = "\n".join(str(sub) for sub in part.get_payload()) if part.is_multipart() else str(part)
                statuses = DSN_STATUS.findall(text)
                if statuses:
                    return any(status == "5" for status in statuses)
        body = tools.ustr(email_message.get_body(preferencelist=("plain",)) or "") if email_message else ""
        return not re.search(r"\b4\.\d{1,3}\.\d{1,3}\b", body)
