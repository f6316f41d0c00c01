from odoo import api, fields, models, tools
from odoo.tools import SQL

SUPPRESSION_REASONS = [
    ("hard_bounce", "Hard bounce"),
    ("soft_bounce", "Repeated soft bounces"),
    ("complaint", "Spam complaint"),
    ("erased", "Personal data erased"),
    ("manual", "Added by hand"),
]


class EmailAutomationSuppression(models.Model):
    """Addresses no e-mail automation mail goes to, marketing or transactional.

    Looked up by a keyed one-way hash of the normalized address, so that an address whose
    owner was erased (Art. 17) stays suppressed without being kept in clear.
    """

    _name = "email.automation.suppression"
    _description = "E-mail Suppression"
    _order = "write_date desc, id desc"
    _rec_name = "email"

    email = fields.Char(string="E-mail", readonly=True, help="Empty once the person's data was erased.")
    email_hash = fields.Char(string="Address Hash", required=True, readonly=True)
    is_suppressed = fields.Boolean(string="Suppressed", readonly=True, index=True)
    reason = fields.Selection(SUPPRESSION_REASONS, readonly=True)
    suppressed_at = fields.Datetime(readonly=True)
    soft_bounce_count = fields.Integer(
        string="Soft Bounces in a Row", readonly=True, help="Reset to zero by a delivery."
    )
    last_bounce_at = fields.Datetime(readonly=True)

    _sql_constraints = [
        ("email_hash_uniq", "unique(email_hash)", "An address is listed only once."),
    ]

    @api.model
    def _hash(self, email):
        # sudo: the key is the database secret, which only the system reads.
        normalized = tools.email_normalize(email) or email
        return tools.misc.hmac(self.env(su=True), "crm_email_automation.suppression", normalized)

    @api.model
    def _suppressed_emails(self, emails):
        """The subset of normalized `emails` that is suppressed (one query)."""
        emails = {email for email in emails if email}
        if not emails:
            return set()
        by_hash = {self._hash(email): email for email in emails}
        # sudo: the queue and public routes consult the list whoever runs them.
        rows = self.sudo().search_fetch(
            [("email_hash", "in", list(by_hash)), ("is_suppressed", "=", True)], ["email_hash"]
        )
        return {by_hash[row.email_hash] for row in rows}

    @api.model
    def _get_or_create(self, emails):
        emails = {tools.email_normalize(email) for email in emails} - {False, None}
        by_hash = {self._hash(email): email for email in emails}
        # sudo: bounce handling and erasure run for whoever received or asked for them.
        Suppression = self.sudo()
        existing = Suppression.search([("email_hash", "in", list(by_hash))])
        missing = set(by_hash) - set(existing.mapped("email_hash"))
        created = Suppression.create([{"email_hash": h, "email": by_hash[h]} for h in missing])
        return existing | created

    @api.model
    def _suppress(self, emails, reason):
        rows = self._get_or_create(emails).filtered(lambda r: not r.is_suppressed)
        rows.write({"is_suppressed": True, "reason": reason, "suppressed_at": fields.Datetime.now()})
        return rows

    @api.model
    def _register_bounce(self, emails, hard):
        """A hard bounce suppresses at once; soft bounces do after the configured run."""
        if hard:
            return self._suppress(emails, "hard_bounce")
        limit = int(self.env["ir.config_parameter"].sudo().get_param("crm_email_automation.soft_bounce_limit", 3))
        now = fields.Datetime.now()
        rows = self._get_or_create(emails)
        for row in rows:
            count = row.soft_bounce_count + 1
            vals = {"soft_bounce_count": count, "last_bounce_at": now}
            if count >= limit and not row.is_suppressed:
                vals.update(is_suppressed=True, reason="soft_bounce", suppressed_at=now)
            row.write(vals)
        return rows

    @api.model
    def _register_delivery(self, emails):
        """A delivery ends a run of soft bounces."""
        emails = {tools.email_normalize(email) for email in emails} - {False, None}
        if not emails:
            return
        # One UPDATE rather than search + write: webhooks report a delivery per request, and
        # the rows to reset are rare.
        self.flush_model(["email_hash", "soft_bounce_count"])
        self.env.cr.execute(
            SQL(
                """
                UPDATE email_automation_suppression
                   SET soft_bounce_count = 0, write_uid = %(uid)s, write_date = now() at time zone 'UTC'
                 WHERE email_hash = ANY(%(hashes)s) AND soft_bounce_count > 0
             RETURNING id
                """,
                uid=self.env.uid,
                hashes=[self._hash(email) for email in emails],
            )
        )
        if reset := [row[0] for row in self.env.cr.fetchall()]:
            self.browse(reset).invalidate_recordset(["soft_bounce_count", "write_uid", "write_date"])

    def action_unsuppress(self):
        self.write({"is_suppressed": False, "reason": False, "soft_bounce_count": 0})
        return True
