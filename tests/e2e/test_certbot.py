"""The real certbot command line with --authenticator dns-gandi against Pebble."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import FAKE_API_KEY, FAKE_TOKEN, cert_names, certonly, ok
from teststack.stack import Stack


def test_one_name(live: Stack, tmp_path: Path) -> None:
    creds = live.credentials("t1.ini", dns_gandi_token=FAKE_TOKEN)
    result = certonly(live, tmp_path, creds, "www.example.com")
    ok(result)
    assert cert_names(tmp_path, "www.example.com") == {"www.example.com"}
    assert "Waiting up to 30 s for 1 TXT record to be served by 127.0.0.1:" in result.stdout
    assert "Every nameserver that answers serves the 1 TXT record (" in result.stdout
    assert live.standin.challenge_records() == {}


@pytest.mark.compat
def test_apex_and_wildcard_keep_existing_values(live: Stack, tmp_path: Path) -> None:
    live.standin.set_txt("example.com", "_acme-challenge", ["pre-existing"])
    creds = live.credentials("t2.ini", dns_gandi_token=FAKE_TOKEN)
    ok(certonly(live, tmp_path, creds, "example.com", "*.example.com"))
    assert cert_names(tmp_path, "example.com") == {"example.com", "*.example.com"}
    assert live.standin.txt("example.com", "_acme-challenge") == ["pre-existing"]


def test_names_in_two_zones_and_a_deep_subdomain(live: Stack, tmp_path: Path) -> None:
    creds = live.credentials("t3.ini", dns_gandi_token=FAKE_TOKEN)
    ok(certonly(live, tmp_path, creds, "a.example.com", "www.deep.sub.example.org"))
    assert cert_names(tmp_path, "a.example.com") == {"a.example.com", "www.deep.sub.example.org"}
    posts = [p for m, p, _ in live.standin.log if m == "POST"]
    assert "/v5/livedns/domains/example.org/records/_acme-challenge.www.deep.sub/TXT" in posts


def test_legacy_api_key(live: Stack, tmp_path: Path) -> None:
    creds = live.credentials("t4.ini", dns_gandi_api_key=FAKE_API_KEY)
    result = certonly(live, tmp_path, creds, "legacy.example.net")
    ok(result)
    assert "deprecated" in result.stderr + result.stdout
    assert FAKE_API_KEY not in result.stderr + result.stdout


@pytest.mark.compat
def test_renew_reads_the_stored_renewal_config(live: Stack, tmp_path: Path) -> None:
    creds = live.credentials("t5.ini", dns_gandi_token=FAKE_TOKEN)
    # A relative path on the command line: renewals run from another directory.
    os.symlink(creds, tmp_path / "rel.ini")
    ok(certonly(live, tmp_path, Path("rel.ini"), "renew.example.com"))
    conf = (tmp_path / "config" / "renewal" / "renew.example.com.conf").read_text()
    assert f"dns_gandi_credentials = {tmp_path / 'rel.ini'}" in conf
    assert "authenticator = dns-gandi" in conf
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    before = (tmp_path / "config" / "live" / "renew.example.com" / "cert.pem").read_bytes()
    result = subprocess.run(live.certbot_args(tmp_path, "renew", "--force-renewal"), env=live.certbot_env(),
                            capture_output=True, text=True, timeout=180, cwd=elsewhere, check=False)
    ok(result)
    assert (tmp_path / "config" / "live" / "renew.example.com" / "cert.pem").read_bytes() != before


def test_dry_run(live: Stack, tmp_path: Path) -> None:
    creds = live.credentials("t6.ini", dns_gandi_token=FAKE_TOKEN)
    result = certonly(live, tmp_path, creds, "dry.example.com", extra=("--dry-run",))
    ok(result)
    assert "dry run was successful" in result.stdout.lower()
    assert not (tmp_path / "config" / "live" / "dry.example.com").exists()
    assert live.standin.count("POST") == 1


def test_missing_permission(live: Stack, tmp_path: Path) -> None:
    live.standin.add_token("FAKE-viewonly-e2e-999", scopes=("domain:view",))
    creds = live.credentials("t8.ini", dns_gandi_token="FAKE-viewonly-e2e-999")
    result = certonly(live, tmp_path, creds, "x.example.com")
    assert result.returncode != 0
    assert "HTTP 403" in result.stderr and "Manage domain name technical configurations" in result.stderr


def test_unknown_domain(live: Stack, tmp_path: Path) -> None:
    creds = live.credentials("t9.ini", dns_gandi_token=FAKE_TOKEN)
    result = certonly(live, tmp_path, creds, "a.example.com", "www.not-ours.test")
    assert result.returncode != 0
    assert "No Gandi LiveDNS zone contains _acme-challenge.www.not-ours.test" in result.stderr
    assert live.standin.count("POST") == 0


def test_propagation_is_awaited_not_slept(live: Stack, tmp_path: Path) -> None:
    live.standin.dns_delay = 3.0
    creds = live.credentials("t10.ini", dns_gandi_token=FAKE_TOKEN)
    start = time.monotonic()
    result = certonly(live, tmp_path, creds, "slow.example.com", propagation=120)
    elapsed = time.monotonic() - start
    ok(result)
    # issued shortly after the 3 s delay, nowhere near the 120 s maximum
    assert 3 <= elapsed < 60, elapsed


def test_propagation_longer_than_the_maximum_fails_before_validation(live: Stack, tmp_path: Path) -> None:
    live.standin.dns_delay = 30.0
    creds = live.credentials("t11.ini", dns_gandi_token=FAKE_TOKEN)
    start = time.monotonic()
    result = certonly(live, tmp_path, creds, "late.example.com", propagation=4)
    elapsed = time.monotonic() - start
    assert result.returncode != 0
    assert "DNS propagation not verified within 4 s" in result.stderr
    assert "_acme-challenge.late.example.com" in result.stderr
    assert elapsed < 25, elapsed
    assert "Certificate Authority failed to verify" not in result.stderr + result.stdout
    assert live.standin.challenge_records() == {}


def test_cname_delegation_with_a_token_restricted_to_the_target(live: Stack, tmp_path: Path) -> None:
    live.standin.add_token("FAKE-target-only-999", domains=("example.org",))
    live.standin.set_cname("example.com", "_acme-challenge.www", "www-example-com.acme.example.org")
    time.sleep(0.2)
    creds = live.credentials("t12.ini", dns_gandi_token="FAKE-target-only-999")
    ok(certonly(live, tmp_path, creds, "www.example.com"))
    assert cert_names(tmp_path, "www.example.com") == {"www.example.com"}
    assert any(p.endswith("/domains/example.org/records/www-example-com.acme/TXT")
               for m, p, _ in live.standin.log if m == "POST")
    assert live.standin.txt("example.org", "www-example-com.acme") is None


def test_sigterm_during_the_wait_still_removes_the_records(live: Stack, tmp_path: Path) -> None:
    live.standin.dns_delay = 60.0
    creds = live.credentials("t13.ini", dns_gandi_token=FAKE_TOKEN)
    args = live.certbot_args(tmp_path, "certonly", "--authenticator", "dns-gandi",
                             "--dns-gandi-credentials", str(creds), "--dns-gandi-nameservers",
                             live.nameserver, "--dns-gandi-propagation-seconds", "120", "-d", "sig.example.com")
    proc = subprocess.Popen(args, env=live.certbot_env(), cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not live.standin.challenge_records() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert live.standin.challenge_records() == {"_acme-challenge.sig.example.com": [
            live.standin.challenge_records()["_acme-challenge.sig.example.com"][0]]}
        time.sleep(1)
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert live.standin.challenge_records() == {}


def test_token_never_leaks_at_vvv(live: Stack, tmp_path: Path) -> None:
    live.standin.add_token("FAKE-leakcheck-token-4242", expires_in=5 * 86400)
    creds = live.credentials("t14.ini", dns_gandi_token="FAKE-leakcheck-token-4242")
    ok_result = certonly(live, tmp_path, creds, "leak.example.com", extra=("-vvv",))
    ok(ok_result)
    live.standin.tokens["FAKE-leakcheck-token-4242"].expires_in = 0
    bad = certonly(live, tmp_path / "x", creds, "leak2.example.com", extra=("-vvv",))
    assert bad.returncode != 0
    blobs = [ok_result.stdout, ok_result.stderr, bad.stdout, bad.stderr]
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix != ".ini" and path.name != "rel.ini":
            blobs.append(path.read_text(errors="replace"))
    assert any("LiveDNS POST" in b for b in blobs)  # debug traffic was logged
    assert any("expires on" in b for b in blobs)  # the expiry warning showed
    assert all("FAKE-leakcheck-token-4242" not in b for b in blobs)
