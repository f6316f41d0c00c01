from odoo import api, fields, models
from odoo.tools import SQL

POLICY_REASONS = [
    ("suppressed", "Address suppressed (bounces or erasure)"),
    ("blacklisted", "Address blacklisted"),
    ("no_consent", "No marketing consent"),
    ("consent_withdrawn", "Consent withdrawn"),
    ("frequency_cap", "Frequency cap reached"),
    ("quiet_hours", "Outside the sending window"),
    ("rate_limit", "Sending rate limit reached"),
    ("unsubscribed", "Recipient unsubscribed"),
    ("erased", "Personal data erased"),
]


class EmailAutomationTrace(models.Model):
    _inherit = "email.automation.trace"  # pylint: disable=consider-merging-classes-inherited

    reason = fields.Selection(selection_add=POLICY_REASONS)
    # Stored so that the frequency cap counts a partner's recent marketing sends in one
    # indexed query, without joining participants and scenarios.
    partner_id = fields.Many2one(store=True, index=False)
    category = fields.Selection(related="scenario_id.category", store=True, string="Category")

    def init(self):
        res = super().init()
        # Serves the frequency cap: "marketing e-mails sent to these partners since ...".
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS email_automation_trace_marketing_sent_idx
                ON email_automation_trace (partner_id, sent_at)
             WHERE category = 'marketing' AND sent_at IS NOT NULL
            """
        )
        # Serves the retention purge and the cancellation of a partner's pending traces.
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS email_automation_trace_partner_state_idx
                ON email_automation_trace (partner_id, state)
             WHERE partner_id IS NOT NULL
            """
        )
        return res

    def _process(self, auto_commit=False):
        # The rate limit reserves in a transaction of its own only when the queue commits.
        traces = self.with_context(email_automation_auto_commit=auto_commit)
        return super(EmailAutomationTrace, traces)._process(auto_commit=auto_commit)

    def _skip_or_cancel_unfit(self):
        runnable = super()._skip_or_cancel_unfit()
        mails = runnable.filtered(lambda t: t.step_id.action_type == "mail")
        if mails:
            self.env["email.automation.policy"]._apply(mails)
        return runnable.filtered(lambda t: t.state == "processing")

    def _defer(self, scheduled_at_by_id, reason, detail=False):
        """Put claimed traces back in the queue at a later time, with the reason.

        A deferral is not a delivery attempt: the claim counted one, so it is given back.
        `scheduled_at_by_id` maps trace ids to their new due date (one query for all).
        """
        if not scheduled_at_by_id:
            return
        self.env.flush_all()
        ids = list(scheduled_at_by_id)
        self.env.cr.execute(
            SQL(
                """
                UPDATE email_automation_trace trace
                   SET state = 'scheduled',
                       scheduled_at = deferral.scheduled_at,
                       reason = %(reason)s,
                       reason_detail = %(detail)s,
                       attempt_count = GREATEST(trace.attempt_count - 1, 0)
                  FROM unnest(%(ids)s::int[], %(dates)s::timestamp[]) AS deferral(id, scheduled_at)
                 WHERE trace.id = deferral.id AND trace.state = 'processing'
                """,
                reason=reason,
                detail=detail or None,
                ids=ids,
                dates=[scheduled_at_by_id[trace_id] for trace_id in ids],
            )
        )
        self.browse(ids).invalidate_recordset(["state", "scheduled_at", "reason", "reason_detail", "attempt_count"])

    def write(self, vals):
        res = super().write(vals)
        if vals.get("delivered_at"):
            self.env["email.automation.suppression"]._register_delivery(self.mapped("email_to"))
        return res

    @api.model
    def _cancel_pending_for_partners(self, partners, reason, categories=("marketing",)):
        """Cancel the scheduled traces of `partners` (marketing ones by default)."""
        pending = self.sudo().search(
            [("partner_id", "in", partners.ids), ("state", "=", "scheduled"), ("category", "in", list(categories))]
        )
        pending._finish("cancelled", reason)
        return pending
