"""Cloud DNS for tests: the REST API v1 (JSON over HTTP, ``/dns/v1/projects/{project}/managedZones/...``) on 127.0.0.1,
for the real ``google-cloud-dns`` client (``google.cloud.dns.Client(..., client_options={"api_endpoint": url})``).

It holds managed zones (each born with its SOA and NS record sets at the apex), their record sets and their changes,
and behaves as Cloud DNS does where failover depends on it, each rule beside the reference it follows:

- ``managedZones.get`` / ``list`` (``dnsName`` filter, paging), ``resourceRecordSets.list`` (``name``, ``type`` only
  with ``name``, ``maxResults`` / ``pageToken`` paging), ``changes.create`` / ``get`` / ``list``;
- a change's additions and deletions applied atomically, all or nothing: a deletion must match the record set the
  zone holds exactly (name, type, ttl, rrdatas: else 412 ``conditionNotMet``; a record set that is not there: 404
  ``notFound``), an addition of a name and type the zone holds (and the change does not delete) is 409
  ``alreadyExists``; a name outside the zone, malformed data for its type (A: IPv4, AAAA: IPv6, CNAME / NS / PTR: a
  fully qualified name, MX: a preference and a name), an empty record set or a negative TTL are 400 ``invalid``; a
  CNAME beside another type at one name 400 ``cnameResourceRecordSetConflict``; the apex's SOA and NS kept
  (``invalidZoneApex``); an empty change 400 ``required``;
- a change answered ``pending`` (its ``id``, its ``startTime``) and ``done`` once ``polls`` reads of it have seen it
  pending; the zone's record sets are changed when the change is accepted (``records``), what its name servers
  answer once it is ``done`` (``served``);
- errors in Google's JSON form: ``{"error": {"code", "message", "errors": [{"domain", "reason", "message"}],
  "status"}}``;
- data stored and returned as Cloud DNS stores it (an AAAA address compressed: :func:`stored_rrdata`), one record
  set per name and type whatever the name's case (RFC 4343), and a routing-policy record set (one a test puts in a
  zone) listed with ``routingPolicy`` in place of ``rrdatas``.

A test can make the service fail for a while (``unavailable``: 503 to the next requests), answer slowly (``slow``),
have someone else change the zone (``change_by_someone_else`` now; ``interpose``: just before the next
``changes.create``), and read every request it answered (``requests``). What it does not do is listed in
``docs/testing.md``.

    with CloudDnsStandIn() as dns:
        dns.add_zone("findly-now-zone", "findly.example.")
        client = dns.client()   # google.cloud.dns.Client(project, AnonymousCredentials, api_endpoint=dns.url)
        zone = client.zone("findly-now-zone")

From a shell: ``python -m findly_infra.testing.cloud_dns --port 8447 --zone findly-now-zone:findly.example.``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import ipaddress
import itertools
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

import attrs

__all__ = [
    "DEFAULT_PROJECT",
    "SUPPORTED_TYPES",
    "CloudDnsStandIn",
    "DnsChange",
    "Received",
    "RecordSet",
    "stored_rrdata",
]

DEFAULT_PROJECT = "findly-now"
"""The project of the zones a test adds without naming one (the example file's project)."""

# The record types Cloud DNS serves ("Supported DNS record types",
# https://cloud.google.com/dns/docs/records-overview#supported_dns_record_types); a type outside them is
# invalidValue ("You specified a resource record set with an invalid type", https://cloud.google.com/dns/docs/error-messages).
SUPPORTED_TYPES = (
    "A",
    "AAAA",
    "ALIAS",
    "CAA",
    "CNAME",
    "DNSKEY",
    "DS",
    "HTTPS",
    "IPSECKEY",
    "MX",
    "NAPTR",
    "NS",
    "PTR",
    "SOA",
    "SPF",
    "SRV",
    "SSHFP",
    "SVCB",
    "TLSA",
    "TXT",
)

# The apex records of a new zone, as Google's own local Cloud DNS (googleapis/google-cloud-java,
# gcloud-java-dns/src/main/java/com/google/gcloud/dns/testing/LocalDnsHelper.java, defaultRecords: "taken from the
# service") makes them: NS (the zone's name servers) and SOA, both with a TTL of 21600.
_APEX_TTL = 21600
_SOA_TAIL = "cloud-dns-hostmaster.google.com. 0 21600 3600 1209600 312"


def _strings(given: Iterable[str]) -> tuple[str, ...]:
    return tuple(str(data) for data in given)


def _policy(given: Mapping[str, Any] | str | None) -> str | None:
    """A routing policy kept as its JSON text (a record set stays hashable and compares by value)."""
    return given if given is None or isinstance(given, str) else json.dumps(given, sort_keys=True)


def stored_rrdata(type_: str, data: str) -> str:
    """*data* as Cloud DNS stores and returns it: an AAAA address in its compressed form, lower case ("Google Cloud
    DNS shortens IPv6 addresses ... 2a03:b0c0:0001:00e0:0000:0000:029b:8001 ... the actual AAAA record that will be
    created is 2a03:b0c0:1:e0::29b:8001", hashicorp/terraform-provider-google#1546; "gcloud stores and returns it in
    the minified format", DNSControl/dnscontrol#25; Terraform suppresses the diff by ``net.ParseIP(record).String()``,
    google/services/dns/resource_dns_record_set.go ``rrdatasDnsDiffSuppress``, tested as "compact form should
    suppress diff" in resource_dns_record_set_test.go). Other data is kept as sent (no other rewriting is published
    for the types failover uses; Terraform's lower-casing of MX, DS and TXT is a comparison of its own)."""
    if type_ == "AAAA":
        try:
            return ipaddress.IPv6Address(data).compressed
        except ValueError:
            return data
    return data


@attrs.frozen
class RecordSet:
    """One resource record set (https://cloud.google.com/dns/docs/reference/rest/v1/resourceRecordSets): *name*
    fully qualified (ending in a dot), *type*, *ttl* in seconds, *rrdatas* in the order given — or, instead of
    rrdatas, a *routing_policy* (the API's ``routingPolicy`` object, e.g. ``{"primaryBackup": {...}}``: "A valid
    ResourceRecordSet contains only rrdata (for static resolution) or a routing_policy (for dynamic resolution)",
    the same reference), which only :meth:`CloudDnsStandIn.add_records` can put in a zone."""

    name: str
    type: str
    ttl: int
    rrdatas: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    routing_policy: str | None = attrs.field(default=None, converter=_policy)

    @property
    def key(self) -> tuple[str, str]:
        """Its identity in a zone: the name without case (DNS names are compared without regard to ASCII case:
        RFC 4343 §3; a zone holds one record set per name and type, https://cloud.google.com/dns/docs/records-overview
        "Resource record sets") and the type."""
        return (self.name.lower(), self.type)

    def to_json(self) -> dict[str, Any]:
        """As the API answers it: ``kind: dns#resourceRecordSet``, ``ttl`` a JSON number; ``routingPolicy`` in
        place of ``rrdatas`` for a routing-policy record set."""
        answer: dict[str, Any] = {
            "kind": "dns#resourceRecordSet",
            "name": self.name,
            "type": self.type,
            "ttl": self.ttl,
        }
        if self.routing_policy is not None:
            answer["routingPolicy"] = json.loads(self.routing_policy)
        else:
            answer["rrdatas"] = list(self.rrdatas)
        return answer


@attrs.define
class DnsChange:
    """One change of a zone (https://cloud.google.com/dns/docs/reference/rest/v1/changes): its id, additions and
    deletions, ``pending`` until ``polls_left`` reads have seen it, then ``done``; *by* says who made it (``api``,
    ``someone else``); *after* is the zone's record sets once it applied (what its name servers answer when done)."""

    id: str
    additions: tuple[RecordSet, ...]
    deletions: tuple[RecordSet, ...]
    start_time: str
    status: str
    polls_left: int
    by: str
    after: tuple[RecordSet, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "dns#change",
            "id": self.id,
            "startTime": self.start_time,
            "status": self.status,
            "isServing": True,
            "additions": [record.to_json() for record in self.additions],
            "deletions": [record.to_json() for record in self.deletions],
        }


@attrs.frozen
class Received:
    """One request the stand-in answered: method, path (without the query), query (each name's last value), headers
    (names in lower case), body as sent, and the status answered."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    status: int


@attrs.define
class _Zone:
    project: str
    name: str
    dns_name: str
    id: str
    description: str
    name_servers: tuple[str, ...]
    creation_time: str
    records: dict[tuple[str, str], RecordSet]
    changes: list[DnsChange] = attrs.field(factory=list)
    served: tuple[RecordSet, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """https://cloud.google.com/dns/docs/reference/rest/v1/managedZones (the fields a public zone has)."""
        return {
            "kind": "dns#managedZone",
            "name": self.name,
            "dnsName": self.dns_name,
            "description": self.description,
            "id": self.id,
            "nameServers": list(self.name_servers),
            "creationTime": self.creation_time,
            "visibility": "public",
        }


class _Refusal(Exception):  # noqa: N818 - an answer, not a failure of the stand-in
    """An error answer, in Google's JSON error form."""

    def __init__(self, code: int, reason: str, message: str, *more: tuple[str, str]) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.more = code, reason, message, more

    def body(self) -> dict[str, Any]:
        # Google's JSON error body (https://cloud.google.com/apis/design/errors#http_mapping; the v1 "errors" list of
        # domain/reason/message as Cloud DNS answers it: googleapis/google-cloud-java LocalDnsHelper.Error.toJson, and
        # real answers quoted in kubernetes-sigs/external-dns#1574 and DNSControl/dnscontrol#349)
        errors = [{"domain": "global", "reason": self.reason, "message": self.message}]
        errors += [{"domain": "global", "reason": reason, "message": message} for reason, message in self.more]
        return {"error": {"code": self.code, "message": self.message, "errors": errors, "status": _STATUS[self.code]}}


# google.rpc.Code for each HTTP status (https://cloud.google.com/apis/design/errors#handling_errors)
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
}


def _not_found(what: str, name: str) -> _Refusal:
    # "The 'parameters.managedZone' resource named 'smashbook-zone' does not exist." (a real 404, quoted in
    # google/kctf's docs and many others; LocalDnsHelper words changeId alike)
    return _Refusal(404, "notFound", f"The '{what}' resource named '{name}' does not exist.")


def _invalid(field: str, value: object) -> _Refusal:
    # "Invalid value for 'entity.change.additions[0].rrdata[2]': 'ns-1752.awsdns-27.co.uk'", reason invalid (a real
    # 400, DNSControl/dnscontrol#349; the name's: mantl/mantl#1082); the error messages page calls the family
    # invalidValue: "The error message includes the path to the problematic part of the request, as well as the
    # invalid value" (https://cloud.google.com/dns/docs/error-messages#invalidvalue)
    return _Refusal(400, "invalid", f"Invalid value for '{field}': '{value}'")


_LABEL = re.compile(r"^(\*|[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)$")


def _is_fqdn(name: str, *, wildcard: bool = False) -> bool:
    """A fully qualified domain name: ends in a dot, labels of 1-63 letters, digits, ``-`` and ``_`` (no empty label:
    "cymbal...group is not a valid DNS name (empty middle label)", the error messages page), at most 253 characters
    before the final dot (RFC 1035 §2.3.4's 255 octets on the wire); ``*`` only as the leftmost label of a record's
    own name (a wildcard, RFC 4592)."""
    if not name.endswith(".") or name == "." or len(name) > 254:
        return False
    labels = name[:-1].split(".")
    for index, label in enumerate(labels):
        if not _LABEL.match(label) or (label == "*" and (index or not wildcard)):
            return False
    return True


def _address(kind: type[ipaddress.IPv4Address | ipaddress.IPv6Address], data: str) -> bool:
    try:
        kind(data)
    except ValueError:
        return False
    return "%" not in data  # no zone index in DNS data


def _target(data: str) -> bool:
    """A name a record points at: fully qualified, never a wildcard."""
    return _is_fqdn(data)


def _mx(data: str) -> bool:
    preference, _, exchange = data.partition(" ")
    return preference.isdigit() and int(preference) <= 65535 and (_is_fqdn(exchange) or exchange == ".")


# Resource data of each type in its presentation form (RFC 1035 §5, as https://cloud.google.com/dns/docs/records-overview
# gives each): A an IPv4 address, AAAA an IPv6 address ("1.1.1.1 is valid resource record data for type A. X.X.X.X is
# invalid": invalidValue, the error messages page), CNAME / NS / PTR a fully qualified name (an NS without its final
# dot is refused: DNSControl/dnscontrol#349), MX a preference (0-65535) and a fully qualified name. Other types are
# only required to be non-empty here.
_RRDATA: dict[str, Callable[[str], bool]] = {
    "A": lambda data: _address(ipaddress.IPv4Address, data),
    "AAAA": lambda data: _address(ipaddress.IPv6Address, data),
    "CNAME": _target,
    "NS": _target,
    "PTR": _target,
    "MX": _mx,
}


def _rrdata_ok(type_: str, data: str) -> bool:
    check = _RRDATA.get(type_)
    return bool(data) and (check is None or check(data))


def _within(name: str, dns_name: str) -> bool:
    """*name* is the zone's apex or below it, on a label boundary (``evilfindly.example.`` is not in
    ``findly.example.``); DNS names compare without regard to ASCII case (RFC 4343)."""
    name, dns_name = name.lower(), dns_name.lower()
    return name == dns_name or name.endswith("." + dns_name)


def _now() -> str:
    """RFC 3339, as the API's ``startTime`` and ``creationTime`` (``2026-12-06T18:41:42.123Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


_ZONE_PATH = re.compile(r"^/dns/v1/projects/([^/]+)/managedZones/([^/]+)$")
_ZONES_PATH = re.compile(r"^/dns/v1/projects/([^/]+)/managedZones$")
_RRSETS_PATH = re.compile(r"^/dns/v1/projects/([^/]+)/managedZones/([^/]+)/rrsets$")
_CHANGES_PATH = re.compile(r"^/dns/v1/projects/([^/]+)/managedZones/([^/]+)/changes$")
_CHANGE_PATH = re.compile(r"^/dns/v1/projects/([^/]+)/managedZones/([^/]+)/changes/([^/]+)$")

# The fields of a Change and of a ResourceRecordSet in a request body (dns/v1/dns-api.json, googleapis/
# google-api-go-client); a field outside them is refused as Google's front end refuses an unknown JSON name
# ("Invalid JSON payload received. Unknown name ...": https://cloud.google.com/apis/design/errors, INVALID_ARGUMENT)
_CHANGE_FIELDS = frozenset({"kind", "additions", "deletions", "id", "startTime", "status", "isServing"})
_RRSET_FIELDS = frozenset({"kind", "name", "type", "ttl", "rrdatas", "signatureRrdatas", "routingPolicy"})

_MAX_BODY = 1 << 20


class CloudDnsStandIn:
    """The stand-in server (see the module's documentation).

    ``polls`` is how many ``changes.get`` reads see a change ``pending`` before one sees it ``done`` (1: the first
    read after the create says ``done``; 0: a change is ``done`` as soon as it is created). ``page_size`` is how many
    record sets (zones, changes) a list answers when the request gives no ``maxResults`` ("If unspecified, the server
    decides how many results to return": the API reference; Cloud DNS's own figure is not published). ``token``:
    when given, every request must carry ``Authorization: Bearer <token>`` (else 401); by default any request is
    served, with a bearer token or none (``google.auth.credentials.AnonymousCredentials`` sends none)."""

    def __init__(
        self,
        *,
        project: str = DEFAULT_PROJECT,
        polls: int = 1,
        page_size: int = 100,
        token: str | None = None,
        port: int = 0,
    ) -> None:
        if polls < 0 or page_size < 1:
            raise ValueError("polls >= 0 and page_size >= 1")
        self.project = project
        self.polls = polls
        self.page_size = page_size
        self.token = token
        self.port = port
        """The port of 127.0.0.1 it serves on (0 before :meth:`start`: a free one is taken)."""
        self.requests: list[Received] = []
        """Every request answered, in order."""
        self._lock = threading.RLock()
        self._zones: dict[tuple[str, str], _Zone] = {}
        self._ids = itertools.count(4_213_806_112_874_402_001)
        self._unavailable = 0
        self._slow: list[float] = []
        self._released = threading.Event()
        self._interposed: dict[tuple[str, str], list[tuple[tuple[RecordSet, ...], tuple[RecordSet, ...]]]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- serving ------------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the ``api_endpoint`` of ``client_options`` (the client appends ``/dns/v1``)."""
        if self._server is None:
            raise RuntimeError("the Cloud DNS stand-in is not serving: start() it first")
        return f"http://127.0.0.1:{self.port}"

    def start(self, port: int | None = None) -> Self:
        """Serve on 127.0.0.1:*port* (default :attr:`port`; 0: a free one, then in :attr:`port`)."""
        if self._server is not None:
            return self
        self._released.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port if port is None else port), self._handler())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="cloud-dns-stand-in"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (a slow answer still waiting is released first). What the zones hold is kept."""
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def client(self, project: str | None = None) -> Any:
        """The real ``google.cloud.dns.Client`` of *project* (default :attr:`project`) pointed at this stand-in, with
        ``AnonymousCredentials`` (needs ``google-cloud-dns``)."""
        import importlib

        from google.auth.credentials import AnonymousCredentials

        dns = importlib.import_module("google.cloud.dns")  # the dns extra; typed Any here (the library ships no types)
        return dns.Client(
            project=project or self.project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": self.url},
        )

    # ---- what a test holds ----------------------------------------------------------------------------------------

    def add_zone(
        self, name: str, dns_name: str, *, project: str | None = None, description: str = ""
    ) -> dict[str, Any]:
        """A public managed zone *name* for *dns_name* (fully qualified, ending in a dot), with its SOA and NS record
        sets at the apex; returns it as ``managedZones.get`` answers it. The name follows the API's rule for a
        zone's name ("begin with a letter, end with a letter or digit, and contain only lowercase letters, digits,
        or dashes", up to 63: https://cloud.google.com/dns/docs/error-messages#invalidfieldvalue)."""
        project = project or self.project
        if not re.fullmatch(r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?", name):
            raise ValueError(
                f"{name!r}: a zone's name begins with a letter, ends with a letter or digit, and holds "
                "only lowercase letters, digits and dashes (63 at most)"
            )
        if not _is_fqdn(dns_name):
            raise ValueError(f"{dns_name!r}: a zone's DNS name is fully qualified (findly.example.)")
        with self._lock:
            if (project, name) in self._zones:
                raise ValueError(f"zone {name} of project {project} exists")
            shard = "abcde"[len(self._zones) % 5]
            servers = tuple(f"ns-cloud-{shard}{n}.googledomains.com." for n in range(1, 5))
            apex = (
                RecordSet(dns_name, "NS", _APEX_TTL, servers),
                RecordSet(dns_name, "SOA", _APEX_TTL, (f"{servers[0]} {_SOA_TAIL}",)),
            )
            zone = _Zone(
                project=project,
                name=name,
                dns_name=dns_name,
                id=str(next(self._ids)),
                description=description,
                name_servers=servers,
                creation_time=_now(),
                records={record.key: record for record in apex},
                served=apex,
            )
            self._zones[(project, name)] = zone
            return zone.to_json()

    def add_records(self, zone: str, *records: RecordSet, project: str | None = None) -> None:
        """Put *records* in *zone* (an administrator's edit before the test: no change is recorded, no rule is
        checked, a record set of the same name and type is replaced), their data as Cloud DNS stores it
        (:func:`stored_rrdata`); its name servers serve them. A record set with a ``routing_policy`` is kept and
        listed as the API lists one (``routingPolicy``, no ``rrdatas``)."""
        with self._lock:
            held = self._zone(zone, project)
            for record in records:
                stored = tuple(stored_rrdata(record.type, data) for data in record.rrdatas)
                held.records[record.key] = attrs.evolve(record, rrdatas=stored)
            held.served = self._snapshot(held)

    def records(self, zone: str, *, project: str | None = None) -> list[RecordSet]:
        """The record sets *zone* holds now, as ``resourceRecordSets.list`` reads them (a change counts from when it
        is accepted, pending or done)."""
        with self._lock:
            return list(self._snapshot(self._zone(zone, project)))

    def record(self, zone: str, name: str, type: str, *, project: str | None = None) -> RecordSet | None:
        """The record set *name*/*type* of *zone*, or ``None``."""
        with self._lock:
            return self._zone(zone, project).records.get((name.lower(), type))

    def served(self, zone: str, *, project: str | None = None) -> list[RecordSet]:
        """What *zone*'s name servers answer: its record sets as of its last change that is ``done`` (a change is
        ``done`` when "the request to update the authoritative servers has been sent":
        https://cloud.google.com/dns/docs/reference/rest/v1/changes), changes done in order."""
        with self._lock:
            return list(self._zone(zone, project).served)

    def changes(self, zone: str, *, project: str | None = None) -> list[DnsChange]:
        """The changes of *zone*, oldest first (copies)."""
        with self._lock:
            return copy.deepcopy(self._zone(zone, project).changes)

    # ---- faults ---------------------------------------------------------------------------------------------------

    def unavailable(self, requests: int = 1) -> None:
        """Answer the next *requests* requests 503 ``backendError`` (UNAVAILABLE), as Google's front end answers
        while the service is down; nothing they ask is done."""
        with self._lock:
            self._unavailable = requests

    def slow(self, seconds: float, requests: int = 1) -> None:
        """Hold each of the next *requests* answers for *seconds* before answering (the request is carried out
        first, then the answer waits: a client that gives up does not know whether its change was made).
        :meth:`stop` releases a held answer at once."""
        with self._lock:
            self._slow.extend([seconds] * requests)

    def change_by_someone_else(
        self,
        zone: str,
        *,
        additions: Iterable[RecordSet] = (),
        deletions: Iterable[RecordSet] = (),
        project: str | None = None,
    ) -> DnsChange:
        """Someone else's change of *zone*, made now by the API's rules (raises ``ValueError`` with the API's message
        if they refuse it); it is ``done`` at once."""
        with self._lock:
            held = self._zone(zone, project)
            try:
                return self._apply(held, tuple(additions), tuple(deletions), by="someone else", polls=0)
            except _Refusal as refused:
                raise ValueError(f"{refused.code} {refused.reason}: {refused.message}") from None

    def interpose(
        self,
        zone: str,
        *,
        additions: Iterable[RecordSet] = (),
        deletions: Iterable[RecordSet] = (),
        project: str | None = None,
    ) -> None:
        """Someone else's change of *zone*, made just before the next ``changes.create`` of *zone* is handled — after
        whatever the client read before it: the race a failover must lose safely (412, 409). Made by the API's rules:
        one they refuse is not made (as theirs would not be), silently."""
        with self._lock:
            self._zone(zone, project)
            self._interposed.setdefault((project or self.project, zone), []).append(
                (tuple(additions), tuple(deletions))
            )

    # ---- the API --------------------------------------------------------------------------------------------------

    def _zone(self, zone: str, project: str | None) -> _Zone:
        held = self._zones.get((project or self.project, zone))
        if held is None:
            raise KeyError(f"no zone {zone} in project {project or self.project}")
        return held

    @staticmethod
    def _snapshot(zone: _Zone) -> tuple[RecordSet, ...]:
        return tuple(sorted(zone.records.values(), key=lambda record: record.key))

    def _answer(
        self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, Any] | None, float]:
        """(status, JSON body, seconds to hold the answer) for one request."""
        with self._lock:
            hold = self._slow.pop(0) if self._slow else 0.0
            try:
                if self._unavailable > 0:
                    self._unavailable -= 1
                    # 503 UNAVAILABLE, reason backendError (https://cloud.google.com/apis/design/errors; the
                    # v1 reason Google's JSON APIs give it: https://cloud.google.com/storage/docs/json_api/v1/status-codes)
                    raise _Refusal(503, "backendError", "The service is currently unavailable.")
                self._authenticate(headers)
                status, answer = 200, self._route(method, path, query, body)
            except _Refusal as refused:
                status, answer = refused.code, refused.body()
            self.requests.append(Received(method, path, dict(query), dict(headers), body, status))
            if answer is not None and "fields" in query and status == 200:
                answer = _select(answer, query["fields"])
            return status, answer, hold

    def _authenticate(self, headers: Mapping[str, str]) -> None:
        # The client sends "Authorization: Bearer <access token>" (google.auth's credentials.apply), or nothing with
        # AnonymousCredentials. A request without valid credentials: 401 UNAUTHENTICATED, "Request had invalid
        # authentication credentials. ..." (https://cloud.google.com/docs/authentication/troubleshoot-adc and every
        # Google API's 401; reason authError in the v1 list). Only the token's presence and value are checked.
        given = headers.get("authorization")
        if self.token is None and (given is None or given.startswith("Bearer ")):
            return
        if given != f"Bearer {self.token}":
            raise _Refusal(
                401,
                "authError",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
                "other valid authentication credential.",
            )

    def _route(self, method: str, path: str, query: Mapping[str, str], body: bytes) -> dict[str, Any] | None:
        if match := _ZONE_PATH.match(path):
            project, zone = match.groups()
            if method == "GET":  # https://cloud.google.com/dns/docs/reference/rest/v1/managedZones/get
                return self._find_zone(project, zone).to_json()
            raise _unimplemented(method, path)
        if match := _ZONES_PATH.match(path):
            if method == "GET":  # https://cloud.google.com/dns/docs/reference/rest/v1/managedZones/list
                return self._list_zones(match.group(1), query)
            raise _unimplemented(method, path)
        if match := _RRSETS_PATH.match(path):
            if method == "GET":  # https://cloud.google.com/dns/docs/reference/rest/v1/resourceRecordSets/list
                return self._list_rrsets(self._find_zone(*match.groups()), query)
            raise _unimplemented(method, path)
        if match := _CHANGES_PATH.match(path):
            zone = self._find_zone(*match.groups())
            if method == "POST":  # https://cloud.google.com/dns/docs/reference/rest/v1/changes/create
                return self._create_change(zone, body)
            if method == "GET":  # https://cloud.google.com/dns/docs/reference/rest/v1/changes/list
                return self._list_changes(zone, query)
            raise _unimplemented(method, path)
        if match := _CHANGE_PATH.match(path):
            project, zone_name, change_id = match.groups()
            zone = self._find_zone(project, zone_name)
            if method == "GET":  # https://cloud.google.com/dns/docs/reference/rest/v1/changes/get
                return self._get_change(zone, change_id)
            raise _unimplemented(method, path)
        if path.startswith("/dns/v1/"):
            raise _unimplemented(method, path)
        # a URL outside the API: LocalDnsHelper's answer (Google's own front end answers an HTML 404 page)
        raise _Refusal(404, "notFound", "The url does not match any API call.")

    def _find_zone(self, project: str, zone: str) -> _Zone:
        # "Identifies the managed zone addressed by this request. Can be the managed zone name or ID." (the path
        # parameter, https://cloud.google.com/dns/docs/reference/rest/v1/managedZones/get)
        held = self._zones.get((project, zone)) or next(
            (held for held in self._zones.values() if held.project == project and held.id == zone), None
        )
        if held is None:
            raise _not_found("parameters.managedZone", zone)
        return held

    # -- lists: "maxResults: Optional. Maximum number of results to be returned. If unspecified, the server decides
    # how many results to return." / "pageToken: ... A tag returned by a previous list request that was truncated."
    # (each list method's reference); a maxResults that is not a positive integer: 400 invalid, and a type without
    # a name: 400 invalid on parameters.name, as LocalDnsHelper.checkListOptions answers them.

    def _page_size(self, query: Mapping[str, str]) -> int:
        given = query.get("maxResults")
        if given is None:
            return self.page_size
        if not given.isdigit() or int(given) <= 0:
            raise _invalid("parameters.maxResults", given)
        return int(given)

    @staticmethod
    def _page(
        items: Sequence[tuple[str, dict[str, Any]]], query: Mapping[str, str], size: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of (sort key, item) after the token's key; the token is opaque to the client (here: the base64
        of the last key answered, so that a page goes on after it even when the collection changed in between —
        "the set of all elements returned are an inconsistent view of the collection", changes.list's reference)."""
        token = query.get("pageToken")
        start = 0
        if token:
            try:
                after = base64.urlsafe_b64decode(token.encode()).decode()
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise _invalid("parameters.pageToken", token) from None
            start = next((index for index, (key, _) in enumerate(items) if key > after), len(items))
        page = items[start : start + size]
        more = start + size < len(items)
        next_token = base64.urlsafe_b64encode(page[-1][0].encode()).decode() if more and page else None
        return [item for _, item in page], next_token

    def _list_zones(self, project: str, query: Mapping[str, str]) -> dict[str, Any]:
        size = self._page_size(query)
        dns_name = query.get("dnsName")  # "Restricts the list to return only zones with this domain name."
        zones = sorted(
            (zone for zone in self._zones.values() if zone.project == project),
            key=lambda zone: zone.name,
        )
        items = [(zone.name, zone.to_json()) for zone in zones if dns_name is None or zone.dns_name == dns_name]
        page, token = self._page(items, query, size)
        answer: dict[str, Any] = {"kind": "dns#managedZonesListResponse", "managedZones": page}
        if token:
            answer["nextPageToken"] = token
        return answer

    def _list_rrsets(self, zone: _Zone, query: Mapping[str, str]) -> dict[str, Any]:
        size = self._page_size(query)
        # "name: Restricts the list to return only records with this fully qualified domain name." / "type:
        # Restricts the list to return only records of this type. If present, the "name" parameter must also be
        # present." (https://cloud.google.com/dns/docs/reference/rest/v1/resourceRecordSets/list)
        name, type_ = query.get("name"), query.get("type")
        if type_ is not None and name is None:
            raise _invalid("parameters.name", "")
        if name is not None and not name.endswith("."):
            raise _invalid("parameters.name", name)
        if type_ is not None and type_ not in SUPPORTED_TYPES:
            raise _invalid("parameters.type", type_)
        items = [
            (f"{record.name}\x00{record.type}", record.to_json())
            for record in self._snapshot(zone)
            if (name is None or record.name.lower() == name.lower()) and (type_ is None or record.type == type_)
        ]
        page, token = self._page(items, query, size)
        answer: dict[str, Any] = {"kind": "dns#resourceRecordSetsListResponse", "rrsets": page}
        if token:
            answer["nextPageToken"] = token
        return answer

    def _list_changes(self, zone: _Zone, query: Mapping[str, str]) -> dict[str, Any]:
        size = self._page_size(query)
        # "sortBy: Sorting criterion. The only supported value is change sequence." / "sortOrder: 'ascending' or
        # 'descending'." (https://cloud.google.com/dns/docs/reference/rest/v1/changes/list)
        order = query.get("sortOrder", "ascending")
        if order not in ("ascending", "descending"):
            raise _invalid("parameters.sortOrder", order)
        if query.get("sortBy", "changeSequence") != "changeSequence":
            raise _invalid("parameters.sortBy", query["sortBy"])
        changes = zone.changes if order == "ascending" else list(reversed(zone.changes))
        items = [(f"{index:012d}", change.to_json()) for index, change in enumerate(changes)]
        page, token = self._page(items, query, size)
        answer: dict[str, Any] = {"kind": "dns#changesListResponse", "changes": page}
        if token:
            answer["nextPageToken"] = token
        return answer

    def _get_change(self, zone: _Zone, change_id: str) -> dict[str, Any]:
        change = next((change for change in zone.changes if change.id == change_id), None)
        if change is None:  # LocalDnsHelper.getChange: "The 'parameters.changeId' resource named '%s' does not exist."
            raise _not_found("parameters.changeId", change_id)
        answer = change.to_json()  # this read sees the change as it was; the next may see it done
        if change.status == "pending":
            change.polls_left -= 1
            if change.polls_left <= 0:
                change.status = "done"
                self._serve_done(zone)
                answer = change.to_json()
        return answer

    @staticmethod
    def _serve_done(zone: _Zone) -> None:
        """The name servers answer the zone as of its last change done with every change before it done."""
        for change in zone.changes:
            if change.status != "done":
                break
            zone.served = change.after

    # -- changes.create: "Atomically updates the ResourceRecordSet collection."; deletions: "Which
    # ResourceRecordSets to remove? Must match existing data exactly." (https://cloud.google.com/dns/docs/reference/
    # rest/v1/changes, https://cloud.google.com/dns/docs/reference/rest/v1/changes/create)

    def _create_change(self, zone: _Zone, body: bytes) -> dict[str, Any]:
        try:
            request = json.loads(body) if body else None
        except (ValueError, RecursionError):
            raise _Refusal(400, "parseError", "Invalid JSON payload received.") from None
        if request is None:  # LocalDnsHelper: an empty body is a missing entity.change
            raise _Refusal(400, "required", "The 'entity.change' parameter is required but was missing.")
        if not isinstance(request, dict):
            raise _Refusal(400, "invalid", "Invalid JSON payload received. Expected an object for 'change'.")
        _known(request, _CHANGE_FIELDS, "change")
        additions = self._rrsets(request.get("additions"), "additions")
        deletions = self._rrsets(request.get("deletions"), "deletions")
        for queued in self._interposed.pop((zone.project, zone.name), []):
            with contextlib.suppress(
                _Refusal
            ):  # someone else's change the zone refuses is not made, as theirs would not be
                self._apply(zone, *queued, by="someone else", polls=0)
        return self._apply(zone, additions, deletions, by="api", polls=self.polls).to_json()

    def _rrsets(self, given: Any, field: str) -> tuple[RecordSet, ...]:
        """The record sets of ``additions`` or ``deletions``, each checked by itself (its zone is checked in
        :meth:`_apply`); every fault of their fields is answered together, as the service lists them
        (DNSControl/dnscontrol#349: two rrdata refused in one answer)."""
        if given is None:
            return ()
        if not isinstance(given, list):
            raise _Refusal(400, "invalid", f"Invalid JSON payload received. Expected a list for 'change.{field}'.")
        records, faults = [], []
        for index, item in enumerate(given):
            record, found = _rrset(item, f"entity.change.{field}[{index}]", f"change.{field}[{index}]")
            faults += found
            if record is not None:
                records.append(record)
        if faults:
            first, *rest = faults
            raise _Refusal(first.code, first.reason, first.message, *((more.reason, more.message) for more in rest))
        return tuple(records)

    def _apply(
        self, zone: _Zone, additions: tuple[RecordSet, ...], deletions: tuple[RecordSet, ...], *, by: str, polls: int
    ) -> DnsChange:
        """Check the change against the zone and make it, all or nothing; data as Cloud DNS stores it
        (:func:`stored_rrdata`)."""
        additions, deletions = _stored(additions), _stored(deletions)
        if not additions and not deletions:
            # an empty change: 400 required, "The 'entity.change' parameter is required but was missing." (a real
            # answer, quoted whole in GoogleCloudPlatform/cloud-foundation-toolkit#466; LocalDnsHelper checkChange);
            # the python client refuses to send one ("No record sets added or deleted")
            raise _Refusal(400, "required", "The 'entity.change' parameter is required but was missing.")
        for field, records in (("additions", additions), ("deletions", deletions)):
            for index, record in enumerate(records):
                if not _within(record.name, zone.dns_name):  # a name outside the zone (LocalDnsHelper checkRrset)
                    raise _invalid(f"entity.change.{field}[{index}].name", record.name)
        held = dict(zone.records)
        for index, record in enumerate(deletions):
            current = held.get(record.key)
            if current is None:
                # a record set that is not there: 404 notFound, "The 'entity.change.deletions[0]' resource named
                # 'aledbf-as.preview.gitpod-dev.com. (A)' does not exist." (real answers quoted in
                # gitpod-io/gitpod#9784; LocalDnsHelper checkRrset answers the same)
                raise _not_found(f"entity.change.deletions[{index}]", f"{record.name} ({record.type})")
            if _compared(current) != _compared(record):  # the name without case (RFC 4343), all else exactly
                # "Precondition not met for 'entity.change.deletions[0]'", conditionNotMet, 412 (a real answer:
                # kubernetes-sigs/external-dns#467); "a create change request that tries to delete a resource record
                # set that doesn't match the one that already exists (same name and type)" (preconditionFailed,
                # https://cloud.google.com/dns/docs/error-messages). rrdatas compare in order (see docs/testing.md)
                raise _Refusal(412, "conditionNotMet", f"Precondition not met for 'entity.change.deletions[{index}]'")
            del held[record.key]
        for index, record in enumerate(additions):
            if record.key in held:
                # "The resource 'entity.change.additions[0]' named 'X (A)' already exists", alreadyExists, 409 (a real
                # answer: OriginProtocol/dshop#352; LocalDnsHelper additionsMeetDeletions)
                raise _Refusal(
                    409,
                    "alreadyExists",
                    f"The resource 'entity.change.additions[{index}]' named '{record.name} ({record.type})' already "
                    "exists",
                )
            held[record.key] = record
        self._check_zone_rules(zone, held, additions, deletions)
        zone.records = held
        after = self._snapshot(zone)
        change = DnsChange(
            id=str(len(zone.changes) + 1),  # sequential from 1 within the zone, as LocalDnsHelper numbers them
            additions=additions,
            deletions=deletions,
            start_time=_now(),
            status="done" if polls == 0 else "pending",
            polls_left=polls,
            by=by,
            after=after,
        )
        zone.changes.append(change)
        if change.status == "done":
            self._serve_done(zone)
        return change

    @staticmethod
    def _check_zone_rules(
        zone: _Zone,
        held: Mapping[tuple[str, str], RecordSet],
        additions: tuple[RecordSet, ...],
        deletions: tuple[RecordSet, ...],
    ) -> None:
        """The rules of the zone as a whole, on what it would hold (https://cloud.google.com/dns/docs/error-messages,
        "Errors relating to managed records")."""
        apex = zone.dns_name
        for field, records in (("additions", additions), ("deletions", deletions)):
            for index, record in enumerate(records):
                where = f"entity.change.{field}[{index}]"
                if record.type == "SOA" and record.name.lower() != apex.lower():
                    # invalidZoneApex, "You tried to create a resource record set of type SOA not at the apex"
                    raise _apex(where, "SOA")
                if (
                    record.type in ("SOA", "NS")
                    and record.name.lower() == apex.lower()
                    and (apex.lower(), record.type) not in held
                ):
                    # invalidZoneApex, when "you tried to delete the required NS [or SOA] record set at the apex"
                    raise _apex(where, record.type)
                if record.type in ("SOA", "CNAME") and len(record.rrdatas) > 1 and field == "additions":
                    # invalidRecordCount, "SOA and CNAME resource record sets can only have one resource record"
                    raise _Refusal(
                        400,
                        "invalidRecordCount",
                        f"The resource record set '{where}' is only permitted to have one record because it is of "
                        f"type {record.type}.",
                    )
        for index, record in enumerate(additions):
            types = {type_ for name, type_ in held if name.lower() == record.name.lower()}
            if "CNAME" in types and len(types) > 1:
                # cnameResourceRecordSetConflict, 400: "The resource record set 'entity.change.additions[0]' is invalid
                # because the DNS name 'frontend.mydomain.com.' may have either one CNAME resource record set or
                # resource record sets of other types, but not both." (a real answer: kubernetes-sigs/external-dns
                # #1574; a CNAME at the apex is the same conflict, with the SOA and NS: the error messages page)
                raise _Refusal(
                    400,
                    "cnameResourceRecordSetConflict",
                    f"The resource record set 'entity.change.additions[{index}]' is invalid because the DNS name "
                    f"'{record.name}' may have either one CNAME resource record set or resource record sets of other "
                    "types, but not both.",
                )

    # ---- HTTP -----------------------------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "findly-cloud-dns"
            protocol_version = "HTTP/1.1"  # keep-alive, as the client's requests.Session uses it

            def log_message(self, *_: Any) -> None:
                return None

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PUT(self) -> None:
                self._serve("PUT")

            def do_PATCH(self) -> None:
                self._serve("PATCH")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                query = {name: values[-1] for name, values in parse_qs(parts.query, keep_blank_values=True).items()}
                length = self.headers.get("Content-Length")
                if length is not None and (not length.isdigit() or int(length) > _MAX_BODY):
                    self.close_connection = True  # the body's end is unknown: nothing more is read here
                    self._send(
                        400, _Refusal(400, "invalid", "The request's Content-Length is malformed or over 1 MB.").body()
                    )
                    return
                body = self.rfile.read(int(length)) if length else b""
                headers = {name.lower(): value for name, value in self.headers.items()}
                status, answer, hold = stand_in._answer(method, unquote(parts.path), query, headers, body)
                if hold > 0:
                    stand_in._released.wait(hold)
                self._send(status, answer)

            def _send(self, status: int, answer: dict[str, Any] | None) -> None:
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _rrset(item: Any, where: str, path: str) -> tuple[RecordSet | None, list[_Refusal]]:
    """One record set of a change's body, checked by itself: the record set, or the faults of its fields."""
    if not isinstance(item, dict):
        raise _Refusal(400, "invalid", f"Invalid JSON payload received. Expected an object for '{where}'.")
    _known(item, _RRSET_FIELDS, path)
    if "routingPolicy" in item or "signatureRrdatas" in item:
        raise _Refusal(
            501,
            "notImplemented",
            f"{where}: routing policies and DNSSEC signatures are not modelled by the Cloud DNS stand-in",
        )
    name, type_, ttl, rrdatas = item.get("name"), item.get("type"), item.get("ttl"), item.get("rrdatas")
    faults = []
    if not isinstance(name, str) or not _is_fqdn(name, wildcard=True):
        faults.append(_invalid(f"{where}.name", name))
    if not isinstance(type_, str) or type_ not in SUPPORTED_TYPES:
        faults.append(_invalid(f"{where}.type", type_))
    if ttl is None:  # assumed: what Cloud DNS does with a record set without a TTL is not published
        faults.append(_Refusal(400, "required", f"The '{where}.ttl' parameter is required but was missing."))
    elif isinstance(ttl, bool) or not re.fullmatch(r"-?\d+", str(ttl)) or int(ttl) < 0:
        # "The TTL must be a non-negative integer." (invalidValue); an int32 in JSON, a number or a string
        faults.append(_invalid(f"{where}.ttl", ttl))
    if not isinstance(rrdatas, list) or not rrdatas:
        # "Invalid value for 'entity.change.additions[0].rrdata': '<empty>'" (a real 400, quoted in
        # tazjin/kubernetes-letsencrypt#48); "a resource record set with no records in it" (invalidValue)
        faults.append(_invalid(f"{where}.rrdata", "<empty>"))
    elif isinstance(type_, str):
        faults += [
            _invalid(f"{where}.rrdata[{position}]", data)
            for position, data in enumerate(rrdatas)
            if not isinstance(data, str) or not _rrdata_ok(type_, data)
        ]
    if faults or not isinstance(name, str) or not isinstance(type_, str) or not isinstance(rrdatas, list):
        return None, faults
    # the data as Cloud DNS stores it (an AAAA address compressed: stored_rrdata), deletions alike — a deletion must
    # "match existing data exactly", and the stored data is the compressed form (assumed: that a deletion written in
    # the expanded form matches is not published; see docs/testing.md)
    return RecordSet(name, type_, int(str(ttl)), tuple(stored_rrdata(type_, data) for data in rrdatas)), []


def _stored(records: tuple[RecordSet, ...]) -> tuple[RecordSet, ...]:
    return tuple(
        attrs.evolve(record, rrdatas=tuple(stored_rrdata(record.type, data) for data in record.rrdatas))
        for record in records
    )


def _compared(record: RecordSet) -> tuple[object, ...]:
    return (record.key, record.ttl, record.rrdatas, record.routing_policy)


def _apex(where: str, type_: str) -> _Refusal:
    # invalidZoneApex (https://cloud.google.com/dns/docs/error-messages#invalidzoneapex), worded as LocalDnsHelper
    return _Refusal(
        400,
        "invalidZoneApex",
        f"The resource record set '{where}' is invalid because a zone must contain exactly one resource record set "
        f"of type '{type_}' at the apex.",
    )


def _unimplemented(method: str, path: str) -> _Refusal:
    """A method of the API the stand-in does not keep (managedZones create/patch/delete, the per-record-set methods,
    policies, ...): refused, never silently answered."""
    return _Refusal(501, "notImplemented", f"{method} {path} is not modelled by the Cloud DNS stand-in")


def _known(given: Mapping[str, Any], fields: frozenset[str], where: str) -> None:
    for name in given:
        if name not in fields:
            raise _Refusal(
                400,
                "invalid",
                f"Invalid JSON payload received. Unknown name \"{name}\" at '{where}': Cannot find field.",
            )


def _select(answer: dict[str, Any], fields: str) -> dict[str, Any]:
    """A partial response (the standard ``fields`` parameter, "Selector specifying which fields to include in a
    partial response": dns/v1/dns-api.json): the top-level fields named (a nested selector ``rrsets(name,type)`` keeps
    the whole ``rrsets``)."""
    names, depth, current = [], 0, ""
    for char in fields:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            names.append(current)
            current = ""
            continue
        if depth == 0 and char not in "()":
            current += char
    names.append(current)
    keep = {name.split("/")[0].strip() for name in names if name.strip()}
    return {name: value for name, value in answer.items() if name in keep}


if __name__ == "__main__":  # python -m findly_infra.testing.cloud_dns: served until interrupted
    from findly_infra.testing._launch import cloud_dns as launch

    raise SystemExit(launch())
