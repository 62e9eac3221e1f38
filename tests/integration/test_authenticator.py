"""The certbot glue, driven like certbot drives it, against the stand-in."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional

import pytest
from certbot import errors

from certbot_dns_gandi_pat._internal import dns_gandi, dnscheck
from tests.helpers import FAKE_API_KEY, FAKE_TOKEN, challenge_value, dns01
from teststack.standin import Fault, StandIn


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
    dns_gandi._warned.clear()
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


def test_perform_writes_waits_and_cleanup_removes(tmp_path: Path, standin: StandIn) -> None:
    standin.set_txt("example.com", "_acme-challenge", ["someone-else"])
    auth = make_auth(ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN))
    # apex and wildcard: two authorizations for example.com, each with its own token
    achalls = [dns01("example.com"), dns01("example.com"), dns01("www.example.org")]
    apex, wild, www = (challenge_value(a) for a in achalls)
    responses = auth.perform(achalls)
    assert responses == [a.response(a.account_key) for a in achalls]
    assert standin.txt("example.com", "_acme-challenge") == ["someone-else", apex, wild]
    (expected, servers, timeout), = FakeWaiter.calls
    assert expected == {"_acme-challenge.example.com": [apex, wild], "_acme-challenge.www.example.org": [www]}
    assert servers["_acme-challenge.example.com"] == [("127.0.0.1", 5353)] and timeout == 60
    auth.cleanup(achalls)
    assert standin.challenge_records() == {"_acme-challenge.example.com": ["someone-else"]}


def test_relative_credentials_path_is_stored_absolute(tmp_path: Path, standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN)
    monkeypatch.chdir(tmp_path)
    auth = make_auth("gandi.ini")
    auth.perform([dns01("example.com")])
    assert auth.config.dns_gandi_credentials == str(tmp_path / "gandi.ini")
    auth.cleanup([])


def test_ini_mistakes_become_plugin_errors_before_any_request(tmp_path: Path, standin: StandIn) -> None:
    path = ini(tmp_path, standin, dns_gandi_tokn=FAKE_TOKEN)
    with pytest.raises(errors.PluginError, match=f"{path}: no credential found; dns_gandi_tokn"):
        make_auth(path).perform([dns01("example.com")])
    assert standin.count() == 0


def test_a_rejected_token_is_found_in_prepare_before_the_order(tmp_path: Path, standin: StandIn) -> None:
    standin.add_token("FAKE-expired-token-123", expires_in=0)
    with pytest.raises(errors.MisconfigurationError, match="(?s)HTTP 401.*expired") as err:
        make_auth(ini(tmp_path, standin, dns_gandi_token="FAKE-expired-token-123"))
    assert "FAKE-expired-token-123" not in str(err.value) and repr(err.value) == str(err.value)
    assert [m for m, _, _ in standin.log] == ["GET"]  # the listing only; nothing written


def test_a_token_revoked_after_prepare_fails_in_perform(tmp_path: Path, standin: StandIn) -> None:
    standin.add_token("FAKE-revoked-token-12", expires_in=300)
    auth = make_auth(ini(tmp_path, standin, dns_gandi_token="FAKE-revoked-token-12"))
    standin.tokens["FAKE-revoked-token-12"].expires_in = 0
    with pytest.raises(errors.PluginError, match="(?s)HTTP 401.*expired") as err:
        auth.perform([dns01("www.example.com")])
    assert "FAKE-revoked-token-12" not in str(err.value)
    auth.cleanup([dns01("www.example.com")])
    assert standin.challenge_records() == {}


def test_propagation_timeout_is_a_plugin_error_and_cleanup_still_works(tmp_path: Path, standin: StandIn) -> None:
    FakeWaiter.error = dnscheck.PropagationTimeout("DNS propagation not verified within 60 s: x")
    auth = make_auth(ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN))
    with pytest.raises(errors.PluginError, match="not verified within 60 s"):
        auth.perform([dns01("example.com")])
    assert standin.challenge_records() != {}
    auth.cleanup([dns01("example.com")])
    assert standin.challenge_records() == {}


def test_cleanup_failure_is_logged_not_raised(tmp_path: Path, standin: StandIn, caplog: pytest.LogCaptureFixture) -> None:
    auth = make_auth(ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN))
    auth.perform([dns01("example.com")])
    standin.faults.append(Fault(method="PATCH", status=403, times=-1, body="{}"))
    auth.cleanup([dns01("example.com")])
    assert standin.challenge_records() != {}
    assert any("Could not remove a challenge record" in r.getMessage() and "_acme-challenge.example.com" in r.getMessage()
               for r in caplog.records)


def test_token_expiring_soon_warns_once(tmp_path: Path, standin: StandIn, caplog: pytest.LogCaptureFixture) -> None:
    standin.add_token("FAKE-soon-token-1234", expires_in=10 * 86400 + 60, name="renewals")
    auth = make_auth(ini(tmp_path, standin, dns_gandi_token="FAKE-soon-token-1234"))
    auth.perform([dns01("example.com")])
    auth.perform([dns01("example.org")])
    warnings = [r.getMessage() for r in caplog.records if "expires on" in r.getMessage()]
    assert len(warnings) == 1 and "in 10 day(s)" in warnings[0] and '"renewals"' in warnings[0]
    auth.cleanup([])


def test_expiry_check_can_be_turned_off(tmp_path: Path, standin: StandIn) -> None:
    standin.add_token("FAKE-soon-token-1234", expires_in=86400)
    auth = make_auth(ini(tmp_path, standin, dns_gandi_token="FAKE-soon-token-1234"))
    auth.config.dns_gandi_expiry_warning_days = 0
    auth.perform([dns01("example.com")])
    assert not any(p == "/tokeninfo" for _, p, _ in standin.log)
    auth.cleanup([])


def test_unreachable_tokeninfo_is_not_a_failure(tmp_path: Path, standin: StandIn) -> None:
    path = ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN)
    path.write_text(path.read_text().replace(standin.tokeninfo_url, "http://127.0.0.1:9/tokeninfo"))
    auth = make_auth(path)
    assert auth.perform([dns01("example.com")])
    auth.cleanup([])


def test_legacy_key_warns(tmp_path: Path, standin: StandIn, caplog: pytest.LogCaptureFixture) -> None:
    auth = make_auth(ini(tmp_path, standin, dns_gandi_api_key=FAKE_API_KEY))
    auth.perform([dns01("example.com")])
    auth.perform([dns01("example.org")])
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
    auth.perform([dns01("example.com")])
    (_, servers, _), = FakeWaiter.calls
    assert ("127.0.0.1", 53) in servers["_acme-challenge.example.com"]
    auth.cleanup([])


def test_token_is_absent_from_debug_logs(tmp_path: Path, standin: StandIn, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    standin.add_token("FAKE-expired-token-123", expires_in=0)
    for token in (FAKE_TOKEN, "FAKE-expired-token-123"):
        try:
            auth = make_auth(ini(tmp_path, standin, dns_gandi_token=token))
            auth.perform([dns01("example.com")])
            auth.cleanup([])
        except errors.PluginError as exc:
            assert token not in str(exc)
        assert token not in caplog.text
    assert "LiveDNS POST" in caplog.text  # the debug log did record the traffic


def test_auth_hint_says_what_was_checked(tmp_path: Path, standin: StandIn) -> None:
    auth = make_auth(ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN))
    unchecked = auth.auth_hint([])
    assert "could not check whether the zone's nameservers serve them" in unchecked
    assert "delegated" in unchecked and "doctor" in unchecked
    auth.perform([dns01("example.com")])
    served = auth.auth_hint([])
    assert "were served by the zone's nameservers" in served and "doctor" in served
    auth.cleanup([])


# ------------------------------------------------ options and credentials in prepare()

@pytest.mark.parametrize("option,value,needle", [
    ("dns_gandi_propagation_seconds", 10000000000, "--dns-gandi-propagation-seconds must be a whole number of seconds from 1 to 86400"),
    ("dns_gandi_propagation_seconds", 10**400, "--dns-gandi-propagation-seconds"),
    ("dns_gandi_propagation_seconds", -5, "--dns-gandi-propagation-seconds"),
    ("dns_gandi_propagation_seconds", 0, "--dns-gandi-propagation-seconds"),
    ("dns_gandi_propagation_seconds", "soon", "--dns-gandi-propagation-seconds"),
    ("dns_gandi_expiry_warning_days", 1000000000, "--dns-gandi-expiry-warning-days must be a whole number of days from 0 to 3650"),
    ("dns_gandi_expiry_warning_days", -1, "--dns-gandi-expiry-warning-days"),
])
def test_prepare_refuses_option_values_by_name(tmp_path: Path, standin: StandIn, option: str, value: Any,
                                               needle: str) -> None:
    with pytest.raises(errors.MisconfigurationError) as err:
        make_auth(ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN), **{option: value})
    assert needle in str(err.value) and repr(err.value) == str(err.value)
    assert standin.count() == 0


def test_prepare_checks_the_credentials_before_the_order(tmp_path: Path, standin: StandIn) -> None:
    with pytest.raises(errors.MisconfigurationError) as err:
        make_auth(tmp_path / "missing.ini")
    assert str(tmp_path / "missing.ini") in str(err.value) and repr(err.value) == str(err.value)
    bad = ini(tmp_path, standin, dns_gandi_tokn=FAKE_TOKEN)
    with pytest.raises(errors.MisconfigurationError, match="dns_gandi_tokn looks like a misspelling of dns_gandi_token"):
        make_auth(bad)
    assert standin.count() == 0


def test_prepare_without_a_credentials_path_leaves_the_question_for_later() -> None:
    # certbot prepares every plugin for its interactive menu before any path is known.
    auth = make_auth(None, None)
    assert auth._gandi is None


def test_credentials_warnings_are_said_once_per_run(tmp_path: Path, standin: StandIn,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    path = ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN, dns_gandi_api_key=FAKE_API_KEY)
    auth = make_auth(path)
    auth.perform([dns01("example.com")])
    auth.cleanup([])
    assert sum("dns_gandi_api_key is not used because dns_gandi_token is set" in m for m in caplog.messages) == 1
    assert standin.headers_seen[-1]["authorization"] == f"Bearer {FAKE_TOKEN}"


# ------------------------------------------------------------ what the user reads

def test_an_expiring_token_reaches_stderr_once_under_quiet(tmp_path: Path, standin: StandIn,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    standin.add_token("FAKE-soon-token-5678", expires_in=10 * 86400 + 60, name="renewals")
    path = ini(tmp_path, standin, dns_gandi_token="FAKE-soon-token-5678")
    for name in ("example.com", "example.org"):  # `certbot renew`: one authenticator per lineage
        auth = make_auth(path, quiet=True)
        auth.perform([dns01(name)])
        auth.cleanup([])
    err = capsys.readouterr().err
    assert err.count("expires on") == 1 and '"renewals"' in err and "before the next renewal" in err
    assert "FAKE-soon-token-5678" not in err


def test_a_healthy_quiet_run_prints_nothing(tmp_path: Path, standin: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    auth = make_auth(ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN), quiet=True)
    auth.perform([dns01("example.com")])
    auth.cleanup([])
    assert capsys.readouterr() == ("", "")


def test_the_default_window_covers_the_next_renewal() -> None:
    seen: dict[str, dict[str, Any]] = {}
    dns_gandi.Authenticator.add_parser_arguments(lambda name, **kw: seen.setdefault(name, kw))
    assert seen["expiry-warning-days"]["default"] == 60


@pytest.mark.parametrize("body", ['{"expires_in": NaN}', '{"expires_in": Infinity}', '{"expires_in": 1e12}',
                                  '{"expires_in": 1e20}', '{"expires_in": -1e300}', '{"expires_in": "soon"}',
                                  '["x"]', "null", "[" * 100000 + "]" * 100000])
def test_odd_token_information_never_fails_a_run(tmp_path: Path, standin: StandIn, caplog: pytest.LogCaptureFixture,
                                                 body: str) -> None:
    caplog.set_level(logging.DEBUG)
    standin.modes.tokeninfo, standin.modes.tokeninfo_body = "body", body
    auth = make_auth(ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN))
    assert auth.perform([dns01("example.com")])
    auth.cleanup([])
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(m.startswith("tokeninfo: unreadable answer") for m in caplog.messages)


def test_a_refused_first_write_is_said_once_in_two_lines_and_not_cleaned_up(
        tmp_path: Path, standin: StandIn, caplog: pytest.LogCaptureFixture) -> None:
    standin.add_token("FAKE-viewonly-token-1", scopes=("domain:view",))
    auth = make_auth(ini(tmp_path, standin, dns_gandi_token="FAKE-viewonly-token-1"))
    with pytest.raises(errors.PluginError) as err:
        auth.perform([dns01("example.com"), dns01("example.com")])
    lines = str(err.value).splitlines()
    assert len(lines) == 2 and "HTTP 403" in lines[0] and "docs/troubleshooting.md: Permission denied" in lines[1]
    assert lines[0].endswith("is not allowed to do this.")  # as docs/troubleshooting.md quotes it
    auth.cleanup([])
    assert standin.count("PATCH") == 0 and not any("Could not remove" in m for m in caplog.messages)


# ------------------------------------------------------------------ journal

def test_the_journal_lives_in_certbots_work_dir(tmp_path: Path, standin: StandIn) -> None:
    work = tmp_path / "work"
    auth = make_auth(ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN), work_dir=str(work))
    achall = dns01("example.com")
    auth.perform([achall])
    (path,) = (work / "dns-gandi-pat").glob("*.json")
    assert oct(path.stat().st_mode & 0o777) == "0o600" and challenge_value(achall) in path.read_text()
    assert FAKE_TOKEN not in path.read_text()
    auth.cleanup([])
    assert list((work / "dns-gandi-pat").glob("*.json")) == []


# A run of the plugin in its own process, as certbot would start it, that stays
# alive (sleeping) once its records are written: the test kills it or lets it live.
RUN = """
import sys, time
from types import SimpleNamespace
sys.path.insert(0, sys.argv[3])
from certbot_dns_gandi_pat._internal import dns_gandi, dnscheck
from tests.helpers import dns01

class Waiter:
    def __init__(self, **kw):
        pass

    def wait(self, expected, servers, timeout, labels=None):
        return dnscheck.WaitResult(0.0, tuple(expected), ())

dnscheck.CnameResolver.target = lambda self, name: name
dns_gandi.Authenticator.waiter_factory = Waiter
dns_gandi.display_util.notify = lambda message: None
conf = SimpleNamespace(dns_gandi_credentials=sys.argv[1], dns_gandi_propagation_seconds=60,
                       dns_gandi_nameservers="127.0.0.1:5353", dns_gandi_expiry_warning_days=0,
                       work_dir=sys.argv[2])
auth = dns_gandi.Authenticator(conf, "dns-gandi")
auth.prepare()
auth.perform([dns01("www.example.com")])
print("written", flush=True)
time.sleep(600)
"""


def start_run(path: Path, work: Path) -> subprocess.Popen[str]:
    root = str(Path(__file__).resolve().parents[2])
    proc = subprocess.Popen([sys.executable, "-c", RUN, str(path), str(work), root],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "written\n"
    return proc


def test_a_killed_run_is_recovered_in_a_container_with_another_host_name(
        tmp_path: Path, standin: StandIn, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    path = ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN)
    proc = start_run(path, work)
    proc.kill()  # SIGKILL, OOM or a power cut: no cleanup ran
    proc.wait()
    assert standin.txt("example.com", "_acme-challenge.www") is not None
    # `docker run --rm` again: same work directory, new host name, pid 1 again
    monkeypatch.setattr(socket, "gethostname", lambda: "f00dcafe1234")
    second = make_auth(path, work_dir=str(work))
    second.perform([dns01("example.org")])
    assert standin.txt("example.com", "_acme-challenge.www") is None
    assert [p.name for p in (work / "dns-gandi-pat").iterdir() if not p.name.startswith(str(os.getpid()))] == []
    assert any(f"left by an interrupted run (pid {proc.pid}" in m for m in caplog.messages)
    second.cleanup([])
    assert standin.challenge_records() == {}


def test_a_live_runs_journal_is_never_touched(tmp_path: Path, standin: StandIn,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    path = ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN)
    proc = start_run(path, work)
    try:
        (journal_file,) = (work / "dns-gandi-pat").glob("*.json")
        before = journal_file.read_bytes()
        monkeypatch.setattr(socket, "gethostname", lambda: "another-host")
        second = make_auth(path, work_dir=str(work))
        second.perform([dns01("example.org")])
        second.cleanup([])
        assert standin.txt("example.com", "_acme-challenge.www") is not None
        assert journal_file.read_bytes() == before
    finally:
        proc.kill()
        proc.wait()
    standin.zones["example.com"].records.clear()
