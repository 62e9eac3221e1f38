"""`certbot-dns-gandi-pat doctor` against the LiveDNS stand-in, each check's pass and fail."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest

from certbot_dns_gandi_pat import dnscheck, doctor
from tests.conftest import FAKE_API_KEY, FAKE_TOKEN
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
    code = doctor.main(["doctor", *args], out=out)
    return code, out.getvalue()


def statuses(text: str) -> dict[str, str]:
    data = json.loads(text)
    return {c["name"]: c["status"] for c in data["checks"]}


def test_healthy_token(tmp_path: Path, standin: StandIn) -> None:
    code, out = run("--credentials", ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN), "example.com", "--write-test")
    assert code == 0, out
    assert "[ ok ] credential: accepted by LiveDNS; 3 domain(s) visible" in out
    assert "[ ok ] token expiry: token test token expires in 299 day(s)" in out or "expires in 300 day(s)" in out
    assert "[ ok ] token scopes: domain:tech, domain:view" in out
    assert "_acme-challenge.example.com is written in LiveDNS zone example.com" in out
    assert "[ ok ] write test example.com: created and removed TXT _certbot-dns-gandi-pat-doctor-" in out
    assert "[ -- ] domain example.com delegation" in out
    assert FAKE_TOKEN not in out and standin.challenge_records() == {}
    assert all(not name.startswith("_certbot") for z in standin.zones.values() for name, _ in z.records)


def test_expired_token(tmp_path: Path, standin: StandIn) -> None:
    standin.add_token("FAKE-expired-1234", expires_in=0)
    code, out = run("--credentials", ini(tmp_path, standin, dns_gandi_token="FAKE-expired-1234"), "example.com")
    assert code == 1
    assert "[FAIL] credential: listing the LiveDNS domains: HTTP 401" in out and "expired" in out
    assert "FAKE-expired-1234" not in out


def test_token_without_domain_tech(tmp_path: Path, standin: StandIn) -> None:
    standin.add_token("FAKE-viewonly-1234", scopes=(SCOPE_VIEW,))
    code, out = run("--credentials", ini(tmp_path, standin, dns_gandi_token="FAKE-viewonly-1234"),
                    "example.com", "--write-test", "--json")
    assert code == 1
    checks = statuses(out)
    assert checks["token scopes"] == "fail" and checks["write test example.com"] == "fail"
    assert "domain:tech missing" in out and "Manage domain name technical configurations" in out


def test_token_restricted_to_another_domain(tmp_path: Path, standin: StandIn) -> None:
    standin.add_token("FAKE-restricted-1234", domains=("example.org",))
    code, out = run("--credentials", ini(tmp_path, standin, dns_gandi_token="FAKE-restricted-1234"), "example.com")
    assert code == 1
    assert "[FAIL] domain example.com:" in out
    assert "No Gandi LiveDNS zone contains _acme-challenge.example.com" in out or "HTTP 403" in out


def test_token_expiring_in_ten_days(tmp_path: Path, standin: StandIn) -> None:
    standin.add_token("FAKE-soon-1234", expires_in=10 * 86400 + 100, name="renewals")
    code, out = run("--credentials", ini(tmp_path, standin, dns_gandi_token="FAKE-soon-1234"), "example.com")
    assert code == 2
    assert "[warn] token expiry: token renewals expires in 10 day(s)" in out
    assert "-> Create a Personal Access Token" in out


def test_legacy_key_and_unsafe_permissions(tmp_path: Path, standin: StandIn) -> None:
    code, out = run("--credentials", ini(tmp_path, standin, mode=0o644, dns_gandi_api_key=FAKE_API_KEY))
    assert code == 1
    assert "[FAIL] file permissions:" in out and "chmod 600" in out
    assert "[warn] token: legacy API key" in out and FAKE_API_KEY not in out


def test_group_readable_is_a_warning(tmp_path: Path, standin: StandIn) -> None:
    code, out = run("--credentials", ini(tmp_path, standin, mode=0o640, dns_gandi_token=FAKE_TOKEN))
    assert code == 2 and "[warn] file permissions" in out


def test_broken_ini_stops_early(tmp_path: Path, standin: StandIn) -> None:
    code, out = run("--credentials", ini(tmp_path, standin, dns_gandi_tokn=FAKE_TOKEN))
    assert code == 1 and "no credential found" in out and standin.count() == 0


def test_tokeninfo_unavailable_is_skipped(tmp_path: Path, standin: StandIn) -> None:
    standin.modes.tokeninfo = "404"
    code, out = run("--credentials", ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN))
    assert code == 0 and "[ -- ] token:" in out


def test_delegation_compared(tmp_path: Path, standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    path = ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN)
    monkeypatch.setattr(dnscheck, "zone_nameservers", lambda zone, **kw: ["ns-1-a.gandi.net", "ns-2-b.gandi.net"])
    assert run("--credentials", path, "example.com")[0] == 0
    monkeypatch.setattr(dnscheck, "zone_nameservers", lambda zone, **kw: ["ns1.elsewhere.net"])
    code, out = run("--credentials", path, "example.com")
    assert code == 1 and "delegated to ns1.elsewhere.net, not to its LiveDNS nameservers" in out


def test_cname_delegation_is_followed(tmp_path: Path, standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dnscheck.CnameResolver, "target", lambda self, name: "example-com.acme.example.org")
    code, out = run("--credentials", ini(tmp_path, standin, dns_gandi_token=FAKE_TOKEN), "*.example.com")
    assert code == 0
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


def test_bad_nameservers_option(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as err:
        run("--credentials", "x", "--nameservers", "host:abc")
    assert err.value.code == 2


def test_expiry_helpers() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    info: dict[str, Any] = {"pat_name": "t", "expires_in": 5 * 86400}
    assert doctor.token_expiry(info, now) == now + dt.timedelta(days=5)
    assert doctor.token_expiry({"expires_at": "2026-02-01T00:00:00Z"}, now) == dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)
    assert doctor.token_expiry({"expires_at": "2026-02-01T00:00:00"}, now) == dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)
    assert doctor.token_expiry({"expires_at": "soon"}, now) is None
    assert doctor.token_expiry({"expires_in": True}, now) is None
    assert doctor.token_expiry(None, now) is None
    warning = doctor.expiry_warning(info, 30, "/etc/g.ini", now)
    assert warning and "2026-01-06" in warning and "in 5 day(s)" in warning and "/etc/g.ini" in warning
    assert doctor.expiry_warning(info, 3, "/etc/g.ini", now) is None
    assert doctor.expiry_warning(None, 30, "x", now) is None


def test_render_redacts_and_marks() -> None:
    checks = [doctor.Check("a", "pass", "fine"), doctor.Check("b", "fail", f"oops {FAKE_TOKEN}", "do this")]
    text = doctor.render(checks, False, FAKE_TOKEN)
    assert "[ ok ] a: fine" in text and "[FAIL] b: oops ***" in text and "-> do this" in text
    data = json.loads(doctor.render(checks, True, FAKE_TOKEN))
    assert data["ok"] is False and data["exit_code"] == 1 and FAKE_TOKEN not in json.dumps(data)
