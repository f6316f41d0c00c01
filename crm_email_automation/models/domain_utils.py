"""Parsing of the filters (domains) users type on scenarios and steps."""

from odoo import fields
from odoo.tools.safe_eval import safe_eval


def parse_domain(env, raw, model_name):
    """Return the domain written in `raw`, checked against `model_name`.

    Raises ValueError with a readable message when the text is not a domain or names
    fields or operators the model does not have.
    """
    if not raw:
        return []
    try:
        domain = safe_eval(raw, {"uid": env.uid, "context_today": fields.Date.context_today})
    except Exception as error:
        raise ValueError(str(error)) from error
    if not isinstance(domain, (list, tuple)):
        raise ValueError(env._("a filter must be a list of conditions"))
    domain = list(domain)
    try:
        # Builds the SQL without running it: unknown fields and operators raise here.
        env[model_name].sudo()._where_calc(domain)
    except Exception as error:
        raise ValueError(str(error)) from error
    return domain
