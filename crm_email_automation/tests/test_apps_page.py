"""The Apps page: the module's name and summary in Polish, and the screenshots its
description shows are real PNG files of the module."""

import re

from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools.misc import file_open, file_path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@tagged("post_install", "-at_install")
class TestAppsPage(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("pl_PL")
        cls.module = cls.env["ir.module.module"].search([("name", "=", "crm_email_automation")])
        # Only the English name and summary, then the module's Polish terms loaded from its
        # po files, as when Polish is added to a database.
        cls.env.cr.execute(
            """UPDATE ir_module_module
                  SET shortdesc = jsonb_build_object('en_US', shortdesc->>'en_US'),
                      summary = jsonb_build_object('en_US', summary->>'en_US')
                WHERE id = %s""",
            [cls.module.id],
        )
        cls.env.invalidate_all()
        cls.env["ir.module.module"]._load_module_terms(["crm_email_automation"], ["pl_PL"], overwrite=True)

    def test_name_and_summary_are_translated(self):
        english = self.module.with_context(lang="en_US")
        polish = self.module.with_context(lang="pl_PL")
        self.assertEqual(english.shortdesc, "CRM E-mail Automation")
        self.assertEqual(polish.shortdesc, "Automatyzacja e-mail w CRM")
        self.assertTrue(polish.summary.startswith("Automatyczne scenariusze e-mail"), polish.summary)
        self.assertNotEqual(polish.summary, english.summary)
        # What the Apps list reads for a Polish user.
        polish_user = new_test_user(self.env, "apps_reader", groups="base.group_user", lang="pl_PL")
        [row] = self.module.with_user(polish_user).with_context(lang=polish_user.lang).read(["shortdesc", "summary"])
        self.assertEqual(row["shortdesc"], "Automatyzacja e-mail w CRM")
        self.assertEqual(row["summary"], polish.summary)

    def test_learn_more_points_to_the_module_page(self):
        self.assertTrue(self.module.website.endswith("/crm_email_automation"), self.module.website)

    def test_description_images_exist_and_are_png(self):
        with file_open("crm_email_automation/static/description/index.html") as index:
            html = index.read()
        sources = re.findall(r'<img[^>]*\bsrc="([^"]+)"', html)
        screenshots = [src for src in sources if not src.startswith(("http:", "https:", "/"))]
        self.assertGreaterEqual(len(screenshots), 5, sources)
        for src in screenshots:
            self.assertTrue(src.endswith(".png"), src)
            with open(file_path(f"crm_email_automation/static/description/{src}"), "rb") as image:
                self.assertEqual(image.read(8), PNG_SIGNATURE, src)
        # The page as Odoo serves it points the images at the module's static files.
        self.assertIn('src="/crm_email_automation/static/description/', self.module.description_html)
