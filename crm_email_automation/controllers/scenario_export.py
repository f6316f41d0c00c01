from werkzeug.exceptions import BadRequest

from odoo import http
from odoo.http import content_disposition, request


class ScenarioExportController(http.Controller):
    @http.route("/email_automation/scenarios/export", type="http", auth="user", methods=["GET"])
    def export_scenarios(self, ids="", **_kwargs):
        """The scenarios `ids` (comma-separated) as a YAML download, read with the user's rights."""
        try:
            scenario_ids = [int(part) for part in ids.split(",") if part.strip()]
        except ValueError as error:
            raise BadRequest(request.env._("ids: a comma-separated list of scenario ids")) from error
        scenarios = request.env["email.automation.scenario"].browse(scenario_ids).exists()
        scenarios.check_access("read")
        if not scenarios:
            raise BadRequest(request.env._("No scenario to export."))
        text = request.env["email.automation.scenario.document"]._export_text(scenarios)
        filename = f"{scenarios.code}.yaml" if len(scenarios) == 1 else "scenarios.yaml"
        return request.make_response(
            text,
            headers=[
                ("Content-Type", "application/yaml; charset=utf-8"),
                ("Content-Disposition", content_disposition(filename)),
            ],
        )
