"""Addresses as they may be shown: a URL's password, and query values that are secrets, never printed.

>>> redact_url("https://ci:s3cret@prometheus.example:9090/api?token=abc&step=15")
'https://ci:***@prometheus.example:9090/api?token=***&step=15'
"""

from __future__ import annotations

import ipaddress
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["is_loopback", "redact_url"]

_SECRET_PARAMETERS = {"token", "access_token", "password", "passwd", "pass", "secret", "key", "api_key", "apikey"}
_SECRET_PARAMETERS |= {"sslpassword"}  # libpq's passphrase of the client's key (libpq-connect.html)


def redact_url(url: str) -> str:
    """*url* with its password and secret query values replaced by ``***`` (anything unparsable: ``<redacted>``)."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            user = parts.username or ""
            host = netloc.rsplit("@", 1)[1]
            netloc = f"{user}:***@{host}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode(
                [(key, "***" if key.lower() in _SECRET_PARAMETERS else value) for key, value in pairs], safe="*"
            )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return "<redacted>"


def is_loopback(url: str) -> bool:
    """Whether *url*'s host is this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
