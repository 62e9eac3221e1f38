"""Bytes on the wire: bounds against slow and huge answers, netrc, proxies, redaction, retries.

Each test uses a peer that misbehaves the way real servers and proxies do (teststack.rawserver)
or the stand-in with an injected fault; none of these held on 0.1.0.
"""

from __future__ import annotations

import email.utils
import logging
import socket
import threading
import time
from pathlib import Path

import pytest
import requests_mock as rm

from certbot_dns_gandi_pat._internal import livedns
from certbot_dns_gandi_pat._internal.livedns import transport
from tests.helpers import FAKE_TOKEN, client_for, command, make_transport
from teststack.rawserver import RawServer, answer
from teststack.standin import StandIn

# ------------------------------------------------------------------- time


# ------------------------------------------------------------------- size

def test_a_huge_declared_body_is_refused_without_reading_it() -> None:
    def script(conn: socket.socket, request: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 419430400\r\n\r\n" + b"x" * 65536)
        server.stopping.wait(5)

    with RawServer(script) as server:
        start = time.monotonic()
        with pytest.raises(transport.TransportError, match="larger than 1024 KiB"):
            make_transport().request("GET", server.url + "/x")
        assert time.monotonic() - start < 3  # reading on would wait for the server's 5 s


# ------------------------------------------------------------ credentials

@pytest.mark.parametrize("netrc_line", ["default login someone password NETRC-SECRET",
                                        "machine api.test login someone password NETRC-SECRET"])
def test_netrc_never_replaces_the_authorization_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       requests_mock: rm.Mocker, netrc_line: str) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text(netrc_line + "\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(netrc))
    requests_mock.get("https://api.test/v5/livedns/domains", json=[])
    client_for("https://api.test/v5/livedns").list_domains()
    assert requests_mock.last_request.headers["Authorization"] == f"Bearer {FAKE_TOKEN}"


def test_netrc_is_not_used_against_a_real_loopback_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          standin: StandIn) -> None:
    (tmp_path / ".netrc").write_text("default login someone password NETRC-SECRET\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    client_for(standin.api_url).list_domains()
    assert standin.headers_seen[-1]["authorization"] == f"Bearer {FAKE_TOKEN}"


@pytest.mark.parametrize("variable", ["http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy"])
def test_a_loopback_url_never_goes_through_a_proxy(monkeypatch: pytest.MonkeyPatch, standin: StandIn,
                                                   variable: str) -> None:
    with RawServer(lambda conn, request: conn.sendall(answer(502, b"proxy"))) as proxy:
        for name in ("http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy", "no_proxy", "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv(variable, proxy.url)
        client_for(standin.api_url).list_domains()
        assert proxy.requests == []  # the token never reached the proxy
    assert standin.headers_seen[-1]["authorization"] == f"Bearer {FAKE_TOKEN}"


def test_https_still_goes_through_the_proxy_with_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    with RawServer(lambda conn, request: conn.sendall(answer(403, b"no"))) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        with pytest.raises(livedns.LiveDNSError, match="proxy"):
            client_for("https://api.gandi.test/v5/livedns", attempt_seconds=2.0).list_domains()
        assert proxy.requests and proxy.requests[0].startswith(b"CONNECT api.gandi.test:443 ")
        assert FAKE_TOKEN.encode() not in b"".join(proxy.requests)  # the header travels inside TLS only


def _echo_auth(conn: socket.socket, request: bytes) -> None:
    # A broken proxy that echoes the request in an HTML page, placing the token
    # where a 200-character cut would have split it.
    page = b"<html>" + b"x" * 180 + b" " + request.replace(b"\r\n", b" ") + b"</html>"
    conn.sendall(answer(403, page, {"Content-Type": "text/html"}))


def test_redaction_happens_before_truncation() -> None:
    with RawServer(_echo_auth) as server:
        client = client_for(server.url + "/v5/livedns", attempt_seconds=1.0, request_seconds=1.5)
        with pytest.raises(livedns.LiveDNSError) as err:
            client.nameservers("example.com")
    text = str(err.value)
    assert "HTTP 403" in text
    assert all(FAKE_TOKEN[i:i + 6] not in text for i in range(len(FAKE_TOKEN) - 5)), text


def test_an_attempt_counts_from_the_connect_and_tls_handshake(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib3 connects a new HTTPS connection before request(): that time is part of the attempt."""
    from urllib3 import connection as u3connection

    deadlines: list[float] = []
    monkeypatch.setattr(u3connection.HTTPSConnection, "connect", lambda self: time.sleep(0.3))
    monkeypatch.setattr(u3connection.HTTPConnection, "request",
                        lambda self, *a, **k: deadlines.append(self._deadline))
    conn = transport._pool_classes(1.0)["https"].ConnectionCls("127.0.0.1", 1)
    before = time.monotonic()
    conn.connect()
    conn.request("GET", "/")
    assert before + 1.0 <= deadlines[0] < before + 1.1  # not 1 s after the 0.3 s handshake
    again = time.monotonic()
    conn.request("GET", "/")  # kept alive: the next attempt starts afresh
    assert again + 1.0 <= deadlines[1] < again + 1.1


def test_doctor_output_never_holds_a_token_prefix(tmp_path: Path) -> None:
    with RawServer(_echo_auth) as server:
        path = tmp_path / "gandi.ini"
        path.write_text(f"dns_gandi_token = {FAKE_TOKEN}\ndns_gandi_api_url = {server.url}/v5/livedns\n"
                        f"dns_gandi_tokeninfo_url = {server.url}/tokeninfo\n")
        path.chmod(0o600)
        for args in ((), ("--json",)):
            _, text = command("doctor", "--credentials", str(path), *args)
            assert "HTTP 403" in text, text  # the echo reached the output, masked
            assert all(FAKE_TOKEN[i:i + 6] not in text for i in range(len(FAKE_TOKEN) - 5)), text


# ---------------------------------------------------------------- retries

@pytest.mark.parametrize("value,expected", [
    ("1.5", 1.5), ("0", 0.0), (" 7 ", 7.0), ("soon", None), ("-5", None), ("nan", None), ("inf", None),
    ("1e400", None), ("", None), (None, None),
])
def test_parse_retry_after(value: str, expected: object) -> None:
    assert transport.parse_retry_after(value) == expected


def test_parse_retry_after_dates() -> None:
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < (transport.parse_retry_after(soon) or 0) <= 31
    assert transport.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_answers_read_from_several_threads_keep_their_own_deadlines(standin: StandIn) -> None:
    http = make_transport(pool_size=4)
    results: list[int] = []

    def one() -> None:
        results.append(http.request("GET", standin.api_url + "/domains").status)

    standin.latency = 0.2

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 8


@pytest.mark.parametrize("length", [b"\xb2", b"\xb9\xb3", b"-1", b"12x"])
def test_a_content_length_that_is_no_number_is_not_a_crash(length: bytes) -> None:
    """"²" is a digit to str.isdigit() and no number to int()."""
    def script(conn: socket.socket, request: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: " + length + b"\r\nConnection: close\r\n\r\n[]")

    with RawServer(script) as server:
        # The length is ignored and the body read to the end of the connection.
        assert client_for(server.url + "/v5/livedns", attempt_seconds=1.0, request_seconds=1.5).list_domains() \
            == frozenset()
        assert len(server.requests) == 1


def test_a_json_object_repeating_a_key_is_unreadable() -> None:
    body = b'{"rrset_values": ["\\"theirs\\""], "rrset_values": ["\\"ours\\""]}'
    with pytest.raises(ValueError, match="repeats a key"):
        transport.Answer(200, {}, body).json()


def test_headers_urllib3_cannot_parse_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    """urllib3 logs unparsable header text at WARNING: a server echoing the request puts the token there."""
    def script(conn: socket.socket, request: bytes) -> None:
        auth = next(line for line in request.split(b"\r\n") if line.lower().startswith(b"authorization:"))
        conn.sendall(b"HTTP/1.1 400 Bad\r\nX-Ok: 1\r\nEcho " + auth + b"\r\nContent-Length: 2\r\n\r\n{}")

    caplog.set_level(logging.DEBUG)
    with RawServer(script) as server:
        with pytest.raises(livedns.LiveDNSError):
            client_for(server.url + "/v5/livedns", attempt_seconds=1.0, request_seconds=1.5).list_domains()
    assert "An answer had malformed headers (their text is not logged)" in caplog.messages
    assert FAKE_TOKEN[5:] not in caplog.text
