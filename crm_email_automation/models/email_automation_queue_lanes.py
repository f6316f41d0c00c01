import logging

from odoo import api, models

_logger = logging.getLogger(__name__)

FIRST_LANE = "crm_email_automation.ir_cron_process_queue"
# The scheduled actions of lanes 2, 3, …: "<module>.ir_cron_process_queue_lane_<n>".
LANE_XMLID = "ir_cron_process_queue_lane_%d"
MAX_LANES = 16


class EmailAutomationQueue(models.AbstractModel):
    """The queue runs in N lanes: N scheduled actions that all call the same
    `_cron_process_queue`. Odoo runs one job of a given cron at a time, so N crons let N
    cron workers (threads, prefork processes, or servers sharing the database) send at once.
    The claim (`email.automation.trace._claim_due`) keeps them apart, and the policies hold
    across them (see there and `email.automation.rate.counter`)."""

    _inherit = "email.automation.queue"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _lane_count(self):
        return min(max(self._setting("queue_lanes", 1), 1), MAX_LANES)

    @api.model
    def _lane_crons(self, active_only=True):
        """The scheduled actions of the lanes, lane 1 first (two queries: a wake-up runs in
        the transaction of whoever enrols)."""
        names = [FIRST_LANE.split(".")[1]] + [LANE_XMLID % number for number in range(2, MAX_LANES + 1)]
        # sudo: crons and their external ids are system records; any user's enrolment wakes them.
        data = (
            self.env["ir.model.data"]
            .sudo()
            .search_fetch(
                [("module", "=", "crm_email_automation"), ("model", "=", "ir.cron"), ("name", "in", names)],
                ["name", "res_id"],
            )
        )
        ids = [row.res_id for row in sorted(data, key=lambda row: names.index(row.name))]
        crons = self.env["ir.cron"].sudo().with_context(active_test=False).browse(ids).exists()
        return crons.filtered("active") if active_only else crons

    @api.model
    def _sync_lanes(self, count=None):
        """Make lanes 2..count exist and be active; archive the lanes above `count`.

        Lane 1 is the scheduled action of the module's data; whether it is active stays the
        administrator's choice (deactivating it stops the queue, as before)."""
        count = min(max(count or self._lane_count(), 1), MAX_LANES)
        # sudo: the lanes are system scheduled actions, set up from the module's settings.
        first = self.env.ref(FIRST_LANE).sudo()
        for number in range(2, MAX_LANES + 1):
            xmlid = LANE_XMLID % number
            cron = self.env.ref(f"crm_email_automation.{xmlid}", raise_if_not_found=False)
            cron = cron.sudo() if cron else cron
            if number > count:
                if cron and cron.active:
                    cron.active = False
            elif cron:
                if not cron.active:
                    cron.active = True
            else:
                cron = first.copy(
                    {"name": self.env._("%(name)s (lane %(lane)s)", name=first.name, lane=number), "active": True}
                )
                # sudo: an external id lets every later run find the lane (noupdate: the
                # module's upgrades leave it alone).
                self.env["ir.model.data"].sudo().create(
                    {
                        "module": "crm_email_automation",
                        "name": xmlid,
                        "model": "ir.cron",
                        "res_id": cron.id,
                        "noupdate": True,
                    }
                )
        return self._lane_crons()

    @api.model
    def _trigger_lanes(self, exclude=None):
        """Run every active lane as soon as this transaction commits (or now, outside one)."""
        lanes = self._lane_crons()
        if exclude:
            lanes -= exclude
        for cron in lanes:
            cron._trigger()
        return lanes

    @api.model
    def _current_lane(self):
        """The lane cron running this job (Odoo puts its id in the job's context)."""
        return self.env["ir.cron"].sudo().browse(self.env.context.get("cron_id") or [])
