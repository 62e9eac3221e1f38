"""`certbot-dns-gandi-pat rotate`: every check before any change, the file kept but for one line."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import os
import signal
import stat
from pathlib import Path
from typing import Any

import pytest

from certbot_dns_gandi_pat._internal import dnscheck
from certbot_dns_gandi_pat._internal.certbot_files import files
from certbot_dns_gandi_pat._internal.commands import cli, report, rotate
from tests.helpers import FAKE_API_KEY, FAKE_TOKEN, acl, hold_certbot_lock, release, setfacl, write_lineage
from teststack.standin import SCOPE_VIEW, StandIn

NEW = "FAKE-new-token-5f1e2d3c4b"
DAY = dt.timedelta(days=1)
NOW = dt.datetime.now(dt.timezone.utc)


@pytest.fixture(autouse=True)
def no_public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dnscheck.CnameResolver, "target", lambda self, name: name)


def fp(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


def credentials(tmp_path: Path, standin: StandIn, key: str = "dns_gandi_token", old: str = FAKE_TOKEN,
                mode: int = 0o640) -> Path:
    path = tmp_path / "gandi.ini"
    path.write_text(
        "# Gandi LiveDNS credentials for certbot\n"
        f"dns_gandi_api_url = {standin.api_url}\n"
        f"{key} = {old}   # created 2025-01-01\n"
        "\n# tokeninfo comes last\n"
        f"dns_gandi_tokeninfo_url={standin.tokeninfo_url}\n"
    )
    path.chmod(mode)
    return path


@pytest.fixture
def setup(tmp_path: Path, standin: StandIn) -> tuple[Path, Path]:
    """Two lineages sharing one INI (and a third lineage that uses another file)."""
    creds = credentials(tmp_path, standin)
    config_dir = tmp_path / "le"
    write_lineage(config_dir, "example.com", creds, names=("example.com", "*.example.com"))
    write_lineage(config_dir, "www.example.org", creds, names=("www.example.org",))
    write_lineage(config_dir, "other.example.org", tmp_path / "other.ini", names=("sub.example.com",))
    return config_dir, creds


def run(config_dir: Path, creds: Path, stdin: str, *args: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    out = io.StringIO()
    code = cli.main(["rotate", "--credentials", str(creds), "--config-dir", str(config_dir), *args], out=out)
    return code, out.getvalue()


def state(path: Path) -> tuple[bytes, int, int, int, int]:
    info = path.stat()
    return path.read_bytes(), info.st_mode, info.st_mtime_ns, info.st_uid, info.st_gid


def others(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name) and p != path)


def test_rotation(setup: tuple[Path, Path], standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir, creds = setup
    standin.add_token(NEW, name="certbot 2026", expires_in=200 * 86400)
    if os.geteuid() == 0:
        os.chown(creds, 1234, 5678)
    original = creds.read_text()
    code, out = run(config_dir, creds, NEW + "\n", monkeypatch=monkeypatch)
    assert code == report.OK, out
    assert creds.read_text() == original.replace(FAKE_TOKEN, NEW)  # comments, order, spacing kept
    info = creds.stat()
    assert stat.S_IMODE(info.st_mode) == 0o640
    if os.geteuid() == 0:
        assert (info.st_uid, info.st_gid) == (1234, 5678)
    (backup,) = others(creds)
    saved = creds.parent / backup
    assert backup.startswith("gandi.ini.bak-") and saved.read_text() == original
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    lines = out.splitlines()
    assert lines[0] == (f"dns-gandi rotate OK - replaced the credential in {creds} (old {fp(FAKE_TOKEN)}, "
                        f"new {fp(NEW)}); 2 lineage(s) checked")
    expiry = (NOW + 200 * DAY).date()
    assert f'[ ok ] new token: token "certbot 2026" expires on {expiry} (domain:tech, domain:view)' in lines
    assert "[ ok ] domain *.example.com, example.com: _acme-challenge.example.com is in zone example.com, which the new token reaches" in lines
    assert "[ ok ] domain www.example.org: _acme-challenge.www.example.org is in zone example.org, which the new token reaches" in lines
    assert not any("sub.example.com" in line for line in lines)  # another file's lineage
    assert f"[ ok ] credentials file: {creds} line 3: dns_gandi_token ({fp(FAKE_TOKEN)}) -> dns_gandi_token ({fp(NEW)}); backup {saved}" in lines
    # renewals every 60 days from day 59: the token (day 200) cannot do the one on day 239, and
    # must be replaced before it expires
    assert (f"The new token expires on {expiry}. Last safe day to rotate again: {(NOW + 199 * DAY).date()} (the "
            f"day before it expires; the first renewal it cannot do, example.com's, is due from "
            f"{(NOW + 239 * DAY).date()})") in out
    assert 'Now delete the old token ("test token") in Gandi\'s admin panel.' in out
    assert FAKE_TOKEN not in out and NEW not in out
    assert not (config_dir / ".certbot.lock").exists()


def test_a_stale_api_key_line_is_kept_and_named(tmp_path: Path, standin: StandIn,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    creds = credentials(tmp_path, standin, mode=0o604)
    creds.write_text(creds.read_text() + f"dns_gandi_api_key = {FAKE_API_KEY}\n")
    write_lineage(tmp_path / "le", "example.com", creds)
    standin.add_token(NEW)
    code, out = run(tmp_path / "le", creds, NEW, monkeypatch=monkeypatch)
    assert code == report.OK, out
    assert creds.read_text().endswith(f"dns_gandi_api_key = {FAKE_API_KEY}\n")
    assert f"[warn] credentials file: dns_gandi_api_key in {creds} is not used (the token is)" in out
    assert f"[warn] credentials file: {creds} has mode 604 (kept): every user of this host can read the token" in out
    assert stat.S_IMODE(creds.stat().st_mode) == 0o604
    assert FAKE_API_KEY not in out and NEW not in out


def test_an_api_key_line_becomes_a_token_line(tmp_path: Path, standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = credentials(tmp_path, standin, key="dns_gandi_api_key", old=FAKE_API_KEY, mode=0o600)
    write_lineage(tmp_path / "le", "example.com", creds)
    standin.add_token(NEW)
    code, out = run(tmp_path / "le", creds, NEW, monkeypatch=monkeypatch)
    assert code == report.OK, out
    assert creds.read_text().splitlines()[2] == f"dns_gandi_token = {NEW}   # created 2025-01-01"
    assert "dns_gandi_api_key" not in creds.read_text()
    assert "The legacy API key is no longer used by this file" in out
    assert FAKE_API_KEY not in out and NEW not in out


@pytest.mark.parametrize("stdin,message", [
    ("", "the new token is empty"),
    ("   \n", "the new token is empty"),
    ("\n\n", "the new token is empty"),
    (NEW + "\nsecond line\n", "more than one line"),
    ("FAKE new token\n", "contains spaces or tabs"),
    ('"FAKE-quoted"\n', "contains spaces, quotes or control characters"),
    (FAKE_TOKEN + "\n", "the new token is the one already in"),
    ("x" * 5000, "more than 4096 characters"),
])
def test_bad_input_is_refused(setup: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, stdin: str,
                              message: str) -> None:
    config_dir, creds = setup
    before = state(creds)
    code, out = run(config_dir, creds, stdin, monkeypatch=monkeypatch)
    assert code == report.CRITICAL
    assert out.startswith("dns-gandi rotate CRITICAL - refused, nothing was changed: ") and message in out
    assert state(creds) == before and others(creds) == []
    assert "FAKE-quoted" not in out and "second line" not in out and NEW not in out


@pytest.mark.parametrize("token,message", [
    ({"expires_in": 0}, "LiveDNS rejects the new token: "),  # /tokeninfo refuses an expired token too
    ({"scopes": (SCOPE_VIEW,)}, "lacks the permission domain:tech (has: domain:view)"),
    ({"domains": ("example.com",)}, "www.example.org: "),
    ({"expires_in": 20 * 86400}, "before the next renewal of example.com (due from"),
    # valid when the renewal falls due, but maybe not at certbot's next run
    ({"expires_in": 60 * 86400}, "less than two days after the next renewal of example.com (due from"),
    ({"organization": "00000000-0000-4000-8000-000000000999"}, "example.com: No Gandi LiveDNS zone contains"),
])
def test_bad_tokens_are_refused(setup: tuple[Path, Path], standin: StandIn, monkeypatch: pytest.MonkeyPatch,
                                token: dict[str, Any], message: str) -> None:
    config_dir, creds = setup
    standin.add_token(NEW, **token)
    before = state(creds)
    code, out = run(config_dir, creds, NEW, "--write-test", monkeypatch=monkeypatch)
    assert code == report.CRITICAL, out
    assert out.startswith("dns-gandi rotate CRITICAL - refused, nothing was changed: ")
    assert message in out.splitlines()[0]
    if token == {"expires_in": 0}:
        assert "does not show it as expired or revoked" in out
    assert state(creds) == before and others(creds) == []
    assert NEW not in out and FAKE_TOKEN not in out
    assert standin.count("POST") == 0


def test_a_lineage_whose_domains_cannot_be_read(setup: tuple[Path, Path], standin: StandIn,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir, creds = setup
    standin.add_token(NEW)
    (config_dir / "live" / "www.example.org" / "cert.pem").write_text("not a certificate\n")
    before = state(creds)
    code, out = run(config_dir, creds, NEW, monkeypatch=monkeypatch)
    assert code == report.UNKNOWN, out
    assert (f"lineage www.example.org uses {creds}, but its domains cannot be checked: "
            f"{config_dir / 'live' / 'www.example.org' / 'cert.pem'} cannot be read") in out
    assert "certbot delete --cert-name www.example.org" in out
    assert state(creds) == before and others(creds) == []


def test_write_test(setup: tuple[Path, Path], standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir, creds = setup
    standin.add_token(NEW)
    code, out = run(config_dir, creds, NEW, "--write-test", monkeypatch=monkeypatch)
    assert code == report.OK, out
    assert "[ ok ] write test example.com: created and removed TXT _certbot-dns-gandi-pat-rotate-" in out
    assert "[ ok ] write test example.org: created and removed TXT _certbot-dns-gandi-pat-rotate-" in out
    posts = [p for m, p, _ in standin.log if m == "POST"]
    assert len(posts) == 2 and all("/_certbot-dns-gandi-pat-rotate-" in p for p in posts)
    assert all(not name.startswith("_certbot") for z in standin.zones.values() for name, _ in z.records)


def test_write_refused(setup: tuple[Path, Path], standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir, creds = setup
    standin.add_token(NEW)
    standin.add_fault(method="POST", status=403, times=-1,
                      body='{"code":403,"message":"Access was denied to this resource.","object":"HTTPForbidden"}')
    before = state(creds)
    code, out = run(config_dir, creds, NEW, "--write-test", monkeypatch=monkeypatch)
    assert code == report.CRITICAL and "write test example.com: " in out
    assert state(creds) == before


def test_dry_run_writes_nothing(setup: tuple[Path, Path], standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir, creds = setup
    standin.add_token(NEW)
    before, dir_before = state(creds), sorted(os.listdir(config_dir))
    code, out = run(config_dir, creds, NEW, "--dry-run", monkeypatch=monkeypatch)
    assert code == report.OK
    assert out.startswith(f"dns-gandi rotate OK - dry run: every check passed; would change {creds} line 3: "
                          f"dns_gandi_token ({fp(FAKE_TOKEN)}) -> dns_gandi_token ({fp(NEW)}); nothing was written")
    assert state(creds) == before and others(creds) == [] and sorted(os.listdir(config_dir)) == dir_before


def test_refused_while_certbot_runs(setup: tuple[Path, Path], standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir, creds = setup
    standin.add_token(NEW)
    before = state(creds)
    proc = hold_certbot_lock(config_dir)
    try:
        code, out = run(config_dir, creds, NEW, monkeypatch=monkeypatch)
    finally:
        release(proc)
    assert code == report.CRITICAL and "certbot is running" in out
    assert state(creds) == before and others(creds) == []


def test_certbot_starting_during_the_checks(setup: tuple[Path, Path], standin: StandIn,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir, creds = setup
    standin.add_token(NEW)
    procs = []
    real_check = rotate.Rotation.check

    def check_then_certbot_starts(self: rotate.Rotation, *args: Any) -> None:
        real_check(self, *args)
        procs.append(hold_certbot_lock(config_dir))

    monkeypatch.setattr(rotate.Rotation, "check", check_then_certbot_starts)
    before = state(creds)
    try:
        code, out = run(config_dir, creds, NEW, monkeypatch=monkeypatch)
    finally:
        release(procs[0])
    assert code == report.CRITICAL and "certbot is running: it holds its lock" in out
    assert state(creds) == before and others(creds) == []


def test_a_crash_between_write_and_rename(setup: tuple[Path, Path], standin: StandIn,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir, creds = setup
    standin.add_token(NEW)
    original = creds.read_bytes()

    def crash(src: str, dst: str) -> bool:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(files, "_exchange", crash)
    code, out = run(config_dir, creds, NEW, monkeypatch=monkeypatch)
    assert code == report.CRITICAL and f"{creds}: Input/output error; the file is unchanged" in out
    assert creds.read_bytes() == original
    assert not [p for p in creds.parent.iterdir() if p.name.endswith(".tmp")]
    assert NEW not in out


def test_unusual_files(tmp_path: Path, standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    write_lineage(tmp_path / "le", "example.com", tmp_path / "gandi.ini")
    code, out = run(tmp_path / "le", tmp_path / "gandi.ini", NEW, monkeypatch=monkeypatch)
    assert code == report.CRITICAL and "gandi.ini does not exist" in out
    legacy = tmp_path / "legacy.ini"
    legacy.write_text(f"certbot_plugin_gandi:dns_api_key = {FAKE_API_KEY}\n")
    code, out = run(tmp_path / "le", legacy, NEW, monkeypatch=monkeypatch)
    assert code == report.CRITICAL and "old prefixed form" in out and "migrate --config-dir" in out
    empty = tmp_path / "empty.ini"
    empty.write_text("# nothing yet\n")
    code, out = run(tmp_path / "le", empty, NEW, monkeypatch=monkeypatch)
    assert code == report.CRITICAL and "has no dns_gandi_token or dns_gandi_api_key line to replace" in out
    assert FAKE_API_KEY not in out


def test_could_not_check(setup: tuple[Path, Path], standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir, creds = setup
    standin.add_token(NEW)
    code, out = run(config_dir / "missing", creds, NEW, monkeypatch=monkeypatch)
    assert code == report.UNKNOWN and "could not check, nothing was changed" in out and "--config-dir" in out
    standin.add_fault(method="GET", path="/domains.*", status=400, times=-1)
    before = state(creds)
    code, out = run(config_dir, creds, NEW, monkeypatch=monkeypatch)
    assert code == report.UNKNOWN, out
    assert state(creds) == before


def test_tokeninfo_unavailable_still_rotates(setup: tuple[Path, Path], standin: StandIn,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir, creds = setup
    standin.add_token(NEW)
    standin.modes.tokeninfo = "garbage"
    code, out = run(config_dir, creds, NEW, monkeypatch=monkeypatch)
    assert code == report.OK
    assert "[skip] new token: token information unavailable" in out
    assert "The new token's expiry is unknown" in out


def test_no_lineage_uses_the_file(tmp_path: Path, standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = credentials(tmp_path, standin)
    (tmp_path / "le" / "renewal").mkdir(parents=True)
    standin.add_token(NEW, expires_in=30 * 86400)
    code, out = run(tmp_path / "le", creds, NEW, monkeypatch=monkeypatch)
    assert code == report.OK
    assert f"[warn] lineages: no renewal configuration under {tmp_path / 'le'} uses {creds}" in out
    assert (f"Last safe day to rotate again: {(NOW + 29 * DAY).date()} (the day before it expires; no lineage "
            "uses this file)") in out


def test_cname_delegation(setup: tuple[Path, Path], standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir, creds = setup
    standin.add_token(NEW, domains=("sub.example.com",))
    delegated = {"_acme-challenge.example.com": "example-com.sub.example.com",
                 "_acme-challenge.www.example.org": "www-example-org.sub.example.com"}
    monkeypatch.setattr(dnscheck.CnameResolver, "target", lambda self, name: delegated.get(name, name))
    code, out = run(config_dir, creds, NEW, "--write-test", monkeypatch=monkeypatch)
    assert code == report.OK, out
    assert ("[ ok ] domain www.example.org: _acme-challenge.www.example.org (CNAME to "
            "www-example-org.sub.example.com) is in zone sub.example.com") in out


def test_a_terminal_gets_a_no_echo_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    prompts = []
    monkeypatch.setattr(rotate.getpass, "getpass", lambda prompt: prompts.append(prompt) or NEW)
    assert rotate.read_token(Terminal("never read")) == NEW
    assert prompts == ["New Gandi Personal Access Token (input is not shown): "]


def test_never_in_output_or_logs(setup: tuple[Path, Path], standin: StandIn, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    config_dir, creds = setup
    standin.add_token(NEW, expires_in=30 * 86400)  # refused: expires before a renewal
    caplog.set_level(logging.DEBUG)
    code, refused = run(config_dir, creds, NEW, "-v", "--write-test", monkeypatch=monkeypatch)
    assert code == report.CRITICAL
    standin.tokens[NEW].expires_in = 300 * 86400
    code, done = run(config_dir, creds, NEW + "\n", "-v", "--write-test", monkeypatch=monkeypatch)
    assert code == report.OK
    captured = capsys.readouterr()
    assert "LiveDNS" in captured.err and caplog.records  # debug logging was on
    for text in (refused, done, captured.out, captured.err, caplog.text):
        assert NEW not in text and FAKE_TOKEN not in text


# --------------------------------------------- second review: access, writers, signals, reach

def test_a_rotation_keeps_an_acl_exactly(setup: tuple[Path, Path], standin: StandIn,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Mode 600 plus read for one service user: the group must not gain read, the user must keep it."""
    config_dir, creds = setup
    creds.chmod(0o600)
    setfacl("-m", "u:nobody:r", str(creds))
    before = acl(creds)
    standin.add_token(NEW, expires_in=200 * 86400)
    code, out = run(config_dir, creds, NEW + "\n", monkeypatch=monkeypatch)
    assert code == report.OK, out
    assert acl(creds) == before and "user:nobody:r--" in acl(creds) and "group::---" in acl(creds)
    assert NEW in creds.read_text()


def test_an_edit_during_the_rotation_survives(setup: tuple[Path, Path], standin: StandIn,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A configuration-management run appends while rotate writes (the backup's fsync)."""
    config_dir, creds = setup
    standin.add_token(NEW, expires_in=200 * 86400)
    real_fsync = os.fsync

    def append_then_sync(fd: int) -> None:
        if "managed" not in creds.read_text():
            with open(creds, "a") as handle:
                handle.write("# managed by puppet\n")
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", append_then_sync)
    code, out = run(config_dir, creds, NEW + "\n", monkeypatch=monkeypatch)
    assert code == report.CRITICAL, out
    assert out.splitlines()[0] == (f"dns-gandi rotate CRITICAL - refused, nothing was changed: {creds} changed "
                                   "while it was being replaced (someone else edited it); their version was kept: "
                                   "run the command again"), out
    assert creds.read_text().endswith("# managed by puppet\n") and FAKE_TOKEN in creds.read_text()
    assert others(creds) == []  # no backup either: nothing was changed


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_during_the_checks_says_the_file_is_unchanged(
        setup: tuple[Path, Path], standin: StandIn, monkeypatch: pytest.MonkeyPatch, signum: int) -> None:
    config_dir, creds = setup
    standin.add_token(NEW, expires_in=200 * 86400)
    original = creds.read_bytes()

    def interrupted(self: Any, *args: Any) -> None:
        os.kill(os.getpid(), signum)

    monkeypatch.setattr(rotate.Rotation, "check_accepted", interrupted)
    code, out = run(config_dir, creds, NEW + "\n", monkeypatch=monkeypatch)
    what = "SIGTERM" if signum == signal.SIGTERM else "interrupt"
    assert code == report.UNKNOWN
    assert out == f"dns-gandi rotate UNKNOWN - stopped by {what}: {creds} unchanged\n"
    assert creds.read_bytes() == original and others(creds) == []


def test_an_interrupt_during_the_write_lands_after_it(setup: tuple[Path, Path], standin: StandIn,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir, creds = setup
    standin.add_token(NEW, expires_in=200 * 86400)
    real_fsync = os.fsync

    def interrupted_fsync(fd: int) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", interrupted_fsync)
    code, out = run(config_dir, creds, NEW + "\n", monkeypatch=monkeypatch)
    (backup,) = others(creds)
    assert code == report.UNKNOWN
    assert out == f"dns-gandi rotate UNKNOWN - stopped by interrupt: {creds} replaced (backup {creds.parent / backup})\n"
    assert NEW in creds.read_text()


def test_a_token_restricted_to_other_domains_is_refused_whatever_the_listing_shows(
        setup: tuple[Path, Path], standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir, creds = setup
    standin.modes.list_domains = "all"  # the listing shows every domain of the organization
    standin.add_token(NEW, expires_in=200 * 86400, domains=("example.org",))
    original = creds.read_bytes()
    code, out = run(config_dir, creds, NEW + "\n", monkeypatch=monkeypatch)
    assert code == report.CRITICAL, out
    assert out.startswith("dns-gandi rotate CRITICAL - refused, nothing was changed: *.example.com, example.com: "
                          "looking up zone example.com: HTTP 403")
    assert creds.read_bytes() == original


def test_the_write_test_is_removed_when_its_answers_were_lost(setup: tuple[Path, Path], standin: StandIn,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The write landed but every answer was a 500: the record is looked for and removed."""
    config_dir, creds = setup
    standin.add_token(NEW, expires_in=200 * 86400)
    standin.add_fault(method="POST", action="apply_then_drop", times=1)
    standin.add_fault(method="POST", status=500, times=-1)
    code, out = run(config_dir, creds, NEW + "\n", "--write-test", monkeypatch=monkeypatch)
    assert code == report.CRITICAL, out
    assert "write test" in out
    left = [n for z in standin.zones.values() for (n, k) in z.records if n.startswith("_certbot-dns-gandi-pat")]
    assert left == []
