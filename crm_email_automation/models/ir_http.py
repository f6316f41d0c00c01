from odoo import models
from odoo.http import request

from ..controllers import request_limits

WEBHOOK_PREFIX = "/email_automation/webhook/"
API_PREFIX = "/email_automation/api/"
# Public machine-facing routes: provider webhooks, the event API, the open pixel and the tracked links.
FAST_PREFIXES = (WEBHOOK_PREFIX, API_PREFIX, "/email_automation/track/", "/email_automation/r/")


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _dispatch(cls, endpoint):
        # Odoo passes the form and query fields as keyword arguments: a field named "self"
        # would clash with the controller's own and end in a 500. The webhooks read their
        # body themselves and the tracking routes ignore it, so the name is dropped for them.
        if "self" in request.params and request.httprequest.path.startswith(FAST_PREFIXES):
            request.params.pop("self")
        return super()._dispatch(endpoint)

    @classmethod
    def _pre_dispatch(cls, rule, args):
        if request.httprequest.path.startswith(FAST_PREFIXES):
            # Provider webhooks are machine-to-machine JSON, the pixel and the tracked links
            # are fetched by mail clients: no visitor language, website or upload setting to
            # prepare. Odoo's preparation reads them anew on every request and costs more
            # than ingesting the event itself.
            result = request.dispatcher.pre_dispatch(rule, args)
        else:
            result = super()._pre_dispatch(rule, args)
        # The last step before Odoo parses the body (the dispatcher reads the form next).
        request_limits.enforce(rule.endpoint.routing)
        return result
