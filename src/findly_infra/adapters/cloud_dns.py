"""Cloud DNS through its official client (``google-cloud-dns``: ``google.cloud.dns.Client``, over the JSON REST API),
imported only here: the record sets failover switches (``application.ports.DnsRecords``). It decides nothing.

What the service promises, and what this adapter builds on (the REST reference, v1):

- A change is atomic, and a deletion "must match existing data exactly"
  (https://cloud.google.com/dns/docs/reference/rest/v1/changes, field ``deletions[]``): a replacement is one
  ``changes.create`` deleting the record set as it was read and adding the new one, so that a change someone else
  made in between fails the whole change with ``412 conditionNotMet`` ("Precondition not met for
  'entity.change.deletions[0]'": kubernetes-sigs/external-dns#467, #3311), and an addition of a record set that
  already exists with ``409 alreadyExists`` ("The resource 'entity.rrset' named '… (A)' already exists":
  hashicorp/terraform-provider-google#9112), and a deletion of a record set that is gone since with ``404 notFound``
  ("The 'entity.change.deletions[0]' resource named '… (A)' does not exist": gitpod-io/gitpod#9784) — each a
  :class:`ConcurrencyError` here: nothing overwritten.
- A change is ``pending`` until ``done`` ("the request to update the authoritative servers has been sent"):
  ``changes.get`` (https://cloud.google.com/dns/docs/reference/rest/v1/changes/get) is polled until then; one still
  pending past :attr:`CloudDnsRecords.change_timeout` is :class:`DependencyUnavailableError` naming the change's id.
- ``resourceRecordSets.list`` takes ``name`` and ``type`` to list one record set
  (https://cloud.google.com/dns/docs/reference/rest/v1/resourceRecordSets/list); the answer is filtered again here, so
  a server that ignored them still gives the right one.

Errors, as the client raises them (``google.api_core.exceptions`` from the HTTP status, ``requests`` for the
connection): ``404`` (no such zone or project), ``403`` (the message names the permission missing:
``dns.resourceRecordSets.list``, ``dns.changes.create``, ``dns.changes.get``, ``dns.changes.list``), ``401`` and
``400`` are configuration problems (:class:`BadInputError`, exit 2); ``429``, ``5xx`` and connection errors are
retried with backoff, then :class:`DependencyUnavailableError` (exit 5); ``412``/``409`` are
:class:`ConcurrencyError`.

A replacement is safe to run again after a crash: when the zone already holds *new*, nothing is sent (the change that
made it is waited for if still ``pending``); a change whose answer was lost (retried after a ``503``) finds the zone
holding *new* on its ``412`` and counts as done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import attrs

from findly_infra.application.ports import (
    BadInputError,
    ConcurrencyError,
    DependencyUnavailableError,
    RecordSet,
)
from findly_infra.application.redaction import is_loopback, redact_text

__all__ = ["CloudDnsRecords", "DnsChangeRefusedError", "DnsNotFoundError", "call_cloud_dns", "connect_cloud_dns"]


_RECENT = 20
"""How many of a zone's newest changes a rerun looks through for the one that made its record set."""


class DnsChangeRefusedError(ConcurrencyError):
    """Raised when Cloud DNS refused a change made on stale data (``412 conditionNotMet``: the record set is no
    longer what was read; ``409 alreadyExists``: one was added since) — or when the zone already differs from what
    the caller expected before anything was sent. Nothing was changed; the message says what the zone holds."""


class DnsNotFoundError(BadInputError):
    """Raised when Cloud DNS has no such zone or project (``404``) — or, answering a change, no longer holds the
    record set it deletes (``404 notFound``, "The 'entity.change.deletions[0]' resource named '… (A)' does not
    exist": gitpod-io/gitpod#9784), which :meth:`CloudDnsRecords.replace` tells apart by reading the zone again."""


class _Retry(Exception):  # noqa: N818 - a signal to stamina, never seen outside
    pass


@attrs.define
class CloudDnsRecords:
    """One project's Cloud DNS managed zones through a ``google.cloud.dns.Client``."""

    client: Any = attrs.field(repr=False)
    project: str
    poll_interval: float = 2.0
    """Seconds between two reads of a pending change (the first ones sooner: most are done within seconds)."""
    change_timeout: float = 600.0
    """Seconds a change may stay ``pending`` before the wait gives up (exit 5, naming the change)."""
    attempts: int = 5
    sleep: Callable[[float], object] = attrs.field(default=time.sleep, repr=False)
    clock: Callable[[], float] = attrs.field(default=time.monotonic, repr=False)

    # ---- reading -----------------------------------------------------------------------------------------------------

    def read(self, zone: str, name: str, type: str) -> RecordSet | None:
        """The record set *name*/*type* in managed zone *zone*, or ``None``."""
        managed = self.client.zone(zone)

        def listed() -> list[Any]:
            records = managed.list_resource_record_sets()
            # rrsets.list's own filter (name, and type with it): one record set, not the whole zone, page by page
            records.extra_params = {"name": name, "type": type}
            return [record for record in records if _same_name(record.name, name) and record.record_type == type]

        found = self._call("list the record sets (dns.resourceRecordSets.list)", self._zone(zone), listed)
        if not found:
            return None
        record = found[0]
        return RecordSet(record.name, record.record_type, int(record.ttl), tuple(record.rrdatas))

    # ---- changing ----------------------------------------------------------------------------------------------------

    def replace(self, zone: str, old: RecordSet | None, new: RecordSet) -> None:
        """Make *new* the record set of its name and type, replacing *old* (``None``: none) in one change, and wait
        until the change is ``done``. Refused (:class:`DnsChangeRefusedError`, nothing sent) when the zone holds
        neither *old* nor *new*; when it holds *new* already, nothing is sent (a rerun)."""
        current = self.read(zone, new.name, new.type)
        if _holds(current, new):  # a rerun: nothing to send — but the change that made it may still be pending
            self._wait_for_pending(zone, new)
            return
        if not (_holds(current, old) if old is not None else current is None):
            raise DnsChangeRefusedError(
                f"{new.name} ({new.type}) in zone {zone} is {_shown(current)}, not {_shown(old)} as expected: "
                "someone else changed it; nothing was sent (read it again and decide)"
            )
        managed = self.client.zone(zone)
        change = managed.changes()
        if current is not None:  # the record set exactly as the zone holds it: a deletion must match it exactly
            change.delete_record_set(
                managed.resource_record_set(current.name, current.type, current.ttl, [*current.rrdatas])
            )
        change.add_record_set(managed.resource_record_set(new.name, new.type, new.ttl, [*new.rrdatas]))
        try:
            self._call("create a change (dns.changes.create)", self._zone(zone), change.create)
        except (DnsChangeRefusedError, DnsNotFoundError) as refused:
            # 412/409: what was read changed; 404: the record set deleted is gone (the zone itself: read raises)
            now = self.read(zone, new.name, new.type)
            if _holds(now, new):  # our own change, whose answer was lost and which was sent again
                self._wait_for_pending(zone, new)
                return
            reason = "the record set it replaces is gone" if isinstance(refused, DnsNotFoundError) else str(refused)
            raise DnsChangeRefusedError(
                f"Cloud DNS refused the change of {new.name} ({new.type}) in zone {zone}: {reason} — it is now "
                f"{_shown(now)}: someone else changed it; nothing was overwritten"
            ) from None
        self._wait(change, zone)

    def _wait_for_pending(self, zone: str, record: RecordSet) -> None:
        """Wait for the newest change that added *record*'s name and type, when it is still ``pending`` — the change
        an earlier run made and did not see ``done`` (it crashed, or its answer was lost). ``changes.list``, newest
        first ("sortBy: changeSequence", "sortOrder: descending":
        https://cloud.google.com/dns/docs/reference/rest/v1/changes/list), the last :data:`_RECENT` changes."""
        managed = self.client.zone(zone)

        def newest() -> Any:
            listed = managed.list_changes(max_results=_RECENT)
            listed.extra_params = {"sortBy": "changeSequence", "sortOrder": "descending"}
            for change in listed:
                if any(
                    _same_name(added.name, record.name) and added.record_type == record.type
                    for added in change.additions
                ):
                    return change
            return None

        change = self._call("list the changes (dns.changes.list)", self._zone(zone), newest)
        if change is not None and change.status != "done":
            self._wait(change, zone)

    def _wait(self, change: Any, zone: str) -> None:
        """Poll ``changes.get`` until the change is ``done``: soon at first, then every :attr:`poll_interval`."""
        deadline = self.clock() + self.change_timeout
        polls = 0
        while change.status != "done":
            if self.clock() > deadline:
                raise DependencyUnavailableError(
                    f"Cloud DNS change {change.name} in zone {zone} (project {self.project}) is still "
                    f"{change.status or 'pending'} after {self.change_timeout:g}s: it was accepted and may still "
                    "finish; run again to wait for it (gcloud dns record-sets changes describe "
                    f"{change.name} --zone {zone})"
                )
            self.sleep(min(self.poll_interval, 0.25 * 2**polls))
            polls += 1
            self._call(f"read change {change.name} (dns.changes.get)", self._zone(zone), change.reload)

    # ---- one call ----------------------------------------------------------------------------------------------------

    def _zone(self, zone: str) -> str:
        return f"managed zone {zone} in project {self.project}"

    def _call(self, what: str, resource: str, call: Callable[[], Any]) -> Any:
        """*call*, retried while Cloud DNS is unavailable; its errors as ours, naming *what* was asked of *resource*."""
        return call_cloud_dns(what, resource, call, attempts=self.attempts)


def call_cloud_dns(what: str, resource: str, call: Callable[[], Any], *, attempts: int) -> Any:
    """*call* retried with backoff on ``429``, ``5xx`` and connection errors, then :class:`DependencyUnavailableError`;
    ``412``/``409`` :class:`DnsChangeRefusedError`; any other refusal :class:`BadInputError` with the server's words."""
    import requests
    import stamina
    from google.api_core import exceptions
    from google.auth import exceptions as auth_exceptions

    transient: tuple[type[Exception], ...] = (
        exceptions.TooManyRequests,
        exceptions.InternalServerError,
        exceptions.BadGateway,
        exceptions.ServiceUnavailable,
        exceptions.GatewayTimeout,
        requests.ConnectionError,
        requests.Timeout,
        auth_exceptions.TransportError,  # the token could not be fetched: the network, not the credentials
    )

    def once() -> Any:
        try:
            return call()
        except transient as exc:
            raise _Retry(f"{type(exc).__name__}: {_said(exc)}") from None

    caller = stamina.RetryingCaller(attempts=attempts, timeout=None, wait_initial=0.5, wait_max=30.0).on(_Retry)
    try:
        return caller(once)
    except _Retry as exc:
        raise DependencyUnavailableError(
            f"Cloud DNS did not {what} ({resource}): {exc} (after {attempts} attempts)"
        ) from None
    except (exceptions.PreconditionFailed, exceptions.Conflict) as exc:
        raise DnsChangeRefusedError(f"Cloud DNS refused to {what} on {resource}: {_said(exc)}") from None
    except exceptions.NotFound as exc:
        raise DnsNotFoundError(
            f"Cloud DNS has no {resource} ({_said(exc)}): check failover.dns.zone (the zone's name, not its DNS "
            "name) and its project"
        ) from None
    except exceptions.Unauthorized as exc:
        raise BadInputError(
            f"Cloud DNS refused the credentials to {what} on {resource}: {_said(exc)} (Application Default "
            "Credentials: gcloud auth application-default login, or Workload Identity Federation in CI)"
        ) from None
    except exceptions.Forbidden as exc:
        raise BadInputError(
            f"Cloud DNS refused to {what} on {resource}: {_said(exc)} (a configuration problem: grant "
            "roles/dns.admin, or dns.resourceRecordSets.list, dns.changes.create, dns.changes.get and dns.changes.list)"
        ) from None
    except exceptions.GoogleAPICallError as exc:
        raise BadInputError(f"Cloud DNS refused to {what} on {resource}: {_said(exc)}") from None
    except auth_exceptions.GoogleAuthError as exc:
        raise BadInputError(
            f"Cloud DNS: the credentials cannot be used ({_said(exc)}): gcloud auth application-default login"
        ) from None


def connect_cloud_dns(
    project: str, *, endpoint: str | None = None, credentials: Any = None, **options: Any
) -> CloudDnsRecords:
    """A :class:`CloudDnsRecords` for *project* with Application Default Credentials — or, on a loopback *endpoint*
    (``http://127.0.0.1:PORT``: a stand-in), anonymous credentials. *endpoint* is the API's base URL (default
    ``https://dns.googleapis.com``); a plain ``http://`` one is refused unless it is loopback (no token in the
    clear)."""
    from google.cloud.dns import Client

    client_options = None
    if endpoint is not None:
        if not endpoint.startswith(("http://", "https://")):
            raise BadInputError(f"the Cloud DNS endpoint is a URL (https://HOST[:PORT]), got {endpoint[:80]!r}")
        loopback = is_loopback(endpoint)
        if endpoint.startswith("http://") and not loopback:
            raise BadInputError(f"the Cloud DNS endpoint {endpoint[:80]!r} is plain http: only on 127.0.0.1")
        if loopback and credentials is None:
            from google.auth.credentials import AnonymousCredentials

            credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]  # google.auth's own, untyped
        client_options = {"api_endpoint": endpoint.rstrip("/")}
    try:
        client = Client(project=project, credentials=credentials, client_options=client_options)
    except Exception as exc:  # noqa: BLE001 - no credentials, or unreadable ones: said, not a traceback
        raise BadInputError(
            f"cannot reach Cloud DNS: {exc} (Application Default Credentials: gcloud auth application-default login)"
        ) from None
    return CloudDnsRecords(client, project, **options)


def _same_name(given: str, wanted: str) -> bool:
    return given.lower() == wanted.lower()  # DNS names compare without case (RFC 4343)


def _holds(current: RecordSet | None, wanted: RecordSet | None) -> bool:
    """Whether the zone's *current* record set is *wanted*: name, type, ttl, and the same data in any order."""
    if current is None or wanted is None:
        return current is wanted
    return (
        _same_name(current.name, wanted.name)
        and current.type == wanted.type
        and current.ttl == wanted.ttl
        and sorted(current.rrdatas) == sorted(wanted.rrdatas)
    )


def _shown(record: RecordSet | None) -> str:
    if record is None:
        return "absent"
    return f"{', '.join(record.rrdatas)} (ttl {record.ttl})"


def _said(exc: Exception) -> str:
    """What the API answered, fit to be shown: a credential it echoes (``Bearer …``) replaced by ``***``."""
    said = str(getattr(exc, "message", None) or exc)[:1000]
    code = getattr(exc, "code", None)
    return redact_text(f"HTTP {code} {said}" if isinstance(code, int) else said)
