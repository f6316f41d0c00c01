from odoo import http
from odoo.http import request


class BenchFloor(http.Controller):
    """The cheapest POST route a webhook could be: the same route options and the same
    Odoo dispatch (database, registry, environment, no session saved), reading the body and
    answering JSON, with no work of its own."""

    @http.route(
        "/cea_bench/floor",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
        sitemap=False,
    )
    def floor(self, **_fields):
        body = request.httprequest.get_data()
        return request.make_json_response({"status": "ok", "received": len(body)})
