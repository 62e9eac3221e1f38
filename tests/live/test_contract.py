"""Opt-in contract tests against the real Gandi API (``make live-test``).

Each test checks one assumption the client makes, through the client itself,
on a random name ``_acme-challenge-contract-<random>.<domain>``, and records
what the API answered (status, body shape, headers; never the token) to
``recordings/livedns.json`` so that the stand-in can be compared with it. A dry
run against a loopback URL (the stand-in) writes ``recordings/dry-run.json``
instead, which git ignores: only a recording of the real API is committed.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from certbot_dns_gandi_pat._internal import config, livedns
from certbot_dns_gandi_pat._internal.livedns import transport

pytestmark = pytest.mark.live

TOKEN = os.environ.get("GANDI_LIVE_TOKEN", "")
DOMAIN = os.environ.get("GANDI_LIVE_DOMAIN", "")
API_URL = os.environ.get("GANDI_LIVE_API_URL", config.DEFAULT_API_URL)
DRY_RUN = config.is_loopback(urlsplit(API_URL).hostname or "")
RECORDING = Path(__file__).parent / "recordings" / ("dry-run.json" if DRY_RUN else "livedns.json")

if not (TOKEN and DOMAIN):
    pytest.skip("set GANDI_LIVE_TOKEN and GANDI_LIVE_DOMAIN to run the live contract tests",
                allow_module_level=True)

answers: dict[str, Any] = {}


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def record(case: str, answer: transport.Answer) -> None:
    try:
        body: Any = _shape(answer.json())
    except ValueError:
        body = "non-json" if answer.body else "empty"
    answers[case] = {"status": answer.status, "body": body,
                     "headers": sorted(h for h in answer.headers if h.lower() not in ("set-cookie", "date"))}


@pytest.fixture(scope="module")
def client() -> Iterator[livedns.LiveDNSClient]:
    values = {"dns_gandi_token": TOKEN}
    if os.environ.get("GANDI_LIVE_API_URL"):
        values["dns_gandi_api_url"] = os.environ["GANDI_LIVE_API_URL"]
    if os.environ.get("GANDI_LIVE_TOKENINFO_URL"):
        values["dns_gandi_tokeninfo_url"] = os.environ["GANDI_LIVE_TOKENINFO_URL"]
    if os.environ.get("GANDI_LIVE_SHARING_ID"):
        values["dns_gandi_sharing_id"] = os.environ["GANDI_LIVE_SHARING_ID"]
    c = livedns.connect(config.parse(values, "environment"))
    send = c._http.request

    def spy(*args: Any, **kwargs: Any) -> transport.Answer:
        _last[0] = send(*args, **kwargs)
        return _last[0]

    c._http.request = spy  # type: ignore[method-assign]
    yield c
    RECORDING.parent.mkdir(exist_ok=True)
    RECORDING.write_text(json.dumps(answers, indent=2, sort_keys=True) + "\n")


_last: list[Any] = [None]


@pytest.fixture
def name(client: livedns.LiveDNSClient) -> Iterator[str]:
    rel = f"_acme-challenge-contract-{secrets.token_hex(4)}"
    yield rel
    # Always remove what the test created, even when it failed.
    try:
        client._call("DELETE", client._rrset_path(DOMAIN, rel), ok=(200, 204, 404), what="cleanup")
    except livedns.LiveDNSError:
        pass


def test_zone_is_found(client: livedns.LiveDNSClient) -> None:
    assert client.find_zone(f"_acme-challenge.{DOMAIN}") == DOMAIN


def test_post_creates_and_values_come_back_quoted(client: livedns.LiveDNSClient, name: str) -> None:
    client.add_txt(DOMAIN, name, ["contract value"])
    record("POST new rrset", _last[0])
    resp = client._call("GET", client._rrset_path(DOMAIN, name), what="get")
    record("GET rrset", resp)
    values = resp.json()["rrset_values"]
    assert values == ['"contract value"'], f"the API returned the values as {values!r}"
    assert resp.json().get("rrset_ttl") == livedns.TTL, f"TTL is {resp.json().get('rrset_ttl')}"


def test_post_on_an_existing_rrset_is_409_and_patch_merges(client: livedns.LiveDNSClient, name: str) -> None:
    client.add_txt(DOMAIN, name, ["one"])
    client.add_txt(DOMAIN, name, ["two"])
    assert sorted(client.txt_values(DOMAIN, name) or []) == ["one", "two"]


def test_patch_removing_the_last_value(client: livedns.LiveDNSClient, name: str) -> None:
    client.add_txt(DOMAIN, name, ["only"])
    resp = raw(client, "PATCH", name, {"remove_rrset_values": ['"only"']})
    record("PATCH remove last value", resp)
    after = client.txt_values(DOMAIN, name)
    answers["rrset after emptying PATCH"] = "absent" if after is None else f"present with {len(after)} values"
    assert resp.status in (200, 204, 400), f"PATCH removing the last value answered {resp.status}"


def test_patch_on_a_missing_rrset(client: livedns.LiveDNSClient, name: str) -> None:
    resp = raw(client, "PATCH", name, {"remove_rrset_values": ['"x"']})
    record("PATCH missing rrset", resp)
    assert resp.status == 404, f"PATCH on a missing rrset answered {resp.status}"


def test_delete_of_a_missing_rrset(client: livedns.LiveDNSClient, name: str) -> None:
    resp = raw(client, "DELETE", name)
    record("DELETE missing rrset", resp)
    assert resp.status in (404, 204), f"DELETE of a missing rrset answered {resp.status}"


def test_the_client_round_trip_leaves_nothing(client: livedns.LiveDNSClient, name: str) -> None:
    client.add_txt(DOMAIN, name, ["a", "b"])
    client.remove_txt(DOMAIN, name, ["a", "b"])
    assert client.txt_values(DOMAIN, name) is None, "an emptied rrset stayed behind"


def test_tokeninfo(client: livedns.LiveDNSClient) -> None:
    info = client.token_info()
    answers["tokeninfo"] = {"known": info.known, "problem": info.problem, "has_expiry": info.expires_at is not None,
                            "scopes": list(info.scopes or ())}
    assert info.known and info.expires_at is not None, f"tokeninfo: {info.problem}"


def raw(client: livedns.LiveDNSClient, method: str, name: str, body: Any = None) -> transport.Answer:
    """One request as it is, without the client's handling of the answer."""
    query = {"sharing_id": client.config.sharing_id} if client.config.sharing_id else None
    return client._http.request(method, client.config.api_url + client._rrset_path(DOMAIN, name),
                                params=query, json=body)
