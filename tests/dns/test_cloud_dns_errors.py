"""What Cloud DNS's answers mean for the person (``adapters.cloud_dns.call_cloud_dns``), as the official client raises
them from the HTTP status (``google.api_core.exceptions.from_http_response``) or from ``requests``: a refusal of the
configuration is exit 2 naming the permission, a stale change a ConcurrencyError, and 429/5xx/connection errors are
retried, then exit 5. And ``connect_cloud_dns``'s endpoints: anonymous credentials only on loopback."""

from __future__ import annotations

from collections.abc import Callable

import pytest

pytest.importorskip("google.cloud.dns", reason="the dns extra: pip install 'findly-infra[dns]'")

import requests
from google.api_core import exceptions

from findly_infra.adapters.cloud_dns import DnsChangeRefusedError, call_cloud_dns, connect_cloud_dns
from findly_infra.application.ports import BadInputError, ConcurrencyError, DependencyUnavailableError

RESOURCE = "managed zone findly-app in project findly-now"


def _failing(*errors: Exception) -> tuple[Callable[[], str], list[int]]:
    """A call that raises *errors* one after another, then answers ``"ok"``; and how many times it was called."""
    calls = [0]

    def call() -> str:
        calls[0] += 1
        if calls[0] <= len(errors):
            raise errors[calls[0] - 1]
        return "ok"

    return call, calls


def _status(code: int, message: str) -> exceptions.GoogleAPICallError:
    return exceptions.from_http_status(code, message)


@pytest.mark.parametrize("code", [429, 500, 502, 503, 504])
def test_a_busy_or_failing_server_is_retried_through(code: int) -> None:
    call, calls = _failing(_status(code, "backend error"), _status(code, "backend error"))
    assert call_cloud_dns("create a change", RESOURCE, call, attempts=3) == "ok"
    assert calls == [3]


def test_a_server_that_keeps_failing_is_exit_5_after_the_attempts() -> None:
    call, calls = _failing(*[_status(503, "The service is currently unavailable.")] * 5)
    with pytest.raises(DependencyUnavailableError, match=r"did not create a change .*503.*after 3 attempts"):
        call_cloud_dns("create a change", RESOURCE, call, attempts=3)
    assert calls == [3]


def test_a_refused_connection_is_retried_then_exit_5() -> None:
    call, calls = _failing(*[requests.ConnectionError("Connection refused")] * 3)
    with pytest.raises(DependencyUnavailableError, match="ConnectionError: Connection refused"):
        call_cloud_dns("list the record sets", RESOURCE, call, attempts=3)
    assert calls == [3]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (412, "Precondition not met for 'entity.change.deletions[0]'"),
        (409, "The resource 'entity.rrset' named 'api.findly.app. (A)' already exists"),
    ],
)
def test_a_change_made_on_stale_data_is_a_concurrency_error_never_retried(code: int, message: str) -> None:
    call, calls = _failing(_status(code, message))
    with pytest.raises(ConcurrencyError, match="entity") as refused:
        call_cloud_dns("create a change", RESOURCE, call, attempts=3)
    assert isinstance(refused.value, DnsChangeRefusedError)
    assert calls == [1]


def test_a_missing_zone_is_exit_2_naming_it() -> None:
    call, calls = _failing(_status(404, "The 'parameters.managedZone' resource named 'findly-app' does not exist."))
    with pytest.raises(BadInputError, match=r"no managed zone findly-app in project findly-now .*failover\.dns\.zone"):
        call_cloud_dns("list the record sets", RESOURCE, call, attempts=3)
    assert calls == [1]


def test_a_missing_permission_is_exit_2_naming_it_and_the_role() -> None:
    said = "Forbidden: caller does not have permission 'dns.changes.create' (Bearer ya29.secret-token)"
    call, _ = _failing(_status(403, said))
    with pytest.raises(BadInputError) as refused:
        call_cloud_dns("create a change (dns.changes.create)", RESOURCE, call, attempts=3)
    message = str(refused.value)
    assert "dns.changes.create" in message
    assert "roles/dns.admin" in message
    assert "ya29.secret-token" not in message  # a credential the server echoes is never shown


def test_an_endpoint_in_plain_http_is_refused_off_loopback_and_anonymous_on_it() -> None:
    with pytest.raises(BadInputError, match="plain http"):
        connect_cloud_dns("findly-now", endpoint="http://dns.example.com")
    with pytest.raises(BadInputError, match="is a URL"):
        connect_cloud_dns("findly-now", endpoint="127.0.0.1:8080")
    from google.auth.credentials import AnonymousCredentials

    records = connect_cloud_dns("findly-now", endpoint="http://127.0.0.1:9/")
    assert isinstance(records.client._credentials, AnonymousCredentials)  # no token sent to a stand-in
    assert records.client._connection.API_BASE_URL == "http://127.0.0.1:9"
