"""Batching: one write per validation name, zones found first, exact cleanup."""

from __future__ import annotations

import threading

import pytest

from certbot_dns_gandi_pat import config, livedns
from certbot_dns_gandi_pat.records import ChallengeRecords
from tests.conftest import FAKE_TOKEN
from teststack.standin import Fault, StandIn


def client_for(standin: StandIn, **kw: object) -> livedns.LiveDNSClient:
    cfg = config.parse({"dns_gandi_token": FAKE_TOKEN, "dns_gandi_api_url": standin.api_url}, "test.ini")
    return livedns.LiveDNSClient(cfg, **kw)  # type: ignore[arg-type]


def test_apex_and_wildcard_share_one_write_and_one_removal(standin: StandIn) -> None:
    client = client_for(standin)
    recs = ChallengeRecords(client)
    recs.add([("_acme-challenge.example.com", "apex"), ("_acme-challenge.example.com", "wild"),
              ("_acme-challenge.example.com", "apex")])
    assert standin.txt("example.com", "_acme-challenge") == ["apex", "wild"]
    assert standin.count("POST") == 1 and standin.count("GET") == 1  # one listing
    assert recs.remove_all() == []
    assert standin.txt("example.com", "_acme-challenge") is None
    assert recs.written == {}


def test_request_count_for_many_names(standin: StandIn) -> None:
    client = client_for(standin)
    names = [f"_acme-challenge.h{i}.example.com" for i in range(10)] + \
            [f"_acme-challenge.h{i}.example.org" for i in range(10)]
    recs = ChallengeRecords(client)
    recs.add([(n, "v") for n in names])
    assert recs.remove_all() == []
    # 1 listing + 20 POST + 20 PATCH + 1 GET learning how emptied rrsets behave
    assert client.requests_sent == 1 + 20 + 20 + 1 == standin.count()
    assert standin.challenge_records() == {}


def test_sub_zone_wins_over_parent(standin: StandIn) -> None:
    recs = ChallengeRecords(client_for(standin))
    located = recs.add([("_acme-challenge.www.sub.example.com", "v")])
    rrset = located["_acme-challenge.www.sub.example.com"]
    assert (rrset.zone, rrset.name) == ("sub.example.com", "_acme-challenge.www")


def test_an_unknown_zone_stops_before_any_write(standin: StandIn) -> None:
    recs = ChallengeRecords(client_for(standin))
    with pytest.raises(livedns.ZoneNotFoundError, match="nowhere.test"):
        recs.add([("_acme-challenge.example.com", "v"), ("_acme-challenge.nowhere.test", "w")])
    assert standin.count("POST") == 0 and recs.written == {}


def test_partial_failure_is_reported_and_everything_written_is_removed(standin: StandIn) -> None:
    standin.faults.append(Fault(method="POST", path=r"/domains/example\.org/.*", status=400, times=-1,
                                body='{"status": "error", "errors": [{"name": "x", "description": "broken"}]}'))
    recs = ChallengeRecords(client_for(standin))
    with pytest.raises(livedns.LiveDNSError, match="Could not create every challenge record.*broken"):
        recs.add([("_acme-challenge.a.example.com", "v1"), ("_acme-challenge.b.example.org", "v2")])
    assert standin.txt("example.com", "_acme-challenge.a") == ["v1"]
    standin.faults.clear()
    assert recs.remove_all() == []
    assert standin.challenge_records() == {}


def test_values_of_others_survive_and_failures_are_listed(standin: StandIn) -> None:
    standin.set_txt("example.com", "_acme-challenge", ["google-site-verification=abc"])
    recs = ChallengeRecords(client_for(standin))
    recs.add([("_acme-challenge.example.com", "ours")])
    assert standin.txt("example.com", "_acme-challenge") == ["google-site-verification=abc", "ours"]
    standin.faults.append(Fault(method="PATCH", status=400, times=-1, body='{"message": "nope"}'))
    failures = recs.remove_all()
    assert len(failures) == 1 and "_acme-challenge.example.com TXT ours" in failures[0]
    assert "nope" in failures[0]
    standin.faults.clear()
    assert recs.remove_all() == []
    assert standin.txt("example.com", "_acme-challenge") == ["google-site-verification=abc"]


def test_cname_target_is_written(standin: StandIn) -> None:
    recs = ChallengeRecords(client_for(standin), resolve_target=lambda n: "example-com.acme.example.org")
    located = recs.add([("_acme-challenge.example.com", "v")])
    assert located["_acme-challenge.example.com"].fqdn == "example-com.acme.example.org"
    assert standin.txt("example.org", "example-com.acme") == ["v"]


def test_writes_run_concurrently_but_bounded(standin: StandIn) -> None:
    standin.latency = 0.05
    peak, active, lock = [0], [0], threading.Lock()
    original = standin.handle

    def counting(*args):  # type: ignore[no-untyped-def]
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            import time
            time.sleep(0.02)
            return original(*args)
        finally:
            with lock:
                active[0] -= 1

    standin.handle = counting  # type: ignore[method-assign]
    recs = ChallengeRecords(client_for(standin), concurrency=4)
    recs.add([(f"_acme-challenge.h{i}.example.com", "v") for i in range(12)])
    assert 2 <= peak[0] <= 4
    assert recs.remove_all() == []
