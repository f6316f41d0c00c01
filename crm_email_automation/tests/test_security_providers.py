"""Nobody but a system administrator steers where a provider's credentials go, and the
connection test never shows what an arbitrary server answered (issue 8, section 1).

The attacks arrive as they would: a manager's XML-RPC and JSON-RPC calls over real HTTP, and
a local server that plays the host the key must never reach."""

import xmlrpc.client
from unittest.mock import patch

from odoo.exceptions import AccessError, ValidationError
from odoo.modules import module as odoo_module
from odoo.tests import HttpCase, tagged
from odoo.tests.common import JsonRpcException

from ..providers.hosts import ALLOWED_HOSTS_PARAM
from .common import warm_up_http_statics
from .provider_server import ProviderServer, Reply
from .test_mailchimp_sync import MailchimpCommon
from .test_provider_sending import API_KEY, ProviderCommon

RPC_FAULT_CODE_ACCESS_ERROR = 4  # odoo.addons.base.controllers.rpc
MANAGER_PASSWORD = "ea_manager"  # new_test_user's default: the login
MARKER = "INTERNAL-ONLY-7c1e"  # what a server behind the base URL would leak


@tagged("post_install", "-at_install")
class TestProviderDestination(ProviderCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        warm_up_http_statics()
        # The host a manager would like the key to go to: nothing may ever reach it.
        cls.evil = ProviderServer(api_key=API_KEY).start()
        cls.addClassCleanup(cls.evil.stop)
        cls.evil_url = f"http://localhost:{cls.evil.port}/v3"

    def setUp(self):
        super().setUp()
        # The HTTP server's test cursor asks the running test to check it.
        self.startPatcher(patch.object(odoo_module, "current_test", self))
        self.evil.clear()

    def manager_rpc(self, method, args, kwargs=None, model="email.automation.provider"):
        db = self.env.cr.dbname
        uid = self.xmlrpc_common.authenticate(db, "ea_manager", MANAGER_PASSWORD, {})
        self.assertEqual(uid, self.user_manager.id)
        return self.xmlrpc_object.execute_kw(db, uid, MANAGER_PASSWORD, model, method, args, kwargs or {})

    def assertUntouched(self, provider, url):
        provider.invalidate_recordset()
        self.assertEqual(provider.api_base_url, url)
        self.assertEqual(provider.sudo().api_key, API_KEY)

    # ------------------------------------------------------------------
    # A manager over RPC
    # ------------------------------------------------------------------

    def test_manager_cannot_move_the_api_base_url_over_xmlrpc(self):
        url = self.brevo.api_base_url
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            self.manager_rpc("write", [[self.brevo.id], {"api_base_url": self.evil_url}])
        self.assertEqual(caught.exception.faultCode, RPC_FAULT_CODE_ACCESS_ERROR)
        self.assertIn("Only system administrators", caught.exception.faultString)
        self.assertUntouched(self.brevo, url)
        # The payoff the attacker wanted: the queue's next e-mail carries the key there.
        self.send(self.brevo, self.partner_en)
        self.assertEqual(self.evil.requests, [], "the key never reaches the manager's host")
        self.assertEqual(len(self.server.accepted("brevo")), 1)

    def test_manager_cannot_move_the_webhook_url_over_jsonrpc(self):
        self.mandrill.webhook_url = "https://crm.example.com/hook"
        self.authenticate("ea_manager", MANAGER_PASSWORD)
        with self.assertRaises(JsonRpcException) as caught:
            self.make_jsonrpc_request(
                "/web/dataset/call_kw",
                {
                    "model": "email.automation.provider",
                    "method": "write",
                    "args": [[self.mandrill.id], {"webhook_url": "https://attacker.example.com/hook"}],
                    "kwargs": {},
                },
            )
        self.assertEqual(caught.exception.args[0], "odoo.exceptions.AccessError")
        self.mandrill.invalidate_recordset()
        self.assertEqual(self.mandrill.webhook_url, "https://crm.example.com/hook")

    def test_manager_cannot_create_or_copy_a_provider_pointing_elsewhere(self):
        count = self.env["email.automation.provider"].search_count([])
        attempts = [
            ("create", [{"name": "Mine", "kind": "brevo", "api_base_url": self.evil_url}], {}),
            (
                "create",
                [{"name": "Mine", "kind": "brevo"}],
                {"context": {"default_api_base_url": self.evil_url}},
            ),
            ("copy", [[self.brevo.id]], {"default": {"api_base_url": self.evil_url}}),
        ]
        for method, args, kwargs in attempts:
            with self.subTest(method=method, kwargs=kwargs), self.assertRaises(xmlrpc.client.Fault) as caught:
                self.manager_rpc(method, args, kwargs)
            self.assertEqual(caught.exception.faultCode, RPC_FAULT_CODE_ACCESS_ERROR)
        self.assertEqual(self.env["email.automation.provider"].search_count([]), count)
        # Without a destination of their own, managers still create and copy providers.
        new_id = self.manager_rpc("create", [{"name": "Brevo 2", "kind": "brevo"}])
        copy_ids = self.manager_rpc("copy", [[self.brevo.id]])
        providers = self.env["email.automation.provider"].browse([new_id, *copy_ids])
        self.assertEqual(providers.mapped("api_base_url"), ["https://api.brevo.com/v3"] * 2)
        self.assertFalse(any(providers.sudo().mapped("api_key")), "a copy never carries the key")

    def test_manager_edits_the_rest_and_a_kind_change_drops_the_key(self):
        self.manager_rpc("write", [[self.brevo.id], {"name": "Brevo (main)", "timeout": 5}])
        self.assertEqual((self.brevo.name, self.brevo.timeout), ("Brevo (main)", 5))
        self.assertEqual(self.brevo.sudo().api_key, API_KEY)
        # Another kind means another host: the Brevo key must not follow to Mandrill.
        self.manager_rpc("write", [[self.brevo.id], {"kind": "mandrill"}])
        self.brevo.invalidate_recordset()
        self.assertEqual(self.brevo.api_base_url, "https://mandrillapp.com/api/1.0")
        self.assertFalse(self.brevo.sudo().api_key)

    def test_manager_cannot_move_it_through_the_orm_either(self):
        for vals in ({"api_base_url": self.evil_url}, {"webhook_url": "https://attacker.example.com/hook"}):
            with self.subTest(vals=vals), self.assertRaises(AccessError):
                self.brevo.with_user(self.user_manager).write(vals)

    # ------------------------------------------------------------------
    # Administrators: official hosts, the allowed-hosts parameter, the key cleared
    # ------------------------------------------------------------------

    def test_changing_the_base_url_clears_the_key(self):
        other_local = f"http://127.0.0.1:{self.evil.port}/v3"
        self.brevo.api_base_url = other_local
        self.assertFalse(self.brevo.sudo().api_key, "the key was for the former host")
        self.assertIn("API key", self.brevo.message_ids[0].body)
        # A new key given with the new URL is kept.
        self.brevo.write({"api_base_url": self.server.brevo_url, "api_key": API_KEY})
        self.assertEqual(self.brevo.sudo().api_key, API_KEY)
        # Writing the same URL again changes nothing.
        self.brevo.api_base_url = self.server.brevo_url
        self.assertEqual(self.brevo.sudo().api_key, API_KEY)

    def test_only_official_hosts_unless_allowed(self):
        self.env["ir.config_parameter"].set_param(ALLOWED_HOSTS_PARAM, "")
        refused = [
            ("brevo", "https://evil.example.com/v3"),
            ("brevo", "http://api.brevo.com/v3"),
            ("brevo", "https://api.brevo.com@evil.example.com/v3"),
            ("brevo", "https://api.brevo.com.evil.example.com/v3"),
            ("brevo", "https://mandrillapp.com/api/1.0"),
            ("brevo", "https://api.brevo.com/v3?next=https://evil.example.com"),
            ("brevo", "ftp://api.brevo.com/v3"),
            ("mandrill", "https://api.brevo.com/v3"),
            ("mandrill", self.server.mandrill_url),
        ]
        for kind, url in refused:
            provider = self.brevo if kind == "brevo" else self.mandrill
            with self.subTest(url=url), self.assertRaises(ValidationError):
                provider.write({"api_base_url": url, "api_key": API_KEY})
        accepted = [
            (self.brevo, "https://api.brevo.com/v3"),
            (self.brevo, "https://API.Brevo.com./v3"),
            (self.mandrill, "https://mandrillapp.com/api/1.0"),
        ]
        for provider, url in accepted:
            provider.write({"api_base_url": url, "api_key": API_KEY})
            self.assertEqual(provider.api_base_url, url)
        self.env["ir.config_parameter"].set_param(ALLOWED_HOSTS_PARAM, "api.eu.example.com, *.proxy.example.net")
        for url in ("https://api.eu.example.com/v3", "http://a.proxy.example.net/v3"):
            self.brevo.write({"api_base_url": url, "api_key": API_KEY})
        with self.assertRaises(ValidationError):
            self.brevo.api_base_url = "https://proxy.example.net.evil.example.com/v3"

    def test_the_key_never_leaves_for_a_host_no_longer_allowed(self):
        # Pointed at an allowed host, then the administrator withdraws it.
        self.env["ir.config_parameter"].set_param(ALLOWED_HOSTS_PARAM, "")
        action = self.brevo.with_user(self.user_manager).action_test_connection()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("127.0.0.1", action["params"]["message"])
        self.assertEqual(self.brevo.state, "active", "a test pauses nothing")
        trace = self.send(self.brevo, self.partner_en)
        self.assertEqual(self.server.requests, [], "no request, no key")
        self.assertEqual(trace.state, "scheduled")
        self.assertEqual(self.brevo.state, "paused")
        self.assertIn(ALLOWED_HOSTS_PARAM, self.brevo.pause_reason)

    def test_redirects_are_not_followed_with_the_key(self):
        # Brevo's key travels in a custom header, which a followed redirect would carry along.
        self.server.script(Reply(302, {}, {"Location": self.evil_url + "/account"}))
        action = self.brevo.with_user(self.user_manager).action_test_connection()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("HTTP 302", action["params"]["message"])
        self.assertEqual(self.evil.requests, [])

    # ------------------------------------------------------------------
    # The connection test tells, it does not echo
    # ------------------------------------------------------------------

    def test_connection_test_never_shows_what_the_server_answered(self):
        answers = [
            (self.brevo, Reply(200, f"<html><body>{MARKER}</body></html>"), "HTTP 200"),
            (self.brevo, Reply(200, {"note": MARKER}), "HTTP 200"),
            (self.brevo, Reply(500, f"<pre>{MARKER}</pre>"), "HTTP 500"),
            (self.brevo, Reply.brevo_error(401, message=f"Key not found ({MARKER})"), "HTTP 401 unauthorized"),
            (self.brevo, Reply(403, {"code": f"<b>{MARKER}</b>", "message": MARKER}), "HTTP 403"),
            (self.mandrill, Reply(200, {"PING": MARKER}), "HTTP 200"),
            (self.mandrill, Reply.mandrill_error("Invalid_Key", f"Invalid API key {MARKER}"), "Invalid_Key"),
        ]
        for provider, reply, expected in answers:
            with self.subTest(provider=provider.kind, body=reply.body):
                self.server.clear()
                self.server.script(reply)
                action = provider.with_user(self.user_manager).action_test_connection()
                message = action["params"]["message"]
                self.assertEqual(action["params"]["type"], "danger")
                self.assertIn(expected, message)
                self.assertNotIn(MARKER, message)
                self.assertNotIn(MARKER, provider.last_test_result)
                self.assertLess(len(message), 300)

    def test_connection_test_names_the_account_from_its_field_only(self):
        self.server.script(Reply(200, {"email": f"owner@example.com\n{'x' * 500}", "companyName": "ACME"}))
        action = self.brevo.with_user(self.user_manager).action_test_connection()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("owner@example.com", action["params"]["message"])
        self.assertLess(len(action["params"]["message"]), 200)
        action = self.mandrill.with_user(self.user_manager).action_test_connection()
        self.assertEqual(action["params"]["type"], "success")


@tagged("post_install", "-at_install")
class TestMailchimpDestination(MailchimpCommon):
    """The company's Mailchimp base URL: a Mailchimp data center unless allowed otherwise."""

    def test_only_mailchimp_hosts_unless_allowed(self):
        self.env["ir.config_parameter"].set_param(ALLOWED_HOSTS_PARAM, "")
        for url in (
            "https://evil.example.com/3.0",
            "http://us6.api.mailchimp.com/3.0",
            "https://us6.api.mailchimp.com.evil.example.com/3.0",
            "https://us6.api.mailchimp.com@evil.example.com/3.0",
            self.mailchimp.base_url,
        ):
            with self.subTest(url=url), self.assertRaises(ValidationError):
                self.company.email_automation_mailchimp_base_url = url
        self.company.email_automation_mailchimp_base_url = "https://us7.api.mailchimp.com/3.0"
        self.assertEqual(self.company.email_automation_mailchimp_base_url, "https://us7.api.mailchimp.com/3.0")

    def test_a_new_base_url_clears_the_key_and_the_token(self):
        company = self.company.sudo()
        company.email_automation_mailchimp_oauth_token = "token-0123"
        company.email_automation_mailchimp_base_url = "https://us7.api.mailchimp.com/3.0"
        self.assertFalse(company.email_automation_mailchimp_api_key)
        self.assertFalse(company.email_automation_mailchimp_oauth_token)
        self.assertEqual(company.email_automation_mailchimp_base_url, "https://us7.api.mailchimp.com/3.0")
        # Credentials given with the new URL are kept; a new key keeps an allowed custom URL.
        company.write(
            {
                "email_automation_mailchimp_base_url": self.mailchimp.base_url,
                "email_automation_mailchimp_api_key": self.mailchimp.api_key,
            }
        )
        self.assertEqual(company.email_automation_mailchimp_api_key, self.mailchimp.api_key)
        company.email_automation_mailchimp_api_key = "0123456789abcdef-us9"
        self.assertEqual(company.email_automation_mailchimp_base_url, self.mailchimp.base_url)

    def test_the_key_never_leaves_for_a_host_no_longer_allowed(self):
        self.env["ir.config_parameter"].set_param(ALLOWED_HOSTS_PARAM, "")
        self.grant(self.partner_pl)
        self.sync()
        self.Member._cron_sync_audiences()
        action = self.env["res.config.settings"].create({}).action_email_automation_mailchimp_test()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn(ALLOWED_HOSTS_PARAM, action["params"]["message"])
        self.assertEqual(self.mailchimp.requests, [])
