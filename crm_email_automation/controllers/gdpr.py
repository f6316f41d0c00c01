from werkzeug.exceptions import Forbidden, NotFound

from odoo import http
from odoo.exceptions import AccessError
from odoo.http import content_disposition, request


class EmailAutomationGdprController(http.Controller):
    """The Art. 15 export, streamed to the manager who asked for it and stored nowhere."""

    @http.route("/email_automation/personal_data/<int:partner_id>", type="http", auth="user", methods=["GET"])
    def personal_data(self, partner_id, **kwargs):
        partner = request.env["res.partner"].browse(partner_id).exists()
        if not partner:
            raise NotFound()
        try:
            filename, content = partner._email_automation_export_file()
        except AccessError:
            raise Forbidden() from None
        return request.make_response(
            content,
            headers=[
                ("Content-Type", "application/json; charset=utf-8"),
                ("Content-Disposition", content_disposition(filename)),
                ("Cache-Control", "no-store"),
                ("X-Content-Type-Options", "nosniff"),
            ],
        )
