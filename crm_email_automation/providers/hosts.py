"""Where a provider's credentials may be sent: its official API hosts, and the hosts an
administrator allows in a system parameter (a local server in tests, a regional endpoint).

Plain Python: the models read the parameter and decide; this module only parses and matches.
"""

from urllib.parse import urlsplit

# The system parameter that allows more hosts: comma-separated host names, `*.` for any
# subdomain (e.g. "127.0.0.1, api.eu.example.com, *.proxy.example.net").
ALLOWED_HOSTS_PARAM = "crm_email_automation.provider_allowed_hosts"

# The hosts each provider's documentation names. Only https reaches them.
OFFICIAL_HOSTS = {
    "brevo": ("api.brevo.com",),
    "mandrill": ("mandrillapp.com",),
    "mailchimp": ("*.api.mailchimp.com",),
    "mailchimp_oauth": ("login.mailchimp.com",),
}

# Why a URL is refused (the models word them for the user).
BAD_URL = "bad_url"  # not an absolute http(s) URL, or one with a user name, query or fragment
HOST_NOT_ALLOWED = "host_not_allowed"  # neither an official host nor an allowed one
HTTPS_REQUIRED = "https_required"  # an official host over plain http


def parse_host_list(value):
    """The host patterns of the parameter's value, lower-cased, without blanks."""
    patterns = (part.strip().lower().rstrip(".") for part in (value or "").replace(";", ",").split(","))
    return tuple(pattern for pattern in patterns if pattern)


def url_host(url):
    """The host name of an absolute http(s) URL without credentials, query or fragment, else None."""
    try:
        parts = urlsplit((url or "").strip())
        # Reading the port validates it (a non-numeric port raises ValueError).
        parts.port  # noqa: B018  # pylint: disable=pointless-statement
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        # "https://api.brevo.com@evil.example" sends the request to evil.example.
        return None
    return parts.hostname.rstrip(".")


def host_matches(host, pattern):
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def check_url(url, kind, allowed_patterns=()):
    """None when credentials of provider `kind` may be sent to `url`, else why not
    (BAD_URL, HTTPS_REQUIRED or HOST_NOT_ALLOWED)."""
    host = url_host(url)
    if not host:
        return BAD_URL
    if any(host_matches(host, pattern) for pattern in OFFICIAL_HOSTS.get(kind, ())):
        return None if urlsplit(url.strip()).scheme == "https" else HTTPS_REQUIRED
    if any(host_matches(host, pattern) for pattern in allowed_patterns):
        return None
    return HOST_NOT_ALLOWED
