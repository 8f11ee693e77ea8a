"""The failover's DNS step against the Cloud DNS stand-in through the real adapter and client (the review of issue 27,
findings 3, 4, 5, 6, 9, 10 and 13): AAAA data compared as Cloud DNS stores it, every record switched in ONE change,
a drill that reads the zone, a routing-policy record refused by name, "already switched" meaning the same data
whatever the TTL, and the records' TTL before the switch reported beside the RTO."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("google.cloud.dns", reason="the dns extra: pip install 'findly-infra[dns]'")

from findly_infra.adapters.cloud_dns import CloudDnsRecords, connect_cloud_dns
from findly_infra.application.ports import BadInputError, ConcurrencyError
from findly_infra.application.recovery import Recovery, RecoveryRefusedError
from findly_infra.cli.dr_commands import operation_json
from findly_infra.domain.errors import InvariantError
from findly_infra.domain.recovery import (
    DnsRecord,
    RecoveryKind,
    RecoveryStep,
    RecoveryStepFailed,
    dns_data,
    same_dns_data,
)
from findly_infra.testing import cloud_dns as stand_in
from findly_infra.testing.cloud_dns import CloudDnsStandIn

from .fakes import DR, PLATFORM, PRIMARY, RECORD, ZONE, Region, region, released

FAILOVER, DRILL = RecoveryKind.FAILOVER, RecoveryKind.DRILL
CONTEXT = "gke_findly-now_us-east1_findly-production-dr"
WWW = "www.findly.now."
OTHER = ("192.0.2.99",)
"""What someone else put in a record: neither its primary nor its DR data."""


@pytest.fixture(autouse=True)
def _no_waits() -> Iterator[None]:
    import stamina

    stamina.set_testing(True, attempts=2)
    yield
    stamina.set_testing(False)


@pytest.fixture
def dns() -> Iterator[CloudDnsStandIn]:
    with CloudDnsStandIn(polls=2) as server:
        server.add_zone(ZONE, "findly.now.")
        yield server


def _with(*records: DnsRecord) -> Region:
    """A DR region whose failover moves *records* (the example's zone), its services released."""
    assert PLATFORM.failover is not None
    assert PLATFORM.failover.dns is not None
    dns = attrs.evolve(PLATFORM.failover.dns, records=records)
    platform = attrs.evolve(PLATFORM, failover=attrs.evolve(PLATFORM.failover, dns=dns))
    return region({"fn-posts": released("fn-posts", "1.4.0")}, platform=platform)


def _recovery(dr: Region, server: CloudDnsStandIn, **options: object) -> Recovery:
    recovery = dr.recovery()
    options.setdefault("sleep", lambda _: None)
    recovery.dns = connect_cloud_dns(server.project, endpoint=server.url, **options)
    return recovery


def _creates(server: CloudDnsStandIn) -> int:
    return sum(1 for r in server.requests if r.method == "POST" and r.path.endswith("/changes"))


def _held(server: CloudDnsStandIn, name: str, type_: str = "A") -> tuple[str, ...]:
    record = server.record(ZONE, name, type_)
    return record.rrdatas if record is not None else ()


# ---- finding 3: AAAA data as Cloud DNS stores it ------------------------------------------------------------------


def test_the_stand_in_stores_aaaa_data_compressed_as_cloud_dns_does(dns: CloudDnsStandIn) -> None:
    dns.change_by_someone_else(
        ZONE, additions=[stand_in.RecordSet("v6.findly.now.", "AAAA", 60, ["2001:0DB8:0000:0000:0000:0000:0000:0010"])]
    )
    assert _held(dns, "v6.findly.now.", "AAAA") == ("2001:db8::10",)
    listed = list(dns.client().zone(ZONE).list_resource_record_sets())
    assert [r.rrdatas for r in listed if r.record_type == "AAAA"] == [["2001:db8::10"]]


def test_an_aaaa_record_written_expanded_in_the_file_is_switched_and_a_rerun_finds_it_switched(
    dns: CloudDnsStandIn,
) -> None:
    record = DnsRecord(RECORD, ("2001:0DB8:0:0::10",), ("2001:db8:0000::20",), type="AAAA")
    dns.add_records(ZONE, stand_in.RecordSet(RECORD, "AAAA", 60, ["2001:db8::10"]))
    dr = _with(record)
    operation = _recovery(dr, dns).run(FAILOVER, CONTEXT, actor="alice")  # was: exit 3, dns-record-changed
    assert operation.completed is not None
    assert _held(dns, RECORD, "AAAA") == ("2001:db8::20",)
    again = _recovery(dr, dns).run(FAILOVER, CONTEXT, actor="alice")
    assert again.completed is not None
    assert _creates(dns) == 1  # the rerun found it switched: nothing sent
    assert any("already" in line for line in again.timings()[-1].detail)


# ---- finding 4: one change for every record ------------------------------------------------------------------------


def test_every_record_is_switched_in_one_change(dns: CloudDnsStandIn) -> None:
    dns.add_records(ZONE, stand_in.RecordSet(RECORD, "A", 60, PRIMARY), stand_in.RecordSet(WWW, "A", 60, PRIMARY))
    dr = _with(DnsRecord(RECORD, PRIMARY, DR), DnsRecord(WWW, PRIMARY, DR))
    assert _recovery(dr, dns).run(FAILOVER, CONTEXT, actor="alice").completed is not None
    (change,) = [c for c in dns.changes(ZONE) if c.by == "api"]
    assert sorted(r.name for r in change.additions) == [RECORD, WWW]
    assert (_held(dns, RECORD), _held(dns, WWW)) == (DR, DR)


def test_a_record_changed_by_someone_else_leaves_every_record_unswitched(dns: CloudDnsStandIn) -> None:
    dns.add_records(ZONE, stand_in.RecordSet(RECORD, "A", 60, PRIMARY), stand_in.RecordSet(WWW, "A", 60, OTHER))
    dr = _with(DnsRecord(RECORD, PRIMARY, DR), DnsRecord(WWW, PRIMARY, DR))
    with pytest.raises(RecoveryRefusedError, match="nothing was switched") as refused:
        _recovery(dr, dns).run(FAILOVER, CONTEXT, actor="alice")
    assert refused.value.refusal.rule == "dns-record-changed"
    assert (_held(dns, RECORD), _held(dns, WWW)) == (PRIMARY, OTHER)  # was: api. switched, www. not
    assert _creates(dns) == 0


def test_a_race_on_one_record_is_refused_for_the_whole_change(dns: CloudDnsStandIn) -> None:
    dns.add_records(ZONE, stand_in.RecordSet(RECORD, "A", 60, PRIMARY), stand_in.RecordSet(WWW, "A", 60, PRIMARY))
    dns.interpose(
        ZONE,
        deletions=[stand_in.RecordSet(WWW, "A", 60, PRIMARY)],
        additions=[stand_in.RecordSet(WWW, "A", 60, OTHER)],
    )
    dr = _with(DnsRecord(RECORD, PRIMARY, DR), DnsRecord(WWW, PRIMARY, DR))
    with pytest.raises(ConcurrencyError, match="nothing of it was made"):
        _recovery(dr, dns).run(FAILOVER, CONTEXT, actor="alice")
    assert (_held(dns, RECORD), _held(dns, WWW)) == (PRIMARY, OTHER)


# ---- finding 5: a drill reads the zone; the file's data is checked -------------------------------------------------


def test_a_drill_fails_its_dns_step_where_the_failover_would(dns: CloudDnsStandIn) -> None:
    dns.add_records(ZONE, stand_in.RecordSet(RECORD, "A", 60, OTHER))
    dr = _with(DnsRecord(RECORD, PRIMARY, DR))
    with pytest.raises(RecoveryRefusedError, match="a failover would stop here"):
        _recovery(dr, dns).run(DRILL, CONTEXT, actor="alice")  # was: a drill completed, reading nothing
    (failed,) = [e for e in dr.store.streams["_dr"] if isinstance(e, RecoveryStepFailed)]
    assert failed.step is RecoveryStep.DNS
    assert _held(dns, RECORD) == OTHER
    assert _creates(dns) == 0


def test_a_drill_that_may_not_read_the_zone_fails_its_dns_step_saying_so() -> None:
    with CloudDnsStandIn(token="only-this-one") as server:  # credentials the service refuses (401)
        server.add_zone(ZONE, "findly.now.")
        server.add_records(ZONE, stand_in.RecordSet(RECORD, "A", 60, PRIMARY))
        dr = _with(DnsRecord(RECORD, PRIMARY, DR))
        with pytest.raises(BadInputError, match="the credentials cannot be used"):
            _recovery(dr, server).run(DRILL, CONTEXT, actor="alice")  # was: completed, the zone never read
    (failed,) = [e for e in dr.store.streams["_dr"] if isinstance(e, RecoveryStepFailed)]
    assert failed.step is RecoveryStep.DNS


@pytest.mark.parametrize(
    ("type_", "primary", "dr", "field"),
    [
        ("CNAME", ("lb.example.com",), ("dr.example.com.",), "primary"),  # not fully qualified
        ("CNAME", ("lb.example.com.",), ("a.example.com.", "b.example.com."), "dr"),  # a CNAME holds one name
        ("A", ("203.0.113.10",), ("x.x.x.x",), "dr"),
        ("AAAA", ("2001:db8::10",), ("203.0.113.10",), "dr"),
    ],
)
def test_the_files_dns_data_is_checked_when_read(type_: str, primary: tuple[str], dr: tuple[str], field: str) -> None:
    with pytest.raises(InvariantError) as wrong:
        DnsRecord(RECORD, primary, dr, type=type_)
    assert wrong.value.field == field


def test_validate_names_the_record_whose_cname_is_not_fully_qualified(tmp_path: object) -> None:
    from pathlib import Path

    from findly_infra import load_platform
    from tests.conftest import EXAMPLE

    text = EXAMPLE.read_text().replace(
        '      - name: "api.findly.now."\n        primary: ["203.0.113.10"]            # the primary region\'s load '
        "balancer\n",
        '      - name: "api.findly.now."\n        type: CNAME\n        primary: ["lb.findly.now"]\n',
    )
    assert "lb.findly.now" in text
    path = Path(str(tmp_path)) / "findly.yaml"
    path.write_text(text.replace('dr: ["198.51.100.10"]', 'dr: ["dr.findly.now."]'))
    with pytest.raises(Exception, match=r"failover\.dns\.records\[0\]\.primary") as wrong:
        load_platform(path)
    assert "fully qualified" in str(wrong.value)


# ---- finding 6: a routing-policy record set ------------------------------------------------------------------------

_POLICY = {"primaryBackup": {"primaryTargets": {"internalLoadBalancers": []}, "trickleTraffic": 0}}


def test_the_stand_in_lists_a_routing_policy_record_set_as_cloud_dns_does(dns: CloudDnsStandIn) -> None:
    dns.add_records(ZONE, stand_in.RecordSet(RECORD, "A", 60, routing_policy=_POLICY))
    with pytest.raises(KeyError, match="rrdatas"):  # google-cloud-dns's from_api_repr (googleapis/python-dns#191)
        list(dns.client().zone(ZONE).list_resource_record_sets())


def test_a_routing_policy_record_is_refused_by_name_not_a_traceback(dns: CloudDnsStandIn) -> None:
    dns.add_records(ZONE, stand_in.RecordSet(RECORD, "A", 60, routing_policy=_POLICY))
    dr = _with(DnsRecord(RECORD, PRIMARY, DR))
    with pytest.raises(BadInputError, match=r"api\.findly\.now\. \(A\).*routing-policy records are not switched"):
        _recovery(dr, dns).run(FAILOVER, CONTEXT, actor="alice")  # was: KeyError 'rrdatas', exit 1, unrecorded
    (failed,) = [e for e in dr.store.streams["_dr"] if isinstance(e, RecoveryStepFailed)]
    assert failed.step is RecoveryStep.DNS


# ---- finding 9: "already switched" is the same data, whatever the TTL; a pending change is waited for -------------


def test_a_record_at_its_dr_data_with_another_ttl_is_already_switched(dns: CloudDnsStandIn) -> None:
    dns.add_records(ZONE, stand_in.RecordSet(RECORD, "A", 300, DR))
    dr = _with(DnsRecord(RECORD, PRIMARY, DR))
    operation = _recovery(dr, dns).run(FAILOVER, CONTEXT, actor="alice")
    assert operation.completed is not None
    assert _creates(dns) == 0  # was: the adapter deleted and re-added it (its TTL differed)
    assert any("already" in line for line in operation.timings()[-1].detail)


def test_a_rerun_waits_for_the_change_an_earlier_run_left_pending(dns: CloudDnsStandIn) -> None:
    dns.add_records(ZONE, stand_in.RecordSet(RECORD, "A", 60, PRIMARY))
    dr = _with(DnsRecord(RECORD, PRIMARY, DR))
    with pytest.raises(Exception, match="still pending"):
        _recovery(dr, dns, change_timeout=-1.0).run(FAILOVER, CONTEXT, actor="alice")
    assert [r.rrdatas for r in dns.served(ZONE) if r.name == RECORD] == [PRIMARY]
    operation = _recovery(dr, dns).run(FAILOVER, CONTEXT, actor="alice")
    assert operation.completed is not None
    assert _creates(dns) == 1
    assert [r.rrdatas for r in dns.served(ZONE) if r.name == RECORD] == [DR]  # done before DNS was recorded done


# ---- finding 10: how long resolvers may keep answering the primary ------------------------------------------------


def test_a_drill_reports_the_records_ttl_beside_the_rto(dns: CloudDnsStandIn) -> None:
    dns.add_records(ZONE, stand_in.RecordSet(RECORD, "A", 3600, PRIMARY))
    dr = _with(DnsRecord(RECORD, PRIMARY, DR))
    operation = _recovery(dr, dns).run(DRILL, CONTEXT, actor="alice")
    assert operation.dns_cache_seconds == 3600
    assert any("up to 3600 s" in line for line in operation.timings()[-1].detail)
    assert operation_json(operation, dr.platform)["rto"]["dns_cache_seconds"] == 3600
    assert _creates(dns) == 0


# ---- finding 13: names without case -------------------------------------------------------------------------------


def test_the_stand_in_holds_one_record_set_per_name_whatever_its_case(dns: CloudDnsStandIn) -> None:
    dns.add_records(ZONE, stand_in.RecordSet(RECORD, "A", 60, PRIMARY))
    with pytest.raises(ValueError, match="409 alreadyExists"):
        dns.change_by_someone_else(ZONE, additions=[stand_in.RecordSet(RECORD.upper(), "A", 60, DR)])
    dns.change_by_someone_else(
        ZONE,
        deletions=[stand_in.RecordSet(RECORD.upper(), "A", 60, PRIMARY)],
        additions=[stand_in.RecordSet(RECORD, "A", 60, DR)],
    )
    assert [r.rrdatas for r in dns.records(ZONE) if r.type == "A"] == [DR]


def test_the_adapter_reads_with_the_stand_in(dns: CloudDnsStandIn) -> None:
    dns.add_records(ZONE, stand_in.RecordSet(RECORD, "A", 60, PRIMARY))
    records: CloudDnsRecords = connect_cloud_dns(dns.project, endpoint=dns.url)
    held = records.read(ZONE, RECORD.upper(), "A")
    assert held is not None
    assert held.rrdatas == PRIMARY


# ---- the domain's rule: data compared as Cloud DNS stores it (property) -------------------------------------------


@given(st.ip_addresses(v=6), st.booleans())
def test_any_written_form_of_an_ipv6_address_is_the_address_cloud_dns_holds(address: object, upper: bool) -> None:
    import ipaddress

    assert isinstance(address, ipaddress.IPv6Address)
    written = address.exploded.upper() if upper else address.exploded
    assert dns_data("AAAA", written) == address.compressed
    assert same_dns_data("AAAA", [written], [address.compressed])
    with pytest.raises(InvariantError, match="move nothing"):  # the same address twice is no failover
        DnsRecord(RECORD, (written,), (address.compressed,), type="AAAA")
