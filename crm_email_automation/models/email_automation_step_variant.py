import hashlib
from collections import defaultdict
from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..statistics.ab_test import compare_variants
from .email_automation_variant import MAX_VARIANTS

# The trace column whose first time makes a success, per winning metric; a conversion is
# the participant's.
METRICS = [
    ("open", "Human open rate"),
    ("click", "Click rate"),
    ("conversion", "Conversion rate"),
]
METRIC_FIGURE = {"open": "opened", "click": "clicked", "conversion": "conversions"}


def variant_bucket(step_id, participant_id):
    """A number in [0, 100) that looks random and is always the same for one participant
    of one step: the variant it gets does not change when its e-mail is retried or rendered
    again, and no state is needed to know it."""
    digest = hashlib.sha256(f"email.automation.variant:{step_id}:{participant_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


class EmailAutomationStep(models.Model):
    """A/B tests of a mail step: its variants, their figures and the automatic winner."""

    _inherit = "email.automation.step"  # pylint: disable=consider-merging-classes-inherited

    variant_ids = fields.One2many("email.automation.variant", "step_id", string="Variants", copy=True)
    is_ab_test = fields.Boolean(
        string="A/B Test", compute="_compute_is_ab_test", help="The step sends two or more variants."
    )
    ab_metric = fields.Selection(
        METRICS,
        string="Winning Metric",
        default="click",
        required=True,
        help="The rate the variants are compared on, and the automatic winner chosen by. "
        "Human opens leave out privacy proxies' opens.",
    )
    ab_auto_winner = fields.Boolean(
        string="Pick the Winner Automatically",
        help="When the rule below is met, the variant with the best rate is sent to everyone else.",
    )
    ab_winner_after_hours = fields.Integer(
        string="Decide After (hours)", help="Hours after the test's first real e-mail. 0: no time limit."
    )
    ab_winner_after_count = fields.Integer(
        string="Or After (recipients)", help="Real e-mails sent with a variant. 0: no recipient limit."
    )
    ab_decided_at = fields.Datetime(string="Winner Chosen On", readonly=True, copy=False)

    @api.depends("variant_ids")
    def _compute_is_ab_test(self):
        for step in self:
            step.is_ab_test = len(step.variant_ids) >= 2

    def write(self, vals):
        if "variant_ids" in vals:
            # The shares are checked once all the variant lines are written (below), not
            # line by line, where a sum passes through other values.
            steps = self.with_context(email_automation_defer_share_check=True)
            return super(EmailAutomationStep, steps).write(vals)
        return super().write(vals)

    @api.constrains("variant_ids", "action_type")
    def _check_variant_shares(self):
        for step in self.filtered("variant_ids"):
            if step.action_type != "mail":
                raise ValidationError(
                    self.env._("Variants: step “%(name)s” sends no e-mail, it cannot have variants.", name=step.name)
                )
            if len(step.variant_ids) > MAX_VARIANTS:
                raise ValidationError(
                    self.env._(
                        "Variants: step “%(name)s” has %(count)s variants; an A/B test takes %(max)s at most.",
                        name=step.name,
                        count=len(step.variant_ids),
                        max=MAX_VARIANTS,
                    )
                )
            total = sum(step.variant_ids.mapped("share"))
            if total != 100:
                raise ValidationError(
                    self.env._(
                        "Variants: the shares of step “%(name)s” add up to %(total)s%%; they must add up to 100%%.",
                        name=step.name,
                        total=total,
                    )
                )

    @api.constrains("ab_winner_after_hours", "ab_winner_after_count", "ab_auto_winner")
    def _check_winner_rule(self):
        for step in self:
            if step.ab_winner_after_hours < 0 or step.ab_winner_after_count < 0:
                raise ValidationError(self.env._("Automatic winner: hours and recipients cannot be negative."))
            if step.ab_auto_winner and not (step.ab_winner_after_hours or step.ab_winner_after_count):
                raise ValidationError(
                    self.env._(
                        "Automatic winner: step “%(name)s” needs a number of hours or of recipients to decide after.",
                        name=step.name,
                    )
                )

    # ------------------------------------------------------------------
    # Assignment
    # ------------------------------------------------------------------

    def _ab_pick_variant(self, participant_id):
        """The variant `participant_id` gets at this step: the winner once there is one,
        else the variant whose share interval holds the participant's bucket."""
        self.ensure_one()
        variants = self.variant_ids.sorted(lambda v: (v.sequence, v.id))
        winner = variants.filtered("is_winner")[:1]
        if winner or not variants:
            return winner
        bucket = variant_bucket(self.id, participant_id)
        cumulated = 0
        for variant in variants:
            cumulated += variant.share
            if bucket < cumulated:
                return variant
        return variants[-1]

    # ------------------------------------------------------------------
    # Figures and the test
    # ------------------------------------------------------------------

    def _ab_results(self):
        """{variant id: figures} for the variants of these steps: counts of real e-mails
        sent, rates in percent over them, and the z-test on each step's winning metric.
        Two grouped queries for all the steps."""
        results = {}
        step_ids = [step_id for step_id in self.ids if step_id]
        if not step_ids:
            return results
        counts = defaultdict(lambda: defaultdict(int))
        Trace = self.env["email.automation.trace"]
        sent_domain = [("step_id", "in", step_ids), ("variant_id", "!=", False)]
        sent_domain += [("sent_at", "!=", False), ("is_test", "=", False)]
        for variant, sent, delivered, opened, clicked in Trace._read_group(
            sent_domain, ["variant_id"], ["__count", "delivered_at:count", "opened_at:count", "clicked_at:count"]
        ):
            counts[variant.id].update(sent=sent, delivered=delivered, opened=opened, clicked=clicked)
        for variant, converted in Trace._read_group(
            [*sent_domain, ("participant_id.converted_at", "!=", False)], ["variant_id"], ["__count"]
        ):
            counts[variant.id]["conversions"] = converted
        for step in self.filtered("id"):
            variants = step.variant_ids.sorted(lambda v: (v.sequence, v.id))
            figure = METRIC_FIGURE[step.ab_metric]
            tests = compare_variants([(counts[v.id][figure], counts[v.id]["sent"]) for v in variants])
            for variant, test in zip(variants, tests, strict=True):
                results[variant.id] = step._ab_variant_figures(counts[variant.id], test, len(variants))
        return results

    def _ab_variant_figures(self, counts, test, variant_count):
        sent = counts["sent"]
        figures = dict(counts, sent=sent, p_value=test.p_value)
        for figure in ("opened", "clicked", "conversions"):
            rate_name = {"opened": "open_rate", "clicked": "click_rate", "conversions": "conversion_rate"}[figure]
            figures[rate_name] = 100.0 * counts[figure] / sent if sent else 0.0
        if variant_count < 2:
            figures["test_result"] = False
        elif not test.enough_data:
            figures["test_result"] = self.env._("Not enough data yet")
        elif test.is_significant:
            figures["test_result"] = (
                self.env._("Best, significant at 95%") if test.is_leader else self.env._("Worse, significant at 95%")
            )
        else:
            figures["test_result"] = (
                self.env._("Leading, not significant") if test.is_leader else self.env._("Not significant")
            )
        return figures

    # ------------------------------------------------------------------
    # Automatic winner
    # ------------------------------------------------------------------

    @api.model
    def _cron_decide_ab_winners(self):
        """Decide the A/B tests whose rule is met (the queue also decides before sending)."""
        steps = self.search([("ab_auto_winner", "=", True), ("ab_decided_at", "=", False), ("active", "=", True)])
        steps._ab_decide_due_winners()

    def _ab_decide_due_winners(self):
        """Choose the winner of these steps' A/B tests whose rule (hours since the first
        real e-mail, or real e-mails sent) is met, and log the decision in the scenario's
        chatter with the figures it was taken on."""
        pending = self.filtered(lambda s: s.ab_auto_winner and not s.ab_decided_at and s.is_ab_test)
        if not pending:
            return pending
        now = fields.Datetime.now()
        firsts = {
            step.id: (first, count)
            for step, first, count in self.env["email.automation.trace"]._read_group(
                [
                    ("step_id", "in", pending.ids),
                    ("variant_id", "!=", False),
                    ("sent_at", "!=", False),
                    ("is_test", "=", False),
                ],
                ["step_id"],
                ["sent_at:min", "__count"],
            )
        }
        due = self.browse()
        for step in pending:
            first, count = firsts.get(step.id, (False, 0))
            hours_due = (
                step.ab_winner_after_hours and first and now >= first + timedelta(hours=step.ab_winner_after_hours)
            )
            count_due = step.ab_winner_after_count and count >= step.ab_winner_after_count
            if hours_due or count_due:
                due |= step
        results = due._ab_results()
        for step in due:
            step._ab_choose_winner(results, now)
        return due

    def _ab_choose_winner(self, results, now):
        self.ensure_one()
        variants = self.variant_ids.sorted(lambda v: (v.sequence, v.id))
        rate_name = {"open": "open_rate", "click": "click_rate", "conversion": "conversion_rate"}[self.ab_metric]
        winner = max(variants, key=lambda v: (results[v.id][rate_name], -variants.ids.index(v.id)))
        # sudo: the rule was set by the scenario's managers; the queue or the cron applies it,
        # whoever runs them, and the decision is not a user's edit of the scenario.
        winner.sudo().is_winner = True
        self.sudo().ab_decided_at = now
        rows = Markup("").join(
            Markup("<tr><td>%s</td><td>%s</td><td>%s</td><td>%.1f%%</td><td>%.1f%%</td><td>%.1f%%</td><td>%s</td></tr>")
            % (
                variant.name + (" ✔" if variant == winner else ""),
                results[variant.id]["sent"],
                results[variant.id]["delivered"],
                results[variant.id]["open_rate"],
                results[variant.id]["click_rate"],
                results[variant.id]["conversion_rate"],
                f"{results[variant.id]['p_value']:.4f}" if results[variant.id]["p_value"] is not None else "-",
            )
            for variant in variants
        )
        header = Markup("<tr><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th></tr>") % (
            self.env._("Variant"),
            self.env._("Sent"),
            self.env._("Delivered"),
            self.env._("Human opens"),
            self.env._("Clicks"),
            self.env._("Conversions"),
            self.env._("p-value"),
        )
        intro = self.env._(
            "A/B test of step “%(step)s”: “%(winner)s” wins on %(metric)s (%(result)s). "
            "The remaining participants receive it.",
            step=self.name,
            winner=winner.name,
            metric=dict(self._fields["ab_metric"]._description_selection(self.env))[self.ab_metric].lower(),
            result=results[winner.id]["test_result"],
        )
        body = Markup("<p>%s</p><table class='table table-sm'>%s%s</table>") % (intro, header, rows)
        # sudo: the decision is logged by the system, as the cron or queue that took it.
        self.scenario_id.sudo().message_post(body=body, subtype_xmlid="mail.mt_note")
