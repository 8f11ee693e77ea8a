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

A replacement of several record sets is ONE change (``replace_all``): Cloud DNS makes all of it or none of it. It is
safe to run again after a crash: a record set whose data the zone already holds (compared as Cloud DNS stores it: an
AAAA address compressed, ``domain.recovery.dns_data``) is left out, and the change that made it waited for if still
``pending``; a change whose answer was lost (retried after a ``503``) finds the zone holding every *new* on its
``412`` and counts as done. Record sets are read as the API's JSON: one served by a routing policy (no ``rrdatas``)
is refused by name (:class:`BadInputError`), never a ``KeyError`` from the client.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from findly_infra.adapters.google_api import retried
from findly_infra.application.ports import (
    BadInputError,
    ConcurrencyError,
    DependencyUnavailableError,
    RecordSet,
)
from findly_infra.application.redaction import is_loopback, redact_text
from findly_infra.domain.recovery import dns_data, same_dns_data

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
        """The record set *name*/*type* in managed zone *zone*, or ``None``. A record set served by a routing policy
        (``routingPolicy`` instead of ``rrdatas``: "A valid ResourceRecordSet contains only rrdata (for static
        resolution) or a routing_policy (for dynamic resolution)", https://cloud.google.com/dns/docs/reference/rest/
        v1/resourceRecordSets) is :class:`BadInputError`: this tool switches static data only. The answer is read
        as the API's JSON (``item_to_value`` of google-api-core's page iterator), not through the client's
        ``ResourceRecordSet.from_api_repr``, which raises ``KeyError: 'rrdatas'`` on such a record set
        (googleapis/python-dns#191: routing policies are not supported by google-cloud-dns)."""
        managed = self.client.zone(zone)

        def listed() -> list[dict[str, Any]]:
            records = managed.list_resource_record_sets()
            # rrsets.list's own filter (name, and type with it): one record set, not the whole zone, page by page
            records.extra_params = {"name": name, "type": type}
            records.item_to_value = _raw
            return [
                record
                for record in records
                if _same_name(str(record.get("name", "")), name) and record.get("type") == type
            ]

        found = self._call("list the record sets (dns.resourceRecordSets.list)", self._zone(zone), listed)
        if not found:
            return None
        record = found[0]
        if "rrdatas" not in record:
            policy = ", ".join(sorted(record.get("routingPolicy") or {})) or "a routing policy"
            raise BadInputError(
                f"{record.get('name', name)} ({type}) in zone {zone} is a routing-policy record set ({policy}), not "
                "static data: routing-policy records are not switched by this tool — switch it in Cloud DNS "
                "yourself, or take it out of failover.dns.records"
            )
        return RecordSet(str(record["name"]), str(record["type"]), int(record["ttl"]), tuple(record["rrdatas"]))

    # ---- changing ----------------------------------------------------------------------------------------------------

    def replace(self, zone: str, old: RecordSet | None, new: RecordSet) -> None:
        """One record set's :meth:`replace_all`."""
        self.replace_all(zone, [(old, new)])

    def replace_all(self, zone: str, changes: Sequence[tuple[RecordSet | None, RecordSet]]) -> None:
        """Make each *new* of *changes* the record set of its name and type, replacing its *old* (``None``: none),
        all in ONE change (``changes.create`` is atomic), and wait until it is ``done``. Refused
        (:class:`DnsChangeRefusedError`, nothing sent) when the zone holds, for any of them, neither *old* nor *new*;
        a record set that holds its *new* data already (as Cloud DNS stores it, the TTL aside) is left out (a rerun;
        the change that made it is waited for while still ``pending``)."""
        currents = [(old, new, self.read(zone, new.name, new.type)) for old, new in changes]
        held = [new for _, new, current in currents if _holds(current, new)]
        sending = [(old, new, current) for old, new, current in currents if not _holds(current, new)]
        stale = [
            f"{new.name} ({new.type}) is {_shown(current)}, not {_shown(old)}"
            for old, new, current in sending
            if not (_exactly(current, old) if old is not None else current is None)
        ]
        if stale:
            raise DnsChangeRefusedError(
                f"in zone {zone}: {'; '.join(stale)} as expected: someone else changed it; nothing was sent, no "
                "record was switched (read it again and decide)"
            )
        if held:  # a rerun: the change that made them may still be pending
            self._wait_for_pending(zone, held)
        if not sending:
            return
        managed = self.client.zone(zone)
        change = managed.changes()
        for _, new, current in sending:
            if current is not None:  # the record set exactly as the zone holds it: a deletion must match it exactly
                change.delete_record_set(
                    managed.resource_record_set(current.name, current.type, current.ttl, [*current.rrdatas])
                )
            data = [dns_data(new.type, value) for value in new.rrdatas]  # as Cloud DNS will store it
            change.add_record_set(managed.resource_record_set(new.name, new.type, new.ttl, data))
        names = ", ".join(f"{new.name} ({new.type})" for _, new, _ in sending)
        try:
            self._call("create a change (dns.changes.create)", self._zone(zone), change.create)
        except (DnsChangeRefusedError, DnsNotFoundError) as refused:
            # 412/409: what was read changed; 404: a record set deleted is gone (the zone itself: read raises)
            now = [(new, self.read(zone, new.name, new.type)) for _, new, _ in sending]
            if all(_holds(current, new) for new, current in now):  # ours, its answer lost, sent again
                self._wait_for_pending(zone, [new for new, _ in now])
                return
            reason = "a record set it replaces is gone" if isinstance(refused, DnsNotFoundError) else str(refused)
            shown = "; ".join(f"{new.name} ({new.type}) {_shown(current)}" for new, current in now)
            raise DnsChangeRefusedError(
                f"Cloud DNS refused the change of {names} in zone {zone}: {reason} — now {shown}: someone else changed "
                "it; the change is atomic: nothing of it was made, nothing was overwritten"
            ) from None
        self._wait(change, zone)

    def _wait_for_pending(self, zone: str, records: Sequence[RecordSet]) -> None:
        """Wait for the newest change that added each of *records*' name and type, when it is still ``pending`` —
        the change an earlier run made and did not see ``done`` (it crashed, or its answer was lost).
        ``changes.list``, newest first ("sortBy: changeSequence", "sortOrder: descending":
        https://cloud.google.com/dns/docs/reference/rest/v1/changes/list), the last :data:`_RECENT` changes, read as
        the API's JSON (a change that holds a routing-policy record set is no ``KeyError`` then)."""
        managed = self.client.zone(zone)

        def newest() -> list[str]:
            listed = managed.list_changes(max_results=_RECENT)
            listed.extra_params = {"sortBy": "changeSequence", "sortOrder": "descending"}
            listed.item_to_value = _raw
            waiting, left = [], {(record.name.lower(), record.type) for record in records}
            for change in listed:
                added = {
                    (str(item.get("name", "")).lower(), item.get("type")) for item in change.get("additions") or ()
                }
                if left & added:
                    left -= added
                    if change.get("status") != "done":
                        waiting.append(str(change["id"]))
                if not left:
                    break
            return waiting

        for name in self._call("list the changes (dns.changes.list)", self._zone(zone), newest):
            change = managed.changes()
            change.name = name
            self._call(f"read change {name} (dns.changes.get)", self._zone(zone), change.reload)
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

    try:
        return retried(call, transient, attempts=attempts, failed=f"Cloud DNS did not {what} ({resource})", said=_said)
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


def _raw(_iterator: Any, resource: Any) -> Any:
    """A list's item as the API answered it (JSON): google-api-core's ``item_to_value``."""
    return resource


def _holds(current: RecordSet | None, wanted: RecordSet) -> bool:
    """Whether the zone's *current* record set already holds *wanted*'s data, in any order, as Cloud DNS stores it
    (``domain.recovery.same_dns_data``: an AAAA address compressed) — the TTL aside, as the failover's DNS step
    counts a record switched (``application.recovery``)."""
    return (
        current is not None
        and _same_name(current.name, wanted.name)
        and current.type == wanted.type
        and same_dns_data(current.type, current.rrdatas, wanted.rrdatas)
    )


def _exactly(current: RecordSet | None, wanted: RecordSet) -> bool:
    """Whether *current* is *wanted* as it was read: its data (as stored) and its TTL — what a deletion matches."""
    return _holds(current, wanted) and current is not None and current.ttl == wanted.ttl


def _shown(record: RecordSet | None) -> str:
    if record is None:
        return "absent"
    return f"{', '.join(record.rrdatas)} (ttl {record.ttl})"


def _said(exc: Exception) -> str:
    """What the API answered, fit to be shown: a credential it echoes (``Bearer …``) replaced by ``***``."""
    said = str(getattr(exc, "message", None) or exc)[:1000]
    code = getattr(exc, "code", None)
    return redact_text(f"HTTP {code} {said}" if isinstance(code, int) else said)
