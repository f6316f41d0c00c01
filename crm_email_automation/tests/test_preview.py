from odoo.tests import Form, tagged

from .test_policy import PolicyCommon


@tagged("post_install", "-at_install")
class TestPreview(PolicyCommon):
    """Preview: a step's e-mail as the chosen record's recipient reads it, in their
    language; "Send me a test" reaches the current user only, marked as a test."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config.set_param("crm_email_automation.quiet_hours", False)

    def setUp(self):
        super().setUp()
        self.scenario = self.marketing_scenario(start=False, mail_server_id=self.mail_server.id)
        self.step = self.scenario.step_ids

    def preview(self, record):
        form = Form(
            self.env["email.automation.preview"].with_user(self.user_manager).with_context(default_step_id=self.step.id)
        )
        form.res_id = record.id
        return form

    def test_preview_in_each_recipients_language(self):
        polish = self.preview(self.partner_pl)
        self.assertEqual(polish.preview_subject, "Witamy, Jan Kowalski")
        self.assertIn("cieszymy się", polish.preview_body)
        self.assertIn("Polish", polish.preview_lang)
        self.assertEqual(polish.preview_email_to, "jan@example.pl")
        english = self.preview(self.partner_en)
        self.assertEqual(english.preview_subject, "Welcome John Smith")
        self.assertIn("welcome aboard", english.preview_body)

    def test_send_me_a_test_reaches_only_the_current_user(self):
        consent_before = self.partner_pl.email_consent_state
        form = self.preview(self.partner_pl)
        wizard = form.save()
        wizard.action_send_test()
        (message,) = self.assertSentTo("manager@example.com")
        self.assertEqual(message["Subject"], "[TEST] Witamy, Jan Kowalski")
        self.assertEqual(message["X-Odoo-Automation-Test"], "1")
        self.assertNotIn("jan@example.pl", message.as_string().lower())
        self.assertFalse(self.smtp.messages_to("jan@example.pl"))
        token = message["List-Unsubscribe"].split(",")[0].strip(" <>").rsplit("/", 1)[1]
        self.assertFalse(self.env["email.automation.mail.sender"]._verify_unsubscribe_token(token))
        self.scenario.invalidate_recordset()
        self.assertEqual((self.scenario.participant_count, self.scenario.sent_count), (0, 0))
        self.assertEqual(self.partner_pl.email_consent_state, consent_before, "the contact is untouched")

    def test_preview_runs_no_script_of_a_template(self):
        # A template whose body escaped Odoo's sanitizer (an administrator's override, an
        # import): its preview in the back office still runs no script.
        body = "<p>Hi <t t-out='object.name'/></p><script>alert('x')</script><img src='x' onerror='alert(1)'/>"
        self.env.cr.execute(
            "UPDATE mail_template SET body_html = jsonb_build_object('en_US', %s) WHERE id = %s",
            (body, self.template_partner.id),
        )
        self.template_partner.invalidate_recordset()
        self.assertIn("<script", self.template_partner.body_html)
        preview = str(self.preview(self.partner_en).preview_body)
        self.assertIn("John Smith", preview)
        self.assertNotIn("<script", preview)
        self.assertNotIn("onerror", preview)

    def test_preview_renders_as_the_responsible(self):
        order = self.create_order(user_id=self.env.ref("base.user_admin").id)
        scenario = self.create_scenario("sale.order", start=False, user_id=self.user_salesman.id)
        form = Form(
            self.env["email.automation.preview"]
            .with_user(self.user_manager)
            .with_context(default_step_id=scenario.step_ids.id)
        )
        form.res_id = order.id
        self.assertFalse(form.preview_subject)
        self.assertIn("may not read this record", form.preview_error)
