from collections import Counter

from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError


class EmailAutomationScenario(models.Model):
    """How many records of a marketing scenario's segment may be e-mailed now.

    Counted as the queue decides (the policy's consent rules, the suppression list and
    the blacklist), on the records the scenario's responsible user may read: a handful
    of grouped queries whatever the size of the segment. Computed when shown, not stored.
    """

    # A concern of its own, in a file of its own: the scenario's model file is long enough.
    _inherit = "email.automation.scenario"  # pylint: disable=consider-merging-classes-inherited

    consent_segment_count = fields.Integer(
        string="Records in the Segment", compute="_compute_consent_coverage", compute_sudo=False
    )
    consent_mailable_count = fields.Integer(
        string="May Be E-mailed", compute="_compute_consent_coverage", compute_sudo=False
    )
    consent_coverage = fields.Char(
        string="Consent Check",
        compute="_compute_consent_coverage",
        compute_sudo=False,
        help="How many records of the segment may receive this scenario's marketing e-mails under "
        "the consent policy now; the others will be skipped when their e-mail is due.",
    )

    @api.depends("category", "model_id", "domain", "recipient_field_id", "user_id", "company_id")
    def _compute_consent_coverage(self):
        settings = self.env["email.automation.policy"]._settings()
        for scenario in self:
            scenario.consent_segment_count = scenario.consent_mailable_count = 0
            scenario.consent_coverage = False
            if scenario.category != "marketing":
                continue
            problem, counts = scenario._consent_coverage_counts(settings)
            if problem:
                scenario.consent_coverage = self.env._("Consent check not possible: %(problem)s", problem=problem)
                continue
            total, mailable = counts
            scenario.consent_segment_count, scenario.consent_mailable_count = total, mailable
            if not total:
                scenario.consent_coverage = self.env._("No record is in the segment now.")
                continue
            text = self.env._(
                "May be e-mailed under the consent policy: %(mailable)s of %(total)s.", mailable=mailable, total=total
            )
            if mailable < total:
                text = " ".join(
                    [
                        text,
                        self.env._("The others will be skipped (no consent, consent withdrawn, or a blocked address)."),
                    ]
                )
            scenario.consent_coverage = text

    def _consent_coverage_counts(self, settings):
        """(problem, (records in the segment, records that may be e-mailed)): the segment as
        the responsible user sees it, the recipients as the queue would judge them now."""
        self.ensure_one()
        if not self.model_name or self.model_name not in self.env or not self.user_id or not self.company_id:
            return False, (0, 0)
        problem = self._responsible_problem()
        if problem:
            return problem, None
        Model = self._responsible_records()
        try:
            domain = self._segment_domain(env=Model.env)
        except ValidationError as error:
            return str(error), None
        partner_counts, address_counts = self._consent_recipient_counts(Model, domain)
        total = sum(partner_counts.values()) + sum(address_counts.values())
        Policy = self.env["email.automation.policy"]
        refused = Policy._consent_refused_states(settings)
        mailable_partners = self._consent_mailable_partner_ids(set(partner_counts) - {False}, refused)
        mailable = sum(count for partner_id, count in partner_counts.items() if partner_id in mailable_partners)
        if None not in refused and address_counts:
            # Recipients without a contact (an e-mail field): only their address is checked.
            emails = {tools.email_normalize(address) for address in address_counts} - {False}
            blocked = self.env["email.automation.suppression"]._suppressed_emails(emails)
            blocked |= Policy._blacklisted_emails(emails)
            mailable += sum(
                count
                for address, count in address_counts.items()
                if address and (email := tools.email_normalize(address)) and email not in blocked
            )
        return False, (total, mailable)

    def _consent_recipient_counts(self, Model, domain):
        """({recipient partner id or False: records}, {recipient address: records}) of the
        records matching `domain`, grouped in the database."""
        if self.model_name == "res.partner" and not self.recipient_field_id:
            return Counter(Model.search(domain).ids), {}
        field_name = self.recipient_field_id.name or self._default_recipient_field_name()
        field = Model._fields.get(field_name) if field_name else None
        if field and field.type == "many2one":
            groups = Model._read_group(domain, [field_name], ["__count"])
            return Counter({partner.id: count for partner, count in groups}), {}
        if field and field.type == "char":
            groups = Model._read_group(domain, [field_name], ["__count"])
            return {}, Counter({address or False: count for address, count in groups})
        # No recipient at all: every e-mail would be skipped.
        return {False: Model.search_count(domain)}, {}

    def _consent_mailable_partner_ids(self, partner_ids, refused):
        """The ids among `partner_ids` whose contact may receive marketing e-mail now: a
        consent the policy accepts, an address neither suppressed nor blacklisted."""
        if not partner_ids:
            return set()
        # sudo: only the consent state and address of the segment's recipients are counted.
        partners = (
            self.env["res.partner"]
            .sudo()
            .with_context(active_test=False)
            .search_fetch(
                [("id", "in", list(partner_ids)), ("email_consent_state", "not in", list(refused - {None}))],
                ["email_normalized"],
            )
        )
        emails = set(partners.mapped("email_normalized")) - {False}
        blocked = self.env["email.automation.suppression"]._suppressed_emails(emails)
        blocked |= self.env["email.automation.policy"]._blacklisted_emails(emails)
        return {
            partner.id for partner in partners if partner.email_normalized and partner.email_normalized not in blocked
        }
