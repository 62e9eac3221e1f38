"""What a person reads from real certbot runs: --quiet, migration INIs, errors before the order,
progress, DNS blocked, retries, signals and crashes. docs/troubleshooting.md quotes these messages."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import FAKE_API_KEY, FAKE_TOKEN, ok
from teststack.stack import Stack


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A DNS server address that receives queries and never answers (outbound DNS blocked)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def run(stack: Stack, tmp: Path, creds: Path, *names: str, nameservers: str = "", propagation: int = 30,
        extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    args = ["certonly", "--authenticator", "dns-gandi", "--dns-gandi-credentials", str(creds),
            "--dns-gandi-nameservers", nameservers or stack.nameserver,
            "--dns-gandi-propagation-seconds", str(propagation), *extra]
    for name in names:
        args += ["-d", name]
    return stack.run_certbot(tmp, *args)


def test_quiet_shows_an_expiring_token_once_and_nothing_when_healthy(live: Stack, tmp_path: Path) -> None:
    live.standin.add_token("FAKE-soon-quiet-1", expires_in=10 * 86400 + 3600, name="cron")
    soon = live.credentials("soon.ini", dns_gandi_token="FAKE-soon-quiet-1")
    now = dt.datetime.now(dt.timezone.utc)
    expiry = (now + dt.timedelta(days=10, hours=1)).date()
    result = run(live, tmp_path / "a", soon, "example.com", "*.example.com", extra=("--quiet",))
    ok(result)
    assert result.stdout == ""
    # the line docs/troubleshooting.md quotes, once, and nothing else
    assert result.stderr == (
        f'The Gandi Personal Access Token "cron" in {soon} expires on {expiry:%Y-%m-%d} '
        f"(in {(expiry - now.date()).days} day(s)), before the next renewal: create a new token and run "
        "`certbot-dns-gandi-pat rotate` (docs/commands.md: rotate).\n"), result.stderr
    healthy = live.credentials("healthy.ini", dns_gandi_token=FAKE_TOKEN)
    result = run(live, tmp_path / "b", healthy, "www.example.com", extra=("--quiet",))
    ok(result)
    assert (result.stdout, result.stderr) == ("", "")


def test_an_ini_with_a_token_and_an_old_key_line_renews(live: Stack, tmp_path: Path) -> None:
    creds = live.credentials("both.ini", dns_gandi_token=FAKE_TOKEN, dns_gandi_api_key=FAKE_API_KEY)
    result = run(live, tmp_path, creds, "both.example.com")
    ok(result)
    assert f"{creds}: dns_gandi_api_key is not used because dns_gandi_token is set; remove the " \
           "dns_gandi_api_key line" in result.stderr
    assert FAKE_API_KEY not in result.stdout + result.stderr
    assert live.standin.headers_seen[-1]["authorization"] == f"Bearer {FAKE_TOKEN}"


def test_credential_mistakes_are_reported_before_the_order(live: Stack, tmp_path: Path) -> None:
    misspelt = live.credentials("misspelt.ini", dns_gandi_tokn=FAKE_TOKEN)
    result = run(live, tmp_path / "a", misspelt, "x.example.com")
    assert result.returncode == 1
    assert ("The dns-gandi plugin is not working; there may be problems with your existing configuration.\n"
            f"The error was: {misspelt}: no credential found; dns_gandi_tokn looks like a misspelling of "
            "dns_gandi_token (--dns-gandi-credentials)") in result.stderr
    missing = tmp_path / "missing.ini"
    result = run(live, tmp_path / "b", missing, "x.example.com")
    assert result.returncode == 1
    assert f"The error was: {missing}: no such credentials file; create it with your token" in result.stderr
    prefixed = tmp_path / "prefixed.ini"  # certbot-plugin-gandi's old form
    prefixed.write_text(f"dns_gandi_api_url = {live.standin.api_url}\n"
                        f"certbot_plugin_gandi:dns_api_key = {FAKE_API_KEY}\n")
    prefixed.chmod(0o600)
    result = run(live, tmp_path / "c", prefixed, "x.example.com")
    assert result.returncode == 1
    assert (f"The error was: {prefixed}: certbot_plugin_gandi:dns_api_key is the old prefixed name of "
            "dns_gandi_api_key, which this certbot no longer reads; run `certbot-dns-gandi-pat migrate` to "
            "rewrite the old names (or rename the key by hand)") in result.stderr
    assert FAKE_API_KEY not in result.stdout + result.stderr
    for run_dir in ("a", "b", "c"):
        text = (tmp_path / run_dir / "logs" / "letsencrypt.log").read_text()
        assert "new-order" not in text and "Requesting a certificate" not in text  # no order at the CA
    assert live.standin.count() == 0


@pytest.mark.parametrize("expired", [False, True], ids=["unknown", "expired"])
def test_a_rejected_token_is_reported_before_the_order(live: Stack, tmp_path: Path, expired: bool) -> None:
    if expired:
        live.standin.add_token("FAKE-revoked-e2e-0", expires_in=0)
    creds = live.credentials("revoked.ini", dns_gandi_token="FAKE-revoked-e2e-0")
    result = run(live, tmp_path, creds, "x.example.com")
    assert result.returncode == 1
    assert ("The dns-gandi plugin is not working; there may be problems with your existing configuration.\n"
            "The error was: listing the LiveDNS domains: HTTP 401 (The server could not verify that you are "
            f"authorized. - Unauthorized): Gandi rejected the Personal Access Token in {creds}.\n"
            "It has most likely expired (tokens last at most one year), or was revoked or mistyped: create a "
            f"new one and run `certbot-dns-gandi-pat rotate --credentials {creds}` (docs/troubleshooting.md: Token rejected).\n"
            ) in result.stderr
    assert "FAKE-revoked-e2e-0" not in result.stdout + result.stderr
    text = (tmp_path / "logs" / "letsencrypt.log").read_text()
    assert "new-order" not in text and "FAKE-revoked-e2e-0" not in text
    assert live.standin.count("POST") == 0


def test_option_values_are_refused_by_name_before_the_order(live: Stack, tmp_path: Path) -> None:
    creds = live.credentials("opt.ini", dns_gandi_token=FAKE_TOKEN)
    result = run(live, tmp_path, creds, "x.example.com", propagation=10000000000)
    assert result.returncode == 1
    assert "The error was: --dns-gandi-propagation-seconds must be a whole number of seconds from 1 to 86400" \
        in result.stderr
    result = run(live, tmp_path / "b", creds, "x.example.com", nameservers="[::1]junk")
    assert "The error was: --dns-gandi-nameservers: '[::1]junk' is not HOST, HOST:PORT" in result.stderr
    # not a number at all: certbot's own parser says so (type=int, as for every DNS plugin)
    result = run(live, tmp_path / "c", creds, "x.example.com", extra=("--dns-gandi-propagation-seconds=soon",))
    assert result.returncode == 2
    assert "certbot: error: argument --dns-gandi-propagation-seconds: invalid int value: 'soon'" in result.stderr
    assert live.standin.count() == 0


def test_a_forbidden_first_write_is_said_once_and_nothing_is_cleaned_up(live: Stack, tmp_path: Path) -> None:
    live.standin.add_token("FAKE-viewonly-e2e-2", scopes=("domain:view",))
    creds = live.credentials("view.ini", dns_gandi_token="FAKE-viewonly-e2e-2")
    result = run(live, tmp_path, creds, "example.com", "*.example.com")
    assert result.returncode == 1
    assert result.stderr.count("HTTP 403") == 1 and result.stderr.count("Manage domain name technical") == 1
    assert "Could not remove" not in result.stderr + result.stdout
    assert live.standin.count("PATCH") == 0


def test_blocked_dns_is_said_at_once_and_the_bound_is_waited(live: Stack, tmp_path: Path, blackhole: str) -> None:
    creds = live.credentials("blocked.ini", dns_gandi_token=FAKE_TOKEN)
    start = time.monotonic()
    result = run(live, tmp_path, creds, "blocked.example.com", nameservers=blackhole, propagation=4)
    ok(result)
    assert time.monotonic() - start >= 4
    assert (f"Cannot verify that _acme-challenge.blocked.example.com is served: {blackhole} did not answer DNS "
            "queries from this host. Waiting the full 4 s instead. Allow outbound DNS (port 53, UDP and TCP) to "
            "them, or name servers this host can reach with --dns-gandi-nameservers.") in result.stderr
    assert "0/0" not in result.stdout and "0 authoritative" not in result.stdout
    assert ("Waited the full 4 s: 1 TXT record not verified, as no nameserver answered "
            "(_acme-challenge.blocked.example.com)") in result.stdout + result.stderr


def test_the_hint_after_a_rejected_challenge_says_what_was_checked(live: Stack, tmp_path: Path, blackhole: str) -> None:
    live.standin.dns_delay = 60.0  # the CA's DNS will not see the record in time
    creds = live.credentials("hint.ini", dns_gandi_token=FAKE_TOKEN)
    result = run(live, tmp_path, creds, "hint.example.com", nameservers=blackhole, propagation=2)
    assert result.returncode == 1
    assert "Hint: The Certificate Authority could not verify the TXT records created by --dns-gandi; this " \
           "host could not check whether the zone's nameservers serve them" in result.stdout
    assert "were served by the zone's nameservers" not in result.stdout
    live.standin.dns_delay = 0.0


def test_retries_against_an_unreachable_api_are_said_in_words(live: Stack, tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    creds = live.credentials("down.ini", dns_gandi_token=FAKE_TOKEN)
    creds.write_text(creds.read_text().replace(live.standin.api_url, f"http://127.0.0.1:{port}/v5/livedns"))
    result = run(live, tmp_path, creds, "down.example.com")
    assert result.returncode == 1
    assert ("Gandi LiveDNS: GET /v5/livedns/domains failed (connection refused); trying again now (attempt 2)"
            in result.stderr)
    assert f"listing the LiveDNS domains: connection refused (Gandi LiveDNS at 127.0.0.1:{port})\n" \
           "Check this host's network access to it, or try again later." in result.stderr
    assert "Retry(" not in result.stderr and "Retrying (" not in result.stderr


def test_progress_during_a_slow_propagation(live: Stack, tmp_path: Path) -> None:
    live.standin.dns_delay = 12.0
    creds = live.credentials("slow.ini", dns_gandi_token=FAKE_TOKEN)
    result = run(live, tmp_path, creds, "slow.example.com", propagation=60)
    ok(result)
    lines = result.stdout.splitlines()
    assert any(line.startswith("Waiting up to 60 s for 1 TXT record to be served by 127.0.0.1:") for line in lines)
    assert any(line.startswith("Still waiting after 10 s of at most 60 s: 1 record not yet served by 127.0.0.1:")
               for line in lines), result.stdout
    assert any(line.startswith("Every nameserver that answers serves the 1 TXT record (1") for line in lines)


def test_sigterm_during_the_write_leaves_nothing(live: Stack, tmp_path: Path) -> None:
    live.standin.add_fault(method="POST", action="delay", hang_seconds=3.0)
    creds = live.credentials("sigwrite.ini", dns_gandi_token=FAKE_TOKEN)
    args = live.certbot_args(tmp_path, "certonly", "--authenticator", "dns-gandi", "--dns-gandi-credentials",
                             str(creds), "--dns-gandi-nameservers", live.nameserver, "-d", "sigw.example.com",
                             "-d", "*.sigw.example.com", "-v")
    proc = subprocess.Popen(args, env=live.certbot_env(), cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not any(m == "POST" for m, _, _ in live.standin.log) and time.monotonic() < deadline:
            # the POST is logged once answered; watch the faults instead
            if live.standin.faults[0].hits:
                break
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)  # the write is in flight at the stand-in
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert live.standin.challenge_records() == {}
    assert "Removed 2 TXT value(s) at _acme-challenge.sigw.example.com" in err


def test_values_of_a_killed_run_are_removed_by_the_next_run(live: Stack, tmp_path: Path) -> None:
    live.standin.dns_delay = 60.0
    creds = live.credentials("kill.ini", dns_gandi_token=FAKE_TOKEN)
    args = live.certbot_args(tmp_path, "certonly", "--authenticator", "dns-gandi", "--dns-gandi-credentials",
                             str(creds), "--dns-gandi-nameservers", live.nameserver,
                             "--dns-gandi-propagation-seconds", "120", "-d", "killed.example.com")
    proc = subprocess.Popen(args, env=live.certbot_env(), cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not live.standin.challenge_records() and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    left = live.standin.challenge_records()
    assert list(left) == ["_acme-challenge.killed.example.com"]
    (journal_file,) = (tmp_path / "work" / "dns-gandi-pat").glob("*.json")
    assert oct(journal_file.stat().st_mode & 0o777) == "0o600"
    assert json.loads(journal_file.read_text())["records"][0]["values"] == left["_acme-challenge.killed.example.com"]
    live.standin.set_txt("example.com", "_acme-challenge.killed", ["someone-else", *left["_acme-challenge.killed.example.com"]])
    live.standin.dns_delay = 0.0
    result = run(live, tmp_path, creds, "next.example.com")
    ok(result)
    assert re.search(r"Removed 1 TXT value\(s\) at _acme-challenge.killed.example.com left by an interrupted run "
                     r"\(pid \d+, ", result.stderr), result.stderr
    assert live.standin.challenge_records() == {"_acme-challenge.killed.example.com": ["someone-else"]}
    assert list((tmp_path / "work" / "dns-gandi-pat").glob("*.json")) == []
    live.standin.set_txt("example.com", "_acme-challenge.killed", ["pre-existing"])  # for the fixture's check


def test_doctor_exit_codes_version_and_write_test(live: Stack, tmp_path: Path) -> None:
    exe = str(Path(sys.executable).parent / "certbot-dns-gandi-pat")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    from certbot_dns_gandi_pat import __version__
    assert (version.returncode, version.stdout.strip()) == (0, f"certbot-dns-gandi-pat {__version__}")
    usage = subprocess.run([exe, "doctor"], capture_output=True, text=True, check=False)
    assert usage.returncode == 3 and "--credentials" in usage.stderr
    live.standin.add_token("FAKE-doctor-expired", expires_in=0)
    bad = live.credentials("doc.ini", dns_gandi_token="FAKE-doctor-expired")
    result = subprocess.run([exe, "doctor", "--credentials", str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode == 2 and result.stdout.startswith("dns-gandi doctor CRITICAL - 1 failed")
    os.chmod(bad, 0o640)
    result = subprocess.run([exe, "doctor", "--credentials", str(bad)], capture_output=True, text=True, check=False)
    assert "members of its group can read the credential" in result.stdout
    # a healthy token, a real DNS server, and a record written and removed
    creds = live.credentials("doc-ok.ini", dns_gandi_token=FAKE_TOKEN)
    result = subprocess.run([exe, "doctor", "--credentials", str(creds), "--nameservers", live.nameserver,
                             "--write-test", "example.com"], capture_output=True, text=True, timeout=60, check=False)
    assert "[ ok ] write test example.com" in result.stdout, result.stdout + result.stderr
    assert FAKE_TOKEN not in result.stdout + result.stderr
    # challtestsrv serves no NS records, so the delegation check is skipped: UNKNOWN
    assert result.stdout.startswith("dns-gandi doctor UNKNOWN - 1 skipped"), result.stdout
    assert result.returncode == 3


def test_unsafe_permissions_are_said_once(live: Stack, tmp_path: Path) -> None:
    creds = live.credentials("open.ini", dns_gandi_token=FAKE_TOKEN)
    creds.chmod(0o644)
    result = run(live, tmp_path, creds, "open.example.com")
    ok(result)
    assert result.stderr.count(f"Unsafe permissions on credentials configuration file: {creds}") == 1
    # `certbot renew` reads the file once per lineage: each warning is still said once
    ok(run(live, tmp_path, creds, "open2.example.com"))
    creds.write_text(creds.read_text() + f"dns_gandi_api_key = {FAKE_API_KEY}\n")
    renewed = live.run_certbot(tmp_path, "renew", "--force-renewal")
    ok(renewed)
    assert "open.example.com" in renewed.stdout and "open2.example.com" in renewed.stdout
    assert renewed.stderr.count(f"Unsafe permissions on credentials configuration file: {creds}") == 1
    assert renewed.stderr.count(f"{creds}: dns_gandi_api_key is not used because dns_gandi_token is set") == 1
    assert FAKE_API_KEY not in renewed.stdout + renewed.stderr


def test_two_packages_registering_dns_gandi(live: Stack, tmp_path: Path) -> None:
    """What certbot and doctor say with certbot-dns-gandi still installed beside this package."""
    site = tmp_path / "site"
    (site / "certbot_dns_gandi").mkdir(parents=True)
    (site / "certbot_dns_gandi" / "__init__.py").write_text("")
    # A stand-in for the other package's plugin class: any certbot plugin will do.
    (site / "certbot_dns_gandi" / "main.py").write_text(
        "from certbot_dns_gandi_pat._internal.dns_gandi import Authenticator as Authenticator\n")
    info = site / "certbot_dns_gandi-1.6.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: certbot-dns-gandi\nVersion: 1.6.2\n")
    (info / "entry_points.txt").write_text("[certbot.plugins]\ndns-gandi = certbot_dns_gandi.main:Authenticator\n")
    env = dict(live.certbot_env(), PYTHONPATH=str(site))
    certbot = str(Path(sys.executable).parent / "certbot")
    result = subprocess.run([certbot, "plugins", "--config-dir", str(tmp_path / "c"), "--work-dir",
                             str(tmp_path / "w"), "--logs-dir", str(tmp_path / "l")], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "plugin errored while loading: Duplicate plugin name dns-gandi from" in result.stderr
    creds = live.credentials("dup.ini", dns_gandi_token=FAKE_TOKEN)
    exe = str(Path(sys.executable).parent / "certbot-dns-gandi-pat")
    doctor = subprocess.run([exe, "doctor", "--credentials", str(creds)], env=env, capture_output=True, text=True,
                            check=False)
    assert doctor.returncode == 2
    assert "[FAIL] plugin: certbot-dns-gandi also registers the dns-gandi authenticator" in doctor.stdout


def test_a_negative_value_after_a_space(live: Stack, tmp_path: Path) -> None:
    creds = live.credentials("neg.ini", dns_gandi_token=FAKE_TOKEN)
    result = run(live, tmp_path, creds, "neg.example.com", extra=("--dns-gandi-expiry-warning-days", "-5"))
    assert result.returncode != 0
    # certbot >= 2.7.2 stops in its own parser (certbot issue 9811); older ones reach the plugin's check
    assert ("Action corresponding to argument -5 is None" in result.stderr
            or "--dns-gandi-expiry-warning-days must be a whole number of days from 0 to 3650" in result.stderr)
    result = run(live, tmp_path / "b", creds, "neg.example.com", extra=("--dns-gandi-expiry-warning-days=-5",))
    assert "The error was: --dns-gandi-expiry-warning-days must be a whole number of days from 0 to 3650" in result.stderr
    assert live.standin.count() == 0


def test_interactive_runs_list_the_plugin_and_ask_for_the_credentials(live: Stack, tmp_path: Path) -> None:
    """certbot prepares every plugin for its menu before any path is known; the prompt still works."""
    creds = live.credentials("inter.ini", dns_gandi_token=FAKE_TOKEN)

    def certbot(run_dir: str, feed: str, *extra: str) -> subprocess.CompletedProcess[str]:
        args = [a for a in live.certbot_args(tmp_path / run_dir, "certonly") if a != "--non-interactive"]
        return subprocess.run([*args, "--force-interactive", "--dns-gandi-nameservers", live.nameserver,
                               "-d", "inter.example.com", *extra], input=feed, env=live.certbot_env(),
                              capture_output=True, text=True, timeout=120, check=False)

    menu = certbot("menu", "c\n").stdout
    entries = re.findall(r"(?ms)^(\d+): (.*?)(?=^\d+: |^- - )", menu)
    choice = next(number for number, text in entries if text.strip().endswith("(dns-gandi)"))
    picked = certbot("pick", f"{choice}\n{creds}\n")
    ok(picked)
    assert "Input the path to your Gandi credentials INI file" in picked.stdout
    named = certbot("named", f"{creds}\n", "-a", "dns-gandi")
    ok(named)
    conf = (tmp_path / "named" / "config" / "renewal" / "inter.example.com.conf").read_text()
    assert f"dns_gandi_credentials = {creds}" in conf
