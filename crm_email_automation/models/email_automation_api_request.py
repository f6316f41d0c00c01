import hashlib

from odoo import api, fields, models
from odoo.tools import SQL


class EmailAutomationApiRequest(models.Model):
    """The first answer to each `Idempotency-Key` an API user sent, so that a repeated
    request gets the same answer and enrols nothing again."""

    _name = "email.automation.api.request"
    _description = "E-mail Automation API Request"
    _order = "id desc"

    user_id = fields.Many2one("res.users", required=True, readonly=True, ondelete="cascade")
    key = fields.Char(string="Idempotency Key", required=True, readonly=True)
    request_hash = fields.Char(required=True, readonly=True, help="SHA-256 of the method, path and body.")
    status = fields.Integer(readonly=True)
    response = fields.Json(readonly=True)

    _sql_constraints = [
        ("user_key_uniq", "unique(user_id, key)", "An idempotency key is used once per API user."),
    ]

    @api.model
    def _hash(self, method, path, body):
        return hashlib.sha256(b"%s %s\n%s" % (method.encode(), path.encode(), body)).hexdigest()

    @api.model
    def _claim(self, user, key, request_hash):
        """Take `key` for this request; return the earlier request with that key, if any.

        The insert waits for a concurrent request with the same key to finish; when that one
        committed, PostgreSQL refuses this transaction's snapshot and Odoo retries the
        request, which then finds the stored answer.
        """
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO email_automation_api_request (user_id, key, request_hash, create_uid, create_date,
                                                          write_uid, write_date)
                     VALUES (%(user)s, %(key)s, %(hash)s, %(uid)s, NOW() AT TIME ZONE 'UTC', %(uid)s,
                             NOW() AT TIME ZONE 'UTC')
                ON CONFLICT (user_id, key) DO NOTHING
                  RETURNING id
                """,
                user=user.id,
                key=key,
                hash=request_hash,
                uid=self.env.uid,
            )
        )
        if self.env.cr.fetchone():
            return self.browse()
        # sudo: API users have no right on this model; they only ever see their own answers.
        return self.sudo().search([("user_id", "=", user.id), ("key", "=", key)], limit=1)

    @api.model
    def _store(self, user, key, status, response):
        # sudo: see `_claim`.
        self.sudo().search([("user_id", "=", user.id), ("key", "=", key)]).write(
            {"status": status, "response": response}
        )

    @api.autovacuum
    def _gc_old_requests(self):
        """Keys are remembered for a week, as long as any client retries."""
        self.search([("create_date", "<", fields.Datetime.subtract(fields.Datetime.now(), days=7))]).unlink()
