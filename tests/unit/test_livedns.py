"""The LiveDNS client against mocked HTTP: requests sent, answers handled."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import requests_mock as rm

from certbot_dns_gandi_pat._internal import config, livedns
from certbot_dns_gandi_pat._internal.livedns import transport
from tests.helpers import FAKE_API_KEY, FAKE_TOKEN

API = "https://api.test/v5/livedns"
RRSET = f"{API}/domains/example.com/records/_acme-challenge/TXT"
ORG = "01234567-89ab-cdef-0123-456789abcdef"


def make(pat: bool = True, **extra: str) -> livedns.LiveDNSClient:
    values = {"dns_gandi_token" if pat else "dns_gandi_api_key": FAKE_TOKEN if pat else FAKE_API_KEY,
              "dns_gandi_api_url": API, **extra}
    return livedns.connect(config.parse(values, "/etc/gandi.ini"))


def envelope(code: int, message: str, obj: str = "HTTPError") -> dict[str, Any]:
    return {"code": code, "message": message, "object": obj, "cause": "x"}


NO_RECORD = {"code": 404, "message": "Can't find the DNS record", "object": "dns-record", "cause": "Not Found"}


def domains(*names: str) -> list[dict[str, str]]:
    return [{"fqdn": n} for n in names]


@pytest.fixture
def client() -> livedns.LiveDNSClient:
    return make()


# ---------------------------------------------------------------- requests

def test_pat_header_timeouts_and_no_redirects(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{API}/domains/example.com/nameservers", json=["ns1.gandi.net."])
    assert client.nameservers("example.com") == ["ns1.gandi.net"]
    req = requests_mock.request_history[0]
    assert req.headers["Authorization"] == f"Bearer {FAKE_TOKEN}"
    assert req.timeout == (transport.CONNECT_SECONDS, transport.ATTEMPT_SECONDS)
    assert "sharing_id" not in req.qs


def test_legacy_key_header_and_sharing_id(requests_mock: rm.Mocker) -> None:
    client = make(pat=False, dns_gandi_sharing_id=ORG)
    requests_mock.get(f"{API}/domains/example.com/nameservers", json=[])
    client.nameservers("example.com")
    req = requests_mock.request_history[0]
    assert req.headers["Authorization"] == f"Apikey {FAKE_API_KEY}"
    assert req.qs["sharing_id"] == [ORG]


# ------------------------------------------------------------------- zones

def test_longest_listed_zone_wins_and_is_cached(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{API}/domains", json=domains("example.com", "sub.example.com", "other.net"))
    assert client.find_zone("_acme-challenge.www.sub.example.com") == "sub.example.com"
    assert client.find_zone("_acme-challenge.example.com.") == "example.com"
    assert client.find_zone("_ACME-challenge.Example.COM") == "example.com"
    assert requests_mock.call_count == 1
    assert requests_mock.request_history[0].qs == {"per_page": ["100"], "page": ["1"]}


def test_listing_is_paginated(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    page1 = domains(*(f"d{i}.com" for i in range(100)))
    requests_mock.get(f"{API}/domains", [
        {"json": page1, "headers": {"Total-Count": "101"}},
        {"json": domains("example.com"), "headers": {"Total-Count": "101"}},
    ])
    assert client.find_zone("_acme-challenge.example.com") == "example.com"
    assert [r.qs["page"] for r in requests_mock.request_history] == [["1"], ["2"]]


def test_a_total_count_that_is_no_number_is_ignored(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    page1 = domains(*(f"d{i}.com" for i in range(100)))
    requests_mock.get(f"{API}/domains", [{"json": page1, "headers": {"Total-Count": "\u00b2"}},
                                        {"json": domains("example.com"), "headers": {"Total-Count": "\u00b2"}}])
    assert client.find_zone("_acme-challenge.example.com") == "example.com"


def test_probing_when_listing_is_forbidden(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{API}/domains", status_code=403, json=envelope(403, "denied"))
    requests_mock.get(f"{API}/domains/www.deep.example.org", status_code=404, json=envelope(404, "Unknown domain", "LocalizedHTTPNotFound"))
    requests_mock.get(f"{API}/domains/deep.example.org", status_code=404, json=envelope(404, "Unknown domain", "LocalizedHTTPNotFound"))
    requests_mock.get(f"{API}/domains/example.org", json={"fqdn": "example.org"})
    assert client.find_zone("_acme-challenge.www.deep.example.org") == "example.org"
    probed = [r.path for r in requests_mock.request_history[1:]]
    assert probed == ["/v5/livedns/domains/www.deep.example.org", "/v5/livedns/domains/deep.example.org",
                      "/v5/livedns/domains/example.org"]
    # the TLD and the _acme-challenge label are never asked about
    assert all("/domains/org" not in p and "_acme" not in p for p in probed)


@pytest.mark.parametrize("body", [{"text": "<html>Welcome to the hotel Wi-Fi</html>"}, {"json": {}},
                                  {"json": {"fqdn": "other.org"}}, {"json": ["example.org"]}])
def test_a_probe_answered_200_without_the_zone_proves_nothing(client: livedns.LiveDNSClient,
                                                              requests_mock: rm.Mocker, body: dict[str, Any]) -> None:
    requests_mock.get(f"{API}/domains", status_code=403, json=envelope(403, "denied"))
    requests_mock.get(f"{API}/domains/example.org", **body)
    with pytest.raises(livedns.UnreadableAnswer, match="looking up zone example.org: HTTP 200 with a body that is "
                                                       "not a LiveDNS domain"):
        client.find_zone("_acme-challenge.example.org")


def test_probing_when_the_listing_misses_the_domain(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{API}/domains", json=domains("other.net"))
    requests_mock.get(f"{API}/domains/example.com", json={"fqdn": "example.com"})
    assert client.find_zone("_acme-challenge.example.com") == "example.com"


def test_no_zone_names_the_domain(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{API}/domains", json=domains("other.net"))
    requests_mock.get(f"{API}/domains/example.com", status_code=404, json=envelope(404, "Unknown domain", "LocalizedHTTPNotFound"))
    with pytest.raises(livedns.ZoneNotFoundError) as err:
        client.find_zone("_acme-challenge.example.com")
    text = str(err.value)
    assert "_acme-challenge.example.com" in text and "must use Gandi LiveDNS" in text and "/etc/gandi.ini" in text


def test_forbidden_probe_is_reported_as_forbidden(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{API}/domains", status_code=403, json=envelope(403, "Access was denied to this resource."))
    requests_mock.get(f"{API}/domains/example.com", status_code=403, json=envelope(403, "Access was denied to this resource."))
    with pytest.raises(livedns.ForbiddenError) as err:
        client.find_zone("_acme-challenge.example.com")
    assert err.value.status == 403 and "Manage domain name technical configurations" in str(err.value)


def test_401_stops_at_once(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{API}/domains", status_code=401, json=envelope(401, "Unauthorized", "HTTPUnauthorized"))
    with pytest.raises(livedns.AuthError) as err:
        client.find_zone("_acme-challenge.www.example.com")
    assert requests_mock.call_count == 1
    text = str(err.value)
    assert "HTTP 401" in text and "Gandi said: HTTPError: " not in text and "Unauthorized" in text
    assert "expired" in text and "one year" in text and "/etc/gandi.ini" in text
    assert FAKE_TOKEN not in text


def test_401_for_a_legacy_key_says_to_move_to_a_token(requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{API}/domains", status_code=401, json=envelope(401, "Unauthorized"))
    with pytest.raises(livedns.AuthError, match="rejected the legacy API key"):
        make(pat=False).list_domains()


def test_403_mentions_sharing_id_when_set(requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{API}/domains/example.com/nameservers", status_code=403, json=envelope(403, "denied"))
    with pytest.raises(livedns.ForbiddenError, match="dns_gandi_sharing_id must name the domain's organization"):
        make(dns_gandi_sharing_id=ORG).nameservers("example.com")


# ----------------------------------------------------------------- writing

def test_add_creates_the_rrset_with_quoted_values_and_ttl_300(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.post(RRSET, status_code=201, json={"message": "DNS Record Created"})
    client.add_txt("example.com", "_acme-challenge", ["abc", "d\"ef"])
    assert requests_mock.last_request.json() == {"rrset_values": ['"abc"', '"d\\"ef"'], "rrset_ttl": 300}
    assert requests_mock.call_count == 1


def test_add_to_an_existing_rrset_patches_without_touching_its_ttl(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.post(RRSET, status_code=409, json=envelope(409, "Duplicate Entry", "HTTPConflict"))
    requests_mock.patch(RRSET, json={"rrset_values": ['"theirs"', '"abc"'], "rrset_ttl": 10800})
    client.add_txt("example.com", "_acme-challenge", ["abc"])
    assert requests_mock.last_request.method == "PATCH"
    assert requests_mock.last_request.json() == {"add_rrset_values": ['"abc"']}
    assert not any(r.method == "PUT" for r in requests_mock.request_history)


def test_add_recreates_an_rrset_deleted_between_post_and_patch(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.post(RRSET, [{"status_code": 409, "json": {}}, {"status_code": 201, "json": {}}])
    requests_mock.patch(RRSET, status_code=404, json=envelope(404, "Can't find the DNS record", "dns-record"))
    client.add_txt("example.com", "_acme-challenge", ["abc"])
    assert [r.method for r in requests_mock.request_history] == ["POST", "PATCH", "POST"]


def test_add_gives_up_on_a_flapping_rrset(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.post(RRSET, status_code=409, json={})
    requests_mock.patch(RRSET, status_code=404, json=NO_RECORD)
    with pytest.raises(livedns.LiveDNSError, match="kept appearing and disappearing"):
        client.add_txt("example.com", "_acme-challenge", ["abc"])
    assert requests_mock.call_count == 6


def test_add_checks_the_answer_holds_our_values(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.post(RRSET, status_code=409, json={})
    requests_mock.patch(RRSET, json={"rrset_values": ['"theirs"']})
    with pytest.raises(livedns.LiveDNSError, match="lacks 1 of the values"):
        client.add_txt("example.com", "_acme-challenge", ["abc"])


def test_add_with_a_validation_error_shows_gandis_message(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.post(RRSET, status_code=400, json={"status": "error", "errors": [
        {"location": "body", "name": "rrset_ttl", "description": "60 is less than minimum value 300"}]})
    with pytest.raises(livedns.LiveDNSError) as err:
        client.add_txt("example.com", "_acme-challenge", ["abc"])
    assert "HTTP 400" in str(err.value) and "rrset_ttl: 60 is less than minimum value 300" in str(err.value)
    assert "creating TXT _acme-challenge.example.com" in str(err.value)


def test_apex_rrset_is_written_as_at(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.post(f"{API}/domains/example.com/records/@/TXT", status_code=201, json={})
    client.add_txt("example.com", "@", ["abc"])
    assert requests_mock.call_count == 1


# ---------------------------------------------------------------- removing

def test_remove_leaves_other_values_alone(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.patch(RRSET, json={"rrset_values": ['"theirs"']})
    client.remove_txt("example.com", "_acme-challenge", ["abc"])
    assert requests_mock.call_count == 1
    assert requests_mock.last_request.json() == {"remove_rrset_values": ['"abc"']}


def test_remove_of_a_missing_rrset_is_a_no_op(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.patch(RRSET, status_code=404, json=envelope(404, "Can't find the DNS record", "dns-record"))
    client.remove_txt("example.com", "_acme-challenge", ["abc"])
    assert requests_mock.call_count == 1


def test_an_emptied_rrset_that_vanished_is_learnt_once(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.patch(RRSET, json={"rrset_values": []})
    requests_mock.get(RRSET, status_code=404, json=envelope(404, "Can't find", "dns-record"))
    client.remove_txt("example.com", "_acme-challenge", ["abc"])
    client.remove_txt("example.com", "_acme-challenge", ["def"])
    assert [r.method for r in requests_mock.request_history] == ["PATCH", "GET", "PATCH"]


def test_an_emptied_rrset_that_stays_is_deleted(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.patch(RRSET, json={"rrset_values": []})
    requests_mock.get(RRSET, json={"rrset_values": []})
    requests_mock.delete(RRSET, status_code=204)
    client.remove_txt("example.com", "_acme-challenge", ["abc"])
    client.remove_txt("example.com", "_acme-challenge", ["def"])
    assert [r.method for r in requests_mock.request_history] == ["PATCH", "GET", "DELETE", "PATCH", "DELETE"]


def test_an_answer_without_body_is_checked(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.patch(RRSET, status_code=204)
    requests_mock.get(RRSET, json={"rrset_values": ['"theirs"']})
    client.remove_txt("example.com", "_acme-challenge", ["abc"])
    assert [r.method for r in requests_mock.request_history] == ["PATCH", "GET"]


def test_delete_of_an_already_deleted_rrset_is_fine(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.patch(RRSET, json={"rrset_values": []})
    requests_mock.get(RRSET, json={"rrset_values": []})
    delete = requests_mock.delete(RRSET, status_code=404, json=NO_RECORD)
    assert client.remove_txt("example.com", "_acme-challenge", ["abc"]) is True  # gone either way
    assert delete.call_count == 1


def test_api_refusing_to_empty_an_rrset_deletes_only_if_all_values_are_ours(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.patch(RRSET, status_code=400, json={"status": "error", "errors": [{"name": "rrset_values", "description": "too short"}]})
    requests_mock.get(RRSET, json={"rrset_values": ['"abc"']})
    requests_mock.delete(RRSET, status_code=204)
    client.remove_txt("example.com", "_acme-challenge", ["abc"])
    assert [r.method for r in requests_mock.request_history] == ["PATCH", "GET", "DELETE"]


def test_api_refusing_a_patch_never_deletes_other_values(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.patch(RRSET, status_code=400, json={"status": "error", "errors": []})
    requests_mock.get(RRSET, json={"rrset_values": ['"abc"', '"theirs"']})
    requests_mock.delete(RRSET, status_code=204)
    with pytest.raises(livedns.LiveDNSError, match="HTTP 400"):
        client.remove_txt("example.com", "_acme-challenge", ["abc"])
    assert "DELETE" not in [r.method for r in requests_mock.request_history]


def test_api_refusing_a_patch_on_a_vanished_rrset(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.patch(RRSET, status_code=400, json={})
    requests_mock.get(RRSET, status_code=404, json=NO_RECORD)
    delete = requests_mock.delete(RRSET, status_code=204)
    assert client.remove_txt("example.com", "_acme-challenge", ["abc"]) is False  # nothing of ours there
    assert delete.call_count == 0


def test_remove_that_left_our_value_is_an_error(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.patch(RRSET, json={"rrset_values": ['"abc"', '"theirs"']})
    with pytest.raises(livedns.LiveDNSError, match="still there"):
        client.remove_txt("example.com", "_acme-challenge", ["abc"])


def test_txt_values(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.get(RRSET, [{"json": {"rrset_values": ['"a"', '"b" "c"']}}, {"status_code": 404, "json": NO_RECORD},
                              {"json": {"rrset_values": []}}])
    assert client.txt_values("example.com", "_acme-challenge") == ["a", "bc"]
    assert client.txt_values("example.com", "_acme-challenge") is None
    assert client.txt_values("example.com", "_acme-challenge") == []


def test_a_delete_answered_200_is_done_and_a_failed_one_says_what_it_was(
        client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.patch(RRSET, json={"rrset_values": []})
    requests_mock.get(RRSET, json={"rrset_values": []})
    requests_mock.delete(RRSET, [{"status_code": 200, "json": {}},
                                 {"status_code": 400, "json": {"message": "locked", "code": 400}}])
    assert client.remove_txt("example.com", "_acme-challenge", ["abc"]) is True
    with pytest.raises(livedns.LiveDNSError) as err:
        client.remove_txt("example.com", "_acme-challenge", ["abc"])
    assert err.value.headline == "deleting empty TXT _acme-challenge.example.com: HTTP 400 (locked)"


def test_an_rrset_answer_that_is_no_rrset_says_so(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.get(RRSET, json={"rrset_values": "not a list"})
    with pytest.raises(livedns.UnreadableAnswer) as err:
        client.txt_values("example.com", "_acme-challenge")
    assert err.value.headline == ('reading TXT _acme-challenge.example.com: HTTP 200 with a body that is not a TXT '
                                  'rrset ({"rrset_values": "not a list"}); nothing was concluded')


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_server_errors_say_try_later(client: livedns.LiveDNSClient, requests_mock: rm.Mocker, status: int) -> None:
    requests_mock.get(f"{API}/domains/x.com/nameservers", status_code=status, text="<html>oops</html>")
    with pytest.raises(livedns.LiveDNSError) as err:
        client.nameservers("x.com")
    assert f"HTTP {status}" in str(err.value) and "try again later" in str(err.value)
    assert "still after retries" in str(err.value)
    assert "<html>oops</html>" in str(err.value)
    assert ("rate-limiting this host" in str(err.value)) == (status == 429)


def test_redirect_is_not_followed(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{API}/domains/x.com/nameservers", status_code=302, headers={"Location": "https://evil.test/"})
    with pytest.raises(livedns.LiveDNSError, match="unexpected redirect .*\n.*dns_gandi_api_url"):
        client.nameservers("x.com")
    assert requests_mock.call_count == 1


def test_non_json_answer_where_json_is_needed(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{API}/domains", text="<html>")
    with pytest.raises(livedns.LiveDNSError, match="unexpected answer for the domain listing"):
        client.list_domains()


def test_gandi_message_echoing_the_token_is_redacted(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{API}/domains", status_code=401, json=envelope(401, f"bad token {FAKE_TOKEN}"))
    with pytest.raises(livedns.AuthError) as err:
        client.list_domains()
    assert FAKE_TOKEN not in str(err.value) and "bad token ***" in str(err.value)


def test_transport_errors_do_not_carry_the_request(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    exc = requests.exceptions.ConnectionError(f"Connection refused; headers: Authorization: Bearer {FAKE_TOKEN}")
    requests_mock.get(f"{API}/domains", exc=exc)
    with pytest.raises(livedns.LiveDNSError) as err:
        client.list_domains()
    assert FAKE_TOKEN not in str(err.value)
    assert "connection refused" in str(err.value) and "api.test" in str(err.value)
    assert err.value.__cause__ is None and err.value.__context__ is None


@pytest.mark.parametrize("exc,reason", [
    (requests.exceptions.ConnectTimeout("x"), "could not connect"),
    (requests.exceptions.ReadTimeout("Read timed out"), "no complete answer within the time limit"),
    (requests.exceptions.SSLError("CERTIFICATE_VERIFY_FAILED"), "not trusted"),
    (requests.exceptions.ChunkedEncodingError("IncompleteRead"), "cut off"),
    (requests.exceptions.RequestException("weird"), "network error"),
])
def test_transport_reasons(client: livedns.LiveDNSClient, requests_mock: rm.Mocker, exc: Exception, reason: str) -> None:
    requests_mock.get(f"{API}/domains", exc=exc)
    with pytest.raises(livedns.LiveDNSError, match=reason):
        client.list_domains()


# ------------------------------------------------------------------- token

def test_token_info(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.get(config.DEFAULT_TOKENINFO_URL, json={"pat_name": "renewals", "expires_in": 86400,
                                                          "scope": ["domain:tech"]})
    info = client.token_info()
    assert info.known and info.name == "renewals" and info.scopes == ("domain:tech",)
    assert info.expires_at is not None
    assert requests_mock.last_request.headers["Authorization"] == f"Bearer {FAKE_TOKEN}"


@pytest.mark.parametrize("kwargs,problem", [
    ({"status_code": 401, "json": {}}, "HTTP 401"), ({"text": "<html>"}, "unreadable"),
    ({"json": ["list"]}, "unreadable"), ({"text": "[" * 100000 + "]" * 100000}, "unreadable"),
    ({"exc": requests.exceptions.ConnectionError("down")}, "network error"),
])
def test_token_info_is_best_effort(client: livedns.LiveDNSClient, requests_mock: rm.Mocker,
                                   kwargs: dict[str, Any], problem: str) -> None:
    requests_mock.get(config.DEFAULT_TOKENINFO_URL, **kwargs)
    info = client.token_info()
    assert not info.known and problem in str(info.problem) and info.expires_at is None


def test_token_info_is_not_asked_for_a_legacy_key(requests_mock: rm.Mocker) -> None:
    assert not make(pat=False).token_info().known
    assert requests_mock.call_count == 0


# ------------------------------------------------------------------- names

@pytest.mark.parametrize("raw,expected", [
    ("Example.COM.", "example.com"), ("bücher.example", "xn--bcher-kva.example"),
    ("_acme-challenge.ÉCOLE.fr", "_acme-challenge.xn--cole-9oa.fr"),
])
def test_normalize_name(raw: str, expected: str) -> None:
    assert livedns.normalize_name(raw) == expected


@pytest.mark.parametrize("raw", ["a" * 64 + ".com", ".".join(["abcdefghi"] * 30), "a..b", "", "xn--\u0000.com"])
def test_invalid_names(raw: str) -> None:
    with pytest.raises(livedns.LiveDNSError, match="not a valid domain name"):
        livedns.normalize_name(raw)


def test_relative_name() -> None:
    assert livedns.relative_name("example.com", "example.com") == "@"
    assert livedns.relative_name("_acme-challenge.www.example.com", "example.com") == "_acme-challenge.www"
    with pytest.raises(ValueError):
        livedns.relative_name("example.org", "example.com")




# ------------------------------------------- unreadable answers (issue 12.1)

GARBAGE = [
    {"text": "<html><body>Bad gateway</body></html>", "headers": {"Content-Type": "text/html"}},
    {"json": {"rrset_values": None}}, {"json": ["a list"]}, {"content": b""}, {"json": {"rrset_values": "x"}},
    {"json": {"rrset_values": [1, 2]}}, {"json": {"rrset_name": "_acme-challenge"}}, {"text": "null"},
    {"json": {"rrset_values": ['"v"'], "rrset_type": "CNAME"}},
    {"text": "[" * 100000 + "]" * 100000},  # deeper than the JSON parser's stack, under the size cap
    {"text": '{"rrset_values": ["\\"theirs\\""], "rrset_values": ["\\"ours\\""]}'},  # the last key wins in json
]


@pytest.mark.parametrize("patch_status", [200, 201, 204])
@pytest.mark.parametrize("garbage", GARBAGE, ids=range(len(GARBAGE)))
def test_an_unreadable_read_back_never_deletes(client: livedns.LiveDNSClient, requests_mock: rm.Mocker,
                                               patch_status: int, garbage: dict[str, Any]) -> None:
    requests_mock.patch(RRSET, status_code=patch_status, **garbage)
    requests_mock.get(RRSET, **garbage)
    requests_mock.delete(RRSET, status_code=204)
    with pytest.raises(livedns.UnreadableAnswer, match="nothing was concluded"):
        client.remove_txt("example.com", "_acme-challenge", ["ours"])
    assert "DELETE" not in [r.method for r in requests_mock.request_history]


@pytest.mark.parametrize("garbage", GARBAGE, ids=range(len(GARBAGE)))
def test_a_refused_patch_with_an_unreadable_read_back_never_deletes(client: livedns.LiveDNSClient,
                                                                    requests_mock: rm.Mocker,
                                                                    garbage: dict[str, Any]) -> None:
    requests_mock.patch(RRSET, status_code=400, json={"status": "error", "errors": []})
    requests_mock.get(RRSET, **garbage)
    requests_mock.delete(RRSET, status_code=204)
    with pytest.raises(livedns.LiveDNSError):
        client.remove_txt("example.com", "_acme-challenge", ["ours"])
    assert "DELETE" not in [r.method for r in requests_mock.request_history]


@pytest.mark.parametrize("garbage", GARBAGE, ids=range(len(GARBAGE)))
def test_an_unreadable_patch_answer_is_checked_with_a_read(client: livedns.LiveDNSClient,
                                                           requests_mock: rm.Mocker, garbage: dict[str, Any]) -> None:
    requests_mock.patch(RRSET, **garbage)
    requests_mock.get(RRSET, json={"rrset_values": ['"google-site-verification=abc"']})
    requests_mock.delete(RRSET, status_code=204)
    assert client.remove_txt("example.com", "_acme-challenge", ["ours"]) is True
    assert [r.method for r in requests_mock.request_history] == ["PATCH", "GET"]


@pytest.mark.parametrize("body", [
    {"text": "<html>Not Found</html>"},
    {"json": {}},
    {"json": {"message": "no Route matched with those values"}},  # an API gateway's own 404
    {"json": {"code": 404, "message": "Not Found"}},
    {"json": {"status": 404, "error": "Not Found"}},
    {"json": [{"object": "dns-record"}]},
], ids=["html", "empty-object", "gateway-message", "code-only", "other-framework", "list"])
def test_a_404_without_gandis_not_found_body_is_not_absence(client: livedns.LiveDNSClient, requests_mock: rm.Mocker,
                                                            body: dict[str, Any]) -> None:
    requests_mock.patch(RRSET, status_code=404, **body)
    requests_mock.get(RRSET, status_code=404, **body)
    with pytest.raises(livedns.UnreadableAnswer, match="HTTP 404 without Gandi's JSON error body"):
        client.remove_txt("example.com", "_acme-challenge", ["ours"])
    with pytest.raises(livedns.UnreadableAnswer):
        client.txt_values("example.com", "_acme-challenge")
    assert "DELETE" not in [r.method for r in requests_mock.request_history]


def test_remove_reports_absence(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.patch(RRSET, status_code=404, json=envelope(404, "Can't find the DNS record", "dns-record"))
    assert client.remove_txt("example.com", "_acme-challenge", ["abc"]) is False


@pytest.mark.parametrize("garbage", GARBAGE, ids=range(len(GARBAGE)))
def test_an_unreadable_add_answer_is_verified(client: livedns.LiveDNSClient, requests_mock: rm.Mocker,
                                              garbage: dict[str, Any]) -> None:
    requests_mock.post(RRSET, status_code=409, json={})
    requests_mock.patch(RRSET, **garbage)
    requests_mock.get(RRSET, [{"json": {"rrset_values": ['"theirs"']}}, {"json": {"rrset_values": ['"theirs"', '"ours"']}}])
    with pytest.raises(livedns.LiveDNSError, match="lacks 1 of the values"):
        client.add_txt("example.com", "_acme-challenge", ["ours"])
    client.add_txt("example.com", "_acme-challenge", ["ours"])  # the second read shows it


def test_idna_2008_is_used_for_names() -> None:
    assert livedns.normalize_name("_acme-challenge.straße.example") == "_acme-challenge.xn--strae-oqa.example"
    assert livedns.normalize_name("faß.de") != "fass.de"


def test_refused_tells_a_definite_refusal_from_an_unknown_outcome() -> None:
    assert livedns.LiveDNSError("x", 403).refused and livedns.LiveDNSError("x", 400).refused
    assert not livedns.LiveDNSError("x", 503).refused and not livedns.LiveDNSError("x").refused
    assert not livedns.LiveDNSError("x", 429).refused and not livedns.UnreadableAnswer("x", 404).refused


# ------------------------------------- every answer's error, word for word (what mutation testing asks)

PAT_ADVICE = ("It has most likely expired (tokens last at most one year), or was revoked or mistyped: create a "
              "new one and run `certbot-dns-gandi-pat rotate --credentials /etc/gandi.ini` (docs/troubleshooting.md: "
              "Token rejected).")
KEY_ADVICE = ("Gandi no longer issues API keys: create a Personal Access Token and run `certbot-dns-gandi-pat "
              "rotate --credentials /etc/gandi.ini`, which replaces the dns_gandi_api_key line "
              "(docs/troubleshooting.md: Token rejected).")
FORBIDDEN_ADVICE = ("It needs \"Manage domain name technical configurations\" on this domain, in its organization; "
                    "{org}`certbot-dns-gandi-pat doctor` shows which is missing (docs/troubleshooting.md: Permission "
                    "denied).")
W = "doing it"


def answer(status: int, body: Any = None, **headers: str) -> Any:
    from requests.structures import CaseInsensitiveDict

    data = b"" if body is None else (body.encode() if isinstance(body, str) else __import__("json").dumps(body).encode())
    return transport.Answer(status, CaseInsensitiveDict(headers), data)


@pytest.mark.parametrize("pat,status,body,kind,headline,advice", [
    (True, 401, envelope(401, "no"), livedns.AuthError,
     "doing it: HTTP 401 (no - x): Gandi rejected the Personal Access Token in /etc/gandi.ini.", PAT_ADVICE),
    (False, 401, envelope(401, "no"), livedns.AuthError,
     "doing it: HTTP 401 (no - x): Gandi rejected the legacy API key in /etc/gandi.ini.", KEY_ADVICE),
    (True, 403, envelope(403, "Access was denied to this resource."), livedns.ForbiddenError,
     "doing it: HTTP 403 (Access was denied to this resource. - x): the credential in /etc/gandi.ini is not "
     "allowed to do this.", FORBIDDEN_ADVICE.format(org="")),
    (True, 404, NO_RECORD, livedns.LiveDNSError, "doing it: HTTP 404 (Can't find the DNS record - Not Found)", ""),
    (True, 404, {"message": "no Route matched"}, livedns.UnreadableAnswer,
     "doing it: HTTP 404 without Gandi's JSON error body, so whether the record exists is unknown; check "
     "dns_gandi_api_url in /etc/gandi.ini", ""),
    (True, 409, envelope(409, "Duplicate Entry"), livedns.LiveDNSError, "doing it: HTTP 409 (Duplicate Entry - x)", ""),
    (True, 429, None, livedns.LiveDNSError, "doing it: HTTP 429, still after retries.",
     "Gandi LiveDNS is rate-limiting this host (1000 requests a minute per IP address; other clients on it count "
     "too); try again later."),
    (True, 503, "down", livedns.LiveDNSError, "doing it: HTTP 503 (down), still after retries.",
     "Gandi LiveDNS is overloaded or failing; try again later."),
    (True, 300, None, livedns.LiveDNSError, "doing it: unexpected redirect (HTTP 300)",
     "Check dns_gandi_api_url in /etc/gandi.ini."),
    (True, 399, None, livedns.LiveDNSError, "doing it: unexpected redirect (HTTP 399)",
     "Check dns_gandi_api_url in /etc/gandi.ini."),
    (True, 418, None, livedns.LiveDNSError, "doing it: HTTP 418", ""),
])
def test_each_status_gets_its_words_and_keeps_its_status(pat: bool, status: int, body: Any, kind: type,
                                                        headline: str, advice: str) -> None:
    from certbot_dns_gandi_pat._internal.livedns import errors

    client = make(pat)
    error = errors.from_answer(answer(status, body), W, client.config, lambda text, limit=200: text[:limit])
    assert type(error) is kind or (kind is livedns.LiveDNSError and isinstance(error, kind))
    assert (error.headline, error.advice, error.status) == (headline, advice, status)


def test_a_sharing_id_is_named_in_the_advice_for_a_403() -> None:
    from certbot_dns_gandi_pat._internal.livedns import errors

    client = make(dns_gandi_sharing_id=ORG)
    error = errors.from_answer(answer(403, envelope(403, "no")), W, client.config, lambda text, limit=200: text)
    assert error.advice == FORBIDDEN_ADVICE.format(org="dns_gandi_sharing_id must name the domain's organization; ")


def test_gandis_trace_id_is_quoted_and_cut_at_40() -> None:
    from certbot_dns_gandi_pat._internal.livedns import errors

    shown = transport.Transport("x", loopback=True, user_agent="t").shown
    error = errors.from_answer(answer(500, None, **{"trace-id": "97b081ebf0417304"}), W, make().config, shown)
    assert error.headline == "doing it: HTTP 500 [trace id 97b081ebf0417304], still after retries."
    error = errors.from_answer(answer(500, None, **{"Trace-Id": "t" * 60}), W, make().config, shown)
    assert error.headline == f"doing it: HTTP 500 [trace id {'t' * 39}…], still after retries."


def test_requests_are_logged_with_their_answers(client: livedns.LiveDNSClient, requests_mock: rm.Mocker,
                                                caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    requests_mock.get(f"{API}/domains/example.com/nameservers", json=[])
    client.nameservers("example.com")
    assert "LiveDNS GET /domains/example.com/nameservers" in caplog.messages
    assert "LiveDNS GET /domains/example.com/nameservers -> HTTP 200" in caplog.messages


def test_the_sharing_id_is_sent_under_its_own_name(requests_mock: rm.Mocker) -> None:
    client = make(dns_gandi_sharing_id=ORG)
    requests_mock.get(f"{API}/domains/example.com/nameservers", json=[])
    client.nameservers("example.com")
    assert f"sharing_id={ORG}" in requests_mock.request_history[0].url  # the query's key, case and all


def test_an_unreachable_api_says_what_to_check(requests_mock: rm.Mocker) -> None:
    client = make()
    requests_mock.get(f"{API}/domains/example.com/nameservers", exc=requests.ConnectionError("refused"))
    with pytest.raises(livedns.LiveDNSError) as err:
        client.nameservers("example.com")
    assert err.value.advice == "Check this host's network access to it, or try again later."
    assert err.value.headline.endswith("(Gandi LiveDNS at api.test)")


@pytest.mark.parametrize("post,patch", [(200, 200), (201, 201), (201, 204)])
def test_every_success_status_of_a_write_is_one(client: livedns.LiveDNSClient, requests_mock: rm.Mocker,
                                                post: int, patch: int) -> None:
    requests_mock.post(RRSET, status_code=post, json={"message": "DNS Record Created"})
    client.add_txt("example.com", "_acme-challenge", ["v"])
    requests_mock.post(RRSET, status_code=409, json=envelope(409, "Duplicate Entry"))
    requests_mock.patch(RRSET, status_code=patch, json={"rrset_values": ['"v"']} if patch != 204 else None)
    requests_mock.get(RRSET, json={"rrset_values": ['"v"']})
    client.add_txt("example.com", "_acme-challenge", ["v"])
    # each answer was taken as done: no retry, no second PATCH
    methods = [r.method for r in requests_mock.request_history]
    assert methods == ["POST", "POST", "PATCH"] + (["GET"] if patch == 204 else [])


def test_an_update_that_lost_values_keeps_its_status(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.post(RRSET, status_code=409, json=envelope(409, "Duplicate Entry"))
    requests_mock.patch(RRSET, status_code=200, json={"rrset_values": ['"other"']})
    with pytest.raises(livedns.LiveDNSError) as err:
        client.add_txt("example.com", "_acme-challenge", ["v"])
    assert err.value.headline == ("adding to TXT _acme-challenge.example.com: Gandi accepted the update but the "
                                  "rrset lacks 1 of the values sent; not continuing") and err.value.status == 200


def test_a_merge_that_fails_says_what_it_added_to(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.post(RRSET, status_code=409, json=envelope(409, "Duplicate Entry"))
    requests_mock.patch(RRSET, status_code=418)
    requests_mock.get(RRSET, json={"rrset_values": ['"other"']})
    with pytest.raises(livedns.LiveDNSError) as err:
        client.add_txt("example.com", "_acme-challenge", ["v"])
    assert err.value.headline == "adding to TXT _acme-challenge.example.com: HTTP 418"
    assert err.value.maybe_applied  # a refused merge after a conflict is no proof of nothing written


def test_a_read_that_fails_says_what_it_read(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.get(RRSET, status_code=418)
    with pytest.raises(livedns.LiveDNSError) as err:
        client.txt_values("example.com", "_acme-challenge")
    assert err.value.headline == "reading TXT _acme-challenge.example.com: HTTP 418"


def test_each_way_of_removing_says_done(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    # values left: done at once
    requests_mock.patch(RRSET, json={"rrset_values": ['"other"']})
    assert client.remove_txt("example.com", "_acme-challenge", ["v"]) is True
    # refused to empty it with PATCH: deleted, as only ours was there
    requests_mock.patch(RRSET, status_code=400, json={"status": "error", "errors": []})
    requests_mock.get(RRSET, json={"rrset_values": ['"v"']})
    requests_mock.delete(RRSET, status_code=204)
    assert client.remove_txt("example.com", "_acme-challenge", ["v"]) is True


def test_once_learnt_an_emptied_rrset_is_handled_without_a_look(requests_mock: rm.Mocker) -> None:
    for vanishes in (True, False):
        client = make()
        requests_mock.reset_mock()
        requests_mock.patch(RRSET, json={"rrset_values": []})
        requests_mock.get(RRSET, **({"status_code": 404, "json": NO_RECORD} if vanishes else
                                    {"json": {"rrset_values": []}}))
        requests_mock.delete(RRSET, status_code=204)
        assert client.remove_txt("example.com", "_acme-challenge", ["a"]) is True  # learns
        assert client.remove_txt("example.com", "_acme-challenge", ["b"]) is True  # knows
        methods = [r.method for r in requests_mock.request_history]
        assert methods == (["PATCH", "GET", "PATCH"] if vanishes else ["PATCH", "GET", "DELETE", "PATCH", "DELETE"])


def test_an_unreadable_removal_answer_teaches_nothing(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.patch(RRSET, [{"status_code": 200, "text": ""}, {"json": {"rrset_values": []}}])
    requests_mock.get(RRSET, status_code=404, json=NO_RECORD)
    assert client.remove_txt("example.com", "_acme-challenge", ["a"]) is True
    assert client.remove_txt("example.com", "_acme-challenge", ["b"]) is True
    # the empty answer proved nothing about emptied rrsets: the second removal still looks
    assert [r.method for r in requests_mock.request_history] == ["PATCH", "GET", "PATCH", "GET"]


def test_a_value_still_there_after_the_removal_is_named(client: livedns.LiveDNSClient,
                                                        requests_mock: rm.Mocker) -> None:
    requests_mock.patch(RRSET, [{"json": {"rrset_values": ['"v"', '"w"']}}, {"text": ""}])
    with pytest.raises(livedns.LiveDNSError) as err:
        client.remove_txt("example.com", "_acme-challenge", ["v"])
    assert err.value.headline == ("removing from TXT _acme-challenge.example.com: Gandi answered the removal but 1 "
                                  "value(s) are still there")
    requests_mock.get(RRSET, json={"rrset_values": ['"v"']})
    with pytest.raises(livedns.LiveDNSError) as err:
        client.remove_txt("example.com", "_acme-challenge", ["v"])
    assert err.value.headline.startswith("removing from TXT _acme-challenge.example.com: Gandi answered the removal")


def test_a_failed_delete_of_an_emptied_rrset_says_which(client: livedns.LiveDNSClient, requests_mock: rm.Mocker) -> None:
    requests_mock.patch(RRSET, status_code=400, json={"status": "error", "errors": []})
    requests_mock.get(RRSET, json={"rrset_values": ['"v"']})
    requests_mock.delete(RRSET, status_code=418)
    with pytest.raises(livedns.LiveDNSError) as err:
        client.remove_txt("example.com", "_acme-challenge", ["v"])
    assert err.value.headline == "deleting empty TXT _acme-challenge.example.com: HTTP 418"
    requests_mock.patch(RRSET, json={"rrset_values": []})
    requests_mock.get(RRSET, json={"rrset_values": []})
    with pytest.raises(livedns.LiveDNSError) as err:
        make().remove_txt("example.com", "_acme-challenge", ["v"])
    assert err.value.headline == "deleting empty TXT _acme-challenge.example.com: HTTP 418"
