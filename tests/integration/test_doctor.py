"""`certbot-dns-gandi-pat doctor` against the LiveDNS stand-in, each check's pass and fail."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from certbot_dns_gandi_pat._internal import dnscheck
from certbot_dns_gandi_pat._internal.commands import cli, doctor, report
from tests.helpers import FAKE_API_KEY, FAKE_TOKEN
from teststack.standin import SCOPE_VIEW, StandIn


@pytest.fixture(autouse=True)
def no_public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dnscheck.CnameResolver, "target", lambda self, name: name)
    monkeypatch.setattr(dnscheck, "zone_nameservers", lambda zone, **kw: [])


def ini(tmp_path: Path, standin: StandIn, mode: int = 0o600, **values: str) -> str:
    path = tmp_path / "gandi.ini"
    lines = [f"dns_gandi_api_url = {standin.api_url}", f"dns_gandi_tokeninfo_url = {standin.tokeninfo_url}"]
    path.write_text("\n".join(lines + [f"{k} = {v}" for k, v in values.items()]) + "\n")
    path.chmod(mode)
    return str(path)


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = cli.main(["doctor", *args], out=out)
    return code, out.getvalue()


def statuses(text: str) -> dict[str, str]:
    data = json.loads(text)
    return {c["name"]: c["status"] for c in data["checks"]}


def test_healthy_token(tmp_path: Path, standin: StandIn) -> None:
    code, out = run("--credentials", ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN), "example.com", "--write-test")
    # the public delegation cannot be looked up here: skipped, so never "OK"
    assert code == report.UNKNOWN, out
    assert out.splitlines()[0] == "dns-gandi doctor UNKNOWN - 1 skipped, 8 ok (domain example.com delegation)"
    assert "[ ok ] credential: accepted by LiveDNS; 3 domain(s) visible" in out
    assert '[ ok ] token expiry: token "test token" expires in 300 day(s)' in out
    assert "[ ok ] token scopes: domain:tech, domain:view" in out
    assert "_acme-challenge.example.com is written in LiveDNS zone example.com" in out
    assert "[ ok ] write test example.com: created and removed TXT _certbot-dns-gandi-pat-doctor-" in out
    assert "[skip] domain example.com delegation" in out
    assert FAKE_TOKEN not in out and standin.challenge_records() == {}
    assert all(not name.startswith("_certbot") for z in standin.zones.values() for name, _ in z.records)


def test_expired_token(tmp_path: Path, standin: StandIn) -> None:
    standin.add_token("FAKE-expired-1234", expires_in=0)
    code, out = run("--credentials", ini(tmp_path, standin, dns_gandi_token="FAKE-expired-1234"), "example.com")
    assert code == report.CRITICAL
    assert out.startswith("dns-gandi doctor CRITICAL - 1 failed, 3 ok (credential)\n")
    assert "[FAIL] credential: listing the LiveDNS domains: HTTP 401" in out and "expired" in out
    assert "FAKE-expired-1234" not in out


def test_token_without_domain_tech(tmp_path: Path, standin: StandIn) -> None:
    standin.add_token("FAKE-viewonly-1234", scopes=(SCOPE_VIEW,))
    code, out = run("--credentials", ini(tmp_path, standin, dns_gandi_token="FAKE-viewonly-1234"),
                    "example.com", "--write-test", "--json")
    assert code == report.CRITICAL and json.loads(out)["verdict"] == "CRITICAL"
    checks = statuses(out)
    assert checks["token scopes"] == "fail" and checks["write test example.com"] == "fail"
    assert "domain:tech missing" in out and "Manage domain name technical configurations" in out


def test_token_restricted_to_another_domain(tmp_path: Path, standin: StandIn) -> None:
    standin.add_token("FAKE-restricted-1234", domains=("example.org",))
    code, out = run("--credentials", ini(tmp_path, standin, dns_gandi_token="FAKE-restricted-1234"), "example.com")
    assert code == report.CRITICAL
    assert "[FAIL] domain example.com:" in out
    assert "No Gandi LiveDNS zone contains _acme-challenge.example.com" in out or "HTTP 403" in out


def test_token_expiring_in_ten_days(tmp_path: Path, standin: StandIn) -> None:
    standin.add_token("FAKE-soon-1234", expires_in=10 * 86400 + 100, name="renewals")
    code, out = run("--credentials", ini(tmp_path, standin, dns_gandi_token="FAKE-soon-1234"), "example.com")
    assert code == report.WARNING
    assert '[warn] token expiry: token "renewals" expires in 10 day(s)' in out
    assert "-> create a new token and run `certbot-dns-gandi-pat rotate`" in out


def test_legacy_key_and_unsafe_permissions(tmp_path: Path, standin: StandIn) -> None:
    code, out = run("--credentials", ini(tmp_path, standin, mode=0o644, dns_gandi_api_key=FAKE_API_KEY))
    assert code == report.CRITICAL
    assert "[FAIL] file permissions:" in out and "every user of this host can read" in out and "chmod 600" in out
    assert "[warn] token: legacy API key" in out and FAKE_API_KEY not in out


def test_group_readable_is_a_warning(tmp_path: Path, standin: StandIn) -> None:
    code, out = run("--credentials", ini(tmp_path, standin, mode=0o640, dns_gandi_token=FAKE_TOKEN))
    assert code == report.WARNING and "[warn] file permissions" in out
    assert "members of its group can read" in out and "others" not in out


def test_broken_ini_stops_early(tmp_path: Path, standin: StandIn) -> None:
    code, out = run("--credentials", ini(tmp_path, standin, dns_gandi_tokn=FAKE_TOKEN))
    assert code == report.CRITICAL and "no credential found" in out and standin.count() == 0
    assert "dns_gandi_tokn looks like a misspelling of dns_gandi_token" in out


def test_tokeninfo_unavailable_is_skipped(tmp_path: Path, standin: StandIn) -> None:
    standin.modes.tokeninfo = "404"
    code, out = run("--credentials", ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN))
    assert code == report.UNKNOWN and "[skip] token: token information unreadable" in out


def test_delegation_compared(tmp_path: Path, standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    path = ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN)
    monkeypatch.setattr(dnscheck, "zone_nameservers", lambda zone, **kw: ["ns-1-a.gandi.net", "ns-2-b.gandi.net"])
    code, out = run("--credentials", path, "example.com")
    assert code == report.OK and out.startswith("dns-gandi doctor OK - 8 ok\n"), out
    monkeypatch.setattr(dnscheck, "zone_nameservers", lambda zone, **kw: ["ns1.elsewhere.net"])
    code, out = run("--credentials", path, "example.com")
    assert code == report.CRITICAL and "delegated to ns1.elsewhere.net, not to its LiveDNS nameservers" in out


def test_cname_delegation_is_followed(tmp_path: Path, standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dnscheck.CnameResolver, "target", lambda self, name: "example-com.acme.example.org")
    code, out = run("--credentials", ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN), "*.example.com")
    assert code == report.UNKNOWN  # delegation skipped
    assert "(delegated by CNAME to example-com.acme.example.org) is written in LiveDNS zone example.org" in out


def test_conflicting_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    class EP:
        group, name = "certbot.plugins", "dns-gandi"

    class Dist:
        def __init__(self, name: str) -> None:
            self.metadata = {"Name": name}
            self.entry_points = [EP()]

    import importlib.metadata
    monkeypatch.setattr(importlib.metadata, "distributions", lambda: [Dist("certbot-dns-gandi"), Dist("certbot_dns_gandi_pat")])
    d = doctor.Doctor("x", [])
    d.check_plugin_conflicts()
    assert d.checks[0].status == "fail" and "certbot-dns-gandi also registers" in d.checks[0].detail
    assert "pip uninstall certbot-dns-gandi" in d.checks[0].advice


def test_usage_errors_are_unknown_and_name_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--credentials", "x", "--nameservers", "host:abc"], ["--bogus"], [],
                 ["--credentials", "x", "--expiry-warning-days", "100000"]):
        with pytest.raises(SystemExit) as err:
            run(*args)
        assert err.value.code == report.UNKNOWN, args
    assert "--nameservers: 'host:abc' has an invalid port" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from certbot_dns_gandi_pat import __version__
    with pytest.raises(SystemExit) as err:
        cli.main(["--version"])
    assert err.value.code == 0 and capsys.readouterr().out.strip() == f"certbot-dns-gandi-pat {__version__}"


def test_internationalized_domains_use_idna_2008(tmp_path: Path, standin: StandIn) -> None:
    standin.add_zone("xn--strae-oqa.example")
    _, out = run("--credentials", ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN), "straße.example")
    assert "_acme-challenge.xn--strae-oqa.example is written in LiveDNS zone xn--strae-oqa.example" in out
    assert "strasse" not in out


@pytest.mark.parametrize("body", ['{"expires_in": NaN}', '{"expires_in": 1e20}', '{"expires_in": -1e300}', '"x"'])
def test_odd_token_information_is_unreadable_not_a_crash(tmp_path: Path, standin: StandIn, body: str) -> None:
    standin.modes.tokeninfo, standin.modes.tokeninfo_body = "body", body
    code, out = run("--credentials", ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN), "--json")
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert checks["token"]["status"] == "skip" and "token information unreadable" in checks["token"]["detail"]
    assert code == report.UNKNOWN


def test_a_credential_under_the_wrong_key_is_not_printed(tmp_path: Path, standin: StandIn) -> None:
    path = ini(tmp_path, standin, dns_gandi_token="FAKE-other-1", dns_gandi_sharing_id=FAKE_TOKEN)
    for extra in ([], ["--json"]):
        code, out = run("--credentials", path, *extra)
        assert code == report.CRITICAL and "dns_gandi_sharing_id is not an organization id" in out
        assert FAKE_TOKEN not in out


def test_silent_nameservers_make_the_domain_check_unknown(tmp_path: Path, standin: StandIn,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def silent(self: object, name: str) -> str:
        raise dnscheck.NoAnswer(f"cannot tell whether {name} is delegated by CNAME: none of 192.0.2.1 answered")

    monkeypatch.setattr(dnscheck.CnameResolver, "target", silent)
    code, out = run("--credentials", ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN), "example.com")
    assert code == report.UNKNOWN
    assert "[skip] domain example.com: could not check: cannot tell whether _acme-challenge.example.com" in out
    assert "-> allow DNS queries from this host, or name reachable servers with --nameservers" in out


def test_a_forbidden_domain_gets_advice_that_is_not_doctor_itself(tmp_path: Path, standin: StandIn) -> None:
    standin.add_token("FAKE-other-org-1", organization="00000000-0000-4000-8000-000000000009")
    code, out = run("--credentials", ini(tmp_path, standin, dns_gandi_token="FAKE-other-org-1",
                                         dns_gandi_sharing_id="00000000-0000-4000-8000-000000000001"), "example.com")
    assert code == report.CRITICAL
    assert "[FAIL] domain example.com:" in out and "shows which is missing" not in out.split("[FAIL] domain")[1]


# ------------------------------------------------ the write test leaves nothing behind

def test_tokens_restricted_to_other_domains_fail_when_the_listing_shows_everything(
        tmp_path: Path, standin: StandIn) -> None:
    standin.modes.list_domains = "all"
    standin.add_token("FAKE-restricted-5678", domains=("example.org",))
    code, out = run("--credentials", ini(tmp_path, standin, dns_gandi_token="FAKE-restricted-5678"), "example.com")
    assert code == report.CRITICAL
    assert "[FAIL] domain example.com: looking up zone example.com: HTTP 403" in out, out


def write_test_leftovers(standin: StandIn) -> list[str]:
    return [n for z in standin.zones.values() for (n, _) in z.records if n.startswith("_certbot-dns-gandi-pat")]


def test_a_write_whose_answers_were_500_is_still_removed(tmp_path: Path, standin: StandIn) -> None:
    standin.add_fault(method="POST", action="apply_then_drop", times=1)
    standin.add_fault(method="POST", status=500, times=-1)
    code, out = run("--credentials", ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN), "--write-test", "example.com")
    assert code == report.CRITICAL and "[FAIL] write test example.com:" in out and "HTTP 500" in out
    assert write_test_leftovers(standin) == []


def test_a_record_that_cannot_be_removed_is_named(tmp_path: Path, standin: StandIn) -> None:
    standin.add_fault(method="PATCH", status=403, times=-1)
    code, out = run("--credentials", ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN), "--write-test", "example.com")
    (left,) = write_test_leftovers(standin)
    assert code == report.CRITICAL
    assert f"-> delete TXT {left}.example.com in Gandi's DNS records page" in out


WRITE_TEST = """
import sys
sys.path.insert(0, sys.argv[1])
from certbot_dns_gandi_pat._internal import dnscheck
from certbot_dns_gandi_pat._internal.commands import cli
dnscheck.CnameResolver.target = lambda self, name: name
dnscheck.zone_nameservers = lambda zone, **kw: []
sys.exit(cli.main(["doctor", "--credentials", sys.argv[2], "--write-test", "example.com"]))
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_the_write_test_removes_the_record(tmp_path: Path, standin: StandIn, signum: int) -> None:
    """The write is in flight (the server takes 1.5 s) when the signal comes: it is awaited, then removed."""
    creds = ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN)
    fault = standin.add_fault(method="POST", action="delay", hang_seconds=1.5)
    proc = subprocess.Popen([sys.executable, "-c", WRITE_TEST, str(Path(__file__).parents[2]), creds],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while fault.hits == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    what = "SIGTERM" if signum == signal.SIGTERM else "interrupt"
    assert proc.returncode == report.UNKNOWN, (out, err)
    assert out == f"dns-gandi doctor UNKNOWN - stopped by {what}: nothing was changed\n", (out, err)
    assert "Traceback" not in err
    assert write_test_leftovers(standin) == [] and standin.count("POST") == 1


def test_python_m_runs_the_same_command() -> None:
    from certbot_dns_gandi_pat import __version__

    result = subprocess.run([sys.executable, "-m", "certbot_dns_gandi_pat", "--version"], capture_output=True,
                            text=True, check=False, timeout=60)
    assert (result.returncode, result.stdout.strip()) == (0, f"certbot-dns-gandi-pat {__version__}")
