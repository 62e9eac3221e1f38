"""Time bounds and retries against peers that misbehave in real time (real waits, so not in
the quick unit run). Each one failed on 0.1.0.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import socket
import time
import tracemalloc
from pathlib import Path
from typing import Callable

import pytest

from certbot_dns_gandi_pat._internal import livedns
from certbot_dns_gandi_pat._internal.commands import report
from certbot_dns_gandi_pat._internal.livedns import transport
from tests.helpers import FAKE_TOKEN, client_for, command, credentials_file, make_transport
from teststack.rawserver import RawServer, answer, drip
from teststack.standin import StandIn

pytestmark = pytest.mark.slow  # real waits: not in the quick run


def peak_of_a_refused_answer(script: Callable[[socket.socket, bytes], None], refusal: str) -> int:
    """The memory a request took to refuse what ``script`` answers, with ``refusal``."""
    with RawServer(script) as server:
        tracemalloc.start()
        try:
            with pytest.raises(transport.TransportError, match=refusal):
                make_transport().request("GET", server.url + "/x")
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


def test_drip_fed_headers_cannot_hold_a_request_past_its_budget() -> None:
    def script(conn: socket.socket, request: bytes) -> None:
        drip(conn, b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000, 0.1, server.stopping)

    with RawServer(script) as server:
        http = make_transport(attempt_seconds=0.6, request_seconds=2.0)
        start = time.monotonic()
        with pytest.raises(transport.TransportError, match="no complete answer within the time limit"):
            http.request("GET", server.url + "/v5/livedns/domains")
        elapsed = time.monotonic() - start
    # each attempt is cut at 0.6 s although a byte arrives every 0.1 s; no attempt
    # starts that could not end within the 2 s budget
    assert elapsed < 2.8, elapsed  # without the budget: 5 attempts, over 3 s
    assert 2 <= len(server.requests) <= 3


def test_drip_fed_body_is_cut_at_the_attempt_deadline() -> None:
    def script(conn: socket.socket, request: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nContent-Type: application/json\r\n\r\n")
        drip(conn, b"[" + b" " * 4998 + b"]", 0.1, server.stopping)

    with RawServer(script) as server:
        http = make_transport(attempt_seconds=0.8)
        start = time.monotonic()
        with pytest.raises(transport.TransportError, match="no complete answer within the time limit"):
            http.request("GET", server.url + "/x")
        assert time.monotonic() - start < 1.5


def test_the_budget_stops_retries_of_slow_failures() -> None:
    def script(conn: socket.socket, request: bytes) -> None:
        time.sleep(0.4)
        conn.sendall(answer(503, b"{}"))

    with RawServer(script) as server:
        http = make_transport(attempt_seconds=0.5, request_seconds=1.5)
        start = time.monotonic()
        result = http.request("GET", server.url + "/x")
        elapsed = time.monotonic() - start
        # Five attempts without the budget; a third could not have ended within 1.5 s
        # (a busy machine may allow only one). The time bound is loose for the same reason.
        assert result.status == 503 and 1 <= len(server.requests) <= 2
        assert elapsed < 2.5, elapsed


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_an_endless_body_is_cut_at_the_cap_in_bounded_memory(encoding: str) -> None:
    bomb = gzip.compress(b"0" * (200 << 20))  # 200 KiB that inflate to 200 MiB

    def script(conn: socket.socket, request: bytes) -> None:
        if encoding == "gzip":
            conn.sendall(answer(200, bomb, {"Content-Encoding": "gzip"}))
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        chunk = b"x" * 65536
        for _ in range(400):  # 25 MiB, without a length
            conn.sendall(chunk)

    assert peak_of_a_refused_answer(script, "larger than 1024 KiB") < 8 << 20


@pytest.mark.parametrize("value", ["1.5", "soon", "-5", "Wed, 99 Foo 2015 99:99:99 GMT", "1e400"])
def test_a_malformed_retry_after_backs_off_instead_of_stopping(standin: StandIn, value: str) -> None:
    fault = standin.add_fault(method="GET", path="/domains", status=429, retry_after=value)
    start = time.monotonic()
    assert client_for(standin.api_url).list_domains() == frozenset({"example.com", "example.org", "sub.example.com"})
    assert fault.hits == 1 and time.monotonic() - start < 3


def test_retries_are_logged_in_words(standin: StandIn, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    standin.add_fault(method="GET", path="/domains", status=503, times=1)
    standin.add_fault(method="GET", path="/domains", action="drop", times=1)
    client_for(standin.api_url).list_domains()
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert "Gandi LiveDNS: GET /v5/livedns/domains answered HTTP 503; trying again now (attempt 2)" in lines
    assert any(line.startswith("Gandi LiveDNS: GET /v5/livedns/domains failed (") for line in lines)
    assert not any("Retry" in line for line in lines)  # urllib3's own line names its classes


def test_the_breaker_stops_requests_after_an_exhausted_failure(standin: StandIn) -> None:
    standin.add_fault(method="GET", path="/domains", action="drop", times=-1)
    http = make_transport(attempt_seconds=1.0)
    with pytest.raises(transport.TransportError):
        http.request("GET", standin.api_url + "/domains")
    with pytest.raises(transport.TransportError, match="not attempted, because an earlier request failed"):
        http.request("GET", standin.api_url + "/domains/example.com")
    http.reset_breaker()
    standin.faults.clear()
    assert http.request("GET", standin.api_url + "/domains").status == 200


def test_an_unreachable_api_is_unknown_not_critical(tmp_path: Path, standin: StandIn) -> None:
    path = str(credentials_file(tmp_path / "gandi.ini", standin, dns_gandi_token=FAKE_TOKEN))
    Path(path).write_text(Path(path).read_text().replace(standin.api_url, "http://127.0.0.1:9/v5/livedns"))
    code, out = command("doctor", "--credentials", path, "example.com")
    assert code == report.UNKNOWN and out.startswith("dns-gandi doctor UNKNOWN - 1 skipped")
    assert "[skip] credential: listing the LiveDNS domains: connection refused" in out
    assert "       -> Check this host's network access to it" in out


def test_a_proxy_dripping_its_answer_to_connect_is_cut_at_the_attempt_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    def script(conn: socket.socket, request: bytes) -> None:
        drip(conn, b"HTTP/1.1 200 Connection established\r\n" + b"X-Pad: y\r\n" * 200, 0.1, server.stopping)

    with RawServer(script) as server:
        monkeypatch.setenv("HTTPS_PROXY", server.url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        client = client_for("https://api.gandi.test/v5/livedns", connect_seconds=1.0, attempt_seconds=1.0,
                            request_seconds=2.5)
        start = time.monotonic()
        # urllib3 1.26 reports the cut tunnel as a proxy failure
        with pytest.raises(livedns.LiveDNSError, match="no complete answer within the time limit|the proxy "
                                                       "refused or failed the connection"):
            client.list_domains()
        elapsed = time.monotonic() - start
    assert elapsed < 4, elapsed  # without the deadline, each byte within 1 s kept it going for 200 s


def test_huge_headers_are_refused_in_bounded_memory() -> None:
    """http.client alone accepts 100 header lines of 64 KiB each."""
    huge = (b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"a" * 65000) for i in range(95))
            + b"Content-Length: 2\r\n\r\n[]")  # made before memory is traced

    def script(conn: socket.socket, request: bytes) -> None:
        with contextlib.suppress(OSError):
            conn.sendall(huge)

    # 47 MiB when every header line was read
    assert peak_of_a_refused_answer(script, "headers were larger than 64 KiB") < 2 << 20
