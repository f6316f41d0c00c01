from unittest.mock import patch
from urllib.parse import parse_qs, urlsplit

from odoo.modules import module as odoo_module
from odoo.tests import HttpCase, tagged

from .common import warm_up_http_statics
from .mailchimp_server import capture_logs
from .test_mailchimp_sync import MailchimpCommon

CALLBACK = "/email_automation/mailchimp/oauth/callback"


@tagged("post_install", "-at_install")
class TestMailchimpOAuth(MailchimpCommon, HttpCase):
    """ "Connect with Mailchimp" end to end: Odoo, a browser session and a local login.mailchimp.com."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        warm_up_http_statics()
        oauth_base = cls.mailchimp.base_url.removesuffix("/3.0") + "/oauth2"
        for name in ("authorize", "token", "metadata"):
            cls.env["ir.config_parameter"].set_param(
                f"crm_email_automation.mailchimp_oauth_{name}_url", f"{oauth_base}/{name}"
            )
        cls.company.write(
            {
                "email_automation_mailchimp_oauth_client_id": cls.mailchimp.oauth["client_id"],
                "email_automation_mailchimp_oauth_client_secret": cls.mailchimp.oauth["client_secret"],
                # The API key of the common setup is gone: only the token can work.
                "email_automation_mailchimp_api_key": False,
            }
        )
        cls.admin = cls.env.ref("base.user_admin")

    def setUp(self):
        super().setUp()
        self.startPatcher(patch.object(odoo_module, "current_test", self))
        # The redirect URI must reach this test server, with the browser's session cookie.
        self.env["ir.config_parameter"].set_param("web.base.url", self.base_url())
        self.authenticate("admin", "admin")

    def start(self, user=None):
        settings = self.env["res.config.settings"].with_user(user or self.admin).create({})
        return settings.action_email_automation_mailchimp_connect()["url"]

    def authorize(self, url):
        """The browser at Mailchimp: it sends the administrator back with a code."""
        response = self.opener.get(url, allow_redirects=False, timeout=12)
        self.assertEqual(response.status_code, 302)
        return response.headers["Location"]

    def assertNotConnected(self):
        self.env.invalidate_all()
        company = self.company.sudo()
        self.assertFalse(company.email_automation_mailchimp_oauth_token)
        self.assertEqual(company.email_automation_mailchimp_auth_method, "api_key")

    def test_connect_stores_the_token_and_the_data_center_then_syncs_with_it(self):
        url = self.start()
        query = parse_qs(urlsplit(url).query)
        self.assertEqual(query["client_id"], [self.mailchimp.oauth["client_id"]])
        self.assertEqual(query["redirect_uri"], [self.base_url() + CALLBACK])
        self.assertEqual(query["response_type"], ["code"])
        self.assertTrue(query["state"][0])
        with capture_logs() as logs:
            response = self.url_open(self.authorize(url), allow_redirects=False)
        self.assertEqual(response.status_code, 303)
        self.assertIn(
            "/odoo/action-crm_email_automation.email_automation_settings_action", response.headers["Location"]
        )
        self.env.invalidate_all()
        company = self.company.sudo()
        self.assertEqual(company.email_automation_mailchimp_auth_method, "oauth")
        self.assertEqual(company.email_automation_mailchimp_oauth_token, self.mailchimp.oauth["token"])
        self.assertEqual(company.email_automation_mailchimp_base_url, self.mailchimp.base_url)
        self.assertEqual(company.email_automation_mailchimp_oauth_account, "Acme Sp. z o.o.")
        token_call = next(r for r in self.mailchimp.requests if r["path"] == "/oauth2/token")
        self.assertIsNone(token_call["password"])
        for secret in (self.mailchimp.oauth["token"], self.mailchimp.oauth["client_secret"]):
            self.assertNotIn(secret, logs.output)
        # The audience is now reached with the token.
        self.mailchimp.clear()
        self.grant(self.partner_pl)
        self.assertEqual(self.sync()["pushed"], 1)
        (put,) = self.puts("jan@example.pl")
        self.assertEqual(put["authorization"], f"Bearer {self.mailchimp.oauth['token']}")
        action = self.env["res.config.settings"].create({}).action_email_automation_mailchimp_test()
        self.assertEqual(action["params"]["type"], "success")

    def test_a_refused_code_stores_nothing(self):
        location = self.authorize(self.start()).replace(self.mailchimp.oauth["code"], "stolen-code")
        response = self.url_open(location, allow_redirects=False)
        self.assertEqual((response.status_code, response.json()), (400, {"error": "Invalid authorization code"}))
        self.assertNotConnected()

    def test_a_forged_or_foreign_state_stores_nothing(self):
        location = self.authorize(self.start())
        query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        forged = f"{CALLBACK}?code={query['code']}&state={query['state'][:-2]}xx"
        self.assertEqual(self.url_open(forged, allow_redirects=False).status_code, 400)
        # Signed for another administrator: not this browser's to finish.
        other_admin = self.admin.copy({"login": "other_admin"})
        location = self.authorize(self.start(user=other_admin))
        self.assertEqual(self.url_open(location, allow_redirects=False).status_code, 400)
        self.assertNotConnected()

    def test_declined_access_and_non_administrators_store_nothing(self):
        url = self.start()
        state = parse_qs(urlsplit(url).query)["state"][0]
        response = self.url_open(f"{CALLBACK}?error=access_denied&state={state}", allow_redirects=False)
        self.assertEqual(response.status_code, 400)
        self.authenticate("ea_manager", "ea_manager")
        response = self.url_open(self.authorize(url), allow_redirects=False)
        self.assertEqual(response.status_code, 403)
        self.assertNotConnected()
