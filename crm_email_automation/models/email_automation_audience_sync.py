import logging
import time

from odoo import api, fields, models, tools
from odoo.exceptions import UserError
from odoo.modules import module as odoo_module
from odoo.tools import SQL

from ..providers.mailchimp import MailchimpError

_logger = logging.getLogger(__name__)

MEMBER_STATUSES = [
    ("subscribed", "Subscribed"),
    ("unsubscribed", "Unsubscribed"),
    ("cleaned", "Cleaned"),
]
BATCH_SIZE = 500
# Several transient errors in a row mean Mailchimp is in trouble: try again next run.
MAX_TRANSIENT_IN_A_ROW = 5


class EmailAutomationAudienceMember(models.Model):
    """What the Mailchimp audience of a company last heard about a contact.

    The status Mailchimp should have is derived from the contact at sync time (suppressed ->
    cleaned, consent granted -> subscribed, withdrawn -> unsubscribed); one query compares it
    with the status pushed last, so that any path that changes consent or suppression (the
    ledger, bounces, erasure, imports) is caught without hooks, and nothing unchanged is pushed
    again.
    """

    _name = "email.automation.audience.member"
    _description = "Mailchimp Audience Member"
    _order = "error_at desc nulls last, id desc"
    _rec_name = "email"

    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True, ondelete="cascade")
    partner_id = fields.Many2one("res.partner", string="Contact", required=True, readonly=True, ondelete="cascade")
    email = fields.Char(string="E-mail in Mailchimp", readonly=True)
    status = fields.Selection(MEMBER_STATUSES, string="Status in Mailchimp", readonly=True)
    pushed_at = fields.Datetime(string="Last Pushed On", readonly=True)
    attempted_at = fields.Datetime(string="Last Attempt", readonly=True)
    error = fields.Text(readonly=True, help="Mailchimp's answer to the last push that it refused for good.")
    error_at = fields.Datetime(string="Refused On", readonly=True)
    # "<status>|<e-mail>" Mailchimp refused for good: not tried again until the contact changes.
    failed_key = fields.Char(readonly=True)

    _sql_constraints = [
        ("company_partner_uniq", "unique(company_id, partner_id)", "A contact is an audience member once per company."),
    ]

    # ------------------------------------------------------------------
    # What to push
    # ------------------------------------------------------------------

    @api.model
    def _pending(self, company, limit, tried=()):
        """Contacts whose Mailchimp status differs from what it should be, as dicts.

        One query over the company's contacts with an address (or a member row); contacts
        already `tried` in this run wait for the next one, refused ones until they change.
        """
        self.env.flush_all()
        query = SQL(
            """
            WITH state AS (
                SELECT p.id AS partner_id,
                       p.email_normalized AS email,
                       m.id AS member_id,
                       m.email AS pushed_email,
                       m.status AS pushed_status,
                       m.failed_key,
                       m.attempted_at,
                       CASE
                           WHEN p.email_normalized IS NULL THEN NULL
                           -- By the keyed hash: an erased address (kept only as its hash)
                           -- stays suppressed. Never sent to Mailchimp if it was not there.
                           WHEN EXISTS (
                               SELECT 1 FROM email_automation_suppression s
                                WHERE s.is_suppressed AND s.email_hash = p.email_automation_email_hash
                           ) THEN CASE WHEN m.status IS NULL THEN NULL ELSE 'cleaned' END
                           WHEN p.email_consent_state = 'granted' THEN 'subscribed'
                           WHEN p.email_consent_state = 'withdrawn' OR m.status IS NOT NULL THEN 'unsubscribed'
                       END AS desired
                  FROM res_partner p
             LEFT JOIN email_automation_audience_member m
                    ON m.partner_id = p.id AND m.company_id = %(company)s
                 WHERE (p.company_id IS NULL OR p.company_id = %(company)s)
                   AND (p.email_normalized IS NOT NULL OR m.id IS NOT NULL)
            )
            SELECT partner_id, email, member_id, pushed_email, pushed_status, desired
              FROM state
             WHERE (
                       (desired IS NOT NULL
                        AND (desired IS DISTINCT FROM pushed_status OR email IS DISTINCT FROM pushed_email))
                    OR (pushed_status = 'subscribed' AND email IS DISTINCT FROM pushed_email)
                   )
               AND failed_key IS DISTINCT FROM COALESCE(desired, '') || '|' || COALESCE(email, '')
               AND partner_id != ALL(%(tried)s::int[])
          ORDER BY attempted_at NULLS FIRST, partner_id
             LIMIT %(limit)s
            """,
            company=company.id,
            tried=list(tried),
            limit=limit,
        )
        self.env.cr.execute(query)
        return self.env.cr.dictfetchall()

    @api.model
    def _merge_fields(self, partner):
        """First and last name for a person; nothing for a company (its name is no person's)."""
        if partner.is_company or not partner.name:
            return {}
        first, _sep, last = partner.name.strip().partition(" ")
        return {"FNAME": first, "LNAME": last.strip()}

    # ------------------------------------------------------------------
    # Sync
    # ------------------------------------------------------------------

    @api.model
    def _sync_company(self, company, batch_size=BATCH_SIZE, time_budget=None, auto_commit=False):
        """Push the company's pending members, batch after batch, until none is left, the time
        budget is spent or Mailchimp asks to stop. Returns counts and a stopping error."""
        result = {"pushed": 0, "failed": 0, "left": 0, "error": None}
        if self.env["res.company"]._email_automation_is_neutralized():
            # A copy of a production database never talks to the real audience.
            _logger.info("E-mail automation: neutralized database, the Mailchimp audience is not synced")
            return result
        client = company._email_automation_mailchimp_client()
        if not client:
            return result
        # sudo: the sync writes its own bookkeeping and reads every contact of the company.
        self = self.sudo()
        company = company.sudo()
        list_id = company.email_automation_mailchimp_list_id
        started = time.monotonic()
        tried = set()
        with client:
            while True:
                rows = self._pending(company, batch_size, tried)
                if not rows:
                    break
                tried.update(row["partner_id"] for row in rows)
                stop = self._push_batch(company, client, list_id, rows, result)
                company.email_automation_mailchimp_last_sync_at = fields.Datetime.now()
                if auto_commit:
                    # Each batch's outcome is kept even if a later one dies mid-way.
                    self.env.cr.commit()  # pylint: disable=invalid-commit
                if stop:
                    result["error"] = stop
                    break
                if time_budget and time.monotonic() - started > time_budget:
                    break
        result["left"] = len(self._pending(company, batch_size))
        return result

    def _push_batch(self, company, client, list_id, rows, result):
        """Push one batch; returns a message when the run must stop (auth, rate limit)."""
        partners = self.env["res.partner"].browse([row["partner_id"] for row in rows])
        partners.fetch(["name", "is_company"])
        members = {
            member.partner_id.id: member
            for member in self.search([("company_id", "=", company.id), ("partner_id", "in", partners.ids)])
        }
        transient_in_a_row = 0
        for row in rows:
            partner = self.env["res.partner"].browse(row["partner_id"])
            member = members.get(partner.id) or self.create({"company_id": company.id, "partner_id": partner.id})
            now = fields.Datetime.now()
            try:
                if row["pushed_status"] == "subscribed" and row["pushed_email"] and row["email"] != row["pushed_email"]:
                    # The contact changed or lost its address: the old one must not stay subscribed.
                    client.upsert_member(list_id, row["pushed_email"], "unsubscribed")
                    member.write({"status": "unsubscribed", "pushed_at": now})
                if row["desired"]:
                    merge = self._merge_fields(partner) if row["desired"] == "subscribed" else None
                    client.upsert_member(list_id, row["email"], row["desired"], merge_fields=merge)
                    member.write({"email": row["email"], "status": row["desired"], "pushed_at": now})
            except MailchimpError as error:
                member.attempted_at = now
                if error.kind == "auth":
                    company._email_automation_mailchimp_auth_failure(error.message)
                    return self.env._("Mailchimp refused the API key: %(message)s", message=error.message)
                if error.is_transient:
                    # Left pending: the next run tries again.
                    transient_in_a_row += 1
                    if error.status == 429 or transient_in_a_row >= MAX_TRANSIENT_IN_A_ROW:
                        return self.env._("Mailchimp is not available now: %(message)s", message=error.message)
                    continue
                # Refused for good: recorded for the managers, not tried again until the contact changes.
                result["failed"] += 1
                member.write(
                    {
                        "error": error.message,
                        "error_at": now,
                        "failed_key": f"{row['desired'] or ''}|{row['email'] or ''}",
                    }
                )
                _logger.info("E-mail automation: Mailchimp refused member %s: %s", member.id, error.message)
                continue
            transient_in_a_row = 0
            result["pushed"] += 1
            member.write({"attempted_at": now, "error": False, "error_at": False, "failed_key": False})
            if company.email_automation_mailchimp_auth_failed:
                company.email_automation_mailchimp_auth_failed = False
        return None

    @api.model
    def _cron_sync_audiences(self, time_budget=240):
        """Scheduled action: sync the audience of every company that enabled it."""
        companies = self.env["res.company"].sudo().search([("email_automation_mailchimp_enabled", "=", True)])
        # Odoo's test runner marks the running test: never commit inside a test transaction.
        auto_commit = not odoo_module.current_test
        for company in companies:
            result = self._sync_company(company, time_budget=time_budget, auto_commit=auto_commit)
            if result["error"]:
                _logger.warning("E-mail automation: Mailchimp sync of company %s stopped", company.id)

    # ------------------------------------------------------------------
    # Webhook (unsubscribe and cleaned reported by Mailchimp)
    # ------------------------------------------------------------------

    @api.model
    def _mailchimp_webhook(self, company, event_type, email, reason=None):
        """Apply an audience `unsubscribe` or `cleaned`: withdraw consent (ledger source
        webhook), suppress a cleaned address, and note the new status as already in Mailchimp
        so that the sync does not push it back. Returns the contacts with that address."""
        email = tools.email_normalize(email)
        # sudo: a webhook has no user; the secret in its URL identified the company.
        Partner = self.env["res.partner"].sudo()
        partners = Partner.with_context(active_test=False).search(
            [("email_normalized", "=", email), ("company_id", "in", [company.id, False])]
        )
        if not partners:
            return partners
        detail = self.env._("Mailchimp audience: %(event)s", event=event_type)
        if reason:
            detail = f"{detail} ({reason})"
        if event_type == "cleaned":
            self.env["email.automation.suppression"]._suppress([email], "hard_bounce")
        to_withdraw = partners.filtered(lambda p: p.email_consent_state != "withdrawn")
        to_withdraw._email_consent_record("withdrawn", "webhook", reason=detail)
        if event_type == "unsubscribe":
            # sudo: the blacklist is written for the recipient, as the unsubscribe page does.
            self.env["mail.blacklist"].sudo()._add(email, message=detail)
        status = "cleaned" if event_type == "cleaned" else "unsubscribed"
        self._note_pushed(company, partners, email, status)
        return partners

    @api.model
    def _note_pushed(self, company, partners, email, status):
        # sudo: the sync's bookkeeping, written for the webhook.
        Member = self.sudo()
        existing = Member.search([("company_id", "=", company.id), ("partner_id", "in", partners.ids)])
        vals = {
            "email": email,
            "status": status,
            "pushed_at": fields.Datetime.now(),
            "error": False,
            "error_at": False,
            "failed_key": False,
        }
        existing.write(vals)
        missing = partners - existing.partner_id
        Member.create([{"company_id": company.id, "partner_id": partner.id, **vals} for partner in missing])

    # ------------------------------------------------------------------
    # Erasure (GDPR Art. 17)
    # ------------------------------------------------------------------

    @api.model
    def _erase_members(self, partners, emails):
        """Delete the person from every company's audience (Mailchimp's permanent delete),
        then the member rows. A Mailchimp error raises before anything is deleted here, so
        that the erasure is done again, whole, once Mailchimp answers."""
        # sudo: erasure reaches the audience bookkeeping of every company.
        Member = self.sudo()
        members = Member.search(
            ["|", ("partner_id", "in", partners.ids), ("email", "in", [email for email in emails if email])]
        )
        if not members:
            return
        if not self.env["res.company"]._email_automation_is_neutralized():
            for company in members.company_id:
                addresses = set(members.filtered(lambda m, c=company: m.company_id == c).mapped("email")) - {False}
                if not addresses:
                    continue
                client = company.sudo()._email_automation_mailchimp_client()
                if not client:
                    raise UserError(
                        self.env._(
                            "The person is a member of the Mailchimp audience of %(company)s, which cannot be "
                            "reached (its sync is off or has no credentials): nothing was erased. Fix the "
                            "connection, or delete the member in Mailchimp, then erase again.",
                            company=company.name,
                        )
                    )
                list_id = company.sudo().email_automation_mailchimp_list_id
                with client:
                    for address in sorted(addresses):
                        try:
                            client.delete_member_permanently(list_id, address)
                        except MailchimpError as error:
                            raise UserError(
                                self.env._(
                                    "Mailchimp could not delete the person from the audience of %(company)s "
                                    "(%(message)s): nothing was erased. Try again later.",
                                    company=company.name,
                                    message=error.message,
                                )
                            ) from None
        members.unlink()

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def action_retry(self):
        """Try the refused members again at the next sync (e.g. after fixing the audience)."""
        self.write({"failed_key": False, "attempted_at": False})
        return True
