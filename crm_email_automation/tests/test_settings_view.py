"""Settings open with what drives the module's behaviour; the queue's internals show in
developer mode only."""

from lxml import etree

from odoo import http
from odoo.tests import HttpCase, new_test_user, tagged

from .common import warm_up_http_statics

# What an administrator sees, in this order, with or without developer mode.
BEHAVIOUR_SETTINGS = [
    "email_automation_consent_policy",
    "email_automation_doi_validity_hours",
    "email_automation_quiet_hours",
    "email_automation_frequency_cap",
    "email_automation_rate_limit",
    "email_automation_providers",
    "email_automation_soft_bounce_limit",
    "email_automation_retention_months",
    "email_automation_mailchimp",
]
QUEUE_SETTINGS = [
    "email_automation_batch_size",
    "email_automation_max_attempts",
    "email_automation_queue_lanes",
    "email_automation_stale_claim_minutes",
]


@tagged("post_install", "-at_install")
class TestSettingsView(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        warm_up_http_statics()
        cls.env["res.lang"]._activate_lang("en_US")
        # An administrator. Every internal user has "Technical Features" (base.group_no_one)
        # in Odoo 18; it counts only in developer mode, the session's debug flag.
        cls.admin = new_test_user(
            cls.env,
            "settings_admin",
            groups="base.group_user,base.group_system,crm_email_automation.group_manager",
            lang="en_US",
        )
        cls.group_no_one = cls.env.ref("base.group_no_one")

    def _setting_ids(self, arch):
        app = etree.fromstring(arch).xpath("//app[@name='crm_email_automation']")
        self.assertEqual(len(app), 1)
        return [node.get("id") for node in app[0].iter("setting")]

    def _http_setting_ids(self, debug):
        session = self.authenticate("settings_admin", "settings_admin")
        session.debug = "1" if debug else ""
        http.root.session_store.save(session)
        result = self.make_jsonrpc_request(
            "/web/dataset/call_kw/res.config.settings/get_views",
            {"model": "res.config.settings", "method": "get_views", "args": [[[False, "form"]]], "kwargs": {}},
        )
        return self._setting_ids(result["views"]["form"]["arch"])

    def test_developer_mode_shows_the_queue_internals(self):
        self.assertIn(self.group_no_one, self.admin.groups_id)
        # Other blocks may follow (e.g. added by other views); what drives the sending comes first.
        plain = self._http_setting_ids(debug=False)
        self.assertEqual(plain[: len(BEHAVIOUR_SETTINGS)], BEHAVIOUR_SETTINGS)
        self.assertFalse(set(QUEUE_SETTINGS) & set(plain), plain)
        debug = self._http_setting_ids(debug=True)
        self.assertEqual([name for name in debug if name in QUEUE_SETTINGS], QUEUE_SETTINGS)
        self.assertEqual([name for name in debug if name not in QUEUE_SETTINGS], plain)

    def test_settings_open_on_the_module_with_the_consent_policy_first(self):
        self.start_tour(
            "/odoo/action-crm_email_automation.email_automation_settings_action",
            "crm_email_automation_settings_tour",
            login="settings_admin",
        )

    def test_sending_policy_form_matches_the_settings(self):
        """The managers' Sending Policy form shows the same settings, labelled and ordered
        as in Settings."""
        settings_arch = self.env["res.config.settings"].with_user(self.admin).get_views([(False, "form")])
        app = etree.fromstring(settings_arch["views"]["form"]["arch"]).xpath("//app[@name='crm_email_automation']")[0]
        shared = [
            node.get("string")
            for node in app.iter("setting")
            if node.get("id") in BEHAVIOUR_SETTINGS
            and node.get("id") not in ("email_automation_providers", "email_automation_mailchimp")
        ]
        self.assertEqual(shared[0], "Marketing Consent")
        policy_arch = self.env["email.automation.settings"].with_user(self.admin).get_views([(False, "form")])
        labels = [
            node.get("string")
            for node in etree.fromstring(policy_arch["views"]["form"]["arch"]).iter("field", "label")
            if node.get("string")
        ]
        self.assertEqual([label for label in labels if label in shared], shared)
