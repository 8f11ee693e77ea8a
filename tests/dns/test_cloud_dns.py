"""The Cloud DNS adapter (``adapters.cloud_dns``) through the real ``google-cloud-dns`` client against the Cloud DNS
stand-in (``findly_infra.testing.cloud_dns``, written from the REST reference by other hands): a record read, a
replacement primary → DR as one change that is waited for until ``done``, a rerun that sends nothing, someone else's
change in between refused and kept, a missing zone named (exit 2), a service that keeps answering 503 (exit 5), and a
change that stays pending past the timeout (exit 5, naming it)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

pytest.importorskip("google.cloud.dns", reason="the dns extra: pip install 'findly-infra[dns]'")

from findly_infra.adapters.cloud_dns import CloudDnsRecords, connect_cloud_dns
from findly_infra.application.ports import (
    BadInputError,
    ConcurrencyError,
    DependencyUnavailableError,
    RecordSet,
)
from findly_infra.testing import cloud_dns as stand_in
from tests.dns.conftest import DR, NAME, OTHER, PRIMARY, PROJECT, ZONE

CloudDnsStandIn = stand_in.CloudDnsStandIn


def _theirs(record: RecordSet) -> object:
    """*record* as the stand-in holds one."""
    return stand_in.RecordSet(record.name, record.type, record.ttl, record.rrdatas)


@pytest.fixture
def dns() -> Iterator[CloudDnsStandIn]:
    with CloudDnsStandIn(project=PROJECT, polls=2) as server:
        server.add_zone(ZONE, "findly.app.")
        server.add_records(ZONE, _theirs(PRIMARY))
        yield server


def _records(dns: CloudDnsStandIn, **options: object) -> CloudDnsRecords:
    options.setdefault("sleep", lambda _: None)
    return connect_cloud_dns(PROJECT, endpoint=dns.url, **options)  # type: ignore[arg-type]


def _changes(dns: CloudDnsStandIn) -> list[dict[str, object]]:
    """Each ``changes.create`` the stand-in answered: its body, as sent."""
    return [json.loads(r.body) for r in dns.requests if r.method == "POST" and r.path.endswith("/changes")]


def test_a_record_is_read_as_the_zone_holds_it(dns: CloudDnsStandIn) -> None:
    records = _records(dns)
    assert records.read(ZONE, NAME, "A") == PRIMARY
    assert records.read(ZONE, NAME, "AAAA") is None
    assert records.read(ZONE, "www.findly.app.", "A") is None
    (listed,) = [r for r in dns.requests if r.path.endswith("/rrsets")][:1]
    assert (listed.query.get("name"), listed.query.get("type")) == (NAME, "A")  # one record set asked for


def test_primary_to_dr_is_one_change_waited_until_done(dns: CloudDnsStandIn) -> None:
    records = _records(dns)
    records.replace(ZONE, PRIMARY, DR)
    assert records.read(ZONE, NAME, "A") == DR
    (change,) = _changes(dns)
    assert [(d["name"], d["rrdatas"]) for d in change["deletions"]] == [(NAME, list(PRIMARY.rrdatas))]  # type: ignore[index, union-attr]
    assert [(a["name"], a["rrdatas"]) for a in change["additions"]] == [(NAME, list(DR.rrdatas))]  # type: ignore[index, union-attr]
    (made,) = [c for c in dns.changes(ZONE) if c.by == "api"]
    assert made.status == "done"  # pending, polled by changes.get until done
    polls = [r for r in dns.requests if r.method == "GET" and r.path.endswith(f"/changes/{made.id}")]
    assert len(polls) == 2
    assert _theirs(DR) in dns.served(ZONE)  # what the name servers answer


def test_a_rerun_after_a_crash_sends_nothing(dns: CloudDnsStandIn) -> None:
    records = _records(dns)
    records.replace(ZONE, PRIMARY, DR)
    records.replace(ZONE, PRIMARY, DR)
    assert len(_changes(dns)) == 1


def test_a_deletion_is_sent_exactly_as_the_zone_holds_it(dns: CloudDnsStandIn) -> None:
    """The caller's *old* with its addresses in another order is the same record set: the deletion sent is the
    zone's own (Cloud DNS: a deletion "must match existing data exactly")."""
    two = RecordSet(NAME, "A", 60, ("34.120.0.10", "34.120.0.11"))
    dns.add_records(ZONE, _theirs(two))
    _records(dns).replace(ZONE, RecordSet(NAME, "A", 60, tuple(reversed(two.rrdatas))), DR)
    assert dns.record(ZONE, NAME, "A") == _theirs(DR)


def test_someone_elses_change_before_the_read_is_refused_and_nothing_sent(dns: CloudDnsStandIn) -> None:
    dns.change_by_someone_else(ZONE, deletions=[_theirs(PRIMARY)], additions=[_theirs(OTHER)])
    with pytest.raises(ConcurrencyError, match=r"203\.0\.113\.7"):
        _records(dns).replace(ZONE, PRIMARY, DR)
    assert _changes(dns) == []
    assert dns.record(ZONE, NAME, "A") == _theirs(OTHER)


def test_someone_elses_change_between_the_read_and_the_change_is_refused_never_overwritten(
    dns: CloudDnsStandIn,
) -> None:
    """The race itself: read, someone else changes the record set, then our change — the stand-in's 412 (a deletion
    that no longer matches) is a ConcurrencyError, and their record set stays."""
    dns.interpose(ZONE, deletions=[_theirs(PRIMARY)], additions=[_theirs(OTHER)])
    with pytest.raises(ConcurrencyError, match="someone else changed it"):
        _records(dns).replace(ZONE, PRIMARY, DR)
    assert dns.record(ZONE, NAME, "A") == _theirs(OTHER)
    assert [r.status for r in dns.requests if r.method == "POST"] == [412]


def test_a_record_deleted_in_between_is_refused_not_recreated(dns: CloudDnsStandIn) -> None:
    dns.interpose(ZONE, deletions=[_theirs(PRIMARY)])
    with pytest.raises(ConcurrencyError, match="gone"):
        _records(dns).replace(ZONE, PRIMARY, DR)
    assert dns.record(ZONE, NAME, "A") is None


def test_a_record_added_in_between_is_refused_as_already_existing(dns: CloudDnsStandIn) -> None:
    new = RecordSet("new.findly.app.", "A", 60, ("35.190.0.20",))
    dns.interpose(ZONE, additions=[_theirs(RecordSet("new.findly.app.", "A", 300, ("203.0.113.7",)))])
    with pytest.raises(ConcurrencyError):
        _records(dns).replace(ZONE, None, new)
    assert [r.status for r in dns.requests if r.method == "POST"] == [409]
    assert dns.record(ZONE, "new.findly.app.", "A").ttl == 300  # type: ignore[union-attr]


def test_our_own_change_already_made_counts_as_done(dns: CloudDnsStandIn) -> None:
    """A change whose answer was lost and that is sent again finds its own work on the 412: done, not refused."""
    dns.interpose(ZONE, deletions=[_theirs(PRIMARY)], additions=[_theirs(DR)])
    _records(dns).replace(ZONE, PRIMARY, DR)
    assert dns.record(ZONE, NAME, "A") == _theirs(DR)


def test_a_missing_zone_is_exit_2_naming_it(dns: CloudDnsStandIn) -> None:
    with pytest.raises(BadInputError, match=r"no managed zone elsewhere in project findly-now"):
        _records(dns).read("elsewhere", NAME, "A")
    with pytest.raises(BadInputError, match="elsewhere"):
        _records(dns).replace("elsewhere", PRIMARY, DR)


def test_credentials_refused_are_exit_2_saying_how_to_log_in() -> None:
    with CloudDnsStandIn(project=PROJECT, token="the-real-token") as dns:
        dns.add_zone(ZONE, "findly.app.")
        # anonymous: no token sent; on the 401 google-auth's session refreshes the credentials, which anonymous ones
        # cannot — either way a matter of credentials, exit 2, saying how to log in
        with pytest.raises(BadInputError, match=r"credentials.*application-default login"):
            _records(dns).read(ZONE, NAME, "A")


def test_503s_are_retried_through(dns: CloudDnsStandIn) -> None:
    dns.unavailable(2)
    _records(dns).replace(ZONE, PRIMARY, DR)
    assert dns.record(ZONE, NAME, "A") == _theirs(DR)
    assert [r.status for r in dns.requests][:3] == [503, 503, 200]


def test_a_service_that_stays_unavailable_is_exit_5_and_nothing_changed(dns: CloudDnsStandIn) -> None:
    dns.unavailable(100)
    with pytest.raises(DependencyUnavailableError, match=r"503.*after"):
        _records(dns).replace(ZONE, PRIMARY, DR)
    assert dns.record(ZONE, NAME, "A") == _theirs(PRIMARY)


def test_a_change_that_stays_pending_past_the_timeout_is_exit_5_naming_it() -> None:
    with CloudDnsStandIn(project=PROJECT, polls=50) as dns:
        dns.add_zone(ZONE, "findly.app.")
        dns.add_records(ZONE, _theirs(PRIMARY))
        now = [0.0]

        def sleep(seconds: float) -> None:  # virtual time: each wait moves the clock on, nothing sleeps
            now[0] += seconds

        records = _records(dns, sleep=sleep, clock=lambda: now[0], poll_interval=1.0, change_timeout=3.0)
        with pytest.raises(DependencyUnavailableError) as pending:
            records.replace(ZONE, PRIMARY, DR)
        (made,) = [c for c in dns.changes(ZONE) if c.by == "api"]
        assert f"change {made.id}" in str(pending.value)
        assert "pending" in str(pending.value)
        again = _records(dns, sleep=sleep, clock=lambda: now[0], poll_interval=1.0, change_timeout=100.0)
        again.replace(ZONE, PRIMARY, DR)  # run again: nothing more is sent, the first change is waited for
        assert len(_changes(dns)) == 1
        assert dns.changes(ZONE)[-1].status == "done"


def test_a_rerun_after_a_crash_mid_wait_waits_for_the_pending_change(dns: CloudDnsStandIn) -> None:
    """The earlier run's change was accepted, then the run died before it was done: the rerun sends nothing, finds
    the change (``changes.list``, newest first) and polls it until ``done`` — DNS is switched only when it is."""
    dns.change_by_someone_else(ZONE, deletions=[_theirs(PRIMARY)], additions=[_theirs(DR)])  # done at once
    _records(dns).replace(ZONE, PRIMARY, DR)
    assert _changes(dns) == []
    assert not [r for r in dns.requests if "/changes/" in r.path]  # done already: nothing polled
    with CloudDnsStandIn(project=PROJECT, polls=3) as crashed:
        crashed.add_zone(ZONE, "findly.app.")
        crashed.add_records(ZONE, _theirs(PRIMARY))
        zone = crashed.client().zone(ZONE)  # the first run's change, accepted and never polled (the run died)
        change = zone.changes()
        change.delete_record_set(zone.resource_record_set(NAME, "A", 60, list(PRIMARY.rrdatas)))
        change.add_record_set(zone.resource_record_set(NAME, "A", 60, list(DR.rrdatas)))
        change.create()
        assert change.status == "pending"
        _records(crashed).replace(ZONE, PRIMARY, DR)
        assert len(_changes(crashed)) == 1
        assert crashed.changes(ZONE)[-1].status == "done"
        polls = [r for r in crashed.requests if r.method == "GET" and r.path.endswith(f"/changes/{change.name}")]
        assert len(polls) == 3


_ADDRESSES = st.lists(
    st.sampled_from(["34.120.0.10", "34.120.0.11", "203.0.113.7"]), min_size=1, max_size=2, unique=True
)


@settings(max_examples=25, deadline=None)
@given(
    held=st.one_of(st.none(), _ADDRESSES),
    believed=st.one_of(st.none(), _ADDRESSES),
    theirs=st.one_of(st.none(), _ADDRESSES),
)
def test_a_replacement_never_overwrites_what_it_did_not_read(
    held: list[str] | None, believed: list[str] | None, theirs: list[str] | None
) -> None:
    """Whatever the zone holds, whatever the caller believes it holds, and whatever someone else puts there between
    our read and our change (``theirs``; ``None``: no one): either the zone ends holding the DR record set, or the
    replacement is refused and the zone holds exactly what it held before our change — never a mix, never theirs
    overwritten."""
    as_set = lambda data: None if data is None else RecordSet(NAME, "A", 60, tuple(data))  # noqa: E731
    start, old = as_set(held), as_set(believed)
    with CloudDnsStandIn(project=PROJECT, polls=0) as dns:
        dns.add_zone(ZONE, "findly.app.")
        if start is not None:
            dns.add_records(ZONE, _theirs(start))
        before_ours = start
        if theirs is not None:
            interposed = RecordSet(NAME, "A", 300, tuple(theirs))
            dns.interpose(ZONE, deletions=[_theirs(start)] if start else [], additions=[_theirs(interposed)])
            before_ours = interposed
        records = _records(dns)
        try:
            records.replace(ZONE, old, DR)
        except ConcurrencyError:
            event("refused after sending" if _changes(dns) else "refused before sending")
            held_now = dns.record(ZONE, NAME, "A")
            expected = before_ours if _changes(dns) else start  # refused before sending: nothing interposed ran
            assert held_now == (None if expected is None else _theirs(expected))
        else:
            event("replaced")
            assert dns.record(ZONE, NAME, "A") == _theirs(DR)
            assert theirs is None
            assert sorted(held or []) == sorted(believed or [])  # the zone held what the caller believed
