"""Fault injection against the stand-in over real HTTP: outcome, time, zone contents."""

from __future__ import annotations

import logging
import random
import socket
import threading
import time

import pytest

from certbot_dns_gandi_pat._internal import dnscheck, livedns
from certbot_dns_gandi_pat._internal.records import ChallengeRecords
from tests import helpers
from teststack.stack import Stack
from teststack.standin import Modes, StandIn

NAME = "_acme-challenge.www.example.com"


def client_for(standin: StandIn, timeout: float = 1.0, url: str = "") -> livedns.LiveDNSClient:
    return helpers.client_for(url or standin.api_url, connect_seconds=timeout, attempt_seconds=timeout)


def cycle(standin: StandIn, client: livedns.LiveDNSClient) -> float:
    """Add then remove one challenge; returns the seconds it took."""
    start = time.monotonic()
    recs = ChallengeRecords(client)
    recs.add([(NAME, "ours")])
    assert standin.txt("example.com", "_acme-challenge.www") == ["ours"]
    assert recs.remove_all() == []
    assert standin.challenge_records() == {}
    return time.monotonic() - start


def test_429_with_retry_after_is_honoured(standin: StandIn) -> None:
    standin.add_fault(method="POST", status=429, retry_after="1")
    assert 1.0 <= cycle(standin, client_for(standin)) < 5


def test_429_without_retry_after_backs_off_and_succeeds(standin: StandIn) -> None:
    standin.add_fault(method="POST", status=429, times=2)
    assert cycle(standin, client_for(standin)) < 5
    assert [st for m, _, st in standin.log if m == "POST"] == [429, 429, 201]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_transient_server_errors_are_retried(standin: StandIn, status: int) -> None:
    standin.add_fault(method="PATCH", status=status)
    assert cycle(standin, client_for(standin)) < 5


def test_persistent_503_fails_clearly_in_bounded_time_and_stops_further_requests(standin: StandIn) -> None:
    fault = standin.add_fault(method="GET", path="/domains", status=503, times=-1)
    client = client_for(standin)
    start = time.monotonic()
    with pytest.raises(livedns.LiveDNSError, match="(?s)HTTP 503.*still after retries.*try again later"):
        client.find_zone(NAME)
    assert time.monotonic() - start < 15
    assert fault.hits == 5  # one try and four retries
    with pytest.raises(livedns.LiveDNSError, match="not attempted, because an earlier request failed with HTTP 503"):
        client.nameservers("example.com")
    client.reset_breaker()
    assert client.nameservers("example.com")


def test_connection_refused(standin: StandIn) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = client_for(standin, url=f"http://127.0.0.1:{port}/v5/livedns")
    start = time.monotonic()
    with pytest.raises(livedns.LiveDNSError, match="connection refused \\(Gandi LiveDNS at 127.0.0.1"):
        client.list_domains()
    assert time.monotonic() - start < 15


def test_connection_reset_mid_response_is_retried(standin: StandIn) -> None:
    fault = standin.add_fault(method="POST", action="reset")
    cycle(standin, client_for(standin))
    assert fault.hits == 1 and [st for m, _, st in standin.log if m == "POST"] == [-1, 201]


def test_dropped_connection_is_retried(standin: StandIn) -> None:
    fault = standin.add_fault(method="PATCH", action="drop")
    cycle(standin, client_for(standin))
    assert fault.hits == 1 and [st for m, _, st in standin.log if m == "PATCH"] == [-1, 200]


def test_server_that_never_answers_times_out_in_bounded_time(standin: StandIn) -> None:
    fault = standin.add_fault(method="GET", path="/domains", action="hang", times=-1, hang_seconds=10)
    start = time.monotonic()
    with pytest.raises(livedns.LiveDNSError, match="no complete answer within the time limit"):
        client_for(standin, timeout=0.5).list_domains()
    elapsed = time.monotonic() - start
    assert fault.hits == 3 and elapsed < 6, (fault.hits, elapsed)  # 3 reads x 0.5 s + backoff


def test_lost_answer_after_the_change_was_applied(standin: StandIn) -> None:
    standin.add_fault(method="POST", action="apply_then_drop")
    cycle(standin, client_for(standin))
    methods = [m for m, _, _ in standin.log]
    assert methods.count("POST") == 2  # applied, answer lost; the retry met a 409 ...
    assert methods.count("PATCH") == 2  # ... and a no-op add, then the removal


def test_lost_answer_after_removal(standin: StandIn) -> None:
    """The removal was applied and its answer lost: the retry finds the rrset gone, which is done."""
    fault = standin.add_fault(method="PATCH", action="apply_then_drop")
    cycle(standin, client_for(standin))
    assert fault.hits == 1 and [st for m, _, st in standin.log if m == "PATCH"] == [-1, 404]


def test_truncated_body_is_reported(standin: StandIn) -> None:
    standin.add_fault(method="GET", path="/domains", action="truncate")
    # urllib3 2 notices the missing bytes; urllib3 1.26 does not enforce Content-Length,
    # so there the cut JSON is refused as malformed. Either way it is never taken as data.
    with pytest.raises(livedns.LiveDNSError, match="the answer was cut off|not a JSON list"):
        client_for(standin).list_domains()


def test_non_json_body(standin: StandIn) -> None:
    standin.add_fault(method="GET", path="/domains", status=200, body="<html>maintenance</html>")
    with pytest.raises(livedns.LiveDNSError, match="unexpected answer"):
        client_for(standin).list_domains()


def test_validation_envelope(standin: StandIn) -> None:
    standin.add_fault(method="POST", status=400, body='{"status": "error", "errors": [{"location": "body", '
                      '"name": "rrset_values", "description": "bad value"}]}')
    with pytest.raises(livedns.LiveDNSError, match="HTTP 400 \\(rrset_values: bad value\\)"):
        ChallengeRecords(client_for(standin)).add([(NAME, "ours")])


@pytest.mark.parametrize("modes", [
    Modes(empty_rrset="keep"), Modes(empty_rrset="reject"), Modes(empty_rrset="delete"),
    Modes(patch_missing="create"), Modes(delete_missing="204"), Modes(list_domains="forbidden"),
], ids=lambda m: ",".join(f"{k}={v}" for k, v in vars(m).items() if v != getattr(Modes(), k)))
def test_every_plausible_answer_leaves_a_clean_zone(standin: StandIn, modes: Modes) -> None:
    standin.modes = modes
    standin.set_txt("example.com", "_acme-challenge", ["pre-existing"])
    recs = ChallengeRecords(client_for(standin))
    recs.add([(NAME, "ours"), ("_acme-challenge.example.com", "ours2")])
    assert recs.remove_all() == []
    assert standin.challenge_records() == {"_acme-challenge.example.com": ["pre-existing"]}
    assert ("_acme-challenge.www", "TXT") not in standin.zones["example.com"].records  # nothing left empty


def test_persistent_outage_during_cleanup_is_reported_per_value(standin: StandIn) -> None:
    recs = ChallengeRecords(client_for(standin))
    recs.add([(f"_acme-challenge.h{i}.example.com", "v") for i in range(5)])
    standin.add_fault(method="PATCH", status=503, times=-1)
    start = time.monotonic()
    failures = recs.remove_all()
    assert len(failures) == 5 and time.monotonic() - start < 20
    assert sum("HTTP 503" in f for f in failures) >= 1
    standin.faults.clear()
    assert recs.remove_all() == []  # a later cleanup finishes the job
    assert standin.challenge_records() == {}


def test_concurrent_writer_loses_nothing(standin: StandIn) -> None:
    """Another client adds and removes its own values on the same rrset meanwhile."""
    other = client_for(standin)
    stop = threading.Event()
    theirs_now: set[str] = set()
    errors: list[Exception] = []

    def meddle() -> None:
        rnd = random.Random(7)
        i = 0
        while not stop.is_set():
            i += 1
            value = f"theirs-{i}"
            try:
                other.add_txt("example.com", "_acme-challenge.www", [value])
                theirs_now.add(value)
                if rnd.random() < 0.5 and theirs_now:
                    gone = sorted(theirs_now)[0]
                    other.remove_txt("example.com", "_acme-challenge.www", [gone])
                    theirs_now.discard(gone)
            except livedns.LiveDNSError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=meddle)]
    for t in threads:
        t.start()
    try:
        for round_ in range(15):
            recs = ChallengeRecords(client_for(standin))
            recs.add([(NAME, f"ours-{round_}")])
            assert recs.remove_all() == []
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    final = set(standin.txt("example.com", "_acme-challenge.www") or [])
    assert final == theirs_now
    assert not any(v.startswith("ours") for v in final)


def test_a_silent_nameserver_address_does_not_slow_the_wait_for_100_names(live: Stack) -> None:
    """Real DNS queries: challtestsrv serves the records; a second address drops every packet."""
    names = [f"_acme-challenge.h{i}.example.com" for i in range(100)]
    for i in range(100):
        live.standin.set_txt("example.com", f"_acme-challenge.h{i}", [f"v{i}"])
    host, port = live.nameserver.split(":")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:
        hole.bind(("127.0.0.1", 0))
        silent = ("127.0.0.1", hole.getsockname()[1])
        time.sleep(0.5)  # let the stand-in publish
        start = time.monotonic()
        result = dnscheck.PropagationWaiter(progress=lambda m: None, warn=lambda m: None).wait(
            {n: [f"v{i}"] for i, n in enumerate(names)}, {n: [(host, int(port)), silent] for n in names}, 60)
        elapsed = time.monotonic() - start
    assert len(result.verified) == 100 and elapsed < 15, elapsed  # 77 s when the silent address held it back
    for i in range(100):
        live.standin.zones["example.com"].records.pop((f"_acme-challenge.h{i}", "TXT"))


def test_a_write_that_lands_after_the_client_gave_up_is_looked_for_again(standin: StandIn,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    standin.add_fault(method="POST", action="apply_later", hang_seconds=2.5, times=-1)
    recs = ChallengeRecords(client_for(standin, timeout=1.0), write_bound=4.0, settle=1.0)
    with pytest.raises(livedns.LiveDNSError, match="closed the connection"):
        recs.add([("_acme-challenge.late.example.com", "late")])
    assert standin.challenge_records() == {}  # not there yet: it lands later
    start = time.monotonic()
    assert recs.remove_all() == []
    assert time.monotonic() - start >= 2
    assert standin.challenge_records() == {}
    assert any(m.startswith("No TXT at _acme-challenge.late.example.com yet") for m in caplog.messages)
    assert "Removed 1 TXT value(s) at _acme-challenge.late.example.com" in caplog.messages
