"""Scenarios as code, second half: what a document would change (the diff shown before
applying) and the apply itself, all or nothing, with the importer's own rights."""

import psycopg2
from markupsafe import Markup

from odoo import Command, api, models
from odoo.exceptions import AccessError, UserError, ValidationError

from .scenario_document_spec import DOCUMENT_SPEC, SECTIONS, inverse_field
from .scenario_document_yaml import line_of

SHORT_TEXT = 60


def _short(value):
    """A value as one short line of the diff."""
    if isinstance(value, dict):
        value = next((text for text in value.values() if text), None)
    if isinstance(value, list):
        value = ", ".join(value)
    text = "" if value is None else " ".join(str(value).split())
    return text if len(text) <= SHORT_TEXT else text[: SHORT_TEXT - 1] + "…"


class EmailAutomationScenarioDocument(models.AbstractModel):
    _inherit = "email.automation.scenario.document"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------------
    # Diff
    # ------------------------------------------------------------------

    @api.model
    def _diff(self, document):
        """[{section, key, name, status, changes, children}] for every record of the document,
        status 'added', 'changed' or 'unchanged'; children likewise with 'removed' for the
        steps the document no longer has; and the scenarios of the database that the
        document leaves alone ('kept')."""
        result = []
        for section in ("scenarios", "templates"):
            for entry in document.get(section, []):
                result.append(dict(self._diff_entry(entry), section=section))
        named = {entry.key for entry in document.get("scenarios", [])}
        for scenario in self.env["email.automation.scenario"].search([("code", "not in", list(named))]):
            result.append(
                {"section": "scenarios", "key": scenario.code, "name": scenario.name, "status": "kept", "changes": []}
            )
        return result

    @api.model
    def _diff_entry(self, entry):
        name = self._entry_name(entry)
        if not entry.record:
            children = [self._added(child) for child in self._descendants(entry)]
            return {"key": entry.key, "name": name, "status": "added", "changes": [], "children": children}
        current = self._export_record(entry.record, entry.target_model, self._no_references())
        changes = []
        Model = self.env[entry.model]
        for field_name, value in entry.values.items():
            old = current[field_name]
            if isinstance(value, dict) and isinstance(old, dict):
                old = {lang: old.get(lang) for lang in value}
            elif isinstance(value, dict) and old is None:
                old = dict.fromkeys(value)
            if value != old and not (isinstance(value, dict) and not any(value.values()) and not any(old.values())):
                label = Model._fields[field_name]._description_string(self.env)
                changes.append({"field": field_name, "label": label, "old": _short(old), "new": _short(value)})
        children = []
        for field_name, entries in entry.children.items():
            existing = {child[DOCUMENT_SPEC[child._name][0]]: child for child in entry.record[field_name]}
            for child in entries:
                child_diff = self._diff_entry(child)
                # A step's variants are listed after it, in the same list of the diff.
                children += [dict(child_diff, model=child.model), *child_diff["children"]]
                existing.pop(child.key, None)
            children += [
                {"key": key, "name": child.display_name, "status": "removed", "changes": [], "model": child._name}
                for key, child in existing.items()
            ]
        changed = changes or any(child["status"] != "unchanged" for child in children)
        status = "changed" if changed else "unchanged"
        return {"key": entry.key, "name": name, "status": status, "changes": changes, "children": children}

    def _descendants(self, entry):
        """The entry's children, each followed by its own (a new step's variants)."""
        for entries in entry.children.values():
            for child in entries:
                yield child
                yield from self._descendants(child)

    def _added(self, entry):
        name = self._entry_name(entry)
        return {"key": entry.key, "name": name, "status": "added", "changes": [], "model": entry.model}

    def _entry_name(self, entry):
        name = entry.values.get("name")
        if isinstance(name, dict):
            name = name.get(self.env.lang) or next((text for text in name.values() if text), None)
        return name or (entry.record.display_name if entry.record else entry.key)

    def _no_references(self):
        return {section: self.env[model] for section, model in SECTIONS.items()}

    @api.model
    def _diff_has_changes(self, diff):
        return any(item["status"] in ("added", "changed") for item in diff)

    @api.model
    def _diff_text(self, diff):
        """The diff as plain text, one line per record and per change (for the command)."""
        env = self.env
        labels = self._status_labels()
        lines = []
        for item in diff:
            lines.append(f"{labels[item['status']]}: {item['section']} {item['key']} ({item['name']})")
            for change in item["changes"]:
                lines.append(f"    {change['label']}: {change['old']} -> {change['new']}")
            for child in item.get("children", []):
                if child["status"] == "unchanged":
                    continue
                kind = env._("variant") if child.get("model") == "email.automation.variant" else env._("step")
                lines.append(f"    {labels[child['status']]}: {kind} {child['key']} ({child['name']})")
                for change in child["changes"]:
                    lines.append(f"        {change['label']}: {change['old']} -> {change['new']}")
        if not self._diff_has_changes(diff):
            lines.append(env._("Nothing to change."))
        return "\n".join(lines) + "\n"

    @api.model
    def _diff_html(self, diff):
        """The diff as HTML for the import wizard: one block per scenario and template."""
        labels = self._status_labels()
        badge = {"added": "success", "changed": "warning", "removed": "danger", "unchanged": "secondary"}
        badge["kept"] = "secondary"
        html = Markup("")
        for item in diff:
            html += Markup('<div class="mb-2"><span class="badge text-bg-%s">%s</span> <b>%s</b> <code>%s</code>') % (
                badge[item["status"]],
                labels[item["status"]],
                item["name"],
                item["key"],
            )
            rows = Markup("").join(
                Markup("<li>%s: <del>%s</del> → <ins>%s</ins></li>") % (c["label"], c["old"], c["new"])
                for c in item["changes"]
            )
            for child in item.get("children", []):
                if child["status"] == "unchanged":
                    continue
                sub = Markup("").join(
                    Markup("<li>%s: <del>%s</del> → <ins>%s</ins></li>") % (c["label"], c["old"], c["new"])
                    for c in child["changes"]
                )
                rows += Markup('<li><span class="badge text-bg-%s">%s</span> %s <code>%s</code><ul>%s</ul></li>') % (
                    badge[child["status"]],
                    labels[child["status"]],
                    child["name"],
                    child["key"],
                    sub,
                )
            html += Markup("<ul>%s</ul></div>") % rows
        return html

    def _status_labels(self):
        env = self.env
        return {
            "added": env._("Added"),
            "changed": env._("Changed"),
            "unchanged": env._("Unchanged"),
            "removed": env._("Removed"),
            "kept": env._("Not in the file, left as it is"),
        }

    # ------------------------------------------------------------------
    # Apply
    # ------------------------------------------------------------------

    @api.model
    def _import_text(self, text):
        """Check the document, then apply it all or nothing; returns the diff applied."""
        document = self._read_document(text)
        diff = self._diff(document)
        self._apply(document)
        return diff

    @api.model
    def _apply(self, document):
        """Create and update the document's records as the current user, in a savepoint:
        the first error rolls everything back and names the record's line."""
        lines = document.get("_lines", {})
        # A step's variant shares pass through other sums while its lines are written one by
        # one: they are checked once per step after all its variants (_apply_children), as
        # the step form's save does.
        deferred = self.with_context(email_automation_defer_share_check=True)
        with self.env.cr.savepoint():
            created = {model: {} for model in DOCUMENT_SPEC}
            for section in SECTIONS:
                for entry in document.get(section, []):
                    deferred._apply_entry(entry, None, created, lines)
            try:
                self.env.flush_all()
            except psycopg2.Error as error:
                raise UserError(self.env._("The scenario document was not imported: %(error)s", error=error)) from error

    def _apply_entry(self, entry, parent, created, lines):
        try:
            values, translations, base_lang = self._orm_values(entry, created)
            Model = self.env[entry.model].with_context(lang=base_lang)
            if parent is not None:
                values[inverse_field(self.env, parent.model, entry.model)] = parent.record.id
            if entry.record:
                # The reader found the record: it is written with this apply's context.
                entry.record = entry.record.with_env(self.env)
                entry.record.with_context(lang=base_lang).write(values)
            else:
                values[DOCUMENT_SPEC[entry.model][0]] = entry.key
                entry.record = Model.create(values)
            # Each language's whole text, as typed in that language (a body translated by
            # terms takes its text per language too).
            by_lang = {}
            for field_name, texts in translations.items():
                for lang, text in texts.items():
                    by_lang.setdefault(lang, {})[field_name] = text
            for lang, lang_values in by_lang.items():
                entry.record.with_context(lang=lang).write(lang_values)
            created[entry.model][entry.key] = entry.record
            for field_name, children in entry.children.items():
                self._apply_children(entry, field_name, children, created, lines)
        except (UserError, ValidationError, AccessError, psycopg2.Error) as error:
            if getattr(error, "_email_automation_line", False):
                raise
            message = error.args[0] if error.args else str(error)
            problem = UserError(
                self.env._(
                    "The scenario document was not imported:\nline %(line)s (%(key)s): %(error)s",
                    line=line_of(lines, entry.path),
                    key=entry.key,
                    error=message,
                )
            )
            problem._email_automation_line = True
            raise problem from error

    def _apply_children(self, parent, field_name, children, created, lines):
        """Create and update the child records (steps, variants), parents first; remove the
        ones the document no longer has: deleted, or archived when they have a history
        (traces naming them); then check the parent's constraints on the whole list."""
        Child = self.env[parent.record._fields[field_name].comodel_name]
        existing = parent.record.with_context(active_test=False)[field_name]
        siblings = {}
        created[Child._name] = siblings
        pending = list(children)
        while pending:
            ready = [child for child in pending if self._sibling_refs(child) <= set(siblings)]
            if not ready:
                raise UserError(self.env._("steps follow each other in a loop"))
            for child in ready:
                self._apply_entry(child, parent, created, lines)
                pending.remove(child)
        gone = existing - Child.union(*(child.record for child in children))
        Trace = self.env["email.automation.trace"]
        trace_field = next(
            name
            for name, field in Trace._fields.items()
            if field.type == "many2one" and field.comodel_name == Child._name
        )
        # sudo: whether a record has a history must not depend on which traces one may read.
        used = Trace.sudo().search([(trace_field, "in", gone.ids)])[trace_field]
        (gone - used).unlink()
        gone_used = gone & used
        gone_used.active = False
        parent.record.invalidate_recordset([field_name])
        parent.record._validate_fields([field_name])

    def _sibling_refs(self, entry):
        return {
            value
            for name, value in entry.values.items()
            if value
            and self.env[entry.model]._fields[name].type == "many2one"
            and self.env[entry.model]._fields[name].comodel_name == entry.model
        }

    def _orm_values(self, entry, created):
        """(values to write in the base language, {field: {lang: text}} for the other
        languages, the base language: English if the document has it, else its first)."""
        values, translations = {}, {}
        langs = sorted({lang for name, value in entry.values.items() if isinstance(value, dict) for lang in value})
        base_lang = "en_US" if "en_US" in langs or not langs else langs[0]
        Model = self.env[entry.model]
        for name, value in entry.values.items():
            field = Model._fields[name]
            if field.translate:
                texts = dict(value or {})
                base = texts.pop(base_lang, None)
                values[name] = base if base is not None or not texts else next(iter(texts.values()))
                if texts:
                    translations[name] = {lang: text for lang, text in texts.items() if text}
            elif field.type in ("many2one", "many2one_reference"):
                record = entry.records.get(name)
                if not record and value is not None and field.type == "many2one":
                    record = created.get(field.comodel_name, {}).get(value)
                values[name] = record.id if record else False
            elif field.type == "many2many":
                values[name] = [Command.set(entry.records.get(name, self.env[field.comodel_name]).ids)]
            else:
                values[name] = value if value is not None else False
        return values, translations, base_lang
