"""`certbot-dns-gandi-pat renewals` against the LiveDNS stand-in and lineages laid out as certbot does."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from certbot_dns_gandi_pat._internal import dnscheck
from certbot_dns_gandi_pat._internal.certbot_files import lineages
from certbot_dns_gandi_pat._internal.commands import cli, renewals, report
from tests.helpers import FAKE_API_KEY, FAKE_TOKEN, write_lineage
from teststack.standin import SCOPE_VIEW, StandIn

DAY = dt.timedelta(days=1)
NOW = dt.datetime.now(dt.timezone.utc)


@pytest.fixture(autouse=True)
def no_public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dnscheck.CnameResolver, "target", lambda self, name: name)


def ini(path: Path, standin: StandIn, mode: int = 0o600, **values: str) -> Path:
    lines = [f"dns_gandi_api_url = {standin.api_url}", f"dns_gandi_tokeninfo_url = {standin.tokeninfo_url}"]
    path.write_text("\n".join(lines + [f"{k} = {v}" for k, v in values.items()]) + "\n")
    path.chmod(mode)
    return path


def run(config_dir: Path, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = cli.main(["renewals", "--config-dir", str(config_dir), *args], out=out)
    return code, out.getvalue()


def as_json(config_dir: Path, *args: str) -> dict[str, Any]:
    code, out = run(config_dir, "--json", *args)
    data: dict[str, Any] = json.loads(out)
    assert data["exit_code"] == code
    return data


def token(standin: StandIn, secret: str, days: float, **kw: Any) -> str:
    standin.add_token(secret, expires_in=int(days * 86400), **kw)
    return secret


def test_a_healthy_machine(tmp_path: Path, standin: StandIn) -> None:
    creds = ini(tmp_path / "gandi.ini", standin, dns_gandi_token=FAKE_TOKEN)  # expires in 300 days
    write_lineage(tmp_path, "example.com", creds, names=("example.com", "*.example.com"))
    write_lineage(tmp_path, "www.example.org", creds)
    write_lineage(tmp_path, "web.example.net", None, authenticator="webroot")
    code, out = run(tmp_path)
    assert code == report.OK, out
    lines = out.splitlines()
    assert lines[0] == "dns-gandi renewals OK - 2 ok"
    assert lines[1].startswith("[ ok ] example.com: example.com, *.example.com; certificate expires ")
    assert f"dns-gandi (current form); {creds} (dns_gandi_token, mode 600): ok: token \"test token\" expires on " in lines[1]
    assert len(lines) == 3 and "web.example.net" not in out
    # one /tokeninfo request for the file the two lineages share, one domain listing, one look per zone
    assert [p for _, p, _ in standin.log] == ["/tokeninfo", "/v5/livedns/domains", "/v5/livedns/domains/example.com",
                                              "/v5/livedns/domains/example.org"]


@pytest.mark.parametrize("expires,status,words", [
    (31, "fail", "less than two days after the next renewal (due from"),  # maybe not at certbot's next run
    (20, "fail", "before the next renewal (due from"),       # next renewal in 30 days
    (45, "warn", "after the next renewal (due from"),        # inside the renewal window (30..60 days)
    (75, "warn", "but before the one after it (from"),       # after the window, before the renewal after
    (200, "pass", "last safe day to rotate it:"),                    # after the renewal after next
])
def test_token_expiry_against_the_renewal_window(tmp_path: Path, standin: StandIn, expires: int,
                                                 status: str, words: str) -> None:
    secret = token(standin, f"FAKE-window-{expires}-0000", expires + 0.5)
    creds = ini(tmp_path / "gandi.ini", standin, dns_gandi_token=secret)
    # a 90-day certificate issued 30 days ago: renewed from day 30, then every 60 days
    write_lineage(tmp_path, "example.com", creds, not_before=NOW - 30 * DAY, days=90)
    data = as_json(tmp_path, "--expiry-warning-days", "10")
    (lineage,) = data["lineages"]
    assert lineage["status"] == status
    assert any(words in f["detail"] for f in lineage["findings"]), lineage["findings"]
    assert data["exit_code"] == {"fail": 2, "warn": 1, "pass": 0}[status]
    next_renewal = dt.datetime.fromisoformat(lineage["next_renewal"])
    assert abs(next_renewal - (NOW + 30 * DAY)) < dt.timedelta(minutes=5)
    # the last safe day: the day before the first renewal the token cannot do, or before it expires
    first_failing = {20: 30, 31: 30, 45: 90, 75: 90, 200: 210}[expires]
    expiry = dt.datetime.fromisoformat(lineage["token"]["expires_at"])  # as read, not as meant: no midnight flake
    assert abs(expiry - (NOW + (expires + 0.5) * DAY)) < dt.timedelta(minutes=5)
    safe = min(NOW + (first_failing - 1) * DAY, expiry - DAY).date()
    assert lineage["last_safe_day"] == safe.isoformat()
    if status != "pass":
        assert f"run `certbot-dns-gandi-pat rotate --credentials {creds}` by {lineage['last_safe_day']} at the latest" \
            in str(lineage["findings"])
    _, text = run(tmp_path, "--expiry-warning-days", "10")
    assert secret not in text and secret not in json.dumps(data)


def test_the_warning_window(tmp_path: Path, standin: StandIn) -> None:
    secret = token(standin, "FAKE-window-warn-0000", 100)
    creds = ini(tmp_path / "gandi.ini", standin, dns_gandi_token=secret)
    write_lineage(tmp_path, "example.com", creds, not_before=NOW - 30 * DAY, days=90)
    code, out = run(tmp_path, "--expiry-warning-days", "120")
    assert code == report.WARNING and "expires in 100 day(s)" in out
    assert out.startswith("dns-gandi renewals WARNING - 1 needs attention soon (example.com)")
    code, out = run(tmp_path, "--expiry-warning-days", "60")
    assert code == report.OK


def test_legacy_lineage_and_soon_expiring_token(tmp_path: Path, standin: StandIn) -> None:
    """issue 14's done-when: both problems named, exit non-zero."""
    legacy = tmp_path / "legacy.ini"
    legacy.write_text(f"certbot_plugin_gandi:dns_api_key = {FAKE_API_KEY}\n"
                      f"certbot_plugin_gandi:dns_api_url = {standin.api_url}\n")
    legacy.chmod(0o600)
    write_lineage(tmp_path, "old.example.org", legacy, legacy=True)
    soon = token(standin, "FAKE-soon-expiring-0000", 20)
    write_lineage(tmp_path, "example.com", ini(tmp_path / "soon.ini", standin, dns_gandi_token=soon))
    code, out = run(tmp_path)
    assert code == report.CRITICAL
    assert out.startswith("dns-gandi renewals CRITICAL - 2 will fail at the next renewal (example.com, old.example.org)")
    assert "authenticator = certbot-plugin-gandi:dns is the old prefixed form, which certbot no longer loads" in out
    assert "uses old prefixed keys (certbot_plugin_gandi:dns_api_key, certbot_plugin_gandi:dns_api_url)" in out
    assert f"-> run: certbot-dns-gandi-pat migrate --config-dir {tmp_path}" in out
    assert "the token \"test token\" expires on" in out and "before the next renewal (due from" in out
    # the legacy file was still checked, as migrate will make it: its zone is reachable
    assert "old.example.org: No Gandi" not in out
    assert soon not in out and FAKE_API_KEY not in out


def test_expired_and_rejected_tokens(tmp_path: Path, standin: StandIn) -> None:
    expired = token(standin, "FAKE-expired-0000", 0)
    write_lineage(tmp_path, "example.com", ini(tmp_path / "a.ini", standin, dns_gandi_token=expired))
    write_lineage(tmp_path, "example.org", ini(tmp_path / "b.ini", standin, dns_gandi_token="FAKE-unknown-0000"))
    code, out = run(tmp_path)
    assert code == report.CRITICAL
    assert out.count("LiveDNS rejects the credential in") == 2 and "HTTP 401" in out
    assert "FAKE-expired-0000" not in out and "FAKE-unknown-0000" not in out


def test_missing_permission_and_unreachable_zone(tmp_path: Path, standin: StandIn) -> None:
    view = token(standin, "FAKE-viewonly-0000", 300, scopes=(SCOPE_VIEW,))
    write_lineage(tmp_path, "example.com", ini(tmp_path / "a.ini", standin, dns_gandi_token=view))
    narrow = token(standin, "FAKE-narrow-0000", 300, domains=("example.org",))
    write_lineage(tmp_path, "www.example.com", ini(tmp_path / "b.ini", standin, dns_gandi_token=narrow),
                  names=("www.example.com", "www.example.org"))
    data = as_json(tmp_path)
    by_name = {x["name"]: x for x in data["lineages"]}
    assert by_name["example.com"]["status"] == "fail"
    assert "lacks the permission domain:tech" in str(by_name["example.com"]["findings"])
    www = by_name["www.example.com"]
    assert www["status"] == "fail"
    details = [f["detail"] for f in www["findings"] if f["status"] == "fail"]
    assert len(details) == 1 and details[0].startswith("www.example.com: ")
    assert "organization" in str(www["findings"])


def test_credentials_file_problems(tmp_path: Path, standin: StandIn) -> None:
    write_lineage(tmp_path, "a.example.com", tmp_path / "missing.ini")
    bad = tmp_path / "bad.ini"
    bad.write_text("dns_gandi_tokn = FAKE-misspelt-0000\n")
    bad.chmod(0o600)
    write_lineage(tmp_path, "b.example.com", bad)
    write_lineage(tmp_path, "c.example.com", None)
    wide = ini(tmp_path / "wide.ini", standin, mode=0o644, dns_gandi_token=FAKE_TOKEN)
    write_lineage(tmp_path, "d.example.com", wide)
    key = ini(tmp_path / "key.ini", standin, dns_gandi_api_key=FAKE_API_KEY)
    write_lineage(tmp_path, "example.org", key)
    group = ini(tmp_path / "group.ini", standin, mode=0o640, dns_gandi_token=FAKE_TOKEN)
    write_lineage(tmp_path, "sub.example.com", group)
    code, out = run(tmp_path)
    assert code == report.CRITICAL, out
    assert out.startswith("dns-gandi renewals CRITICAL - 3 will fail at the next renewal, 2 need attention soon, "
                          "1 ok ("), out.splitlines()[0]
    lines = {line.split(":")[0]: line for line in out.splitlines()[1:] if not line.startswith(" ")}
    assert f"{tmp_path / 'missing.ini'} does not exist" in lines["[FAIL] a.example.com"]
    assert ("-> create it with the token (docs/credentials.md: Credentials file), or store another file: certbot "
            "reconfigure --cert-name a.example.com --dns-gandi-credentials FILE") in out
    assert f"-> fix {bad}, then check it with `certbot-dns-gandi-pat doctor --credentials {bad}`" in out
    assert "dns_gandi_tokn looks like a misspelling of dns_gandi_token" in lines["[FAIL] b.example.com"]
    assert "no dns_gandi_credentials in" in lines["[FAIL] c.example.com"]
    assert "certbot reconfigure --cert-name c.example.com --dns-gandi-credentials FILE" in out
    assert "has mode 644: every user of this host can read the credential" in lines["[warn] d.example.com"]
    assert "holds a legacy API key, which Gandi has deprecated" in lines["[warn] example.org"]
    assert lines["[ ok ] sub.example.com"].endswith(")") or "mode 640" in lines["[ ok ] sub.example.com"]
    assert FAKE_TOKEN not in out and FAKE_API_KEY not in out and "FAKE-misspelt-0000" not in out


def test_tokeninfo_unavailable_is_unknown_never_ok(tmp_path: Path, standin: StandIn) -> None:
    standin.modes.tokeninfo = "404"
    write_lineage(tmp_path, "example.com", ini(tmp_path / "a.ini", standin, dns_gandi_token=FAKE_TOKEN))
    code, out = run(tmp_path)
    assert code == report.UNKNOWN
    assert out.startswith("dns-gandi renewals UNKNOWN - 1 unknown (example.com)")
    assert "token expiry unknown (/tokeninfo: HTTP 404)" in out


def test_livedns_failing_is_unknown(tmp_path: Path, standin: StandIn) -> None:
    standin.add_fault(method="GET", path="/domains.*", status=400, times=-1)
    write_lineage(tmp_path, "example.com", ini(tmp_path / "a.ini", standin, dns_gandi_token=FAKE_TOKEN))
    code, out = run(tmp_path)
    assert code == report.UNKNOWN and "example.com: could not check the zone: " in out, out


def test_certificate_dates(tmp_path: Path, standin: StandIn) -> None:
    creds = ini(tmp_path / "a.ini", standin, dns_gandi_token=FAKE_TOKEN)
    write_lineage(tmp_path, "example.com", creds, not_before=NOW - 70 * DAY, days=90)  # due 10 days ago
    write_lineage(tmp_path, "example.org", creds, not_before=NOW - 100 * DAY, days=90)  # expired
    write_lineage(tmp_path, "sub.example.com", creds, not_before=NOW - 89 * DAY, days=90,
                  extra="autorenew = False\n")
    by_name = {x["name"]: x for x in as_json(tmp_path)["lineages"]}
    assert by_name["example.com"]["status"] == "warn" and "renewal overdue: due since" in str(by_name["example.com"])
    assert by_name["example.org"]["status"] == "fail" and "the certificate expired on" in str(by_name["example.org"])
    assert by_name["sub.example.com"]["status"] == "pass" and "autorenew is off" in str(by_name["sub.example.com"])


def test_old_certbot_renews_30_days_before_expiry(tmp_path: Path, standin: StandIn) -> None:
    secret = token(standin, "FAKE-old-certbot-0000", 40)
    creds = ini(tmp_path / "a.ini", standin, dns_gandi_token=secret)
    # a 45-day certificate from today: certbot 4.1+ renews on day 30 and 60, certbot 1.x every 15 days
    write_lineage(tmp_path, "example.com", creds, not_before=NOW, days=45)
    new = renewals.Renewals(str(tmp_path), certbot_version=(4, 1, 0), warning_days=0)
    (report,) = new.run()
    assert report.status == "warn" and report.schedule is not None and "third" in report.schedule.rule
    old = renewals.Renewals(str(tmp_path), certbot_version=(1, 21, 0), warning_days=0)
    (report,) = old.run()  # renewals on days 15 and 30: the token (40 days) sees both
    assert report.status == "pass" and report.schedule is not None and "30 days" in report.schedule.rule
    assert report.next_renewal is not None and abs(report.next_renewal - (NOW + 15 * DAY)) < dt.timedelta(minutes=5)


def test_nothing_to_check(tmp_path: Path) -> None:
    code, out = run(tmp_path / "nowhere")
    assert code == report.UNKNOWN and out.startswith("dns-gandi renewals UNKNOWN - ")
    assert "does not exist" in out and "--config-dir" in out
    (tmp_path / "renewal").mkdir()
    code, out = run(tmp_path)
    assert code == report.UNKNOWN and "no lineage under" in out
    data = as_json(tmp_path)
    assert data == {"ok": False, "exit_code": 3, "verdict": "UNKNOWN", "summary": data["summary"],
                    "config_dir": str(tmp_path), "lineages": []}


def test_unparseable_renewal_configuration(tmp_path: Path) -> None:
    (tmp_path / "renewal").mkdir()
    (tmp_path / "renewal" / "x.conf").write_text("[renewalparams\nauthenticator = dns-gandi\n")
    code, out = run(tmp_path)
    assert code == report.CRITICAL and "x.conf: cannot be parsed as an INI file (line 1); certbot cannot renew it either" in out


def test_json_schema(tmp_path: Path, standin: StandIn) -> None:
    creds = ini(tmp_path / "gandi.ini", standin, dns_gandi_token=FAKE_TOKEN)
    write_lineage(tmp_path, "example.com", creds, names=("example.com", "*.example.com"),
                  not_before=NOW - DAY, days=90)
    data = as_json(tmp_path)
    assert set(data) == {"ok", "exit_code", "verdict", "summary", "config_dir", "lineages"}
    (lineage,) = data["lineages"]
    assert set(lineage) == {
        "name", "renewal_conf", "status", "verdict", "names", "not_before", "not_after", "next_renewal",
        "renewal_rule", "autorenew", "authenticator", "form", "credentials", "token", "last_safe_day", "findings"}
    assert lineage["names"] == ["example.com", "*.example.com"] and lineage["form"] == "current"
    assert lineage["verdict"] == "ok" and lineage["renewal_conf"] == str(tmp_path / "renewal" / "example.com.conf")
    assert lineage["credentials"] == {"path": str(creds), "exists": True, "mode": "600", "key": "dns_gandi_token",
                                      "legacy_keys": []}
    assert lineage["token"]["name"] == "test token" and lineage["token"]["scopes"] == ["domain:tech", "domain:view"]
    assert dt.datetime.fromisoformat(lineage["not_after"]) > dt.datetime.fromisoformat(lineage["next_renewal"])


def test_the_docs_name_every_json_field(tmp_path: Path, standin: StandIn) -> None:
    readme = (Path(__file__).resolve().parents[2] / "docs" / "renewal.md").read_text()
    section = readme[readme.index("### `--json`"):]
    section = section[:section.index("\n## ")]
    top = set(re.findall(r'"(\w+)":', section[:section.index("| field")]))
    rows = {}
    for fields, meaning in re.findall(r"(?m)^\| (`.*?) \| (.*) \|$", section):
        for field in re.findall(r"`(\w+)`", fields):
            rows[field] = meaning
    def sub_keys(field: str) -> set[str]:
        return set(re.findall(r"`(\w+)`", rows[field])) - {"null", "false", "true"}

    creds = ini(tmp_path / "gandi.ini", standin, mode=0o644, dns_gandi_token=FAKE_TOKEN)
    write_lineage(tmp_path, "example.com", creds)
    data = as_json(tmp_path)
    (lineage,) = data["lineages"]
    assert top == set(data)
    assert set(rows) == set(lineage)
    assert sub_keys("credentials") == set(lineage["credentials"])
    assert sub_keys("token") == set(lineage["token"])
    assert lineage["findings"] and sub_keys("findings") == set(lineage["findings"][0])


def test_no_secret_in_any_output(tmp_path: Path, standin: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    """Every output form, with the fake credential in every place it can be."""
    secret = token(standin, "FAKE-leak-0123456789", 5)
    creds = ini(tmp_path / "a.ini", standin, mode=0o644, dns_gandi_token=secret)
    write_lineage(tmp_path, "example.com", creds)
    legacy = tmp_path / "legacy.ini"
    legacy.write_text(f"certbot_plugin_gandi:dns_api_key = {secret}\n"
                      f"certbot_plugin_gandi:dns_api_url = {standin.api_url}\n")
    write_lineage(tmp_path, "example.org", legacy, legacy=True)
    both = ini(tmp_path / "both.ini", standin, dns_gandi_token=secret, dns_gandi_api_key=secret[::-1])
    write_lineage(tmp_path, "sub.example.com", both)
    outputs = [run(tmp_path)[1], run(tmp_path, "--json")[1], run(tmp_path, "-v")[1]]
    captured = capsys.readouterr()
    for text in [*outputs, captured.out, captured.err]:
        assert secret not in text and secret[::-1] not in text
    assert "DEBUG" in captured.err  # -v logged the requests


def test_files_only_root_can_read_are_unknown_not_failing(tmp_path: Path, standin: StandIn,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    creds = ini(tmp_path / "a.ini", standin, dns_gandi_token=FAKE_TOKEN)
    write_lineage(tmp_path, "example.com", creds)
    write_lineage(tmp_path, "example.org", ini(tmp_path / "b.ini", standin, dns_gandi_token=FAKE_TOKEN))
    real_access, real_read = renewals.os.access, lineages.read_certificate

    def access(path: Any, mode: int) -> bool:
        return False if str(path) == str(creds) else real_access(path, mode)

    def read_certificate(path: str) -> lineages.Certificate:
        if "example.org" in path:
            raise PermissionError(13, "Permission denied")
        return real_read(path)

    monkeypatch.setattr(renewals.os, "access", access)
    monkeypatch.setattr(lineages, "read_certificate", read_certificate)
    code, out = run(tmp_path)
    assert code == report.UNKNOWN, out
    assert "[skip] example.com: " in out and f"{creds} cannot be read by this user" in out
    assert "[skip] example.org: " in out and "certificate unreadable for this user" in out
    assert out.count("-> run this as root, as certbot runs") == 2


# ------------------------------------------------ certbot's reading, extreme values

def test_an_interval_certbot_reads_as_nothing_is_critical(tmp_path: Path, standin: StandIn) -> None:
    creds = ini(tmp_path / "gandi.ini", standin, dns_gandi_token=FAKE_TOKEN)
    conf = write_lineage(tmp_path, "example.com", creds, not_before=NOW - DAY, renew_before_expiry="soon")
    code, out = run(tmp_path)
    assert code == report.CRITICAL, out
    expiry = (NOW + 89 * DAY).date()
    assert (f"certbot reads renew_before_expiry = soon as no time before expiry, so it renews this lineage "
            f"only once the certificate has expired (from {expiry}): until the renewal, clients get an "
            "expired certificate") in out
    assert f"-> set renew_before_expiry in {conf} to a span such as 30 days, or delete the line" in out
    data = as_json(tmp_path)
    assert data["lineages"][0]["next_renewal"].startswith(expiry.isoformat())


def test_mon_is_read_as_certbot_reads_it(tmp_path: Path, standin: StandIn) -> None:
    creds = ini(tmp_path / "gandi.ini", standin, dns_gandi_token=FAKE_TOKEN)
    write_lineage(tmp_path, "example.com", creds, not_before=NOW - DAY, renew_before_expiry="1 mon")
    (lineage,) = as_json(tmp_path)["lineages"]
    # certbot's parser: the next Monday, at most a week before expiry, never a month
    due = dt.datetime.fromisoformat(lineage["next_renewal"])
    assert NOW + 81 * DAY <= due <= NOW + 89 * DAY, lineage["next_renewal"]


@pytest.mark.parametrize("args", [(), ("--json",)])
def test_extreme_but_legal_values_get_a_verdict_and_spare_the_others(
        tmp_path: Path, standin: StandIn, args: tuple[str, ...]) -> None:
    creds = ini(tmp_path / "gandi.ini", standin, dns_gandi_token=FAKE_TOKEN)
    write_lineage(tmp_path, "huge.example.com", creds, renew_before_expiry="99999999 days")
    write_lineage(tmp_path, "far.example.com", creds, not_before=NOW - DAY,
                  days=(dt.datetime(9999, 12, 30, tzinfo=dt.timezone.utc) - NOW).days)
    write_lineage(tmp_path, "comma.example.com", creds, renew_before_expiry="1 day, 12 hours")
    write_lineage(tmp_path, "example.com", creds)
    code, out = run(tmp_path, *args)
    assert code in (0, 1, 2, 3) and "Traceback" not in out
    if args:
        data = json.loads(out)
        verdicts = {x["name"]: x["status"] for x in data["lineages"]}
        assert verdicts == {"comma.example.com": "fail", "example.com": "pass", "far.example.com": "pass",
                            "huge.example.com": "fail"}, verdicts
        far = next(x for x in data["lineages"] if x["name"] == "far.example.com")
        # two thirds into eight thousand years, as certbot's default puts it
        assert dt.datetime.fromisoformat(far["next_renewal"]).year > 7000, far["next_renewal"]
    else:
        assert code == report.CRITICAL
        assert "renew_before_expiry = 1 day, 12 hours is not one value (a comma makes a list)" in out
        assert "certbot reads renew_before_expiry = 99999999 days as no time before expiry" in out


def test_rotate_copes_with_a_certificate_valid_until_9999(tmp_path: Path, standin: StandIn,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dnscheck.CnameResolver, "target", lambda self, name: name)
    creds = ini(tmp_path / "gandi.ini", standin, dns_gandi_token=FAKE_TOKEN)
    write_lineage(tmp_path, "example.com", creds, not_before=NOW - DAY,
                  days=(dt.datetime(9999, 12, 30, tzinfo=dt.timezone.utc) - NOW).days)
    standin.add_token("FAKE-rotated-far-future-1", expires_in=365 * 86400)
    monkeypatch.setattr("sys.stdin", io.StringIO("FAKE-rotated-far-future-1\n"))
    out = io.StringIO()
    code = cli.main(["rotate", "--credentials", str(creds), "--config-dir", str(tmp_path), "--dry-run"], out=out)
    assert code == report.OK and out.getvalue().startswith("dns-gandi rotate OK - dry run"), out.getvalue()


@pytest.mark.parametrize("value,words", [
    ("soon", "dns_gandi_propagation_seconds = soon is not a whole number: `certbot renew` cannot read this "
             "lineage and skips it"),
    ("0", "dns_gandi_propagation_seconds = 0 is out of range (1 to 86400): the plugin refuses it at renewal"),
])
def test_plugin_settings_certbot_cannot_use_are_critical(tmp_path: Path, standin: StandIn, value: str,
                                                         words: str) -> None:
    creds = ini(tmp_path / "gandi.ini", standin, dns_gandi_token=FAKE_TOKEN)
    conf = write_lineage(tmp_path, "example.com", creds)
    conf.write_text(conf.read_text().replace("dns_gandi_propagation_seconds = 10",
                                             f"dns_gandi_propagation_seconds = {value}"))
    code, out = run(tmp_path)
    assert code == report.CRITICAL and words in out, out
    assert (f"-> set dns_gandi_propagation_seconds in {conf} to a whole number from 1 to 86400, or delete the "
            "line (default: 300)") in out
