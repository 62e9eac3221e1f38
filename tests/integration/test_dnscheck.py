"""Propagation waiting with a fake clock and fake DNS answers; CNAME following."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Callable, Optional

import dns.message
import dns.rcode
import dns.rrset
import pytest

from certbot_dns_gandi_pat._internal import dnscheck
from certbot_dns_gandi_pat._internal.dnscheck import Answer, PropagationTimeout, PropagationWaiter, Server

NS1, NS2 = ("192.0.2.1", 53), ("2001:db8::1", 53)
NAME = "_acme-challenge.example.com"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []
        self.lock = threading.Lock()

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.slept.append(seconds)
            self.now += seconds


def waiter(clock: Clock, answers: Callable[[str, Server, float], Optional[Answer]],
           messages: Optional[list[str]] = None, **kw: Any) -> PropagationWaiter:
    def query(name: str, rdtype: str, server: Server, recurse: bool, timeout: float) -> Optional[Answer]:
        assert rdtype == "TXT" and recurse is False
        return answers(name, server, clock.now)

    return PropagationWaiter(query_fn=query, clock=clock.time, sleep=clock.sleep,
                             progress=(messages.append if messages is not None else lambda m: None),
                             workers=2, **kw)


def test_returns_as_soon_as_every_server_serves_every_value() -> None:
    clock = Clock()

    def answers(name: str, server: Server, now: float) -> Answer:
        ready = now >= 1003 if server == NS1 else now >= 1005
        return Answer(0, frozenset({"v1", "v2", "other"}) if ready else frozenset({"other"}))

    messages: list[str] = []
    result = waiter(clock, answers, messages).wait({NAME: ["v1", "v2"]}, {NAME: [NS1, NS2]}, timeout=120,
                                                   labels={NS1: "ns-1-a.gandi.net", NS2: "ns-1-b.gandi.net"})
    assert result.seconds == 5 and result.verified == (NAME,) and result.unchecked == ()
    assert all(s <= 1 for s in clock.slept)
    assert messages[0] == ("Waiting up to 120 s for 1 TXT record to be served by ns-1-a.gandi.net (192.0.2.1), "
                           "ns-1-b.gandi.net (2001:db8::1): _acme-challenge.example.com")
    assert messages[-1] == "Every nameserver that answers serves the 1 TXT record (5.0 s)"


def test_a_partial_answer_is_not_enough() -> None:
    clock = Clock()
    result = waiter(clock, lambda n, s, t: Answer(0, frozenset({"v1"} if t < 1002 else {"v1", "v2"}))).wait(
        {NAME: ["v1", "v2"]}, {NAME: [NS1]}, timeout=60)
    assert result.seconds == 2


def test_timeout_names_the_names_and_servers_still_missing() -> None:
    clock = Clock()

    def answers(name: str, server: Server, now: float) -> Answer:
        return Answer(0, frozenset({"v"}) if server == NS1 else frozenset())

    with pytest.raises(PropagationTimeout) as err:
        waiter(clock, answers).wait({NAME: ["v"]}, {NAME: [NS1, NS2]}, timeout=30)
    assert clock.now == 1030
    text = str(err.value)
    assert NAME in text and "2001:db8::1" in text
    assert "192.0.2.1" not in text and "delegated" in text and "30 s" in text


def test_no_reachable_server_warns_and_sleeps_the_configured_time(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    result = waiter(clock, lambda n, s, t: None).wait({NAME: ["v"]}, {NAME: [NS1]}, timeout=60)
    assert clock.now == 1060 and result.unchecked == (NAME,) and result.verified == ()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["Cannot verify that _acme-challenge.example.com is served: 192.0.2.1 did not answer DNS "
                        "queries from this host. Waiting the full 60 s instead. Allow outbound DNS (port 53, UDP "
                        "and TCP) to them, or name servers this host can reach with --dns-gandi-nameservers."]


def test_names_without_servers_fall_back_to_sleeping() -> None:
    clock = Clock()
    result = waiter(clock, lambda n, s, t: Answer(0, frozenset({"v"}))).wait(
        {NAME: ["v"], "_acme-challenge.other.org": ["w"]}, {NAME: [NS1]}, timeout=20)
    assert result.verified == (NAME,) and result.unchecked == ("_acme-challenge.other.org",)
    assert clock.now == 1020


def test_unreachable_then_answering_server_is_verified_within_grace() -> None:
    clock = Clock()
    result = waiter(clock, lambda n, s, t: None if t < 1003 else Answer(0, frozenset({"v"}))).wait(
        {NAME: ["v"]}, {NAME: [NS1]}, timeout=60)
    assert result.verified == (NAME,) and result.seconds == 3


def test_satisfied_servers_are_not_asked_again() -> None:
    clock = Clock()
    asked: list[Server] = []

    def answers(name: str, server: Server, now: float) -> Answer:
        asked.append(server)
        return Answer(0, frozenset({"v"}) if server == NS1 or now >= 1002 else frozenset())

    waiter(clock, answers).wait({NAME: ["v"]}, {NAME: [NS1, NS2]}, timeout=60)
    assert asked.count(NS1) == 1 and asked.count(NS2) == 3


def test_parse_nameservers() -> None:
    assert dnscheck.parse_nameservers("127.0.0.1:8053, ns1.example.net,[::1]:5353,[::1]") == [
        ("127.0.0.1", 8053), ("ns1.example.net", 53), ("::1", 5353), ("::1", 53)]


@pytest.mark.parametrize("spec", ["", ",", "host:0", "host:x", ":53", "[::1]:99999"])
def test_parse_nameservers_rejects(spec: str) -> None:
    with pytest.raises(dnscheck.DNSCheckError, match="--dns-gandi-nameservers"):
        dnscheck.parse_nameservers(spec)


def test_resolve_addresses_keeps_every_address_and_skips_unknown_hosts() -> None:
    found = dnscheck.resolve_addresses([("127.0.0.1", 8053), ("localhost", 53), ("no-such-host.invalid", 53)])
    assert ("127.0.0.1", 8053) in found and ("127.0.0.1", 53) in found
    assert len(found) == len(set(found))


# ------------------------------------------------------------------ CNAME

def cname_query(chain: dict[str, str]) -> dnscheck.QueryFn:
    def query(name: str, rdtype: str, server: Server, recurse: bool, timeout: float) -> Optional[Answer]:
        assert rdtype == "CNAME"
        return Answer(0, frozenset(), chain.get(name))
    return query


def test_cname_chain_is_followed_to_the_end() -> None:
    resolver = dnscheck.CnameResolver([NS1], query_fn=cname_query({
        NAME: "example-com.acme.example.net", "example-com.acme.example.net": "final.acme.example.org"}))
    assert resolver.target(NAME + ".") == "final.acme.example.org"


def test_no_cname_keeps_the_name() -> None:
    assert dnscheck.CnameResolver([NS1], query_fn=cname_query({})).target(NAME) == NAME


def test_cname_loop_is_an_error() -> None:
    resolver = dnscheck.CnameResolver([NS1], query_fn=cname_query({NAME: "a.example", "a.example": NAME}))
    with pytest.raises(dnscheck.DNSCheckError, match="CNAME loop"):
        resolver.target(NAME)


def test_cname_depth_is_bounded() -> None:
    chain = {f"n{i}.example": f"n{i + 1}.example" for i in range(20)}
    with pytest.raises(dnscheck.DNSCheckError, match="longer than 8"):
        dnscheck.CnameResolver([NS1], query_fn=cname_query(chain)).target("n0.example")


def test_cname_lookup_with_silent_servers(caplog: pytest.LogCaptureFixture) -> None:
    # the checking commands must say they could not check ...
    with pytest.raises(dnscheck.NoAnswer, match="none of 192.0.2.1 answered a CNAME query"):
        dnscheck.CnameResolver([NS1], query_fn=lambda *a: None).target(NAME)
    # ... while a certbot run writes at the name itself and says why
    assert dnscheck.CnameResolver([NS1], query_fn=lambda *a: None, lenient=True).target(NAME) == NAME
    assert caplog.messages == [f"Cannot tell whether {NAME} is delegated by CNAME (none of 192.0.2.1 answered a "
                               "CNAME query); assuming it is not"]


# ------------------------------------------------------- a real DNS server

class TinyDNS:
    """A UDP DNS server on 127.0.0.1 answering from a dict, for query()."""

    def __init__(self, records: dict[tuple[str, str], list[str]]) -> None:
        self.records = records
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.flags: list[int] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            query = dns.message.from_wire(data)
            self.flags.append(query.flags)
            reply = dns.message.make_response(query)
            q = query.question[0]
            name = q.name.to_text(omit_final_dot=True)
            rdtype = dns.rdatatype.to_text(q.rdtype)
            values = self.records.get((name, rdtype))
            if values:
                reply.answer.append(dns.rrset.from_text_list(q.name, 300, "IN", rdtype, values))
            else:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(reply.to_wire(), peer)

    def close(self) -> None:
        self.sock.close()


def test_query_against_a_real_server() -> None:
    server = TinyDNS({(NAME, "TXT"): ['"abc"', '"de" "f"'], ("alias.example", "CNAME"): ["target.example."]})
    try:
        answer = dnscheck.query(NAME, "TXT", ("127.0.0.1", server.port), False, 2.0)
        assert answer is not None and answer.values == frozenset({"abc", "def"}) and answer.rcode == 0
        assert not server.flags[-1] & dns.flags.RD  # recursion off
        alias = dnscheck.query("alias.example", "CNAME", ("127.0.0.1", server.port), True, 2.0)
        assert alias is not None and alias.cname == "target.example"
        missing = dnscheck.query("nothing.example", "TXT", ("127.0.0.1", server.port), False, 2.0)
        assert missing is not None and missing.rcode == dns.rcode.NXDOMAIN and not missing.values
        ns = dnscheck.zone_nameservers("example.com", servers=[("127.0.0.1", server.port)], timeout=1)
        assert ns == []
    finally:
        server.close()


def test_query_to_a_silent_server_returns_none_quickly() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        assert dnscheck.query(NAME, "TXT", ("127.0.0.1", sock.getsockname()[1]), False, 0.3) is None
    finally:
        sock.close()


def test_zone_nameservers_from_a_server() -> None:
    server = TinyDNS({("example.com", "NS"): ["ns-1-a.gandi.net.", "NS-2-B.gandi.net."]})
    try:
        assert dnscheck.zone_nameservers("example.com", servers=[("127.0.0.1", server.port)]) == [
            "ns-1-a.gandi.net", "ns-2-b.gandi.net"]
    finally:
        server.close()


def test_a_silent_address_does_not_hold_back_the_ones_that_answer() -> None:
    """IPv6 without a route: its packets vanish, each question costs the full timeout."""
    v4, v6 = ("192.0.2.1", 53), ("2001:db8::53", 53)
    names = [f"_acme-challenge.h{i}.example.com" for i in range(100)]
    start = time.monotonic()
    asked = {v4: 0, v6: 0}
    lock = threading.Lock()

    def query(name: str, rdtype: str, server: Server, recurse: bool, timeout: float) -> Optional[Answer]:
        with lock:
            asked[server] += 1
        if server == v6:
            time.sleep(timeout)
            return None
        return Answer(0, frozenset({"v"}) if time.monotonic() - start >= 0.5 else frozenset())

    messages: list[str] = []
    result = PropagationWaiter(query_fn=query, interval=0.2, query_timeout=0.6, progress=messages.append,
                               warn=messages.append).wait(
        {n: ["v"] for n in names}, {n: [v4, v6] for n in names}, timeout=30,
        labels={v4: "ns-1-a.gandi.net", v6: "ns-1-a.gandi.net"})
    elapsed = time.monotonic() - start
    # served after 0.5 s, noticed within an interval; held back by the silent address, it would wait 0.6 s per query
    assert elapsed < 3, elapsed
    assert result.verified == tuple(names) and result.unchecked == ()
    assert asked[v6] <= 3  # one question at a time to an address that does not answer
    assert messages[-1].endswith("not waited for, as they did not answer: ns-1-a.gandi.net (2001:db8::53)")


def test_blocked_dns_is_said_at_once_then_the_bound_is_waited() -> None:
    clock = Clock()
    warnings: list[str] = []
    messages: list[str] = []
    result = waiter(clock, lambda n, s, t: None, messages, warn=warnings.append).wait(  # type: ignore[arg-type]
        {NAME: ["v"]}, {NAME: [NS1, NS2]}, timeout=300, labels={NS1: "ns-1-a.gandi.net", NS2: "ns-1-b.gandi.net"})
    assert len(warnings) == 1 and clock.now == 1300 and result.unchecked == (NAME,)
    # not silent while it waits: a line every 10 s, and one when the wait ends
    lag = [m for m in messages if m.startswith("Still waiting")]
    assert len(lag) == 29 and lag[0] == ("Still waiting after 10 s of at most 300 s: 1 record cannot be checked, "
                                         "as no nameserver answers: waiting the full time")
    assert messages[-1] == ("Waited the full 300 s: 1 TXT record not verified, as no nameserver answered "
                            "(_acme-challenge.example.com)")
    assert warnings[0].startswith("Cannot verify that _acme-challenge.example.com is served: ns-1-a.gandi.net "
                                  "(192.0.2.1), ns-1-b.gandi.net (2001:db8::1) did not answer DNS queries")
    assert "Waiting the full 300 s instead" in warnings[0] and "port 53, UDP and TCP" in warnings[0]
    assert "--dns-gandi-nameservers" in warnings[0]


def test_no_known_address_is_said_at_once() -> None:
    clock = Clock()
    warnings: list[str] = []
    waiter(clock, lambda n, s, t: None, warn=warnings.append).wait({NAME: ["v"]}, {NAME: []}, timeout=20)  # type: ignore[arg-type]
    assert warnings == ["Cannot verify that _acme-challenge.example.com is served: their nameservers' addresses "
                        "could not be found from this host. Waiting the full 20 s instead. Allow outbound DNS "
                        "(port 53, UDP and TCP) to them, or name servers this host can reach with "
                        "--dns-gandi-nameservers."]


def test_progress_names_the_lagging_servers_every_ten_seconds() -> None:
    clock = Clock()
    messages: list[str] = []

    def answers(name: str, server: Server, now: float) -> Answer:
        return Answer(0, frozenset({"v"}) if server == NS1 or now >= 1025 else frozenset())

    waiter(clock, answers, messages).wait({NAME: ["v"]}, {NAME: [NS1, NS2]}, timeout=60,
                                          labels={NS2: "ns-1-b.gandi.net"})
    lag = [m for m in messages if m.startswith("Still waiting")]
    assert lag == ["Still waiting after 10 s of at most 60 s: 1 record not yet served by ns-1-b.gandi.net (2001:db8::1)",
                   "Still waiting after 20 s of at most 60 s: 1 record not yet served by ns-1-b.gandi.net (2001:db8::1)"]
    assert messages[-1] == "Every nameserver that answers serves the 1 TXT record (25.0 s)"
