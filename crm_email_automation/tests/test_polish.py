"""The Polish translation meets the project's standard (one polite register for customers,
Odoo's own terms, whole sentences, a right plural rule), checked on the po file itself and on
what a Polish customer really receives: e-mails through the SMTP server, pages over HTTP."""

import gettext
import re
from collections import Counter
from pathlib import Path

import polib
from babel.messages import extract

from odoo.tests import TransactionCase, tagged
from odoo.tools.misc import file_path

from .common import body_text, warm_up_http_statics
from .test_unsubscribe_http import HttpPolicyCommon

PO_PATH = "crm_email_automation/i18n/pl.po"

# Second person singular forms: never in what a customer reads (the polite "Państwo" is).
INFORMAL = re.compile(
    r"\b(ty|ci|cię|ciebie|tobie|twój|twoja|twoje|twojego|twojej|twoim|twoją|twoich|twoimi"
    r"|prosiłeś|prosiłaś|możesz|chcesz|będziesz|zignoruj|wypisz|potwierdź|kliknij)\b",
    re.IGNORECASE,
)

# Where an entry is used decides who reads it.
CUSTOMER_LOCATIONS = re.compile(
    r"^(code:addons/crm_email_automation/controllers/"
    r"|code:addons/crm_email_automation/models/email_automation_mail_sender_policy\.py"
    r"|model_terms:ir\.ui\.view,arch_db:crm_email_automation\.(page_|public_layout)"
    r"|model:mail\.template,(body_html|subject):crm_email_automation\."
    r"|model(_terms)?:email\.automation\.consent\.wording,(name|text):)"
)

# Odoo's own words (Odoo 18's pl.po files), exactly.
GLOSSARY = {
    "Delivered": "Dostarczone",
    "Replied": "Odpowiedziane",
    "Opened": "Otwarte",
    "Clicked": "Kliknięte",
    "Schedule an activity": "Zaplanuj czynność",
    "Lead/Opportunity": "Lead/Okazja",
    "Leads/Opportunities": "Leady/Okazje",
    "Manager": "Menedżer",
    "Enrol": "Dodaj do scenariusza",
    "After enrolment": "Po dodaniu do scenariusza",
    "Trace": "Wykonanie kroku",
    "Hard bounce": "Trwałe odbicie",
    "Soft bounce": "Tymczasowe odbicie",
    "E-mail Marketing Consent": "Zgoda na marketing e-mailowy",
    "E-mail Consent": "Zgoda na marketing e-mailowy",
    "Marketing Consent": "Zgoda na marketing e-mailowy",
    "Server Action": "Akcja serwera",
    "Personal data erased (GDPR Art. 17).": "Dane osobowe usunięte (art. 17 RODO).",
    "Personal data exported (GDPR Art. 15).": "Dane osobowe wyeksportowane (art. 15 RODO).",
}
# The review's findings: words that must not come back in this module's own entries.
BANNED = [
    "Leady/Szanse",
    "kierownik",
    "Kierownik",
    "aktywnoś",
    "Aktywnoś",
    "doręcz",
    "Doręcz",
    "Krok uczestnika",
    "Zapisz do scenariusza",
    "Z odpowiedzią",
    "Odpowiedziano",
    "RODO, art.",
    "Zgoda na e-mail marketing",
    "zgody na e-mail marketing",
    "Zgoda na e-maile",
    "zgody na e-maile",
    "Zgoda marketingowa",
    "zgody marketingowej",
    "z którego wiadomości",
    "Ten link jest osobisty",
    "Którędy",
]
# Entries that repeat another module's translation verbatim (fields Odoo's models bring
# along, like the chatter's): their words are Odoo's, not this module's.
FOREIGN_LOCATIONS = re.compile(
    r"__(message_|website_message_ids|has_message)|field_ir_actions_server__|field_ir_cron__"
)

PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\{.*?\}\}|\bt-[\w-]+=\"[^\"]*\"")


def polish_plural_form(n):
    """The form Polish grammar needs for the integer n: 1 plik, 2-4 pliki (not 12-14), 5 plików."""
    if n == 1:
        return 0
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return 1
    return 2


@tagged("post_install", "-at_install")
class TestPolishPoFile(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.po = polib.pofile(file_path(PO_PATH))
        cls.entries = [entry for entry in cls.po if not entry.obsolete]

    def customer_entries(self):
        return [
            entry
            for entry in self.entries
            if any(CUSTOMER_LOCATIONS.match(occurrence) for occurrence, _line in entry.occurrences)
        ]

    def test_plural_forms_is_odoos_polish_header_and_right_for_every_count(self):
        odoo_header = polib.pofile(file_path("base/i18n/pl.po")).metadata["Plural-Forms"]
        header = self.po.metadata["Plural-Forms"]
        self.assertEqual(header, odoo_header)
        nplurals = int(re.search(r"nplurals=(\d+)", header).group(1))
        plural = gettext.c2py(re.search(r"plural=(.+?);?$", header).group(1))
        for n in range(0, 1001):
            self.assertEqual(plural(n), polish_plural_form(n), f"wrong plural form for {n}")
            self.assertLess(plural(n), nplurals)
        for entry in self.entries:
            if entry.msgid_plural:
                self.assertEqual(len(entry.msgstr_plural), nplurals, entry.msgid)

    def test_every_entry_is_translated_and_none_is_fuzzy(self):
        self.assertGreater(len(self.entries), 500)
        for entry in self.entries:
            self.assertNotIn("fuzzy", entry.flags, entry.msgid)
            translated = entry.msgstr or all(entry.msgstr_plural.values())
            self.assertTrue(translated, f"untranslated: {entry.msgid!r}")

    def test_every_python_file_gives_its_terms_to_the_export(self):
        """Odoo's export reads Python files with Babel, which gives up on a whole file (an
        f-string among a translated call's arguments, say) with no more than a log line: its
        terms then silently miss from the pot and stay in English."""
        module_dir = Path(file_path("crm_email_automation"))
        for source in sorted(module_dir.rglob("*.py")):
            with self.subTest(source=str(source.relative_to(module_dir))), source.open("rb") as code:
                list(extract.extract("python", code, keywords={"_": None, "_lt": None}))

    def test_every_placeholder_of_the_source_is_in_the_translation(self):
        for entry in self.entries:
            source = Counter(PLACEHOLDER.findall(entry.msgid))
            translations = [entry.msgstr] if not entry.msgid_plural else list(entry.msgstr_plural.values())
            for translation in translations:
                self.assertEqual(Counter(PLACEHOLDER.findall(translation)), source, entry.msgid)

    def test_customers_are_addressed_politely(self):
        customer = self.customer_entries()
        # The e-mails, their footer, the public pages and the consent wording: all there.
        self.assertGreater(len(customer), 20)
        self.assertIn("Rezygnuję z otrzymywania tych wiadomości", [e.msgstr for e in customer])
        for entry in customer:
            text = re.sub(r"<[^>]+>", " ", entry.msgstr)
            self.assertNotRegex(text, INFORMAL, f"informal address in {entry.occurrences[0][0]}")

    def test_customer_sentences_are_whole(self):
        """A name inside a sentence is part of the sentence (Polish declines around it),
        never a fragment before or after it."""
        for entry in self.customer_entries():
            if any("arch_db" in occurrence for occurrence, _line in entry.occurrences):
                self.assertRegex(entry.msgid, r"^(<|[A-Z0-9])", f"fragment of a sentence: {entry.msgid!r}")
                self.assertRegex(entry.msgstr, r"^(<|[A-ZĄĆĘŁŃÓŚŹŻ0-9])", f"fragment: {entry.msgstr!r}")
        page = next(e for e in self.entries if e.msgid.startswith("Do you want to stop receiving"))
        self.assertIn('od firmy <strong class="o_translate_inline" t-out="company.name"/>', page.msgstr)

    def test_odoos_own_terms_are_used(self):
        translations = {entry.msgid: entry.msgstr for entry in self.entries}
        for english, polish in GLOSSARY.items():
            self.assertEqual(translations.get(english), polish, english)
        for entry in self.entries:
            if any(FOREIGN_LOCATIONS.search(occurrence) for occurrence, _line in entry.occurrences):
                continue
            for banned in BANNED:
                self.assertNotIn(banned, entry.msgstr, f"{entry.msgid!r}")

    def test_demo_names_and_consent_wording_are_in_polish(self):
        def polish(xmlid):
            return self.env.ref(f"crm_email_automation.{xmlid}").with_context(lang="pl_PL")

        self.assertEqual(polish("email_automation_scenario_demo_welcome").name, "Powitanie nowego klienta")
        self.assertEqual(polish("email_automation_step_demo_welcome_mail").name, "Wiadomość powitalna")
        self.assertEqual(
            polish("email_automation_step_demo_welcome_call").activity_summary, "Telefon powitalny do nowego klienta"
        )
        self.assertIn("Przedstaw się", polish("email_automation_step_demo_welcome_call").activity_note)
        self.assertEqual(polish("email_automation_step_demo_idle_quotation_reminder_2").name, "Drugie przypomnienie")
        self.assertIn(
            "„Powitanie nowego klienta”", polish("mail_template_demo_partner_welcome").description, "same name"
        )

        wording = polish("email_automation_consent_wording_demo")
        company = self.env.ref("base.main_company").name
        self.assertEqual(wording.version, "1")
        self.assertEqual(wording.name, "Zgoda na marketing e-mailowy")
        text = re.sub(r"<[^>]+>", "", wording.text)
        for required in (
            f"od firmy {company}, administratora moich danych osobowych",
            "informacji handlowych",
            "drogą elektroniczną",
            "na podany adres e-mail",
            "marketingu bezpośredniego",
            "art. 398",
            "w każdej chwili",
            "linku do rezygnacji",
            "art. 7 ust. 3 RODO",
            "polityka prywatności",
        ):
            self.assertIn(required, text)
        self.assertIn('href="', wording.text, "the privacy notice is linked")
        english = wording.with_context(lang="en_US").text
        self.assertIn(f"from {company}, the controller of my personal data", english)
        self.assertIn("Art. 7(3) GDPR", english)


@tagged("post_install", "-at_install")
class TestPolishCustomerTexts(HttpPolicyCommon):
    """What a Polish customer receives: a demo e-mail through the SMTP server, the consent
    request, and the public pages over HTTP, with the translations the module installs."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        warm_up_http_statics()
        cls.config.set_param("crm_email_automation.quiet_hours", False)
        cls.company_name = cls.env.company.name

    def plain(self, html):
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()

    def assertPolite(self, text):
        self.assertNotRegex(text, INFORMAL)

    def test_demo_welcome_e_mail_and_unsubscribe_pages_speak_politely(self):
        self.grant(self.partner_pl)
        welcome = self.env.ref("crm_email_automation.mail_template_demo_partner_welcome")
        scenario = self.marketing_scenario(
            steps=[{"name": "Welcome", "trigger_type": "begin", "mail_template_id": welcome.id}]
        )
        scenario._enrol(self.partner_pl.ids)
        self.run_queue()
        (message,) = self.assertSentTo("jan@example.pl")
        self.assertEqual(message["Subject"], f"Witamy w gronie klientów firmy {self.company_name}")
        body = self.plain(body_text(message))
        self.assertIn("Dzień dobry, Jan Kowalski,", body)
        self.assertIn(f"dziękujemy za wybór firmy {self.company_name}", body)
        self.assertIn("dołączyli Państwo do grona naszych klientów", body)
        self.assertIn("Rezygnuję z otrzymywania tych wiadomości", body, "the footer link")
        self.assertPolite(body)

        path = "/email_automation/unsubscribe/" + message["List-Unsubscribe"].split(",")[0].strip(" <>").rsplit("/")[-1]
        page = self.url_open(path)
        self.assertEqual(page.status_code, 200)
        text = self.plain(page.text)
        self.assertIn(
            "Czy chcą Państwo zrezygnować z otrzymywania wiadomości marketingowych "
            f"od firmy {self.company_name} na adres jan@example.pl?",
            text,
        )
        self.assertIn("Nadal będą Państwo otrzymywać wiadomości dotyczące Państwa zamówień i zapytań.", text)
        self.assertIn("Rezygnuję z otrzymywania wiadomości marketingowych", text, "the button")
        self.assertPolite(text)

        done = self.plain(self.url_open(path, data={"List-Unsubscribe": "One-Click"}).text)
        self.assertIn("Zrezygnowali Państwo z subskrypcji", done)
        self.assertIn(
            f"Na adres jan@example.pl nie będą już wysyłane wiadomości marketingowe od firmy {self.company_name}.", done
        )
        self.assertPolite(done)
        again = self.plain(self.url_open(path).text)
        self.assertIn(
            "Adres jan@example.pl jest już wypisany z listy odbiorców naszych wiadomości marketingowych.", again
        )

    def test_consent_request_and_pages_speak_politely(self):
        self.partner_pl._email_consent_send_confirmation()
        self.env["mail.mail"].search([("email_to", "ilike", "jan@example.pl")]).send(raise_exception=True)
        (message,) = [m for m in self.smtp.all_messages if "jan@example.pl" in str(m["To"])]
        self.assertEqual(
            message["Subject"], f"Prosimy o potwierdzenie subskrypcji wiadomości od firmy {self.company_name}"
        )
        html = message.get_body(("html",)).get_content()
        body = self.plain(html)
        self.assertIn("Dzień dobry, Jan Kowalski,", body)
        self.assertIn(
            f"Prosimy o potwierdzenie, że firma {self.company_name} może wysyłać Państwu wiadomości marketingowe "
            "na adres jan@example.pl.",
            body,
        )
        self.assertIn("Potwierdzam subskrypcję", body, "the button is the customer's own statement")
        self.assertIn("Link jest przeznaczony wyłącznie dla Państwa", body)
        self.assertPolite(body)

        link = re.search(r'href="[^"]*(/email_automation/consent/[^"]+)"', html).group(1).replace("&amp;", "&")
        page = self.url_open(link)
        text = self.plain(page.text)
        self.assertIn("Potwierdzenie subskrypcji", text)
        self.assertIn(
            f"Prosimy o potwierdzenie, że firma {self.company_name} może wysyłać wiadomości marketingowe "
            "na adres jan@example.pl.",
            text,
        )
        self.assertIn("Wyrażam zgodę", text)
        self.assertPolite(text)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        confirmed = self.plain(self.url_open(link, data={"csrf_token": csrf}).text)
        self.assertIn("Dziękujemy, subskrypcja została potwierdzona", confirmed)
        self.assertIn("Z subskrypcji mogą Państwo zrezygnować w każdej chwili", confirmed)
        self.assertPolite(confirmed)
