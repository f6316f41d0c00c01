import contextlib
import contextvars

from odoo import api, fields, models
from odoo.exceptions import UserError

CONSENT_EVENTS = [
    ("granted", "Granted"),
    ("doi_sent", "Double opt-in sent"),
    ("confirmed", "Confirmed"),
    ("withdrawn", "Withdrawn"),
    ("imported", "Imported"),
    ("erased", "Erased"),
]
CONSENT_SOURCES = [
    ("user", "User"),
    ("import", "Import"),
    ("form", "Web form"),
    ("email_link", "E-mail link"),
    ("webhook", "Provider webhook"),
    ("api", "API"),
]
# The consent state a partner has after each ledger event.
EVENT_STATES = {
    "granted": "granted",
    "confirmed": "granted",
    "imported": "granted",
    "doi_sent": "pending",
    "withdrawn": "withdrawn",
    "erased": "withdrawn",
}
# Only these private operations may change ledger rows: they remove personal data, never facts.
PURGE_CONTEXT_KEY = "email_automation_consent_purge"

# Set only by the module's private consent methods, for the duration of their own write of a
# contact's consent fields (right after appending the ledger entry that proves the change).
# A context variable of the Python process, not an Odoo context key: nothing a client sends
# over RPC or HTTP can set it.
_LEDGER_WRITE = contextvars.ContextVar("crm_email_automation_ledger_write", default=False)


@contextlib.contextmanager
def ledger_write():
    """Allow the consent fields of contacts to be written inside this block (private)."""
    token = _LEDGER_WRITE.set(True)
    try:
        yield
    finally:
        _LEDGER_WRITE.reset(token)


def in_ledger_write():
    return _LEDGER_WRITE.get()


# Set while Odoo merges contacts: the merged contact keeps its own consent (the others'
# ledger entries move to it with their foreign keys); their consent values are not copied.
_KEEP_CONSENT = contextvars.ContextVar("crm_email_automation_keep_consent", default=False)


@contextlib.contextmanager
def keep_consent():
    token = _KEEP_CONSENT.set(True)
    try:
        yield
    finally:
        _KEEP_CONSENT.reset(token)


def keeping_consent():
    return _KEEP_CONSENT.get()


# Who an entry is attributed to when the caller does not say: the current user.
CURRENT_USER = object()


class EmailAutomationConsent(models.Model):
    """Append-only consent ledger: the proof of every e-mail marketing consent change.

    Entries are created by the module's own methods only (no create right for anyone);
    nobody edits or deletes them, through the UI or the ORM. Erasure (Art. 17) and the
    retention purge remove personal data from them through a private context key.
    """

    _name = "email.automation.consent"
    _description = "E-mail Consent Ledger Entry"
    _order = "date desc, id desc"
    _rec_name = "event"

    date = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now, index=True)
    # A deleted contact keeps its entries: the link is emptied, the snapshot of the name, the
    # address and its keyed hash stay on the entry (see `partner_name`, `email`, `email_hash`).
    partner_id = fields.Many2one("res.partner", string="Contact", readonly=True, index=True, ondelete="set null")
    partner_name = fields.Char(string="Contact Name", readonly=True, help="The contact's name when the entry was made.")
    company_id = fields.Many2one("res.company", readonly=True, index=True, ondelete="restrict")
    email = fields.Char(string="E-mail", readonly=True)
    email_hash = fields.Char(string="Address Hash", readonly=True, index=True)
    event = fields.Selection(CONSENT_EVENTS, required=True, readonly=True)
    source = fields.Selection(CONSENT_SOURCES, required=True, readonly=True)
    wording_id = fields.Many2one("email.automation.consent.wording", readonly=True, ondelete="restrict")
    ip_address = fields.Char(string="IP Address", readonly=True)
    user_agent = fields.Char(readonly=True)
    user_id = fields.Many2one("res.users", string="Done By", readonly=True, ondelete="set null")
    reason = fields.Text(readonly=True)
    is_erased = fields.Boolean(string="Personal Data Erased", readonly=True)

    def write(self, vals):
        if not self.env.context.get(PURGE_CONTEXT_KEY):
            raise UserError(self.env._("The consent ledger is append-only: its entries cannot be changed."))
        return super().write(vals)

    def unlink(self):
        if not self.env.context.get(PURGE_CONTEXT_KEY):
            raise UserError(self.env._("The consent ledger is append-only: its entries cannot be deleted."))
        return super().unlink()

    @api.model
    def _record(
        self,
        partners,
        event,
        source,
        wording=None,
        ip_address=None,
        user_agent=None,
        reason=None,
        user=CURRENT_USER,
    ):
        """Append one entry per partner. Private: callers check who may do it.

        `user` is who made the change, when it is not the current user (a consent captured
        on a lead by its author); False for a person acting on a public page or form.
        """
        Suppression = self.env["email.automation.suppression"]
        if user is CURRENT_USER:
            user = self.env.user if not self.env.user._is_public() else False
        vals_list = [
            {
                "partner_id": partner.id,
                "partner_name": partner.name or False,
                "company_id": partner.company_id.id or False,
                "email": partner.email_normalized or partner.email or False,
                "email_hash": Suppression._hash(partner.email_normalized) if partner.email_normalized else False,
                "event": event,
                "source": source,
                "wording_id": wording.id if wording else False,
                "ip_address": ip_address or False,
                "user_agent": (user_agent or "")[:512] or False,
                "user_id": user.id if user else False,
                "reason": reason or False,
            }
            for partner in partners
        ]
        # sudo: nobody has the create right on the ledger; only these methods append to it.
        return self.sudo().create(vals_list)

    def _erase_personal_data(self):
        """Keep the fact (event, date, source, wording, hash), drop who and how."""
        self.sudo().with_context(**{PURGE_CONTEXT_KEY: True}).write(
            {
                "email": False,
                "partner_name": False,
                "ip_address": False,
                "user_agent": False,
                "reason": False,
                "is_erased": True,
            }
        )
