"""Scenarios as code: the YAML export, the checks that name the line of each problem, the
diff, the all-or-nothing apply and who may import."""

import base64

import yaml

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .scenario_document_common import ScenarioDocumentCommon


@tagged("post_install", "-at_install")
class TestScenarioDocument(ScenarioDocumentCommon):
    maxDiff = None

    def setUp(self):
        super().setUp()
        self.Document = self.env["email.automation.scenario.document"]

    def renamed(self, text, suffix="_copy"):
        """The document with new codes: importing it creates new records."""
        for code in ("quotation_follow_up", "first_mail", "opened_call", "not_opened_reminder", "quotation_mail"):
            text = text.replace(f" {code}\n", f" {code}{suffix}\n")
        return text

    def test_export_holds_steps_templates_and_every_language(self):
        data = yaml.safe_load(self.export())
        self.assertEqual(data["version"], 1)
        [scenario] = data["scenarios"]
        self.assertEqual(scenario["code"], "quotation_follow_up")
        self.assertEqual(scenario["name"]["pl_PL"], "Kontakt w sprawie oferty")
        self.assertEqual(scenario["model_id"], "sale.order")
        self.assertEqual(scenario["trigger_field_ids"], ["state"])
        self.assertEqual(scenario["frequency_cap_count"], 2)
        steps = {step["code"]: step for step in scenario["step_ids"]}
        self.assertEqual(steps["opened_call"]["parent_id"], "first_mail")
        self.assertEqual(steps["opened_call"]["activity_type_id"], "mail.mail_activity_data_call")
        self.assertEqual(steps["opened_call"]["activity_summary"]["pl_PL"], "Telefon w sprawie oferty")
        self.assertEqual(steps["not_opened_reminder"]["trigger_window"], 3)
        self.assertEqual(steps["first_mail"]["mail_template_id"], "quotation_mail")
        [template] = data["templates"]
        self.assertEqual(template["email_automation_code"], "quotation_mail")
        self.assertEqual(template["subject"]["pl_PL"], "W sprawie oferty {{ object.name }}")
        self.assertNotIn("id", scenario)  # no database ids

    def test_import_into_the_same_database_changes_nothing(self):
        text = self.export()
        diff = self.Document._diff(self.Document._read_document(text))
        mine = [item for item in diff if item["key"] in ("quotation_follow_up", "quotation_mail")]
        self.assertEqual([item["status"] for item in mine], ["unchanged", "unchanged"])
        self.assertFalse(self.Document._diff_has_changes([i for i in diff if i["status"] != "kept"]))

    def test_import_creates_the_same_scenario_under_new_codes(self):
        text = self.renamed(self.export())
        self.Document.with_user(self.user_manager)._import_text(text)
        copy = self.env["email.automation.scenario"].search([("code", "=", "quotation_follow_up_copy")])
        self.assertEqual(copy.state, "draft")
        self.assertEqual(copy.user_id, self.user_manager)
        self.assertEqual(copy.with_context(lang="pl_PL").name, "Kontakt w sprawie oferty")
        self.assertEqual(len(copy.step_ids), 3)
        template = self.env["mail.template"].search([("email_automation_code", "=", "quotation_mail_copy")])
        self.assertNotEqual(template, self.template_order)
        self.assertEqual(template.with_context(lang="pl_PL").subject, "W sprawie oferty {{ object.name }}")
        self.assertEqual(copy.step_ids.mail_template_id, template)
        # Exported again, the copy is the same document.
        self.assertEqual(self.export(copy), text)

    def test_errors_name_their_line_and_change_nothing(self):
        text = self.export()
        bad = (
            text.replace("model_id: sale.order", "model_id: sale.ordr", 1)
            .replace("  holdout_percent: 10", "  holdout_percentage: 10")
            .replace("mail_template_id: quotation_mail", "mail_template_id: no_such_template", 1)
        )
        with self.assertRaises(UserError) as caught:
            self.Document._read_document(bad)
        message = caught.exception.args[0]
        self.assertIn(f"line {self.line_of(bad, 'model_id: sale.ordr')}: unknown model 'sale.ordr'", message)
        self.assertIn(
            f"line {self.line_of(bad, 'holdout_percentage')}: unknown field 'holdout_percentage' "
            "on model 'email.automation.scenario'",
            message,
        )
        self.assertIn(f"line {self.line_of(bad, 'no_such_template')}: unknown template 'no_such_template'", message)
        wrong_field = text.replace("- state", "- stat", 1)
        with self.assertRaisesRegex(
            UserError, f"line {self.line_of(wrong_field, '- stat')}: unknown field 'stat' on model 'sale.order'"
        ):
            self.Document._read_document(wrong_field)
        with self.assertRaisesRegex(UserError, "line 1: this document is version 2; this database reads version 1"):
            self.Document._read_document(text.replace("version: 1", "version: 2"))
        with self.assertRaisesRegex(UserError, "Line 3: this is not valid YAML"):
            self.Document._read_document("version: 1\nscenarios:\n\t- code: tab\n")
        self.assertEqual(self.export(), text)

    def test_a_bad_last_scenario_rolls_back_the_whole_file(self):
        text = self.export()
        first = self.renamed(text, "_a")
        # Read correctly, refused when saved: the goal names a field sale orders lack.
        second = yaml.safe_load(self.renamed(text, "_b"))
        second["scenarios"][0]["goal_domain"] = "[('no_such_field', '=', 1)]"
        data = yaml.safe_load(first)
        data["scenarios"] += second["scenarios"]
        data["templates"] += second["templates"]
        data["scenarios"][0]["step_ids"][0]["delay"] = 9  # and a change to an existing-looking step
        combined = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        template_subject = self.template_order.subject
        with self.assertRaises(UserError) as caught:
            self.Document.with_user(self.user_manager)._import_text(combined)
        line = self.line_of(combined, "code: quotation_follow_up_b")
        self.assertIn(f"line {line} (quotation_follow_up_b)", caught.exception.args[0])
        Scenario = self.env["email.automation.scenario"]
        self.assertFalse(Scenario.search([("code", "in", ["quotation_follow_up_a", "quotation_follow_up_b"])]))
        self.assertFalse(self.env["mail.template"].search([("email_automation_code", "like", "quotation_mail_")]))
        self.assertEqual(self.template_order.subject, template_subject)

    def test_changes_apply_and_removed_steps_go(self):
        data = yaml.safe_load(self.export())
        steps = data["scenarios"][0]["step_ids"]
        steps[0]["delay"] = 5
        steps[:] = [step for step in steps if step["code"] != "not_opened_reminder"]
        self.Document.with_user(self.user_manager)._import_text(yaml.safe_dump(data, allow_unicode=True))
        self.assertEqual(self.step_mail.delay, 5)
        self.assertFalse(self.step_not_opened.exists())
        self.assertEqual(self.scenario.step_ids, self.step_mail | self.step_opened)

    def test_only_managers_import_with_their_own_rights(self):
        text = self.renamed(self.export())
        Wizard = self.env["email.automation.scenario.import"]
        for user in (self.user_salesman, self.user_user):
            with self.assertRaises(AccessError):
                Wizard.with_user(user).create({"document_file": base64.b64encode(text.encode())})
            with self.assertRaises(UserError):
                self.Document.with_user(user)._import_text(text)
        self.assertFalse(self.env["email.automation.scenario"].search([("code", "=", "quotation_follow_up_copy")]))
        # A manager cannot change a scenario run with someone else's rights by importing it.
        self.scenario.user_id = self.env.ref("base.user_admin")
        changed = self.export().replace("  holdout_percent: 10", "  holdout_percent: 50")
        with self.assertRaisesRegex(
            UserError, f"line {self.line_of(changed, 'code: quotation_follow_up')} .*Mitchell Admin"
        ):
            self.Document.with_user(self.user_manager)._import_text(changed)
        self.assertEqual(self.scenario.holdout_percent, 10)

    def test_wizard_shows_the_diff_then_applies(self):
        data = yaml.safe_load(self.export())
        data["scenarios"][0]["step_ids"][0]["delay"] = 4
        data["scenarios"][0]["step_ids"].pop()  # the reminder
        new_step = dict(data["scenarios"][0]["step_ids"][1], code="won_call", name="Second call")
        data["scenarios"][0]["step_ids"].append(new_step)
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        wizard = (
            self.env["email.automation.scenario.import"]
            .with_user(self.user_manager)
            .with_context(lang="en_US")
            .create({"document_file": base64.b64encode(text.encode()), "filename": "scenarios.yaml"})
        )
        wizard.action_check()
        self.assertEqual(wizard.state, "review")
        self.assertTrue(wizard.has_changes)
        diff = str(wizard.diff_html)
        name = self.scenario.with_context(lang=self.Document._languages()[0]).name
        self.assertIn(f"Changed</span> <b>{name}</b>", diff)
        self.assertIn("first_mail", diff)
        self.assertIn("Delay: <del>2</del> → <ins>4</ins>", diff)
        self.assertIn("Removed</span> Reminder <code>not_opened_reminder</code>", diff)
        self.assertIn("Added</span> Second call", diff)
        self.assertEqual(self.step_mail.delay, 2)  # nothing applied yet
        action = wizard.action_apply()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(self.step_mail.delay, 4)
        self.assertFalse(self.step_not_opened.exists())
        self.assertIn("won_call", self.scenario.step_ids.mapped("code"))

    # ------------------------------------------------------------------
    # A/B variants
    # ------------------------------------------------------------------

    def with_variants(self):
        """The first e-mail step tests two subjects, B translated into Polish."""
        self.step_mail.write(
            {
                "ab_metric": "open",
                "ab_auto_winner": True,
                "ab_winner_after_count": 200,
                "variant_ids": [
                    Command.create({"code": "short", "name": "A", "share": 40, "subject": "Your quotation"}),
                    Command.create(
                        {"code": "personal", "name": "B", "share": 60, "subject": "For you, {{ object.name }}"}
                    ),
                ],
            }
        )
        variant_b = self.step_mail.variant_ids.filtered(lambda v: v.code == "personal")
        variant_b.update_field_translations("subject", {"pl_PL": "Dla Ciebie, {{ object.name }}"})
        return self.step_mail.variant_ids

    def test_variants_travel_and_come_back_identical(self):
        variants = self.with_variants()
        text = self.export()
        data = yaml.safe_load(text)
        step = next(step for step in data["scenarios"][0]["step_ids"] if step["code"] == "first_mail")
        ab_rule = (step["ab_metric"], step["ab_auto_winner"], step["ab_winner_after_count"])
        self.assertEqual(ab_rule, ("open", True, 200))
        self.assertEqual([v["code"] for v in step["variant_ids"]], ["short", "personal"])
        self.assertEqual(step["variant_ids"][1]["subject"]["pl_PL"], "Dla Ciebie, {{ object.name }}")
        self.assertEqual(step["variant_ids"][1]["share"], 60)
        self.assertNotIn("is_winner", step["variant_ids"][0])  # a result, not configuration
        self.Document.with_user(self.user_manager)._import_text(self.renamed(text))
        copy = self.env["email.automation.scenario"].search([("code", "=", "quotation_follow_up_copy")])
        copied = copy.step_ids.filtered(lambda s: s.code == "first_mail_copy").variant_ids
        self.assertEqual(copied.mapped("code"), ["short", "personal"])
        self.assertFalse(copied & variants)
        self.assertEqual(copied.with_context(lang="pl_PL")[1].subject, "Dla Ciebie, {{ object.name }}")
        self.assertEqual(self.export(copy), self.renamed(text))

    def test_variant_shares_not_adding_up_are_refused_with_their_line(self):
        self.with_variants()
        text = self.export()
        bad = text.replace("share: 60", "share: 50", 1)
        with self.assertRaises(UserError) as caught:
            self.Document.with_user(self.user_manager)._import_text(bad)
        message = caught.exception.args[0]
        self.assertIn(f"line {self.line_of(bad, 'code: first_mail')} (first_mail)", message)
        self.assertIn("add up to 90%", message)
        self.assertEqual(self.export(), text)
        # Moving shares between variants passes, whatever the order the lines are written in.
        moved = text.replace("share: 40", "share: 70", 1).replace("share: 60", "share: 30", 1)
        self.Document.with_user(self.user_manager)._import_text(moved)
        self.assertEqual(self.step_mail.variant_ids.mapped("share"), [70, 30])

    def test_variants_missing_from_the_file_go_or_are_archived_when_sent(self):
        short, personal = self.with_variants()
        participant = self.env["email.automation.participant"].create(
            {
                "scenario_id": self.scenario.id,
                "res_model": "res.partner",
                "res_id": self.env.user.partner_id.id,
                "partner_id": self.env.user.partner_id.id,
            }
        )
        trace = self.env["email.automation.trace"].create(
            {"participant_id": participant.id, "step_id": self.step_mail.id, "variant_id": personal.id}
        )
        data = yaml.safe_load(self.export())
        step = next(step for step in data["scenarios"][0]["step_ids"] if step["code"] == "first_mail")
        step["variant_ids"] = [dict(step["variant_ids"][0], code="third", share=100)]
        text = yaml.safe_dump(data, allow_unicode=True)
        diff = self.Document.with_context(lang="en_US")._diff(self.Document._read_document(text))
        diff_text = self.Document.with_context(lang="en_US")._diff_text(diff)
        self.assertIn("Added: variant third (A)", diff_text)
        self.assertIn("Removed: variant personal (B)", diff_text)
        self.Document.with_user(self.user_manager)._import_text(text)
        self.assertFalse(short.exists())
        self.assertFalse(personal.active)  # kept for its history, no longer sent
        self.assertEqual(trace.variant_id, personal)
        self.assertEqual(self.step_mail.variant_ids.mapped("code"), ["third"])
