"""The Cloud DNS stand-in (``findly_infra.testing.cloud_dns``) behaves as Cloud DNS does where a failover would notice,
driven through the real ``google-cloud-dns`` client (and raw HTTP for what the client cannot send: filters by name and
type, an empty change, an unknown field, a token). Each rule's reference is cited beside it in the stand-in."""

from __future__ import annotations

import json
import signal
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("google.cloud.dns", reason="the dns extra: pip install 'findly-infra[dns]'")

from google.auth import exceptions as auth_exceptions
from google.cloud import exceptions

from findly_infra.testing.cloud_dns import CloudDnsStandIn, RecordSet
from tests.test_launchers import launched

ZONE, DNS_NAME = "findly-app", "findly.app."
API = RecordSet("api.findly.app.", "A", 300, ("34.120.0.10",))


@pytest.fixture
def dns() -> Iterator[CloudDnsStandIn]:
    with CloudDnsStandIn(polls=1) as stand_in:
        stand_in.add_zone(ZONE, DNS_NAME)
        stand_in.add_records(ZONE, API)
        yield stand_in


def _rrset(zone: Any, record: RecordSet) -> Any:
    return zone.resource_record_set(record.name, record.type, record.ttl, list(record.rrdatas))


def _change(zone: Any, *, add: tuple[RecordSet, ...] = (), delete: tuple[RecordSet, ...] = ()) -> Any:
    changes = zone.changes()
    for record in delete:
        changes.delete_record_set(_rrset(zone, record))
    for record in add:
        changes.add_record_set(_rrset(zone, record))
    changes.create()
    return changes


def _listed(zone: Any) -> list[RecordSet]:
    return [RecordSet(r.name, r.record_type, r.ttl, r.rrdatas) for r in zone.list_resource_record_sets()]


def _raw(dns: CloudDnsStandIn, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(f"{dns.url}/dns/v1/projects/findly-now{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for name, value in headers.items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def _reason(error: exceptions.GoogleCloudError) -> str:
    return str(error.errors[0]["reason"])


# ---- managed zones ----------------------------------------------------------------------------------------------


def test_a_zone_reads_back_with_its_dns_name_id_and_name_servers(dns: CloudDnsStandIn) -> None:
    zone = dns.client().zone(ZONE)
    assert zone.exists()
    zone.reload()
    assert zone.dns_name == DNS_NAME
    assert zone.zone_id.isdigit()
    assert len(zone.name_servers) == 4
    assert all(server.endswith(".googledomains.com.") for server in zone.name_servers)
    assert [z.name for z in dns.client().list_zones()] == [ZONE]
    by_id = dns.client().zone(zone.zone_id)  # "Can be the managed zone name or ID."
    by_id.reload()
    assert by_id.dns_name == DNS_NAME


def test_a_missing_zone_is_404_not_found_in_googles_error_form(dns: CloudDnsStandIn) -> None:
    zone = dns.client().zone("no-such-zone")
    assert not zone.exists()
    with pytest.raises(exceptions.NotFound) as raised:
        zone.reload()
    assert raised.value.message.endswith("The 'parameters.managedZone' resource named 'no-such-zone' does not exist.")
    status, body = _raw(dns, "GET", "/managedZones/no-such-zone/rrsets")
    assert status == 404
    assert body["error"]["code"] == 404
    assert body["error"]["status"] == "NOT_FOUND"
    assert body["error"]["errors"] == [
        {
            "domain": "global",
            "reason": "notFound",
            "message": "The 'parameters.managedZone' resource named 'no-such-zone' does not exist.",
        }
    ]
    with pytest.raises(exceptions.NotFound):  # another project holds no zone of that name
        dns.client(project="another-project").zone(ZONE).reload()


# ---- record sets --------------------------------------------------------------------------------------------------


def test_a_new_zone_holds_its_soa_and_ns_at_the_apex() -> None:
    with CloudDnsStandIn() as dns:
        dns.add_zone("fresh", "fresh.example.")
        listed = _listed(dns.client().zone("fresh"))
    assert sorted((r.name, r.type) for r in listed) == [("fresh.example.", "NS"), ("fresh.example.", "SOA")]
    (ns,) = [r for r in listed if r.type == "NS"]
    assert len(ns.rrdatas) == 4


def test_record_sets_come_in_pages_the_client_follows(dns: CloudDnsStandIn) -> None:
    many = [RecordSet(f"host-{n:02d}.findly.app.", "A", 60, (f"10.0.0.{n}",)) for n in range(25)]
    dns.add_records(ZONE, *many)
    dns.page_size = 10  # the server's own page when the client asks no maxResults
    iterator = dns.client().zone(ZONE).list_resource_record_sets()
    pages = [list(page) for page in iterator.pages]
    assert [len(page) for page in pages] == [10, 10, 8]  # 25 + the apex's SOA and NS + api
    names = [(r.name, r.record_type) for page in pages for r in page]
    assert len(set(names)) == 28  # each once, none skipped
    asked = [r.query for r in dns.requests if r.path.endswith("/rrsets")]
    assert "pageToken" not in asked[0]
    assert all("pageToken" in query for query in asked[1:])


def test_max_results_bounds_a_page_and_next_page_token_goes_on(dns: CloudDnsStandIn) -> None:
    dns.add_records(ZONE, *(RecordSet(f"h{n}.findly.app.", "A", 60, ("10.0.0.1",)) for n in range(6)))
    status, first = _raw(dns, "GET", f"/managedZones/{ZONE}/rrsets?maxResults=4")
    assert status == 200
    assert first["kind"] == "dns#resourceRecordSetsListResponse"
    assert len(first["rrsets"]) == 4
    assert all(item["kind"] == "dns#resourceRecordSet" for item in first["rrsets"])
    _, second = _raw(dns, "GET", f"/managedZones/{ZONE}/rrsets?maxResults=4&pageToken={first['nextPageToken']}")
    assert len(second["rrsets"]) == 4  # 6 + api + SOA + NS = 9
    _, third = _raw(dns, "GET", f"/managedZones/{ZONE}/rrsets?maxResults=4&pageToken={second['nextPageToken']}")
    assert len(third["rrsets"]) == 1
    assert "nextPageToken" not in third
    assert _raw(dns, "GET", f"/managedZones/{ZONE}/rrsets?maxResults=0")[0] == 400


def test_rrsets_filter_by_name_and_by_type_only_with_a_name(dns: CloudDnsStandIn) -> None:
    dns.add_records(ZONE, RecordSet("api.findly.app.", "AAAA", 300, ("2001:db8::10",)))
    _, by_name = _raw(dns, "GET", f"/managedZones/{ZONE}/rrsets?name=api.findly.app.")
    assert sorted(item["type"] for item in by_name["rrsets"]) == ["A", "AAAA"]
    _, by_both = _raw(dns, "GET", f"/managedZones/{ZONE}/rrsets?name=api.findly.app.&type=A")
    assert by_both["rrsets"] == [API.to_json()]
    status, body = _raw(dns, "GET", f"/managedZones/{ZONE}/rrsets?type=A")
    assert status == 400  # "If present, the "name" parameter must also be present."
    assert body["error"]["errors"][0]["reason"] == "invalid"
    _, none = _raw(dns, "GET", f"/managedZones/{ZONE}/rrsets?name=www.findly.app.&type=A")
    assert none["rrsets"] == []


# ---- changes ------------------------------------------------------------------------------------------------------


def test_a_change_replaces_a_record_set_atomically_pending_then_done(dns: CloudDnsStandIn) -> None:
    zone = dns.client().zone(ZONE)
    dr = RecordSet(API.name, "A", 60, ("35.190.0.20",))
    changes = _change(zone, delete=(API,), add=(dr,))
    assert changes.status == "pending"
    assert changes.name == "1"
    assert changes.started is not None
    assert dns.record(ZONE, API.name, "A") == dr  # the zone holds it once accepted
    assert API in dns.served(ZONE)  # its name servers still answer the old one
    changes.reload()
    assert changes.status == "done"  # polls=1: the first read after the create
    assert dr in dns.served(ZONE)
    assert API not in dns.served(ZONE)
    assert [(r.name, r.record_type) for r in changes.additions] == [(API.name, "A")]


@pytest.mark.parametrize("polls", [0, 1, 3])
def test_a_change_is_done_after_the_polls_the_stand_in_is_given(polls: int) -> None:
    with CloudDnsStandIn(polls=polls) as dns:
        dns.add_zone(ZONE, DNS_NAME)
        zone = dns.client().zone(ZONE)
        changes = _change(zone, add=(API,))
        seen = [changes.status]
        while changes.status != "done":
            changes.reload()
            seen.append(changes.status)
    assert seen == ["pending"] * polls + ["done"]


def test_a_stale_deletion_is_412_and_nothing_of_the_change_is_made(dns: CloudDnsStandIn) -> None:
    zone = dns.client().zone(ZONE)
    www = RecordSet("www.findly.app.", "A", 300, ("34.120.0.11",))
    for stale in (
        RecordSet(API.name, "A", 60, API.rrdatas),  # another TTL
        RecordSet(API.name, "A", 300, ("34.120.0.99",)),  # other data
        RecordSet(API.name, "A", 300, ("34.120.0.10", "34.120.0.11")),  # more data
    ):
        with pytest.raises(exceptions.PreconditionFailed) as raised:
            _change(zone, add=(www, RecordSet(API.name, "A", 60, ("35.190.0.20",))), delete=(stale,))
        assert _reason(raised.value) == "conditionNotMet"
        assert "Precondition not met for 'entity.change.deletions[0]'" in raised.value.message
    assert dns.records(ZONE) == sorted(dns.records(ZONE), key=lambda r: (r.name, r.type))
    assert dns.record(ZONE, "www.findly.app.", "A") is None  # the addition beside it was not made either
    assert dns.record(ZONE, API.name, "A") == API
    assert dns.changes(ZONE) == []


def test_deleting_a_record_set_that_is_not_there_is_404(dns: CloudDnsStandIn) -> None:
    with pytest.raises(exceptions.NotFound) as raised:
        _change(dns.client().zone(ZONE), delete=(RecordSet("www.findly.app.", "A", 300, ("10.0.0.1",)),))
    assert "'entity.change.deletions[0]' resource named 'www.findly.app. (A)' does not exist" in raised.value.message


def test_adding_what_exists_is_409_unless_the_change_deletes_it(dns: CloudDnsStandIn) -> None:
    zone = dns.client().zone(ZONE)
    with pytest.raises(exceptions.Conflict) as raised:
        _change(zone, add=(RecordSet(API.name, "A", 60, ("35.190.0.20",)),))
    assert _reason(raised.value) == "alreadyExists"
    assert "The resource 'entity.change.additions[0]' named 'api.findly.app. (A)' already exists" in (
        raised.value.message
    )
    _change(zone, delete=(API,), add=(RecordSet(API.name, "A", 60, ("35.190.0.20",)),))  # the same, replaced
    other_type = RecordSet(API.name, "AAAA", 300, ("2001:db8::10",))
    _change(zone, add=(other_type,))  # another type at the same name is another record set


@pytest.mark.parametrize(
    ("record", "reason", "field"),
    [
        (RecordSet("api.findly.app.", "AAAA", 300, ("34.120.0.10",)), "invalid", "additions[0].rrdata[0]"),
        (RecordSet("x.findly.app.", "A", 300, ("2001:db8::1",)), "invalid", "additions[0].rrdata[0]"),
        (RecordSet("x.findly.app.", "A", 300, ("34.120.0.256",)), "invalid", "additions[0].rrdata[0]"),
        (RecordSet("x.findly.app.", "CNAME", 300, ("api.findly.app",)), "invalid", "additions[0].rrdata[0]"),
        (RecordSet("x.findly.app.", "NS", 300, ("ns1.example.com",)), "invalid", "additions[0].rrdata[0]"),
        (RecordSet("api.other.app.", "A", 300, ("10.0.0.1",)), "invalid", "additions[0].name"),
        (RecordSet("evilfindly.app.", "A", 300, ("10.0.0.1",)), "invalid", "additions[0].name"),
        (RecordSet("api.findly.app", "A", 300, ("10.0.0.1",)), "invalid", "additions[0].name"),
        (RecordSet("a..findly.app.", "A", 300, ("10.0.0.1",)), "invalid", "additions[0].name"),
        (RecordSet("x.findly.app.", "A", -1, ("10.0.0.1",)), "invalid", "additions[0].ttl"),
        (RecordSet("x.findly.app.", "A", 300, ()), "invalid", "additions[0].rrdata"),
        (RecordSet("x.findly.app.", "BOGUS", 300, ("x",)), "invalid", "additions[0].type"),
        (RecordSet("api.findly.app.", "CNAME", 300, ("lb.findly.app.",)), "cnameResourceRecordSetConflict", ""),
        (RecordSet("findly.app.", "CNAME", 300, ("lb.findly.app.",)), "cnameResourceRecordSetConflict", ""),
        (RecordSet("x.findly.app.", "CNAME", 300, ("a.findly.app.", "b.findly.app.")), "invalidRecordCount", ""),
        (RecordSet("x.findly.app.", "SOA", 300, ("ns. host. 1 2 3 4 5",)), "invalidZoneApex", ""),
    ],
)
def test_an_addition_cloud_dns_refuses_is_400_and_not_made(
    dns: CloudDnsStandIn, record: RecordSet, reason: str, field: str
) -> None:
    with pytest.raises(exceptions.BadRequest) as raised:
        _change(dns.client().zone(ZONE), add=(record,))
    assert _reason(raised.value) == reason
    assert f"entity.change.{field}" in raised.value.message
    assert dns.changes(ZONE) == []
    assert dns.record(ZONE, record.name, record.type) in (None, API)


def test_a_cname_added_beside_another_type_in_one_change_is_a_conflict(dns: CloudDnsStandIn) -> None:
    txt = RecordSet("www.findly.app.", "TXT", 300, ('"owner=findly"',))
    cname = RecordSet("www.findly.app.", "CNAME", 300, ("api.findly.app.",))
    with pytest.raises(exceptions.BadRequest) as raised:  # kubernetes-sigs/external-dns#1574: CNAME and TXT at once
        _change(dns.client().zone(ZONE), add=(cname, txt))
    assert _reason(raised.value) == "cnameResourceRecordSetConflict"


def test_the_apex_keeps_its_soa_and_ns(dns: CloudDnsStandIn) -> None:
    ns = next(r for r in dns.records(ZONE) if r.type == "NS")
    with pytest.raises(exceptions.BadRequest) as raised:
        _change(dns.client().zone(ZONE), delete=(ns,))
    assert _reason(raised.value) == "invalidZoneApex"
    _change(dns.client().zone(ZONE), delete=(ns,), add=(RecordSet(ns.name, "NS", 300, ns.rrdatas),))  # replaced: fine


def test_several_faults_of_a_change_are_answered_together(dns: CloudDnsStandIn) -> None:
    bad = RecordSet("x.findly.app.", "NS", 300, ("ns1.example.com.", "ns-1752.awsdns-27.co.uk", "ns-98.awsdns-12.com"))
    with pytest.raises(exceptions.BadRequest) as raised:
        _change(dns.client().zone(ZONE), add=(bad,))
    assert [e["message"] for e in raised.value.errors] == [
        "Invalid value for 'entity.change.additions[0].rrdata[1]': 'ns-1752.awsdns-27.co.uk'",
        "Invalid value for 'entity.change.additions[0].rrdata[2]': 'ns-98.awsdns-12.com'",
    ]


def test_an_unknown_change_is_404(dns: CloudDnsStandIn) -> None:
    changes = dns.client().zone(ZONE).changes()
    changes.name = "999"
    assert not changes.exists()
    with pytest.raises(exceptions.NotFound) as raised:
        changes.reload()
    assert raised.value.message.endswith("The 'parameters.changeId' resource named '999' does not exist.")


def test_changes_are_listed_in_sequence_either_way(dns: CloudDnsStandIn) -> None:
    zone = dns.client().zone(ZONE)
    for n in range(3):
        _change(zone, add=(RecordSet(f"h{n}.findly.app.", "A", 60, ("10.0.0.1",)),))
    assert [c.name for c in zone.list_changes()] == ["1", "2", "3"]
    _, descending = _raw(dns, "GET", f"/managedZones/{ZONE}/changes?sortOrder=descending&maxResults=2")
    assert [c["id"] for c in descending["changes"]] == ["3", "2"]
    assert "nextPageToken" in descending


# ---- what the client cannot send ----------------------------------------------------------------------------------


def test_an_empty_change_is_400_required(dns: CloudDnsStandIn) -> None:
    for body in ({"additions": [], "deletions": []}, {}):
        status, answer = _raw(dns, "POST", f"/managedZones/{ZONE}/changes", body)
        assert status == 400
        assert answer["error"]["errors"][0]["reason"] == "required"
    with pytest.raises(ValueError, match="No record sets added or deleted"):  # the client refuses to send one
        dns.client().zone(ZONE).changes().create()


def test_a_body_cloud_dns_cannot_read_is_400(dns: CloudDnsStandIn) -> None:
    unknown = {"additions": [{**API.to_json(), "name": "x.findly.app.", "weight": 3}]}
    status, answer = _raw(dns, "POST", f"/managedZones/{ZONE}/changes", unknown)
    assert status == 400
    assert 'Unknown name "weight"' in answer["error"]["message"]
    assert _raw(dns, "POST", f"/managedZones/{ZONE}/changes", b"{not json")[0] == 400
    no_ttl = {"additions": [{"name": "x.findly.app.", "type": "A", "rrdatas": ["10.0.0.1"]}]}
    assert _raw(dns, "POST", f"/managedZones/{ZONE}/changes", no_ttl)[0] == 400
    ttl_as_string = {"additions": [{"name": "x.findly.app.", "type": "A", "ttl": "60", "rrdatas": ["10.0.0.1"]}]}
    status, made = _raw(dns, "POST", f"/managedZones/{ZONE}/changes", ttl_as_string)  # as the python client sends it
    assert (status, made["additions"][0]["ttl"]) == (200, 60)


def test_a_method_the_stand_in_does_not_keep_is_refused_not_ignored(dns: CloudDnsStandIn) -> None:
    status, answer = _raw(dns, "DELETE", f"/managedZones/{ZONE}")
    assert status == 501
    assert "not modelled" in answer["error"]["message"]
    assert dns.record(ZONE, API.name, "A") == API


def test_anonymous_credentials_send_no_token_and_a_required_token_is_checked() -> None:
    with CloudDnsStandIn(token="ya29.test-token") as dns:
        dns.add_zone(ZONE, DNS_NAME)
        # AnonymousCredentials send no Authorization header; on the 401, google.auth's AuthorizedSession refreshes the
        # credentials to try again, which anonymous ones cannot do
        with pytest.raises(auth_exceptions.InvalidOperation, match="Anonymous credentials cannot be refreshed"):
            dns.client().zone(ZONE).reload()
        assert dns.requests[-1].status == 401
        assert "authorization" not in dns.requests[-1].headers
        assert _raw(dns, "GET", f"/managedZones/{ZONE}", Authorization="Bearer wrong")[0] == 401
        assert _raw(dns, "GET", f"/managedZones/{ZONE}", Authorization="Bearer ya29.test-token")[0] == 200
    with CloudDnsStandIn() as dns:  # by default: anonymous or any bearer token, never another scheme
        dns.add_zone(ZONE, DNS_NAME)
        assert _raw(dns, "GET", f"/managedZones/{ZONE}", Authorization="Bearer anything")[0] == 200
        assert _raw(dns, "GET", f"/managedZones/{ZONE}", Authorization="Basic Zm9vOmJhcg==")[0] == 401


# ---- faults -------------------------------------------------------------------------------------------------------


def test_unavailable_answers_503_and_does_nothing(dns: CloudDnsStandIn) -> None:
    zone = dns.client().zone(ZONE)
    dns.unavailable(requests=2)
    for _ in range(2):
        with pytest.raises(exceptions.ServiceUnavailable) as raised:
            _change(zone, delete=(API,))
        assert _reason(raised.value) == "backendError"
    assert dns.record(ZONE, API.name, "A") == API
    _change(zone, delete=(API,))  # the third is served
    assert dns.record(ZONE, API.name, "A") is None


def test_a_slow_answer_comes_after_the_change_is_made(dns: CloudDnsStandIn) -> None:
    dns.slow(seconds=30)
    body = {"deletions": [API.to_json()]}
    request = urllib.request.Request(
        f"{dns.url}/dns/v1/projects/findly-now/managedZones/{ZONE}/changes",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        urllib.request.urlopen(request, timeout=0.3)  # the thing tested is a client giving up: a real wait
    assert dns.record(ZONE, API.name, "A") is None  # made, though its answer never came
    assert dns.changes(ZONE)[0].deletions == (API,)


def test_someone_elses_change_between_a_read_and_a_change_makes_it_412(dns: CloudDnsStandIn) -> None:
    zone = dns.client().zone(ZONE)
    (read,) = [r for r in _listed(zone) if r.name == API.name]
    theirs = RecordSet(API.name, "A", 300, ("203.0.113.7",))
    dns.interpose(ZONE, deletions=(API,), additions=(theirs,))
    with pytest.raises(exceptions.PreconditionFailed):
        _change(zone, delete=(read,), add=(RecordSet(API.name, "A", 60, ("35.190.0.20",)),))
    assert dns.record(ZONE, API.name, "A") == theirs  # theirs stands, never overwritten
    assert [(c.by, c.status) for c in dns.changes(ZONE)] == [("someone else", "done")]
    made = dns.change_by_someone_else(ZONE, deletions=(theirs,))
    assert (made.id, made.status) == ("2", "done")
    assert dns.record(ZONE, API.name, "A") is None
    with pytest.raises(ValueError, match="404 notFound"):
        dns.change_by_someone_else(ZONE, deletions=(theirs,))


# ---- the launcher ---------------------------------------------------------------------------------------------------


def test_the_launcher_serves_its_zones_to_the_real_client(tmp_path: Path) -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import dns as cloud_dns

    with launched("cloud_dns", "--zone", f"{ZONE}:{DNS_NAME}", "--project", "findly-lab", cwd=tmp_path) as served:
        exports = served.exports()
        assert exports["FINDLY_GCP_PROJECT"] == "findly-lab"
        client = cloud_dns.Client(
            project="findly-lab",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": exports["FINDLY_DNS_ENDPOINT"]},
        )
        zone = client.zone(ZONE)
        assert sorted(r.record_type for r in zone.list_resource_record_sets()) == ["NS", "SOA"]
        code, _ = served.stop(signal.SIGTERM)
    assert code == 0


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--zone", "findly-app"), "--zone 'findly-app': give NAME:DNSNAME"),
        (("--zone", "findly-app:findly.app"), "a zone's DNS name is fully qualified"),
        (("--zone", "Findly:findly.app."), "a zone's name begins with a letter"),
    ],
)
def test_the_launcher_refuses_a_malformed_zone(args: tuple[str, ...], says: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "findly_infra.testing.cloud_dns", "--port", "0", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_the_launcher_refuses_a_port_in_use(tmp_path: Path) -> None:
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "findly_infra.testing.cloud_dns", "--port", str(port)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert f"127.0.0.1:{port} cannot be listened on" in result.stderr
