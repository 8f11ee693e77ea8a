"""Secrets never printed: a URL's password and query values that are secrets (:func:`redact_url`); the tokens in use,
and whatever follows an ``Authorization`` scheme, in any text a dependency answered (:func:`redact_text`: a proxy or
server that echoes the request's ``Authorization`` header in its error body must not have it printed, logged or
recorded by us); and tokens checked before they go into a header (:func:`header_token`).

>>> redact_url("https://ci:s3cret@prometheus.example:9090/api?token=abc&step=15")
'https://ci:***@prometheus.example:9090/api?token=***&step=15'
>>> redact_text("401: bad credentials 'Bearer abc.def' for tok3n-value", ["tok3n-value"])
"401: bad credentials 'Bearer ***' for ***"
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from findly_infra.application.ports import BadInputError

__all__ = ["header_token", "is_loopback", "redact_text", "redact_url", "url_secrets"]

_SCHEMES = re.compile(r"(?i)\b(bearer|basic|token)(\s+|\s*[=:]\s*)([A-Za-z0-9\-._~+/]+=*)")
"""An ``Authorization`` value as RFC 9110 §11 writes one (``Bearer <b64token>``, RFC 6750 §2.1; ``Basic …``,
RFC 7617), or ``token=…``/``token: …``: the credential after the scheme is a secret whoever echoes it."""
_SHORTEST_SECRET = 4
"""Shorter "secrets" are not searched for (replacing every ``a`` would make a message unreadable, and hide nothing)."""

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
    """Whether *url*'s host is this machine (``localhost``, 127.0.0.0/8, ``::1``); not when *url* cannot be read."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:  # "http://[::1": not an address at all
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_secrets(url: str | None) -> tuple[str, ...]:
    """The secrets a URL carries: its password (as written, and decoded), the ``user:password`` pair and its Basic
    form (base64)."""
    if not url:
        return ()
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return ()
    if not password:
        return ()
    pair = f"{unquote(parts.username or '')}:{unquote(password)}"  # as an HTTP client sends it (RFC 7617)
    return (password, unquote(password), pair, base64.b64encode(pair.encode("utf-8", "surrogatepass")).decode())


def redact_text(text: str, secrets: Iterable[str | None] = (), *, schemes: bool = True) -> str:
    """*text* — what a dependency answered, an error — with each of *secrets* (the tokens in use: in the forms a
    server may echo them, as sent, URL-encoded or JSON-escaped) and, with *schemes*, the credential after any
    ``Bearer``/``Basic`` scheme replaced by ``***``."""
    forms: set[str] = set()
    for secret in secrets:
        if secret and len(secret) >= _SHORTEST_SECRET:
            forms |= {secret, quote(secret, safe=""), json.dumps(secret)[1:-1]}
    for form in sorted(forms, key=len, reverse=True):  # the longest first: a secret inside another goes with it
        text = text.replace(form, "***")
    return _SCHEMES.sub(lambda found: f"{found[1]}{found[2]}***", text) if schemes else text


def header_token(token: str, name: str) -> str:
    """*token*, once it is known to fit an HTTP header (``Authorization: Bearer …``): printable ASCII, no space —
    RFC 9110 §5.5 allows no control character in a field value, RFC 6750's ``b64token`` is narrower still, and httpx
    encodes header values as ASCII (``é`` ended in exit 1, ``UnicodeEncodeError``). Raises :class:`BadInputError`
    naming *name* (where the token was given) and where its first bad character is; the token is never shown."""
    for position, char in enumerate(token, 1):
        if not "!" <= char <= "~":
            kind = "a space or a control character" if char.isascii() else "not ASCII"
            raise BadInputError(
                f"{name} holds a character an HTTP header cannot carry (character {position}: {kind}); "
                "a token is printable ASCII"
            )
    return token
