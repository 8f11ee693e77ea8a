"""``MemoryDns`` (``adapters.memory``), the in-memory Cloud DNS the simulations and the failover's tests use: it refuses
what Cloud DNS refuses (``adapters.cloud_dns``) — a replacement naming an *old* the zone no longer holds changes
nothing — and a rerun sends nothing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.adapters.memory import MemoryDns
from findly_infra.application.ports import (
    BadInputError,
    ConcurrencyError,
    DependencyUnavailableError,
    DnsRecords,
    RecordSet,
)
from tests.dns.conftest import DR, NAME, OTHER, PRIMARY, ZONE


def _zone(*records: RecordSet) -> MemoryDns:
    dns = MemoryDns()
    dns.add_zone(ZONE, *records)
    return dns


def test_a_record_is_read_and_replaced_primary_to_dr_once() -> None:
    dns: DnsRecords = _zone(PRIMARY)
    assert dns.read(ZONE, NAME, "A") == PRIMARY
    assert dns.read(ZONE, NAME, "AAAA") is None
    dns.replace(ZONE, PRIMARY, DR)
    assert dns.read(ZONE, NAME, "A") == DR
    dns.replace(ZONE, PRIMARY, DR)  # a rerun after a crash: the zone holds DR already
    assert isinstance(dns, MemoryDns)
    assert dns.changes == [(ZONE, ((PRIMARY, DR),))]


def test_a_change_someone_else_made_in_between_is_refused_and_kept() -> None:
    dns = _zone(PRIMARY)
    dns.put(ZONE, OTHER)
    with pytest.raises(ConcurrencyError):
        dns.replace(ZONE, PRIMARY, DR)
    assert dns.read(ZONE, NAME, "A") == OTHER
    assert dns.changes == []


def test_old_none_adds_only_where_there_is_none() -> None:
    dns = _zone()
    dns.replace(ZONE, None, DR)
    assert dns.read(ZONE, NAME, "A") == DR
    other = _zone(PRIMARY)
    with pytest.raises(ConcurrencyError):
        other.replace(ZONE, None, DR)  # Cloud DNS: 409 alreadyExists
    assert other.read(ZONE, NAME, "A") == PRIMARY


def test_a_missing_zone_is_bad_input_and_a_down_service_unavailable() -> None:
    dns = _zone(PRIMARY)
    with pytest.raises(BadInputError, match="no managed zone elsewhere"):
        dns.read("elsewhere", NAME, "A")
    dns.down = True
    with pytest.raises(DependencyUnavailableError):
        dns.replace(ZONE, PRIMARY, DR)
    dns.down = False
    assert dns.read(ZONE, NAME, "A") == PRIMARY


_ADDRESSES = st.lists(st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.0.3"]), min_size=1, max_size=3, unique=True)


@given(held=_ADDRESSES, old=_ADDRESSES, ttl=st.sampled_from([60, 300]))
def test_a_replacement_lands_exactly_when_old_is_what_the_zone_holds(held: list[str], old: list[str], ttl: int) -> None:
    """Whatever the zone holds and the caller believes: *new* lands when *old* is the zone's record set (its data in
    any order, the same ttl) and is refused otherwise, the zone unchanged."""
    holding = RecordSet(NAME, "A", 60, tuple(held))
    believed = RecordSet(NAME, "A", ttl, tuple(reversed(old)))
    dns = _zone(holding)
    if sorted(held) == sorted(old) and ttl == 60:
        dns.replace(ZONE, believed, DR)
        assert dns.read(ZONE, NAME, "A") == DR
    else:
        with pytest.raises(ConcurrencyError):
            dns.replace(ZONE, believed, DR)
        assert dns.read(ZONE, NAME, "A") == holding


def test_several_records_are_one_change_and_a_stale_one_changes_none() -> None:
    www = RecordSet("www.findly.app.", "A", 60, PRIMARY.rrdatas)
    www_dr = RecordSet("www.findly.app.", "A", 60, DR.rrdatas)
    dns = _zone(PRIMARY, RecordSet("www.findly.app.", "A", 60, OTHER.rrdatas))
    with pytest.raises(ConcurrencyError, match=r"www\.findly\.app\."):
        dns.replace_all(ZONE, [(PRIMARY, DR), (www, www_dr)])
    assert dns.read(ZONE, NAME, "A") == PRIMARY  # all or nothing, as Cloud DNS's changes.create
    assert dns.changes == []
    dns.put(ZONE, www)
    dns.replace_all(ZONE, [(PRIMARY, DR), (www, www_dr)])
    assert dns.changes == [(ZONE, ((PRIMARY, DR), (www, www_dr)))]
    assert dns.read(ZONE, NAME.upper(), "A") == DR  # names without case (RFC 4343)


def test_an_aaaa_address_is_held_as_cloud_dns_stores_it() -> None:
    primary = RecordSet(NAME, "AAAA", 60, ("2001:db8::10",))
    dns = _zone(primary)
    dns.replace_all(ZONE, [(RecordSet(NAME, "AAAA", 60, ("2001:0DB8:0:0::10",)), DR_V6)])
    assert dns.read(ZONE, NAME, "AAAA") == RecordSet(NAME, "AAAA", 60, ("2001:db8::20",))
    dns.replace_all(ZONE, [(primary, DR_V6)])  # a rerun: the zone holds it, in its own form
    assert len(dns.changes) == 1


DR_V6 = RecordSet(NAME, "AAAA", 60, ("2001:0db8:0000::0020",))
