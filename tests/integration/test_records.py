"""Batching: one write per validation name, zones found first, exact cleanup."""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path
from typing import Callable, Optional

import pytest

from certbot_dns_gandi_pat._internal import journal, livedns
from certbot_dns_gandi_pat._internal.records import ChallengeRecords
from tests.helpers import FAST, client_for
from teststack.standin import Fault, StandIn


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


DUPLICATE = '{"status": "error", "errors": [{"name": "rrset_values", "description": "duplicate value"}]}'


def test_a_refused_merge_after_our_own_lost_post_is_a_done_write(standin: StandIn) -> None:
    """POST applied but its answer lost, sent again: 409; the merge then refused (a duplicate value)."""
    standin.add_fault(method="POST", action="apply_then_drop")
    standin.add_fault(method="PATCH", status=400, body=DUPLICATE)
    recs = ChallengeRecords(client_for(standin))
    recs.add([("_acme-challenge.example.com", "ours")])
    assert standin.txt("example.com", "_acme-challenge") == ["ours"]
    assert recs.remove_all() == []
    assert standin.challenge_records() == {}


def test_a_refused_merge_after_a_conflict_is_not_taken_for_nothing_written(standin: StandIn) -> None:
    """The 409 may have answered a POST of ours that lands later: cleanup must still look for it."""
    standin.add_fault(method="POST", status=409, body='{"code": 409, "message": "exists", "object": "HTTPConflict"}')
    standin.add_fault(method="PATCH", status=400, body=DUPLICATE)
    recs = ChallengeRecords(client_for(standin), write_bound=0.2, settle=0.1)
    with pytest.raises(livedns.LiveDNSError, match="HTTP 400") as err:
        recs.add([("_acme-challenge.example.com", "ours")])
    assert not err.value.refused
    standin.set_txt("example.com", "_acme-challenge", ["ours"])  # the lost POST lands after all
    patches = standin.count("PATCH")
    assert recs.remove_all() == []
    assert standin.count("PATCH") > patches  # looked for, not skipped as never written
    assert standin.challenge_records() == {}


def test_a_refused_later_write_does_not_forget_an_earlier_one(standin: StandIn, tmp_path: Path) -> None:
    recs = ChallengeRecords(client_for(standin), journal=journal.Journal(str(tmp_path / "j"), "/etc/g.ini",
                                                                         standin.api_url))
    recs.add([("_acme-challenge.example.com", "first")])
    standin.add_fault(method="POST", status=403,
                      body='{"code": 403, "message": "Forbidden", "object": "HTTPForbidden", "cause": "Forbidden"}')
    with pytest.raises(livedns.ForbiddenError):
        recs.add([("_acme-challenge.example.com", "second")])
    assert list((tmp_path / "j").glob("*.json"))  # still journalled
    assert recs.remove_all() == []
    assert standin.challenge_records() == {}


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


def peak_requests(standin: StandIn) -> list[int]:
    """The most requests the stand-in served at once, from now on (each held 20 ms)."""
    standin.latency = 0.05
    peak, active, lock = [0], [0], threading.Lock()
    original = standin.handle

    def counting(*args):  # type: ignore[no-untyped-def]
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            time.sleep(0.02)
            return original(*args)
        finally:
            with lock:
                active[0] -= 1

    standin.handle = counting  # type: ignore[method-assign]
    return peak


@pytest.mark.parametrize("concurrency,names,lowest,highest", [(4, 12, 2, 4), (1, 4, 1, 1), (2, 6, 2, 2), (16, 2, 2, 2)])
def test_writes_and_removals_run_concurrently_but_bounded(standin: StandIn, concurrency: int, names: int,
                                                          lowest: int, highest: int) -> None:
    recs = ChallengeRecords(client_for(standin), concurrency=concurrency)
    writes = peak_requests(standin)
    recs.add([(f"_acme-challenge.h{i}.example.com", "v") for i in range(names)])
    assert lowest <= writes[0] <= highest
    writes[0] = 0  # the removals, on their own
    assert recs.remove_all() == []
    assert lowest <= writes[0] <= highest and standin.challenge_records() == {}


# ------------------------------------------------- signals, refusals, late writes

def add_interrupted(recs: ChallengeRecords, records: list[tuple[str, str]], after: float) -> None:
    """``recs.add`` cut by a signal ``after`` seconds in, as Ctrl-C or SIGTERM cut certbot's wait."""
    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, after)
        with pytest.raises(Interrupted):
            recs.add(records)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Interrupted(Exception):
    """Stands for certbot's SignalExit, raised in the main thread by a signal handler."""


def test_a_signal_during_a_single_write_does_not_race_the_cleanup(standin: StandIn,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    standin.add_fault(method="POST", action="delay", hang_seconds=1.0)

    recs = ChallengeRecords(client_for(standin))
    add_interrupted(recs, [("_acme-challenge.example.com", "apex"), ("_acme-challenge.example.com", "wild")], after=0.3)
    # The write is still in flight; cleanup waits for it instead of racing it.
    assert recs.remove_all() == []
    assert standin.challenge_records() == {}
    assert [m for m, _, _ in standin.log if m in ("POST", "PATCH")] == ["POST", "PATCH"]
    assert "Removed 2 TXT value(s) at _acme-challenge.example.com" in caplog.messages


def test_a_write_a_signal_stopped_before_it_was_sent_is_not_waited_for_nor_removed(
        standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    recs = ChallengeRecords(client_for(standin))
    submit = ChallengeRecords._submit

    def cut_at_the_second(self: ChallengeRecords, rrset: object, values: list[str]) -> object:
        if rrset.zone == "example.org":  # type: ignore[attr-defined]
            raise Interrupted
        return submit(self, rrset, values)  # type: ignore[arg-type]

    monkeypatch.setattr(ChallengeRecords, "_submit", cut_at_the_second)
    with pytest.raises(Interrupted):
        recs.add([("_acme-challenge.example.com", "a"), ("_acme-challenge.example.org", "b")])
    assert recs.remove_all() == []
    patched = [p for m, p, _ in standin.log if m == "PATCH"]
    assert patched == ["/v5/livedns/domains/example.com/records/_acme-challenge/TXT"]
    assert standin.challenge_records() == {}


def test_cleanup_skips_what_gandi_refused_to_write(standin: StandIn) -> None:
    standin.add_fault(method="POST", path=r"/domains/example\.org/.*", status=403, times=-1)
    recs = ChallengeRecords(client_for(standin))
    with pytest.raises(livedns.ForbiddenError):
        recs.add([("_acme-challenge.example.com", "a"), ("_acme-challenge.example.org", "b")])
    assert recs.remove_all() == []
    patched = [p for m, p, _ in standin.log if m == "PATCH"]
    assert patched == ["/v5/livedns/domains/example.com/records/_acme-challenge/TXT"]
    assert standin.challenge_records() == {}


def test_removed_is_said_only_for_values_confirmed_gone(standin: StandIn, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    recs = ChallengeRecords(client_for(standin))
    recs.add([("_acme-challenge.example.com", "ours")])
    standin.set_txt("example.com", "_acme-challenge", ["google-site-verification=abc", "ours"])
    standin.add_fault(method="PATCH", status=200, body="<html>proxy page</html>")
    standin.add_fault(method="GET", path=r"/domains/example\.com/records/.*", status=200, body='{"rrset_values": null}')
    failures = recs.remove_all()
    assert len(failures) == 1 and "nothing was concluded" in failures[0]
    assert not any(m.startswith("Removed") for m in caplog.messages)
    assert standin.txt("example.com", "_acme-challenge") == ["google-site-verification=abc", "ours"]
    assert standin.count("DELETE") == 0


# ------------------------------------- a write whose outcome is unknown, one still in flight

NAME = "_acme-challenge.example.com"


class Clock:
    """The records' clock and sleep: times handed out in order, sleeps written down."""

    def __init__(self, *times: float, on_sleep: Optional[Callable[[], None]] = None) -> None:
        self.times, self.slept, self.on_sleep = list(times), [], on_sleep

    def __call__(self) -> float:
        return self.times.pop(0) if len(self.times) > 1 else self.times[0]

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.on_sleep:
            self.on_sleep()


def unknown_write(standin: StandIn, clock: Clock, **bounds: float) -> ChallengeRecords:
    """A write every attempt of which was dropped unanswered (nothing applied, as far as we know)."""
    standin.add_fault(method="POST", action="drop", times=-1)
    recs = ChallengeRecords(client_for(standin, **FAST), clock=clock, sleep=clock.sleep, **bounds)  # type: ignore[arg-type]
    with pytest.raises(livedns.LiveDNSError) as err:
        recs.add([(NAME, "late")])
    assert not err.value.refused
    standin.faults.clear()
    return recs


@pytest.mark.parametrize("times,bounds,wait", [
    ((100.0, 101.0, 101.0), {"write_bound": 60.0, "settle": 15.0}, 59.0),  # the request's bound from its start
    ((100.0, 150.0, 150.0), {"write_bound": 30.0, "settle": 15.0}, 15.0),  # an answer's time after it gave up
    ((100.0, 101.0, 159.5), {"write_bound": 60.0, "settle": 15.0}, 0.5),  # even half a second is waited
    ((100.0, 150.0, 150.0), {"write_bound": 30.0}, 1.0),  # the client's attempt bound (1 s here) by default
])
def test_a_write_with_no_answer_is_looked_for_again_once_it_cannot_land_any_more(
        standin: StandIn, caplog: pytest.LogCaptureFixture, times: tuple[float, ...], bounds: dict[str, float],
        wait: float) -> None:
    caplog.set_level(logging.DEBUG)
    clock = Clock(*times, on_sleep=lambda: standin.set_txt("example.com", "_acme-challenge", ["late"]))
    recs = unknown_write(standin, clock, **bounds)
    assert recs.remove_all() == []
    assert clock.slept == [wait]
    assert standin.challenge_records() == {}  # the write that landed during the wait is gone too
    assert (f"No TXT at {NAME} yet although its write had no answer; looking again in {wait:.0f} s"
            in caplog.messages)
    assert f"Removed 1 TXT value(s) at {NAME}" in caplog.messages


def test_a_write_that_never_landed_is_said_so_after_the_second_look(standin: StandIn,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clock = Clock(100.0, 101.0, 161.0)  # its bound has passed already: no wait
    recs = unknown_write(standin, clock, write_bound=60.0, settle=15.0)
    patches = standin.count("PATCH")
    assert recs.remove_all() == [] and clock.slept == []
    assert standin.count("PATCH") == patches + 2  # looked twice
    assert f"Nothing to remove at {NAME}: the values were not there" in caplog.messages
    assert not any(m.startswith("Removed") for m in caplog.messages)


def test_a_confirmed_write_found_gone_is_not_waited_for(standin: StandIn, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clock = Clock(100.0)
    recs = ChallengeRecords(client_for(standin), clock=clock, sleep=clock.sleep, write_bound=60.0, settle=15.0)
    recs.add([(NAME, "ours")])
    standin.zones["example.com"].records.clear()  # someone deleted it meanwhile
    patches = standin.count("PATCH")
    assert recs.remove_all() == [] and clock.slept == [] and standin.count("PATCH") == patches + 1
    assert f"Nothing to remove at {NAME}: the values were not there" in caplog.messages


def test_a_refused_write_is_not_removed(standin: StandIn, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    standin.add_fault(method="POST", status=400, times=-1,
                      body='{"status": "error", "errors": [{"name": "rrset_values", "description": "bad"}]}')
    recs = ChallengeRecords(client_for(standin))
    with pytest.raises(livedns.LiveDNSError) as err:
        recs.add([(NAME, "ours")])
    assert err.value.refused
    assert recs.remove_all() == [] and standin.count("PATCH") == 0
    assert f"Nothing to remove at {NAME}: nothing was written there" in caplog.messages


def test_a_write_still_in_flight_after_the_wait_is_not_raced(standin: StandIn,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """Cleanup waits a write's bound for it; past that it leaves the value for the journal, said as such."""
    caplog.set_level(logging.INFO)
    standin.add_fault(method="POST", action="delay", hang_seconds=2.5)

    recs = ChallengeRecords(client_for(standin), write_bound=0.1, settle=0.1)
    add_interrupted(recs, [(NAME, "slow")], after=0.2)
    failures = recs.remove_all()  # waits 1.1 s: the write takes 2.5 s
    assert failures == [f"{NAME} TXT slow: its write is still in flight, so it cannot be removed safely yet"]
    assert "Waiting for 1 TXT write(s) still in flight before removing them" in caplog.messages
    assert standin.count("PATCH") == 0 and recs.written != {}
    deadline = time.monotonic() + 10
    while standin.txt("example.com", "_acme-challenge") is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert recs.remove_all() == [] and standin.challenge_records() == {}  # once it has landed, it goes


def test_errors_of_several_writes_are_summed_up_once_each(standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    client = client_for(standin)
    calls: list[str] = []

    def fail(zone: str, name: str, values: list[str]) -> None:
        calls.append(name)
        if name == "_acme-challenge.a":
            raise RuntimeError("a bug, not a LiveDNS answer")
        raise livedns.LiveDNSError(f"refused {name}", 403, f"fix {name}")

    monkeypatch.setattr(client, "add_txt", fail)
    recs = ChallengeRecords(client)
    with pytest.raises(livedns.LiveDNSError) as err:
        recs.add([("_acme-challenge.a.example.com", "v"), ("_acme-challenge.b.example.com", "v"),
                  ("_acme-challenge.c.example.com", "v")])
    assert sorted(calls) == ["_acme-challenge.a", "_acme-challenge.b", "_acme-challenge.c"]
    assert err.value.headline.startswith("Could not create every challenge record: ")
    parts = err.value.headline.split(": ", 1)[1].split("; ")
    assert sorted(parts) == ["a bug, not a LiveDNS answer", "refused _acme-challenge.b", "refused _acme-challenge.c"]
    assert sorted(err.value.advice.split(" ")) == sorted(["fix", "_acme-challenge.b", "fix", "_acme-challenge.c"])
    assert not err.value.refused  # one failure may have left something behind


def test_a_write_that_answers_within_its_bound_is_awaited_then_removed(standin: StandIn) -> None:
    standin.add_fault(method="POST", action="delay", hang_seconds=0.8)

    recs = ChallengeRecords(client_for(standin), write_bound=1.0, settle=0.1)
    add_interrupted(recs, [(NAME, "soon")], after=0.2)
    assert recs.remove_all() == []  # waited (up to 2 s) for the write that took 0.8 s
    assert standin.challenge_records() == {}


def test_what_could_not_be_removed_is_named_with_its_values(standin: StandIn) -> None:
    recs = ChallengeRecords(client_for(standin))
    recs.add([(NAME, "apex"), (NAME, "wild")])
    standin.add_fault(method="PATCH", status=403, times=-1,
                      body='{"code": 403, "message": "Forbidden", "object": "HTTPForbidden", "cause": "Forbidden"}')
    (failure,) = recs.remove_all()
    assert failure.startswith(f"{NAME} TXT apex, wild: removing from TXT {NAME}: HTTP 403")


def test_a_refused_write_leaves_the_journal_at_once(standin: StandIn, tmp_path: Path) -> None:
    """Not only at cleanup: a run killed after the refusal must not send a later run after it."""
    standin.add_fault(method="POST", path=r"/domains/example\.org/.*", status=403, times=-1,
                      body='{"code": 403, "message": "Forbidden", "object": "HTTPForbidden", "cause": "Forbidden"}')
    # One write at a time, so the refusal is the last write to end: no later save can hide a missing one.
    recs = ChallengeRecords(client_for(standin), concurrency=1,
                            journal=journal.Journal(str(tmp_path / "j"), "/etc/g.ini", standin.api_url))
    with pytest.raises(livedns.ForbiddenError):
        recs.add([("_acme-challenge.example.com", "V" * 43), ("_acme-challenge.example.org", "W" * 43)])
    (path,) = (tmp_path / "j").glob("*.json")
    assert [r["zone"] for r in __import__("json").loads(path.read_text())["records"]] == ["example.com"]
    assert recs.remove_all() == []


def test_different_refusals_make_a_plain_error_and_a_bug_never_escapes_as_itself(
        standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    client = client_for(standin)

    def refuse(zone: str, name: str, values: list[str]) -> None:
        if name == "_acme-challenge.a":
            raise livedns.ForbiddenError("no", 403)
        raise livedns.AuthError("who?", 401)

    monkeypatch.setattr(client, "add_txt", refuse)
    with pytest.raises(livedns.LiveDNSError) as err:
        ChallengeRecords(client).add([("_acme-challenge.a.example.com", "v"), ("_acme-challenge.b.example.com", "v")])
    assert type(err.value) is livedns.LiveDNSError and err.value.refused

    def bug(zone: str, name: str, values: list[str]) -> None:
        raise RuntimeError("oops")

    monkeypatch.setattr(client, "add_txt", bug)
    with pytest.raises(livedns.LiveDNSError) as err:
        ChallengeRecords(client).add([("_acme-challenge.a.example.com", "v"), ("_acme-challenge.b.example.com", "v")])
    assert type(err.value) is livedns.LiveDNSError and err.value.headline.endswith(": oops")


def test_each_write_is_said_when_done(standin: StandIn, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    recs = ChallengeRecords(client_for(standin))
    recs.add([(NAME, "apex"), (NAME, "wild")])
    assert f"Added 2 TXT value(s) at {NAME}" in caplog.messages
    recs.remove_all()
