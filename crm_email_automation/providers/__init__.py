"""Clients of the delivery providers' HTTP APIs: plain Python, no ORM, so that the models
hold the decisions and these modules only speak each provider's protocol."""

from .brevo import BrevoClient
from .mandrill import MandrillClient

CLIENTS = {"brevo": BrevoClient, "mandrill": MandrillClient}


def get_client(kind, base_url, api_key, timeout, refused=None):
    """The API client of a provider `kind`, or None for kinds without an API (SMTP);
    `refused` (see hosts.check_url) makes it call nothing."""
    client_class = CLIENTS.get(kind)
    return client_class(base_url, api_key, timeout, refused=refused) if client_class else None
