import base64

from werkzeug.exceptions import NotFound

from odoo import SUPERUSER_ID, http
from odoo.http import request

from ..models.email_automation_mail_tracking import CLICK_SCOPE, OPEN_SCOPE, check_signature

# The smallest transparent GIF (1x1, 43 bytes).
PIXEL = base64.b64decode(b"R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_CACHE = [
    ("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0"),
    ("Pragma", "no-cache"),
    ("Expires", "0"),
    ("X-Robots-Tag", "noindex"),
]
ROUTE_OPTIONS = {
    "type": "http",
    # No user: the signed URL is the recipient's mail client (and the public user's
    # lookup would cost as much as the rest of the request).
    "auth": "none",
    # Odoo runs auth="none" routes on a read-only cursor first: the intake's insert would
    # fail there, log an error and run the whole request again on a read/write one.
    "readonly": False,
    "methods": ["GET", "HEAD"],
    "csrf": False,
    "save_session": False,
    "sitemap": False,
    # A GET carries no body: anything larger than a few bytes is refused unread.
    "max_content_length": 1024,
}


class EmailAutomationTracking(http.Controller):
    """The open pixel and the tracked links of the e-mails, fetched by mail clients.

    Hot public routes: a signature check (no query) and one insert into the intake, which
    a cron job woken at commit records as tracking events moments later (a person or a
    machine, first open, branches). A forged or altered URL gets a 404, writes nothing and
    is never redirected anywhere.
    """

    def _intake(self):
        # The superuser: there is no user, and only the module's own rows are written.
        return request.env(user=SUPERUSER_ID)["email.automation.intake"]

    def _client(self):
        http_request = request.httprequest
        return {
            "user_agent": (http_request.headers.get("User-Agent") or "")[:512],
            "is_head": http_request.method == "HEAD",
        }

    @http.route("/email_automation/track/<int:trace_id>/<string:signature>/open.gif", **ROUTE_OPTIONS)
    def track_open(self, trace_id, signature, **_kwargs):
        if check_signature(request.env, OPEN_SCOPE, signature, trace_id):
            self._intake()._receive("open", durable=False, trace_id=trace_id, **self._client())
        # The same image either way: a bad signature tells a prober nothing.
        return request.make_response(PIXEL, headers=[("Content-Type", "image/gif"), *NO_CACHE])

    @http.route("/email_automation/r/<string:code>/<int:trace_id>/<string:signature>", **ROUTE_OPTIONS)
    def track_click(self, code, trace_id, signature, **_kwargs):
        if not check_signature(request.env, CLICK_SCOPE, signature, trace_id, code):
            raise NotFound()
        ip_address = (request.httprequest.remote_addr or "")[:255] or None
        stored = self._intake()._receive(
            "click", durable=False, link_code=code, trace_id=trace_id, ip_address=ip_address, **self._client()
        )
        if not stored:
            raise NotFound()  # a link this database never tracked
        url = stored[0]
        response = request.redirect(url, code=302, local=False)
        response.headers.extend(NO_CACHE)
        return response
