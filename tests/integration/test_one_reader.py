"""Every reader of a credentials file reaches the same result: the plugin, doctor, renewals,
rotate and migrate, against the stand-in."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from certbot_dns_gandi_pat._internal import config, dnscheck
from certbot_dns_gandi_pat._internal.commands import cli
from tests.helpers import write_lineage
from teststack.standin import StandIn

ORG = "01234567-89ab-cdef-0123-456789abcdef"
TOKEN = "FAKE-one-reader-token-31"


def _readers(tmp_path: Path, standin: StandIn, data: bytes, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """What the plugin's reader, doctor, renewals, rotate --dry-run and migrate make of one file."""
    monkeypatch.setattr(dnscheck.CnameResolver, "target", lambda self, name: name)
    creds = tmp_path / "gandi.ini"
    creds.write_bytes(data)
    creds.chmod(0o600)
    config_dir = tmp_path / "le"
    write_lineage(config_dir, "example.com", creds, names=("example.com",))
    seen: dict[str, str] = {}
    try:
        gandi = config.read_file(str(creds))
        seen["plugin"] = f"sharing_id={gandi.sharing_id}"
    except config.ConfigError as exc:
        seen["plugin"] = str(exc)
    for name, argv in {
        "doctor": ["doctor", "--credentials", str(creds), "example.com"],
        "renewals": ["renewals", "--config-dir", str(config_dir)],
        "rotate": ["rotate", "--credentials", str(creds), "--config-dir", str(config_dir), "--dry-run"],
        "migrate": ["migrate", "--config-dir", str(config_dir), "--dry-run"],
    }.items():
        monkeypatch.setattr("sys.stdin", io.StringIO("FAKE-rotated-token-8c1d\n"))
        out = io.StringIO()
        cli.main(argv, out=out)
        seen[name] = out.getvalue()
    return seen


def test_a_byte_order_mark_reads_the_same_everywhere(tmp_path: Path, standin: StandIn,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    standin.add_token(TOKEN, organization=ORG)
    standin.add_token("FAKE-rotated-token-8c1d", organization=ORG)
    standin.zones["example.com"].organization = ORG
    data = (f"\ufeffdns_gandi_sharing_id = {ORG}\ndns_gandi_token = {TOKEN}\n"
            f"dns_gandi_api_url = {standin.api_url}\ndns_gandi_tokeninfo_url = {standin.tokeninfo_url}\n").encode()
    seen = _readers(tmp_path, standin, data, monkeypatch)
    assert seen["plugin"] == f"sharing_id={ORG}"
    # the zone is found only with the organization the file names first
    assert "[ ok ] domain example.com: _acme-challenge.example.com is written in LiveDNS zone example.com" \
        in seen["doctor"], seen["doctor"]
    assert "example.com" in seen["renewals"] and " ok" in seen["renewals"], seen["renewals"]
    # rotate checked the new token with the organization the file names
    assert seen["rotate"].startswith("dns-gandi rotate OK - dry run"), seen["rotate"]
    rotated = [query for path, query, headers in standin.requests
               if headers.get("authorization") == "Bearer FAKE-rotated-token-8c1d" and path != "/tokeninfo"]
    assert rotated and all(q.get("sharing_id") == ORG for q in rotated), rotated
    assert seen["migrate"].startswith("dns-gandi migrate OK - nothing to migrate"), seen["migrate"]


def test_bare_cr_line_ends_are_refused_by_everyone_in_the_same_words(
        tmp_path: Path, standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    data = f"dns_gandi_sharing_id = {ORG}\rdns_gandi_token = {TOKEN}\r".encode()
    seen = _readers(tmp_path, standin, data, monkeypatch)
    problem = (f"{tmp_path / 'gandi.ini'}: line 1 holds a carriage return without a line feed (old Mac "
               "line ends), which INI readers disagree about; save the file with plain LF (or CRLF) line ends")
    assert seen["plugin"] == problem
    for name in ("doctor", "renewals", "rotate", "migrate"):
        assert problem in seen[name], (name, seen[name])
        assert TOKEN not in seen[name]
    assert standin.count() == 0  # nobody sent the token anywhere


