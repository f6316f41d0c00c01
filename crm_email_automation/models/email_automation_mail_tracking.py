"""Open pixel and tracked links in the e-mails the queue sends, on every provider's path.

The links go through Odoo's `link_tracker` (one `link.tracker` per target URL, as mass
mailing does); each e-mail's links carry its trace id and a signature of the pair, so a
click is attributed to its e-mail and only the links this module wrote ever redirect.
"""

import hmac
import re

import lxml.html
from markupsafe import Markup
from werkzeug import urls

from odoo import api, models, tools
from odoo.tools.mail import URL_SKIP_PROTOCOL_REGEX

from odoo.addons.link_tracker.tools.html import find_links_with_urls_and_labels

OPEN_PATH = "/email_automation/track/%(trace)s/%(signature)s/open.gif"
CLICK_PATH = "/email_automation/r/%(code)s/%(trace)s/%(signature)s"
OPEN_SCOPE = "crm_email_automation.track_open"
CLICK_SCOPE = "crm_email_automation.track_click"
# 128 bits of HMAC-SHA256 (hex): short links, still unguessable.
SIGNATURE_LENGTH = 32
# Links never rewritten, wherever they point: this module's own pages (unsubscribe,
# consent, tracking), Odoo's short links, and anything that reads as an unsubscribe link.
UNTRACKED_PATH = re.compile(r"^/(?:email_automation/|r/)|unsubscribe", re.IGNORECASE)
BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def tracking_signature(env, scope, *parts):
    """The signature of a tracking URL: HMAC-SHA256 keyed with the database secret."""
    # sudo: the key is the database secret.
    return tools.misc.hmac(env(su=True), scope, ".".join(str(part) for part in parts))[:SIGNATURE_LENGTH]


def check_signature(env, scope, signature, *parts):
    expected = tracking_signature(env, scope, *parts)
    return isinstance(signature, str) and hmac.compare_digest(expected, signature)


def is_tracked_url(url):
    """Whether a link of a rendered e-mail should go through a tracked redirect."""
    if not url or url.startswith(("#", "?")) or re.match(URL_SKIP_PROTOCOL_REGEX, url):
        return False
    parsed = urls.url_parse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return False
    return not UNTRACKED_PATH.search(parsed.path or "/")


class EmailAutomationMailSender(models.AbstractModel):
    _inherit = "email.automation.mail.sender"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _add_tracking(self, envelopes):
        """Give the rendered e-mails of scenarios that track an open pixel and tracked links.

        One `link.tracker` lookup for all the links of the batch; the body logged in the
        chatter stays the untracked one (a colleague reading it is not the recipient).
        """
        tracked = [e for e in envelopes if e["trace"].scenario_id.is_tracking_enabled and e.get("body_html")]
        if not tracked:
            return
        parsed = []  # (envelope, base url, root node, link nodes, urls and labels)
        for envelope in tracked:
            base_url = envelope["trace"].scenario_id.get_base_url()
            body = str(envelope["body_html"])
            try:
                root = lxml.html.fromstring(body)
            except (lxml.etree.ParserError, ValueError):  # an empty or unparsable body: pixel only
                root, nodes, links = None, [], []
            else:
                nodes, links = find_links_with_urls_and_labels(root, base_url)
                # Checked on the href as written too: an anchor ("#top") is made absolute.
                kept = [
                    (node, link)
                    for node, link in zip(nodes, links, strict=True)
                    if not node.get("href").startswith(("#", "?")) and is_tracked_url(link["url"])
                ]
                nodes, links = [n for n, _l in kept], [link for _n, link in kept]
            parsed.append((envelope, base_url, root, nodes, links))
        codes = self._link_tracker_codes([link["url"] for *_rest, links in parsed for link in links])
        for envelope, base_url, root, nodes, links in parsed:
            trace_id = envelope["trace"].id
            envelope["untracked_body_html"] = envelope["body_html"]
            envelope["is_tracked"] = True
            for node, link in zip(nodes, links, strict=True):
                code = codes[link["url"]]
                node.set("href", base_url + self._click_path(trace_id, code))
            # As HTML: XML would write an empty <div> as <div/>, which mail clients read as unclosed.
            body = lxml.html.tostring(root, encoding="unicode", method="html") if nodes else str(envelope["body_html"])
            envelope["body_html"] = Markup(self._with_pixel(body, base_url + self._open_path(trace_id)))

    @api.model
    def _link_tracker_codes(self, target_urls):
        """The `link.tracker` code of each URL, created when missing: one search (and one
        create) for the whole batch, one read of the codes."""
        unique = list(dict.fromkeys(target_urls))
        if not unique:
            return {}
        # sudo: the trackers of the links in sent e-mails are the queue's bookkeeping; the
        # title is given so that creating one never fetches the page.
        trackers = (
            self.env["link.tracker"].sudo().search_or_create([{"url": url, "title": url[:255]} for url in unique])
        )
        code_by_link = {}
        # sudo: as above; the codes are read in one query rather than one per tracker.
        for row in (
            self.env["link.tracker.code"]
            .sudo()
            .search_read([("link_id", "in", trackers.ids)], ["code", "link_id"], order="id")
        ):
            code_by_link[row["link_id"][0]] = row["code"]
        return {url: code_by_link[tracker.id] for url, tracker in zip(unique, trackers, strict=True)}

    @api.model
    def _open_path(self, trace_id):
        signature = tracking_signature(self.env, OPEN_SCOPE, trace_id)
        return OPEN_PATH % {"trace": trace_id, "signature": signature}

    @api.model
    def _click_path(self, trace_id, code):
        signature = tracking_signature(self.env, CLICK_SCOPE, trace_id, code)
        return CLICK_PATH % {"code": code, "trace": trace_id, "signature": signature}

    @api.model
    def _with_pixel(self, body, pixel_url):
        pixel = str(
            Markup(
                '<img src="%s" alt="" width="1" height="1" border="0" '
                'style="display: block; width: 1px; height: 1px; border: 0;"/>'
            )
            % pixel_url
        )
        match = None
        for match in BODY_END.finditer(body):  # noqa: B007 - the last </body> is wanted
            pass
        if match:
            return body[: match.start()] + pixel + body[match.start() :]
        return body + pixel
