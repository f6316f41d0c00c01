"""Scenarios as code: a scenario document is YAML that holds scenarios, their steps and the
e-mail templates they send, keyed by stable codes (never database ids), with every
translatable text in each installed language. This file exports and reads documents; the
comparison with the database and the all-or-nothing apply are in
email_automation_scenario_document_apply.py.
"""

from odoo import api, models
from odoo.exceptions import AccessError, UserError

from .scenario_document_spec import (
    DOCUMENT_SPEC,
    DOCUMENT_VERSION,
    OUTPUT_ORDER,
    SECTIONS,
    SELECTION_SCOPE,
    TARGET_MODEL_FIELD,
    inverse_field,
)
from .scenario_document_yaml import DocumentSyntaxError, dump_document, line_of, load_with_lines


class DocumentEntry:
    """One record of a document, read and checked: its key, the record it matches in the
    database (empty when new), its values in the document's own form and the records
    they name."""

    def __init__(self, model, path, key, record):
        self.model, self.path, self.key, self.record = model, path, key, record
        self.values, self.records, self.children = {}, {}, {}
        self.target_model = None


class DocumentReader:
    """Checks a document and collects each error with its line; resolves every name."""

    def __init__(self, document, lines):
        self.document, self.lines = document, lines
        self.env = document.env
        self.errors = []
        self.langs = document._languages()
        self.template_keys = set()

    def error(self, path, message):
        self.errors.append((line_of(self.lines, path), message))

    def read_document(self, data):
        env = self.env
        if not isinstance(data, dict):
            self.error((), env._("a scenario document is a mapping with 'version' and 'scenarios'"))
            return {}
        version = data.get("version")
        if version != DOCUMENT_VERSION:
            self.error(
                ("version",),
                env._(
                    "this document is version %(version)s; this database reads version %(expected)s",
                    version=version if version is not None else env._("(none)"),
                    expected=DOCUMENT_VERSION,
                ),
            )
            return {}
        for key in data:
            if key != "version" and key not in SECTIONS:
                self.error((key,), env._("unknown section '%(key)s' (expected: scenarios, templates)", key=key))
        templates = data.get("templates") or []
        if isinstance(templates, list):
            self.template_keys = {t.get("email_automation_code") for t in templates if isinstance(t, dict)}
        return {
            section: self.read_list(data.get(section) or [], (section,), model, None)
            for section, model in SECTIONS.items()
        }

    def read_list(self, items, path, model, parent):
        env = self.env
        if not isinstance(items, list):
            self.error(path, env._("expected a list of records"))
            return []
        key_field = DOCUMENT_SPEC[model][0]
        entries, keys = [], set()
        for index, item in enumerate(items):
            item_path = (*path, index)
            if not isinstance(item, dict):
                self.error(item_path, env._("expected a record (a mapping of field names to values)"))
                continue
            key = item.get(key_field)
            if not isinstance(key, str) or not key:
                self.error(item_path, env._("every record needs its '%(key)s'", key=key_field))
                continue
            if key in keys:
                self.error((*item_path, key_field), env._("'%(key)s' appears twice", key=key))
            keys.add(key)
            entries.append(self.read_entry(item, item_path, model, key, parent))
        if parent is not None:
            for entry in entries:
                self.check_siblings(entry, keys)
        return entries

    def read_entry(self, item, path, model, key, parent):
        env = self.env
        key_field, field_names = DOCUMENT_SPEC[model]
        Model = env[model].with_context(active_test=False)
        domain = [(key_field, "=", key)]
        if parent is not None:
            domain.append((inverse_field(env, parent.model, model), "=", parent.record.id or 0))
        record = Model.search(domain, limit=1)
        entry = DocumentEntry(model, path, key, record)
        entry.target_model = parent.target_model if parent else (record and record[TARGET_MODEL_FIELD[model]].model)
        for name in item:
            if name == key_field:
                continue
            if name not in Model._fields:
                self.error(
                    (*path, name), env._("unknown field '%(field)s' on model '%(model)s'", field=name, model=model)
                )
            elif name not in field_names:
                self.error(
                    (*path, name),
                    env._("field '%(field)s' of model '%(model)s' is not read from documents", field=name, model=model),
                )
        for name in field_names:
            if name in item:
                self.read_value(entry, name, item[name], (*path, name))
            elif not record and Model._fields[name].required and name not in Model.default_get([name]):
                self.error(path, env._("field '%(field)s' is required on model '%(model)s'", field=name, model=model))
        return entry

    def read_value(self, entry, name, value, path):
        env = self.env
        field = env[entry.model]._fields[name]
        kind = field.type
        wrong = None
        if kind == "one2many":
            entry.children[name] = self.read_list(value or [], path, field.comodel_name, entry)
            return
        if value is None:
            entry.values[name] = [] if kind == "many2many" else None
            if name == TARGET_MODEL_FIELD.get(entry.model):
                self.error(path, env._("the target model cannot be empty"))
            return
        if field.translate:
            entry.values[name] = self.read_translations(value, path)
            return
        if kind in ("char", "text", "html"):
            wrong = not isinstance(value, str) and env._("expects text")
        elif kind == "selection":
            allowed = [key for key, _label in field._description_selection(env)]
            if value not in allowed:
                wrong = env._("'%(value)s' is not one of %(allowed)s", value=value, allowed=", ".join(allowed))
        elif kind == "boolean":
            wrong = not isinstance(value, bool) and env._("expects true or false")
        elif kind == "integer":
            wrong = (not isinstance(value, int) or isinstance(value, bool)) and env._("expects a whole number")
        elif kind == "float":
            wrong = (not isinstance(value, (int, float)) or isinstance(value, bool)) and env._("expects a number")
        elif kind in ("many2one", "many2one_reference"):
            value = self.read_reference(entry, field, value, path)
        elif kind == "many2many":
            if not isinstance(value, list):
                wrong = env._("expects a list")
            else:
                entry.records[name] = []
                refs = [self.read_reference(entry, field, item, (*path, i)) for i, item in enumerate(value)]
                entry.records[name] = env[field.comodel_name].union(*(r for r in entry.records[name] if r))
                value = sorted(r for r in refs if r is not None)
        if wrong:
            self.error(path, env._("field '%(field)s': %(problem)s", field=name, problem=wrong))
            return
        entry.values[name] = value
        if name == TARGET_MODEL_FIELD.get(entry.model) and name in entry.records:
            entry.target_model = entry.records[name].model

    def read_translations(self, value, path):
        env = self.env
        if isinstance(value, str):
            return dict.fromkeys(self.langs, value)
        if not isinstance(value, dict):
            self.error(path, env._("expects a text, or a text per language code"))
            return None
        for lang, text in value.items():
            if lang not in self.langs:
                self.error((*path, lang), env._("language '%(lang)s' is not installed in this database", lang=lang))
            elif text is not None and not isinstance(text, str):
                self.error((*path, lang), env._("expects text"))
        return {lang: text for lang, text in value.items() if lang in self.langs}

    def read_reference(self, entry, field, value, path):
        """The canonical (exported) form of the reference `value`; the record it names is
        kept in entry.records. None, with an error, when nothing matches."""
        env = self.env
        if not isinstance(value, str):
            self.error(path, env._("field '%(field)s' expects a name", field=field.name))
            return None
        comodel = field.comodel_name if field.type != "many2one_reference" else self.reference_model(entry, field)
        if not comodel:
            self.error(path, env._("field '%(field)s' names a record of no known model", field=field.name))
            return None
        try:
            record, problem = self.find(entry, field, comodel, value)
        except AccessError:
            record, problem = None, env._("you may not read %(model)s records", model=env[comodel]._description)
        if problem:
            self.error(path, problem)
            return None
        if field.type == "many2many":
            entry.records[field.name].append(record)
        else:
            entry.records[field.name] = record
        return self.document._export_reference(record, comodel) if record else value

    def reference_model(self, entry, field):
        """The model a many2one_reference points to: the value of its model field, which is
        related to another field of the entry (the trigger field's model, say)."""
        first, *rest = self.env[entry.model]._fields[field.model_field].related.split(".")
        record = entry.records.get(first)
        for name in rest:
            record = record[name] if record else None
        return record or None

    def find(self, entry, field, comodel, value):
        """(record, problem) for the reference `value` to a `comodel` record. A record that
        the document itself creates (a new template, a sibling step) is (None, None)."""
        env = self.env
        if comodel == "ir.model":
            record = env["ir.model"].search([("model", "=", value)], limit=1)
            return record, not record and env._("unknown model '%(model)s'", model=value)
        if comodel == "ir.model.fields":
            target = entry.target_model
            if not target:
                return None, env._("the target model must come first")
            record = env["ir.model.fields"].search([("model", "=", target), ("name", "=", value)], limit=1)
            return record, not record and env._(
                "unknown field '%(field)s' on model '%(model)s'", field=value, model=target
            )
        if comodel == "ir.model.fields.selection":
            scope = entry.records.get(SELECTION_SCOPE.get(field.name))
            record = env[comodel].search([("field_id", "=", scope.id if scope else 0), ("value", "=", value)], limit=1)
            return record, not record and env._("'%(value)s' is not a value of the trigger field", value=value)
        if comodel == "mail.template":
            record = env[comodel].search([("email_automation_code", "=", value)], limit=1)
            if record or value in self.template_keys:
                return record, None
            return None, env._("unknown template '%(template)s'", template=value)
        if comodel == entry.model:
            return None, None  # a sibling step: checked once all siblings are read
        record = env.ref(value, raise_if_not_found=False) if "." in value else None
        if record is not None and record._name == comodel:
            return record, None
        records = env[comodel].search([("display_name", "=", value)], limit=2)
        if len(records) == 1:
            return records, None
        if records:
            return None, env._(
                "several %(model)s records are named '%(name)s': use its external id", model=comodel, name=value
            )
        return None, env._("no %(model)s record named '%(name)s'", model=env[comodel]._description, name=value)

    def check_siblings(self, entry, keys):
        for name, value in entry.values.items():
            field = self.env[entry.model]._fields[name]
            if field.type == "many2one" and field.comodel_name == entry.model and value and value not in keys:
                self.error(
                    (*entry.path, name),
                    self.env._("unknown step '%(step)s': it is not in this scenario's list", step=value),
                )


class EmailAutomationScenarioDocument(models.AbstractModel):
    _name = "email.automation.scenario.document"
    _description = "E-mail Automation Scenario Document"

    @api.model
    def _languages(self):
        return sorted(code for code, _name in self.env["res.lang"].get_installed())

    # ------------------------------------------------------------------
    # Export
    # ------------------------------------------------------------------

    @api.model
    def _export_text(self, scenarios=None):
        """The YAML document of `scenarios` (default: every active scenario)."""
        if scenarios is None:
            scenarios = self.env["email.automation.scenario"].search([("active", "=", True)])
        return dump_document(self._export(scenarios))

    @api.model
    def _export(self, scenarios):
        referenced = {section: self.env[model] for section, model in SECTIONS.items()}
        document = {"version": DOCUMENT_VERSION}
        document["scenarios"] = [self._export_record(s, s.model_name, referenced) for s in scenarios]
        templates = referenced["templates"]
        document["templates"] = [
            self._export_record(t, t.model, referenced) for t in templates.sorted("email_automation_code")
        ]
        return {section: document[section] for section in ("version", *OUTPUT_ORDER)}

    @api.model
    def _export_record(self, record, target_model, referenced):
        key_field, field_names = DOCUMENT_SPEC[record._name]
        values = {key_field: record[key_field]}
        for name in field_names:
            values[name] = self._export_value(record, name, target_model, referenced)
        return values

    @api.model
    def _export_value(self, record, name, target_model, referenced):
        field = record._fields[name]
        value = record[name]
        if field.type == "one2many":
            return [self._export_record(child, target_model, referenced) for child in value]
        if field.type in ("many2one", "many2many"):
            for section, model in SECTIONS.items():
                if field.comodel_name == model:
                    referenced[section] |= value
            refs = [self._export_reference(target, field.comodel_name) for target in value]
            return (
                refs[0] if field.type == "many2one" and refs else (sorted(refs) if field.type == "many2many" else None)
            )
        if field.type == "many2one_reference":
            model = record[field.model_field]
            target = self.env[model].browse(value).exists() if model and value else None
            return self._export_reference(target, model) if target else None
        if field.translate:
            texts = {lang: record.with_context(lang=lang)[name] for lang in self._languages()}
            return {lang: str(text) if text else None for lang, text in texts.items()} if any(texts.values()) else None
        if field.type == "boolean":
            return bool(value)
        if field.type in ("integer", "float"):
            return value
        return str(value) if value else None

    @api.model
    def _export_reference(self, record, model):
        """How a document names `record`: a model or a field by its technical name, a
        selection value by itself, a document record by its code, any other by its
        external id, else its name."""
        if model == "ir.model":
            return record.model
        if model == "ir.model.fields":
            return record.name
        if model == "ir.model.fields.selection":
            return record.value
        if model in DOCUMENT_SPEC:
            return record[DOCUMENT_SPEC[model][0]]
        xml_id = record.get_external_id().get(record.id)
        # sudo: only the name of a linked record, as Odoo shows it in a form to anyone who
        # may read the record linking to it (an outgoing mail server, say).
        return xml_id or record.sudo().display_name

    # ------------------------------------------------------------------
    # Reading a document
    # ------------------------------------------------------------------

    @api.model
    def _read_document(self, text):
        """The checked document: {section: [DocumentEntry]}. Raises UserError listing every
        problem with its line; nothing is written."""
        try:
            data, lines, duplicates = load_with_lines(text)
        except DocumentSyntaxError as error:
            raise UserError(
                self.env._("Line %(line)s: this is not valid YAML: %(error)s", line=error.line or 1, error=error)
            ) from error
        reader = DocumentReader(self, lines)
        for line, key in duplicates:
            reader.errors.append((line, self.env._("'%(key)s' is written twice", key=key)))
        document = reader.read_document(data)
        document["_lines"] = lines
        if reader.errors:
            problems = "\n".join(
                self.env._("line %(line)s: %(problem)s", line=line, problem=problem)
                for line, problem in sorted(reader.errors, key=lambda e: e[0])
            )
            raise UserError(self.env._("The scenario document was not imported:\n%(problems)s", problems=problems))
        return document
