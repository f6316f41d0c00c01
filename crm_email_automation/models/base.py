from odoo import api, fields, models
from odoo.tools import SQL
from odoo.tools.safe_eval import safe_eval


class Base(models.AbstractModel):
    """Trigger hooks of e-mail scenarios, on every model.

    Inheriting `base` rather than patching classes at run time keeps the hooks in place
    whatever other modules do to the registry. A model no running scenario watches pays one
    cached lookup per create or write.
    """

    _inherit = "base"

    def _email_automation_watchers(self):
        if not self.env.registry.ready or self._transient or self._abstract:
            return ()
        return self.env["email.automation.scenario"]._get_trigger_watchers(self._name)

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        watchers = self._email_automation_watchers()
        if watchers and records:
            self._email_automation_queue(
                [(watcher.scenario_id, records.ids) for watcher in watchers if watcher.trigger == "on_create"]
            )
        return records

    def write(self, vals):
        watchers = self._email_automation_watchers() if self else ()
        watchers = [w for w in watchers if w.trigger != "on_create" and not w.field_names.isdisjoint(vals)]
        if not watchers:
            return super().write(vals)
        field_names = set().union(*(w.field_names for w in watchers))
        # The old values, usually in cache already: the hook adds no query in the common case.
        before = {record.id: {name: record[name] for name in field_names} for record in self}
        result = super().write(vals)
        batches = []
        for watcher in watchers:
            changed = self.filtered(lambda r, w=watcher: any(before[r.id][name] != r[name] for name in w.field_names))
            if watcher.trigger == "on_value" and changed:
                changed = changed._email_automation_matching_value(watcher)
            if changed:
                batches.append((watcher.scenario_id, changed.ids))
        self._email_automation_queue(batches)
        return result

    def _email_automation_matching_value(self, watcher):
        """The records whose trigger field now holds one of the watcher's values."""
        (field_name,) = watcher.field_names
        if watcher.value_domain is None:
            return self.filtered(lambda r: r[field_name] in watcher.selection_values)
        domain = safe_eval(watcher.value_domain or "[]", {"uid": self.env.uid})
        # sudo: the target values (a stage, say) are configuration, whoever writes the record.
        targets = self.sudo().mapped(field_name).filtered_domain(domain)
        return self.filtered(lambda r: r.sudo()[field_name] in targets)

    def _email_automation_queue(self, batches):
        """Queue the (scenario id, record ids) pairs for enrolment by the cron."""
        scenario_ids = [scenario_id for scenario_id, res_ids in batches for _res_id in res_ids]
        if not scenario_ids:
            return
        # Raw SQL on purpose: this runs inside every triggering create or write, and one
        # INSERT costs a tenth of the ORM's create for the same rows (bench/ measures it).
        # The only related field, the company, is filled from the scenario here.
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO email_automation_enrolment
                            (scenario_id, company_id, res_id, triggered_at,
                             create_uid, create_date, write_uid, write_date)
                     SELECT queued.scenario_id, scenario.company_id, queued.res_id,
                            %(now)s, %(uid)s, %(now)s, %(uid)s, %(now)s
                       FROM unnest(%(scenario_ids)s::int[], %(res_ids)s::int[]) AS queued(scenario_id, res_id)
                       JOIN email_automation_scenario scenario ON scenario.id = queued.scenario_id
                """,
                now=now,
                uid=self.env.uid,
                scenario_ids=scenario_ids,
                res_ids=[res_id for _scenario_id, res_ids in batches for res_id in res_ids],
            )
        )
        self.env["email.automation.queue"]._wake_up()
