"""Steps that follow their parent on an outcome: what the recipient did with the parent's
e-mail (opened, clicked, replied, bounced, or not within a window), or whether the record
matches a filter when the parent is done (a condition split)."""

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .domain_utils import parse_domain
from .email_automation_step import DELAY_UNITS, delay_to_timedelta

OUTCOME_TRIGGERS = [
    ("mail_opened", "Opened"),
    ("mail_not_opened", "Not opened"),
    ("mail_clicked", "Clicked"),
    ("mail_not_clicked", "Not clicked"),
    ("mail_replied", "Replied"),
    ("mail_not_replied", "Not replied"),
    ("mail_bounced", "Bounced"),
    ("condition_true", "Record matches"),
    ("condition_false", "Record does not match"),
]
# trigger type -> (the outcome pair it belongs to, whether it is the negation)
MAIL_OUTCOMES = {
    "mail_opened": ("opened", False),
    "mail_not_opened": ("opened", True),
    "mail_clicked": ("clicked", False),
    "mail_not_clicked": ("clicked", True),
    "mail_replied": ("replied", False),
    "mail_not_replied": ("replied", True),
    "mail_bounced": ("bounced", False),
}
CONDITION_OUTCOMES = {"condition_true": False, "condition_false": True}


class EmailAutomationStep(models.Model):
    _inherit = "email.automation.step"  # pylint: disable=consider-merging-classes-inherited

    trigger_type = fields.Selection(
        selection_add=OUTCOME_TRIGGERS,
        ondelete={value: "set default" for value, _label in OUTCOME_TRIGGERS},
    )
    trigger_window = fields.Integer(
        string="Within",
        help="How long to wait for what the recipient does with the previous e-mail. Required for "
        "the “Not …” outcomes (the step runs when the window closes without it); optional for the "
        "others (an event later than this does not count; empty: 30 days, or the window of the "
        "“Not …” step beside it).",
    )
    trigger_window_unit = fields.Selection(DELAY_UNITS, string="Window Unit", default="days", required=True)
    trigger_url = fields.Char(
        string="Link",
        help="Only a click on this link counts (as written in the e-mail); empty: any link.",
    )
    trigger_domain = fields.Char(
        string="Branch Filter",
        default="[]",
        help="Checked once when the previous step is done, as the scenario's responsible user. "
        "Give the “matches” and “does not match” steps the same filter: exactly one of them runs.",
    )
    # What the queue and the event intake read, in SQL too: the outcome pair a step answers
    # ("opened", "clicked", "clicked <url>", "replied", "bounced", "condition <filter>") and
    # whether it is the negation; empty for steps that start at enrolment or after their parent.
    outcome_pair = fields.Char(compute="_compute_outcome_pair", store=True)
    is_negative_outcome = fields.Boolean(compute="_compute_outcome_pair", store=True)
    trigger_window_seconds = fields.Integer(compute="_compute_outcome_pair", store=True)

    @api.depends("trigger_type", "trigger_url", "trigger_domain", "trigger_window", "trigger_window_unit")
    def _compute_outcome_pair(self):
        for step in self:
            pair, negative = False, False
            if step.trigger_type in MAIL_OUTCOMES:
                pair, negative = MAIL_OUTCOMES[step.trigger_type]
                if pair == "clicked" and (step.trigger_url or "").strip():
                    pair = f"clicked {step.trigger_url.strip()}"
            elif step.trigger_type in CONDITION_OUTCOMES:
                negative = CONDITION_OUTCOMES[step.trigger_type]
                # The filter as written, whitespace aside: the same filter makes the same pair.
                pair = "condition " + "".join((step.trigger_domain or "[]").split())
            step.outcome_pair = pair
            step.is_negative_outcome = negative
            window = delay_to_timedelta(step.trigger_window, step.trigger_window_unit)
            step.trigger_window_seconds = int(window.total_seconds()) if pair else 0

    @api.onchange("trigger_type")
    def _onchange_trigger_type_outcome(self):
        if self.trigger_type in MAIL_OUTCOMES and not self.trigger_window and MAIL_OUTCOMES[self.trigger_type][1]:
            self.trigger_window, self.trigger_window_unit = 2, "days"

    @api.constrains(
        "trigger_type", "parent_id", "action_type", "trigger_window", "trigger_url", "trigger_domain", "scenario_id"
    )
    def _check_outcome(self):
        # A parent that stops sending e-mails would orphan its children on mail outcomes.
        for step in self | self.child_ids:
            if step.trigger_window < 0:
                raise ValidationError(
                    self.env._("Within: step “%(name)s” cannot wait a negative time.", name=step.name)
                )
            if step.trigger_type not in MAIL_OUTCOMES and step.trigger_type not in CONDITION_OUTCOMES:
                continue
            label = dict(step._fields["trigger_type"]._description_selection(self.env)).get(step.trigger_type)
            if not step.parent_id:
                raise ValidationError(
                    self.env._(
                        "After Step: step “%(name)s” starts on the outcome “%(outcome)s” of another step; "
                        "choose that step.",
                        name=step.name,
                        outcome=label,
                    )
                )
            if step.trigger_type in MAIL_OUTCOMES:
                if step.parent_id.action_type != "mail":
                    raise ValidationError(
                        self.env._(
                            "After Step: step “%(name)s” starts when the e-mail of “%(parent)s” is "
                            "“%(outcome)s”, but “%(parent)s” sends no e-mail.",
                            name=step.name,
                            parent=step.parent_id.name,
                            outcome=label,
                        )
                    )
                if MAIL_OUTCOMES[step.trigger_type][1] and not step.trigger_window:
                    raise ValidationError(
                        self.env._(
                            "Within: step “%(name)s” runs when the e-mail is “%(outcome)s” within a "
                            "time; say how long to wait.",
                            name=step.name,
                            outcome=label,
                        )
                    )
                url = (step.trigger_url or "").strip()
                if url and not url.lower().startswith(("http://", "https://")):
                    raise ValidationError(
                        self.env._(
                            "Link: step “%(name)s” waits for a click on “%(url)s”, which is not a web "
                            "address (http:// or https://).",
                            name=step.name,
                            url=url,
                        )
                    )
            else:
                domain = step._parse_trigger_domain()
                if not domain:
                    raise ValidationError(
                        self.env._(
                            "Branch Filter: step “%(name)s” splits on whether the record matches a "
                            "filter; set the filter.",
                            name=step.name,
                        )
                    )

    def _parse_trigger_domain(self, env=None):
        """The branch filter as a domain, validated against the scenario's model.
        `env`: whose `uid` the filter names (default: the current user's)."""
        self.ensure_one()
        try:
            return parse_domain(env or self.env, self.trigger_domain, self.scenario_id.model_name)
        except ValueError as error:
            raise ValidationError(
                self.env._(
                    "Branch Filter: step “%(name)s” has an invalid filter: %(error)s", name=self.name, error=error
                )
            ) from error

    def _window_timedelta(self):
        self.ensure_one()
        return delay_to_timedelta(self.trigger_window, self.trigger_window_unit)
