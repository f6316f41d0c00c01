from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .branch_common import BranchCommon


@tagged("post_install", "-at_install")
class TestBranchValidation(BranchCommon):
    """A manager building branches gets a clear error for a branch that cannot work, and
    nothing is saved."""

    def setUp(self):
        super().setUp()
        self.scenario = self.branch_scenario([], user_id=self.user_manager.id)
        self.parent = self.scenario.step_ids
        self.Step = self.env["email.automation.step"].with_user(self.user_manager)

    def create_step(self, **values):
        return self.Step.create(
            {
                "name": "Branch",
                "scenario_id": self.scenario.id,
                "parent_id": self.parent.id,
                "action_type": "mail",
                "mail_template_id": self.templates["Thanks"].id,
                **values,
            }
        )

    def assertRefused(self, message, **values):
        count = self.env["email.automation.step"].search_count([])
        with self.assertRaisesRegex(ValidationError, message), self.env.cr.savepoint():
            self.create_step(**values)
        self.assertEqual(self.env["email.automation.step"].search_count([]), count)

    def test_not_opened_needs_a_window(self):
        self.assertRefused("Within: step “Branch” runs when the e-mail is “Not opened”", trigger_type="mail_not_opened")
        self.assertRefused("cannot wait a negative time", trigger_type="mail_opened", trigger_window=-1)
        step = self.create_step(trigger_type="mail_not_opened", trigger_window=2)
        self.assertEqual((step.outcome_pair, step.is_negative_outcome), ("opened", True))
        self.assertEqual(step.trigger_window_seconds, 2 * 86400)

    def test_mail_outcome_needs_a_mail_parent(self):
        self.assertRefused("choose that step", trigger_type="mail_opened", parent_id=False)
        activity = self.create_step(
            trigger_type="after_parent",
            action_type="activity",
            activity_type_id=self.env.ref("mail.mail_activity_data_call").id,
            mail_template_id=False,
        )
        self.assertRefused("sends no e-mail", trigger_type="mail_clicked", parent_id=activity.id)
        # Nor can a parent stop sending e-mails under a child waiting for its e-mail.
        child = self.create_step(trigger_type="mail_replied")
        with self.assertRaisesRegex(ValidationError, "sends no e-mail"), self.env.cr.savepoint():
            self.parent.with_user(self.user_manager).write(
                {"action_type": "activity", "activity_type_id": self.env.ref("mail.mail_activity_data_call").id}
            )
        self.assertEqual(self.parent.action_type, "mail")
        self.assertEqual(child.parent_id, self.parent)

    def test_clicked_link_must_be_a_web_address(self):
        self.assertRefused("is not a web address", trigger_type="mail_clicked", trigger_url="javascript:alert(1)")
        step = self.create_step(trigger_type="mail_clicked", trigger_url=" https://example.com/a ")
        self.assertEqual(step.outcome_pair, "clicked https://example.com/a")

    def test_condition_split_needs_a_valid_filter(self):
        self.assertRefused("set the filter", trigger_type="condition_true", trigger_domain="[]")
        self.assertRefused(
            "invalid filter", trigger_type="condition_false", trigger_domain="[('no_such_field', '=', 1)]"
        )
        self.assertRefused("invalid filter", trigger_type="condition_false", trigger_domain="not a domain")
        yes = self.create_step(trigger_type="condition_true", trigger_domain="[('lang', '=', 'pl_PL')]")
        no = self.create_step(trigger_type="condition_false", trigger_domain="[( 'lang','=', 'pl_PL' )]")
        self.assertEqual(yes.outcome_pair, no.outcome_pair, "the same filter, however spaced, is one split")
        self.assertEqual((yes.is_negative_outcome, no.is_negative_outcome), (False, True))

    def test_after_parent_steps_keep_their_behaviour(self):
        step = self.create_step(trigger_type="after_parent")
        self.assertFalse(step.outcome_pair)
        self.assertFalse(step.trigger_window_seconds)
