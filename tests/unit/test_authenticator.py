"""The certbot glue, driven like certbot drives it, against the stand-in."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional

import pytest
from certbot import errors

from certbot_dns_gandi_pat import dns_gandi, dnscheck
from tests.conftest import FAKE_API_KEY, FAKE_TOKEN
from teststack.standin import Fault, StandIn


class FakeAchall:
    def __init__(self, domain: str, old_style: bool = False) -> None:
        if old_style:
            self.domain = domain  # certbot < 4: no identifier attribute
        else:
            self.identifier = SimpleNamespace(value=domain)
        self._domain = domain
        self.account_key = object()

    def validation_domain_name(self, domain: str) -> str:
        return "_acme-challenge." + domain.removeprefix("*.")

    def validation(self, key: object) -> str:
        return f"token-for-{self._domain}"

    def response(self, key: object) -> tuple[str, str]:
        return ("response", self._domain)


class FakeWaiter:
    calls: list[tuple[dict[str, list[str]], dict[str, list[Any]], float]] = []
    error: Optional[Exception] = None

    def __init__(self, **kw: Any) -> None:
        self.progress = kw["progress"]

    def wait(self, expected: Any, servers: Any, timeout: float, labels: Any = None) -> dnscheck.WaitResult:
        FakeWaiter.calls.append((dict(expected), dict(servers), timeout))
        if FakeWaiter.error:
            raise FakeWaiter.error
        return dnscheck.WaitResult(0.5, tuple(expected), ())


@pytest.fixture(autouse=True)
def fake_waiter(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeWaiter.calls, FakeWaiter.error = [], None
    dns_gandi._warned_expiry.clear()
    monkeypatch.setattr(dns_gandi.Authenticator, "waiter_factory", FakeWaiter)
    monkeypatch.setattr(dns_gandi.display_util, "notify", lambda msg: None)
    # No DNS server in unit tests: no name is delegated by CNAME.
    monkeypatch.setattr(dnscheck.CnameResolver, "target", lambda self, name: name)


def ini(tmp_path: Path, standin: StandIn, **values: str) -> Path:
    path = tmp_path / "gandi.ini"
    lines = [f"dns_gandi_api_url = {standin.api_url}", f"dns_gandi_tokeninfo_url = {standin.tokeninfo_url}"]
    path.write_text("\n".join(lines + [f"{k} = {v}" for k, v in values.items()]) + "\n")
    path.chmod(0o600)
    return path


def make_auth(credentials: Any, nameservers: Optional[str] = "127.0.0.1:5353", **extra: Any) -> dns_gandi.Authenticator:
    values = {"dns_gandi_credentials": credentials and str(credentials), "dns_gandi_propagation_seconds": 60,
              "dns_gandi_nameservers": nameservers, "dns_gandi_expiry_warning_days": 30, **extra}
    conf = SimpleNamespace(**values)
    auth = dns_gandi.Authenticator(conf, "dns-gandi")
    auth.prepare()
    return auth


def test_options_are_registered() -> None:
    seen: dict[str, dict[str, Any]] = {}
    dns_gandi.Authenticator.add_parser_arguments(lambda name, **kw: seen.setdefault(name, kw))
    assert set(seen) == {"credentials", "propagation-seconds", "nameservers", "expiry-warning-days"}
    assert seen["propagation-seconds"]["default"] == 300
    assert "longest time" in seen["propagation-seconds"]["help"]
    assert "Gandi" in dns_gandi.Authenticator.description and "LiveDNS" in make_auth(None, None).more_info()


@pytest.mark.parametrize("old_style", [False, True])
def test_perform_writes_waits_and_cleanup_removes(tmp_path: Path, standin: StandIn, old_style: bool) -> None:
    standin.set_txt("example.com", "_acme-challenge", ["someone-else"])
    auth = make_auth(ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN))
    achalls = [FakeAchall("example.com", old_style), FakeAchall("*.example.com", old_style),
               FakeAchall("www.example.org", old_style)]
    responses = auth.perform(achalls)  # type: ignore[arg-type]
    assert responses == [("response", "example.com"), ("response", "*.example.com"), ("response", "www.example.org")]
    assert standin.txt("example.com", "_acme-challenge") == [
        "someone-else", "token-for-example.com", "token-for-*.example.com"]
    (expected, servers, timeout), = FakeWaiter.calls
    assert expected == {"_acme-challenge.example.com": ["token-for-example.com", "token-for-*.example.com"],
                        "_acme-challenge.www.example.org": ["token-for-www.example.org"]}
    assert servers["_acme-challenge.example.com"] == [("127.0.0.1", 5353)] and timeout == 60
    auth.cleanup(achalls)  # type: ignore[arg-type]
    assert standin.challenge_records() == {"_acme-challenge.example.com": ["someone-else"]}


def test_relative_credentials_path_is_stored_absolute(tmp_path: Path, standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN)
    monkeypatch.chdir(tmp_path)
    auth = make_auth("gandi.ini")
    auth.perform([FakeAchall("example.com")])  # type: ignore[list-item]
    assert auth.config.dns_gandi_credentials == str(tmp_path / "gandi.ini")
    auth.cleanup([])


def test_ini_mistakes_become_plugin_errors_before_any_request(tmp_path: Path, standin: StandIn) -> None:
    path = ini(tmp_path, standin, dns_gandi_tokn=FAKE_TOKEN)
    with pytest.raises(errors.PluginError, match=f"{path}: no credential found; dns_gandi_tokn"):
        make_auth(path).perform([FakeAchall("example.com")])  # type: ignore[list-item]
    assert standin.count() == 0


def test_expired_token_fails_with_advice_and_leaves_nothing(tmp_path: Path, standin: StandIn) -> None:
    standin.add_token("FAKE-expired-token-123", expires_in=0)
    auth = make_auth(ini(tmp_path, standin, dns_gandi_token="FAKE-expired-token-123"))
    with pytest.raises(errors.PluginError, match="HTTP 401.*expired") as err:
        auth.perform([FakeAchall("example.com")])  # type: ignore[list-item]
    assert "FAKE-expired-token-123" not in str(err.value)
    auth.cleanup([FakeAchall("example.com")])  # type: ignore[list-item]
    assert standin.challenge_records() == {}


def test_propagation_timeout_is_a_plugin_error_and_cleanup_still_works(tmp_path: Path, standin: StandIn) -> None:
    FakeWaiter.error = dnscheck.PropagationTimeout("DNS propagation not verified within 60 s: x")
    auth = make_auth(ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN))
    with pytest.raises(errors.PluginError, match="not verified within 60 s"):
        auth.perform([FakeAchall("example.com")])  # type: ignore[list-item]
    assert standin.challenge_records() != {}
    auth.cleanup([FakeAchall("example.com")])  # type: ignore[list-item]
    assert standin.challenge_records() == {}


def test_cleanup_failure_is_logged_not_raised(tmp_path: Path, standin: StandIn, caplog: pytest.LogCaptureFixture) -> None:
    auth = make_auth(ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN))
    auth.perform([FakeAchall("example.com")])  # type: ignore[list-item]
    standin.faults.append(Fault(method="PATCH", status=403, times=-1, body="{}"))
    auth.cleanup([FakeAchall("example.com")])  # type: ignore[list-item]
    assert standin.challenge_records() != {}
    assert any("Could not remove a challenge record" in r.getMessage() and "_acme-challenge.example.com" in r.getMessage()
               for r in caplog.records)


def test_token_expiring_soon_warns_once(tmp_path: Path, standin: StandIn, caplog: pytest.LogCaptureFixture) -> None:
    standin.add_token("FAKE-soon-token-1234", expires_in=10 * 86400 + 60, name="renewals")
    auth = make_auth(ini(tmp_path, standin, dns_gandi_token="FAKE-soon-token-1234"))
    auth.perform([FakeAchall("example.com")])  # type: ignore[list-item]
    auth.perform([FakeAchall("example.org")])  # type: ignore[list-item]
    warnings = [r.getMessage() for r in caplog.records if "expires on" in r.getMessage()]
    assert len(warnings) == 1 and "in 10 day(s)" in warnings[0] and '"renewals"' in warnings[0]
    auth.cleanup([])


def test_expiry_check_can_be_turned_off(tmp_path: Path, standin: StandIn) -> None:
    standin.add_token("FAKE-soon-token-1234", expires_in=86400)
    auth = make_auth(ini(tmp_path, standin, dns_gandi_token="FAKE-soon-token-1234"))
    auth.config.dns_gandi_expiry_warning_days = 0
    auth.perform([FakeAchall("example.com")])  # type: ignore[list-item]
    assert not any(p == "/tokeninfo" for _, p, _ in standin.log)
    auth.cleanup([])


def test_unreachable_tokeninfo_is_not_a_failure(tmp_path: Path, standin: StandIn) -> None:
    path = ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN)
    path.write_text(path.read_text().replace(standin.tokeninfo_url, "http://127.0.0.1:9/tokeninfo"))
    auth = make_auth(path)
    assert auth.perform([FakeAchall("example.com")])  # type: ignore[list-item]
    auth.cleanup([])


def test_legacy_key_warns(tmp_path: Path, standin: StandIn, caplog: pytest.LogCaptureFixture) -> None:
    auth = make_auth(ini(tmp_path, standin, dns_gandi_api_key=FAKE_API_KEY))
    auth.perform([FakeAchall("example.com")])  # type: ignore[list-item]
    auth.perform([FakeAchall("example.org")])  # type: ignore[list-item]
    assert sum("legacy Gandi API key" in r.getMessage() for r in caplog.records) == 1
    assert standin.headers_seen[-1]["authorization"] == f"Apikey {FAKE_API_KEY}"
    auth.cleanup([])


@pytest.mark.parametrize("spec", ["127.0.0.1:0", "no-such-host.invalid:53", "[::1]junk", "::1]:53"])
def test_bad_nameservers_option_fails_in_prepare(spec: str) -> None:
    with pytest.raises(errors.MisconfigurationError, match="dns-gandi-nameservers") as err:
        make_auth(None, spec)
    assert repr(err.value) == str(err.value)  # certbot shows {problem!r}


def test_zone_servers_come_from_dns_then_the_api(tmp_path: Path, standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    auth = make_auth(ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN), None)
    monkeypatch.setattr(dnscheck, "zone_nameservers", lambda zone, **kw: ["localhost"])
    assert auth._zone_servers("example.com")[("127.0.0.1", 53)] == "localhost"
    monkeypatch.setattr(dnscheck, "zone_nameservers", lambda zone, **kw: [])
    standin.zones["example.com"].nameservers = ("localhost",)
    assert ("127.0.0.1", 53) in auth._zone_servers("example.com")
    assert auth._zone_servers("missing.test") == {}


def test_wait_uses_the_zone_servers_without_override(tmp_path: Path, standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    auth = make_auth(ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN), None)
    monkeypatch.setattr(dnscheck, "zone_nameservers", lambda zone, **kw: ["localhost"])
    auth.perform([FakeAchall("example.com")])  # type: ignore[list-item]
    (_, servers, _), = FakeWaiter.calls
    assert ("127.0.0.1", 53) in servers["_acme-challenge.example.com"]
    auth.cleanup([])


def test_token_is_absent_from_debug_logs(tmp_path: Path, standin: StandIn, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    standin.add_token("FAKE-expired-token-123", expires_in=0)
    for token in (FAKE_TOKEN, "FAKE-expired-token-123"):
        auth = make_auth(ini(tmp_path, standin, dns_gandi_token=token))
        try:
            auth.perform([FakeAchall("example.com")])  # type: ignore[list-item]
        except errors.PluginError as exc:
            assert token not in str(exc)
        auth.cleanup([])
        assert token not in caplog.text
    assert "LiveDNS POST" in caplog.text  # the debug log did record the traffic


def test_auth_hint_says_what_was_checked(tmp_path: Path, standin: StandIn) -> None:
    auth = make_auth(ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN))
    unchecked = auth.auth_hint([])
    assert "could not check whether the zone's nameservers serve them" in unchecked
    assert "delegated" in unchecked and "doctor" in unchecked
    auth.perform([FakeAchall("example.com")])  # type: ignore[list-item]
    served = auth.auth_hint([])
    assert "were served by the zone's nameservers" in served and "doctor" in served
    auth.cleanup([])
