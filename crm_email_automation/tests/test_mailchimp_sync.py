import hashlib
from urllib.parse import urlsplit

from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tests.common import _super_send

from ..providers.hosts import ALLOWED_HOSTS_PARAM
from ..providers.mailchimp import default_base_url, member_hash
from .common import EmailAutomationCommon
from .mailchimp_server import MailchimpServer, capture_logs, problem

LIST_ID = "a1b2c3d4e5"


class MailchimpCommon(EmailAutomationCommon):
    """A company whose audience lives on a local Mailchimp server, in step at the start."""

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        # Odoo raises timeouts under 10 s to 10 s in tests; the local server keeps the real
        # one so that a slow answer times out in a second. Other hosts stay blocked.
        if urlsplit(r.url).hostname == "127.0.0.1":
            return _super_send(s, r, **kw)
        return super()._request_handler(s, r, **kw)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mailchimp = MailchimpServer().start()
        cls.addClassCleanup(cls.mailchimp.stop)
        cls.env["ir.config_parameter"].set_param("crm_email_automation.mailchimp_timeout", 1)
        # The local stand-in is not a Mailchimp data center: allow it, and point at it
        # before giving the key (a new base URL clears the key).
        cls.env["ir.config_parameter"].set_param(ALLOWED_HOSTS_PARAM, "127.0.0.1")
        cls.company.email_automation_mailchimp_base_url = cls.mailchimp.base_url
        cls.company.write(
            {
                "email_automation_mailchimp_enabled": True,
                "email_automation_mailchimp_api_key": cls.mailchimp.api_key,
                "email_automation_mailchimp_list_id": LIST_ID,
            }
        )
        cls.Member = cls.env["email.automation.audience.member"]
        # Whatever the database already holds is pushed now: each test starts in step.
        cls.Member._sync_company(cls.company)

    def setUp(self):
        super().setUp()
        self.mailchimp.clear()

    def sync(self):
        return self.Member._sync_company(self.company)

    def puts(self, email=None):
        """The member PUTs the server received, for one address if given."""
        puts = self.mailchimp.member_puts()
        if email:
            puts = [r for r in puts if r["path"].endswith("/" + hashlib.md5(email.encode()).hexdigest())]
        return puts

    def member(self, partner):
        return self.Member.search([("company_id", "=", self.company.id), ("partner_id", "=", partner.id)])

    def grant(self, partners):
        partners._email_consent_record("granted", "user")


@tagged("post_install", "-at_install")
class TestMailchimpSync(MailchimpCommon):
    def test_member_hash_and_data_center_follow_mailchimp(self):
        self.assertEqual(member_hash("Urist.McVankab@freddiesjokes.com"), "62eeb292278cc15f5817cb78f7790b08")
        self.assertEqual(default_base_url("0123abcd-us6"), "https://us6.api.mailchimp.com/3.0")
        self.assertIsNone(default_base_url("no-data-center"))
        company = self.env["res.company"].create({"name": "Other"})
        company.email_automation_mailchimp_api_key = "feedbeef-us21"
        self.assertEqual(company.email_automation_mailchimp_base_url, "https://us21.api.mailchimp.com/3.0")

    def test_granted_consent_subscribes_the_contact(self):
        self.grant(self.partner_pl)
        result = self.sync()
        self.assertEqual((result["pushed"], result["failed"], result["left"]), (1, 0, 0))
        (put,) = self.puts()
        self.assertEqual(put["path"], f"/3.0/lists/{LIST_ID}/members/{member_hash('jan@example.pl')}")
        self.assertEqual(put["password"], self.mailchimp.api_key, "the key is the basic-auth password")
        self.assertEqual(
            put["body"],
            {
                "email_address": "jan@example.pl",
                "status_if_new": "subscribed",
                "status": "subscribed",
                "merge_fields": {"FNAME": "Jan", "LNAME": "Kowalski"},
            },
        )
        self.assertEqual(self.mailchimp.members[LIST_ID, member_hash("jan@example.pl")]["status"], "subscribed")
        member = self.member(self.partner_pl)
        self.assertEqual((member.email, member.status), ("jan@example.pl", "subscribed"))

    def test_withdrawn_consent_unsubscribes_without_personal_details(self):
        self.grant(self.partner_pl)
        self.sync()
        self.partner_pl._email_consent_record("withdrawn", "user")
        self.mailchimp.clear()
        self.sync()
        (put,) = self.puts("jan@example.pl")
        self.assertEqual(
            put["body"],
            {"email_address": "jan@example.pl", "status_if_new": "unsubscribed", "status": "unsubscribed"},
        )
        self.assertEqual(self.member(self.partner_pl).status, "unsubscribed")

    def test_suppressed_addresses_are_cleaned_whatever_suppressed_them(self):
        self.grant(self.partner_pl | self.partner_en)
        self.sync()
        self.mailchimp.clear()
        Suppression = self.env["email.automation.suppression"]
        Suppression._register_bounce(["jan@example.pl"], hard=True)
        for _bounce in range(3):  # the soft-bounce run suppresses without calling _suppress
            Suppression._register_bounce(["john@example.com"], hard=False)
        self.sync()
        self.assertEqual([p["body"]["status"] for p in self.puts("jan@example.pl")], ["cleaned"])
        self.assertEqual([p["body"]["status"] for p in self.puts("john@example.com")], ["cleaned"])

    def test_unchanged_contacts_are_not_pushed_again(self):
        self.grant(self.partner_pl | self.partner_en)
        self.sync()
        self.assertEqual(len(self.puts()), 2)
        self.mailchimp.clear()
        self.partner_pl.write({"phone": "+48 600 000 000", "name": "Jan Nowak-Kowalski"})
        result = self.sync()
        self.assertEqual(self.puts(), [])
        self.assertEqual((result["pushed"], result["left"]), (0, 0))

    def test_contacts_without_consent_or_address_are_not_pushed(self):
        self.env["res.partner"].create({"name": "No address"})._email_consent_record("granted", "user")
        self.env["res.partner"].create({"name": "Undecided", "email": "undecided@example.com"})
        self.sync()
        self.assertEqual(self.puts(), [])

    def test_a_changed_address_unsubscribes_the_old_one(self):
        self.grant(self.partner_pl)
        self.sync()
        self.mailchimp.clear()
        self.partner_pl.email = "jan.kowalski@example.pl"
        self.sync()
        self.assertEqual([p["body"]["status"] for p in self.puts("jan@example.pl")], ["unsubscribed"])
        self.assertEqual([p["body"]["status"] for p in self.puts("jan.kowalski@example.pl")], ["subscribed"])
        self.assertEqual(self.member(self.partner_pl).email, "jan.kowalski@example.pl")

    def test_transient_errors_leave_the_contact_for_the_next_run(self):
        self.grant(self.partner_pl)
        for answer in (
            problem(500, "Internal Server Error", "An unexpected internal error has occurred."),
            problem(503, "Service Unavailable", "Try again later."),
            ("slow", 2),  # beyond the 1 s timeout
        ):
            self.mailchimp.script.append(answer)
            result = self.sync()
            self.assertEqual((result["pushed"], result["failed"], result["left"]), (0, 0, 1), answer)
            self.assertFalse(self.member(self.partner_pl).status)
            self.assertFalse(self.member(self.partner_pl).error, "a transient error is not recorded as a refusal")
        result = self.sync()
        self.assertEqual(result["pushed"], 1)
        self.assertEqual(len(self.puts("jan@example.pl")), 4)
        self.assertEqual(self.member(self.partner_pl).status, "subscribed")

    def test_rate_limit_stops_the_run(self):
        self.grant(self.partner_pl | self.partner_en)
        detail = "You have exceeded the limit of 10 simultaneous connections."
        self.mailchimp.script.append(problem(429, "Too Many Requests", detail))
        result = self.sync()
        self.assertEqual(len(self.puts()), 1, "nothing more is tried once Mailchimp asks to slow down")
        self.assertIn("Too Many Requests", result["error"])
        self.assertEqual(result["left"], 2)
        self.mailchimp.clear()
        self.sync()
        self.assertEqual(len(self.puts()), 2)

    def test_permanent_error_is_recorded_and_not_retried(self):
        self.grant(self.partner_pl | self.partner_en)
        detail = "jan@example.pl looks fake or invalid, please enter a real email address."
        self.mailchimp.script.append(problem(400, "Invalid Resource", detail))
        result = self.sync()
        self.assertEqual((result["pushed"], result["failed"], result["left"]), (1, 1, 0))
        refused = self.Member.with_user(self.user_manager).search([("error", "!=", False)])
        self.assertEqual(refused.partner_id, self.partner_pl, "the manager sees which contact was refused")
        self.assertIn(detail, refused.error)
        self.mailchimp.clear()
        self.sync()
        self.assertEqual(self.puts(), [], "a refused push is not retried forever")
        # A change of the contact deserves a new try; so does the manager's Retry.
        self.partner_pl._email_consent_record("withdrawn", "user")
        self.sync()
        self.assertEqual([p["body"]["status"] for p in self.puts("jan@example.pl")], ["unsubscribed"])
        self.assertFalse(self.member(self.partner_pl).error)

    def test_manager_retry_tries_a_refused_contact_again(self):
        self.grant(self.partner_pl)
        self.mailchimp.script.append(problem(400, "Member In Compliance State", "The contact is in compliance state."))
        self.sync()
        self.Member.with_user(self.user_manager).search([("error", "!=", False)]).action_retry()
        self.sync()
        self.assertEqual(len(self.puts("jan@example.pl")), 2)
        self.assertEqual(self.member(self.partner_pl).status, "subscribed")

    def test_refused_key_stops_the_sync_and_alerts_the_managers_once(self):
        self.grant(self.partner_pl | self.partner_en)
        self.mailchimp.api_key = "another-key-us6"  # the account's key was revoked
        self.addCleanup(setattr, self.mailchimp, "api_key", self.company.sudo().email_automation_mailchimp_api_key)
        for _run in range(3):
            result = self.sync()
            self.assertIn("API Key Invalid", result["error"])
        self.assertEqual(len(self.puts()), 3, "one refused call per run, not one per contact")
        self.assertTrue(self.company.email_automation_mailchimp_auth_failed)
        activities = self.env["mail.activity"].search(
            [("res_model", "=", "res.partner"), ("res_id", "=", self.company.partner_id.id)]
        )
        self.assertEqual(activities.filtered(lambda a: a.user_id == self.user_manager).mapped("summary"),
                         ["Mailchimp audience sync stopped"])  # fmt: skip
        self.assertNotIn("another-key", str(activities.mapped("note")))
        self.assertNotIn(self.mailchimp.api_key, str(activities.mapped("note")))
        # The key is fixed: the sync resumes.
        self.mailchimp.api_key = self.company.sudo().email_automation_mailchimp_api_key
        self.mailchimp.clear()
        result = self.sync()
        self.assertEqual(result["pushed"], 2)
        self.assertFalse(self.company.email_automation_mailchimp_auth_failed)

    def test_a_neutralized_database_never_calls_mailchimp(self):
        self.env["ir.config_parameter"].set_param("database.is_neutralized", True)
        self.grant(self.partner_pl)
        self.sync()
        self.Member._cron_sync_audiences()
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.action_email_automation_mailchimp_test()["params"]["type"], "warning")
        settings.action_email_automation_mailchimp_sync()
        self.assertEqual(self.mailchimp.requests, [])

    def test_cron_syncs_the_companies_that_enabled_it(self):
        self.grant(self.partner_pl)
        self.company.email_automation_mailchimp_enabled = False
        self.Member._cron_sync_audiences()
        self.assertEqual(self.puts(), [])
        self.company.email_automation_mailchimp_enabled = True
        self.Member._cron_sync_audiences()
        self.assertEqual(len(self.puts("jan@example.pl")), 1)
        cron = self.env.ref("crm_email_automation.ir_cron_sync_mailchimp_audiences")
        self.assertEqual(cron.code.strip(), "model._cron_sync_audiences()")

    def test_sync_now_button_reports_the_counts(self):
        self.grant(self.partner_pl | self.partner_en)
        action = self.env["res.config.settings"].create({}).action_email_automation_mailchimp_sync()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("2 contact(s) updated", action["params"]["message"])
        self.assertEqual(len(self.puts()), 2)


@tagged("post_install", "-at_install")
class TestMailchimpSettings(MailchimpCommon):
    def test_connection_reports_success_with_the_audience_name(self):
        action = self.env["res.config.settings"].create({}).action_email_automation_mailchimp_test()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("Newsletter", action["params"]["message"])
        paths = [r["path"].split("?")[0] for r in self.mailchimp.requests]
        self.assertEqual(paths, ["/3.0/ping", f"/3.0/lists/{LIST_ID}"])

    def test_connection_reports_mailchimps_message_never_the_key(self):
        settings = self.env["res.config.settings"].create({"email_automation_mailchimp_list_id": "nosuchlist"})
        action = settings.action_email_automation_mailchimp_test()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("The requested resource could not be found.", action["params"]["message"])
        wrong_key = "ffffffffffffffffffffffffffffffff-us6"
        settings = self.env["res.config.settings"].create(
            {"email_automation_mailchimp_list_id": LIST_ID, "email_automation_mailchimp_api_key": wrong_key}
        )
        settings.email_automation_mailchimp_base_url = self.mailchimp.base_url
        self.env.flush_all()
        with capture_logs() as logs:
            action = settings.action_email_automation_mailchimp_test()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("API Key Invalid", action["params"]["message"])
        self.assertNotIn(wrong_key, action["params"]["message"])
        self.assertIn("127.0.0.1", logs.output, "urllib3's request log is captured")
        self.assertNotIn(wrong_key, logs.output)

    def test_credentials_are_for_system_administrators_only(self):
        company = self.company.with_user(self.user_manager)
        for field in ("email_automation_mailchimp_api_key", "email_automation_mailchimp_webhook_secret"):
            with self.assertRaises(AccessError):
                company.read([field])
            self.assertFalse(self.company._fields[field].exportable)
        self.assertEqual(company.read(["email_automation_mailchimp_list_id"])[0]["email_automation_mailchimp_list_id"],
                         LIST_ID)  # fmt: skip

    def test_each_company_gets_its_own_webhook_url(self):
        other = self.env["res.company"].create({"name": "Other", "email_automation_mailchimp_enabled": True})
        url = self.company.email_automation_mailchimp_webhook_url
        secret = self.company.email_automation_mailchimp_webhook_secret
        self.assertGreaterEqual(len(secret), 32)
        self.assertTrue(url.endswith(f"/email_automation/webhook/mailchimp/{secret}"))
        self.assertNotEqual(other.email_automation_mailchimp_webhook_secret, secret)
        self.assertFalse(self.env["res.company"].create({"name": "Idle"}).email_automation_mailchimp_webhook_url)

    def test_secrets_stay_out_of_the_logs(self):
        self.grant(self.partner_pl | self.partner_en)
        self.mailchimp.script.append(problem(400, "Invalid Resource", "Bad address."))
        with capture_logs() as logs:
            self.sync()
            self.mailchimp.api_key = "rotated-us6"
            self.sync()
            self.Member._cron_sync_audiences()
        self.mailchimp.api_key = self.company.sudo().email_automation_mailchimp_api_key
        output = logs.output
        self.assertIn("Mailchimp refused", output)
        self.assertNotIn(self.company.sudo().email_automation_mailchimp_api_key, output)
