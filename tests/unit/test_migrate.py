"""`certbot-dns-gandi-pat migrate`: legacy lineages rewritten, every other byte kept."""

from __future__ import annotations

import io
import os
import signal
import stat
from pathlib import Path
from typing import Any

import pytest

from certbot_dns_gandi_pat._internal.certbot_files import files, lineages
from certbot_dns_gandi_pat._internal.commands import cli, migrate, report
from tests.helpers import FAKE_API_KEY, FAKE_TOKEN, acl, hold_certbot_lock, release, setfacl, write_lineage

LEGACY_INI = (
    "# Gandi credentials, created 2019\n"
    f"certbot_plugin_gandi:dns_api_key={FAKE_API_KEY}\n"
    "   # certbot_plugin_gandi:dns_api_key = oldoldoldoldoldoldold123\n"
    "certbot_plugin_gandi:dns_sharing_id = 01234567-89ab-cdef-0123-456789abcdef  # our org\n"
)
MIGRATED_INI = (
    "# Gandi credentials, created 2019\n"
    f"dns_gandi_api_key={FAKE_API_KEY}\n"
    "   # certbot_plugin_gandi:dns_api_key = oldoldoldoldoldoldold123\n"
    "dns_gandi_sharing_id = 01234567-89ab-cdef-0123-456789abcdef  # our org\n"
)


def run(config_dir: Path, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = cli.main(["migrate", "--config-dir", str(config_dir), *args], out=out)
    return code, out.getvalue()


def snapshot(*roots: Path) -> dict[str, tuple[bytes, int, int, int]]:
    """Every file and directory: content, mode, mtime (ns) and inode."""
    seen = {}
    for root in roots:
        for path in [root, *root.rglob("*")]:
            info = path.lstat()
            data = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
            seen[str(path)] = (data, info.st_mode, info.st_mtime_ns, info.st_ino)
    return seen


@pytest.fixture
def legacy(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A config dir with one legacy lineage, one current lineage and one of another authenticator."""
    config_dir, secrets = tmp_path / "letsencrypt", tmp_path / "secrets"
    secrets.mkdir()
    old_ini = secrets / "legacy.ini"
    old_ini.write_text(LEGACY_INI)
    old_ini.chmod(0o640)
    if os.geteuid() == 0:
        os.chown(old_ini, 0, 4242)
    new_ini = secrets / "gandi.ini"
    new_ini.write_text(f"dns_gandi_token = {FAKE_TOKEN}\n")
    new_ini.chmod(0o600)
    write_lineage(config_dir, "old.example.org", old_ini, legacy=True)
    write_lineage(config_dir, "example.com", new_ini)
    write_lineage(config_dir, "web.example.net", None, authenticator="webroot")
    return config_dir, old_ini, new_ini


def test_dry_run_shows_a_masked_diff_and_touches_nothing(legacy: tuple[Path, Path, Path]) -> None:
    config_dir, old_ini, _ = legacy
    before = snapshot(config_dir, old_ini.parent)
    code, out = run(config_dir, "--dry-run")
    assert code == report.OK, out
    assert snapshot(config_dir, old_ini.parent) == before
    assert out.splitlines()[0] == ("dns-gandi migrate OK - dry run: 2 file(s) would change for old.example.org; "
                                   "nothing was written")
    conf = config_dir / "renewal" / "old.example.org.conf"
    assert f"{conf} (renewal configuration): authenticator certbot-plugin-gandi:dns -> dns-gandi; " \
           "certbot_plugin_gandi:dns_propagation_seconds -> dns_gandi_propagation_seconds; " \
           "certbot_plugin_gandi:dns_credentials -> dns_gandi_credentials" in out
    assert "\n-authenticator = certbot-plugin-gandi:dns\n" in out and "\n+authenticator = dns-gandi\n" in out
    assert f"\n-certbot_plugin_gandi:dns_credentials = {old_ini}\n" in out
    assert f"\n+dns_gandi_credentials = {old_ini}\n" in out
    assert "-certbot_plugin_gandi:dns_api_key=***\n+dns_gandi_api_key=***\n" in out
    assert "certbot_plugin_gandi:dns_api_key = " not in out  # no comment line of the INI is shown
    assert "+dns_gandi_sharing_id = 01234567-89ab-cdef-0123-456789abcdef  # ***\n" in out  # a comment may hold anything
    assert FAKE_API_KEY not in out and "oldoldold" not in out and FAKE_TOKEN not in out


def test_migrate_rewrites_only_the_old_names(legacy: tuple[Path, Path, Path]) -> None:
    config_dir, old_ini, new_ini = legacy
    conf = config_dir / "renewal" / "old.example.org.conf"
    original_conf, original_ini = conf.read_bytes(), old_ini.read_bytes()
    untouched = snapshot(config_dir / "renewal" / "example.com.conf", config_dir / "renewal" / "web.example.net.conf",
                         new_ini)
    code, out = run(config_dir)
    assert code == report.OK, out
    assert out.startswith("dns-gandi migrate OK - rewrote 2 file(s) for old.example.org\n")
    expected = (original_conf.decode()
                .replace("authenticator = certbot-plugin-gandi:dns", "authenticator = dns-gandi")
                .replace("certbot_plugin_gandi:dns_", "dns_gandi_"))
    assert conf.read_text() == expected
    assert old_ini.read_text() == MIGRATED_INI
    assert stat.S_IMODE(old_ini.stat().st_mode) == 0o640
    if os.geteuid() == 0:
        assert old_ini.stat().st_gid == 4242
    # the backups restore the originals byte for byte; the INI's is 600 at most
    (conf_backup,) = conf.parent.glob("old.example.org.conf.bak-*")
    (ini_backup,) = old_ini.parent.glob("legacy.ini.bak-*")
    assert conf_backup.read_bytes() == original_conf and ini_backup.read_bytes() == original_ini
    assert stat.S_IMODE(ini_backup.stat().st_mode) == 0o600
    assert f"(backup: {ini_backup})" in out and f"(backup: {conf_backup})" in out
    assert untouched == snapshot(config_dir / "renewal" / "example.com.conf",
                                 config_dir / "renewal" / "web.example.net.conf", new_ini)
    # certbot's glob ignores the backup; the lineage now reads as current
    found, _ = lineages.find(str(config_dir))
    assert [(x.name, x.legacy) for x in found] == [("example.com", False), ("old.example.org", False)]
    assert not (config_dir / ".certbot.lock").exists()
    assert FAKE_API_KEY not in out and FAKE_TOKEN not in out


def test_second_run_changes_nothing(legacy: tuple[Path, Path, Path]) -> None:
    config_dir, old_ini, _ = legacy
    assert run(config_dir)[0] == report.OK
    before = snapshot(config_dir, old_ini.parent)
    code, out = run(config_dir)
    assert code == report.OK
    assert out.strip() == ("dns-gandi migrate OK - nothing to migrate: 2 lineage(s) already use the current "
                           "form (example.com, old.example.org)")
    assert snapshot(config_dir, old_ini.parent) == before


def test_an_ini_with_an_old_and_a_current_credential_is_refused(legacy: tuple[Path, Path, Path]) -> None:
    config_dir, old_ini, _ = legacy
    old_ini.write_text(LEGACY_INI + f"dns_gandi_token = {FAKE_TOKEN}\n")
    before = snapshot(config_dir, old_ini.parent)
    for args in ((), ("--dry-run",)):
        code, out = run(config_dir, *args)
        assert code == report.CRITICAL
        assert out.startswith("dns-gandi migrate CRITICAL - refused, nothing was changed: 1 problem(s)\n")
        assert f"[FAIL] {old_ini}: holds both certbot_plugin_gandi:dns_api_key (old name) and dns_gandi_token" in out
        assert snapshot(config_dir, old_ini.parent) == before
        assert FAKE_TOKEN not in out and FAKE_API_KEY not in out


def test_renewal_keys_present_under_both_names(legacy: tuple[Path, Path, Path]) -> None:
    config_dir, _, _ = legacy
    conf = config_dir / "renewal" / "old.example.org.conf"
    conf.write_text(conf.read_text() + "dns_gandi_propagation_seconds = 10\n")
    code, out = run(config_dir)
    assert code == report.OK, out
    assert "removed certbot_plugin_gandi:dns_propagation_seconds (same value as dns_gandi_propagation_seconds)" in out
    assert conf.read_text().count("propagation_seconds") == 1
    conf.write_text(conf.read_text() + "certbot_plugin_gandi:dns_credentials = /elsewhere.ini\n")
    code, out = run(config_dir)
    assert code == report.CRITICAL
    assert "both certbot_plugin_gandi:dns_credentials (old name) and dns_gandi_credentials are set, to different values" in out


def test_refused_while_certbot_runs(legacy: tuple[Path, Path, Path]) -> None:
    config_dir, old_ini, _ = legacy
    proc = hold_certbot_lock(config_dir)
    try:
        before = snapshot(config_dir / "renewal", old_ini.parent)
        code, out = run(config_dir)
        assert code == report.CRITICAL
        assert out.startswith(f"dns-gandi migrate CRITICAL - refused: certbot is running: it holds its lock "
                              f"{config_dir / '.certbot.lock'}")
        code, dry = run(config_dir, "--dry-run")
        assert code == report.OK and "[warn] certbot is running now" in dry
        assert snapshot(config_dir / "renewal", old_ini.parent) == before
    finally:
        release(proc)


def test_a_linked_ini_is_migrated_where_it_lives(tmp_path: Path) -> None:
    real = tmp_path / "real.ini"
    real.write_text(LEGACY_INI)
    real.chmod(0o600)
    link = tmp_path / "link.ini"
    link.symlink_to(real)
    write_lineage(tmp_path / "le", "old.example.org", link, legacy=True)
    code, out = run(tmp_path / "le")
    assert code == report.OK, out
    assert link.is_symlink() and real.read_text() == MIGRATED_INI


def test_current_lineage_with_a_legacy_ini(tmp_path: Path) -> None:
    creds = tmp_path / "g.ini"
    creds.write_text(f"certbot_plugin_gandi:dns_token = {FAKE_TOKEN}\n")
    creds.chmod(0o600)
    write_lineage(tmp_path / "le", "example.com", creds)
    code, out = run(tmp_path / "le")
    assert code == report.OK
    assert "rewrote 1 file(s) for current lineages" in out
    assert creds.read_text() == f"dns_gandi_token = {FAKE_TOKEN}\n"


def test_a_failed_write_stops_with_the_file_unchanged(legacy: tuple[Path, Path, Path],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir, old_ini, _ = legacy
    conf = config_dir / "renewal" / "old.example.org.conf"
    original = conf.read_bytes()
    real_exchange = files._exchange

    def exchange(src: str, dst: str) -> bool:
        if dst.endswith(".conf"):
            raise OSError(28, "No space left on device")
        return real_exchange(src, dst)

    monkeypatch.setattr(files, "_exchange", exchange)
    code, out = run(config_dir)
    assert code == report.CRITICAL
    assert out.startswith(f"dns-gandi migrate CRITICAL - stopped at {conf}: No space left on device; that file is unchanged")
    assert f"[ ok ] {old_ini}: certbot_plugin_gandi:dns_api_key -> dns_gandi_api_key" in out
    assert conf.read_bytes() == original
    assert not [p for p in conf.parent.iterdir() if p.name.endswith(".tmp")]
    assert not (config_dir / ".certbot.lock").exists()
    assert list(conf.parent.glob("*.bak-*")) == []  # "unchanged" means no backup of it either
    monkeypatch.setattr(files, "_exchange", real_exchange)
    code, out = run(config_dir)  # the next run finishes the job
    assert code == report.OK and "rewrote 1 file(s)" in out


def test_nothing_here(tmp_path: Path) -> None:
    code, out = run(tmp_path / "missing")
    assert code == report.UNKNOWN and "does not exist" in out
    (tmp_path / "renewal").mkdir()
    code, out = run(tmp_path)
    assert code == report.OK and "nothing to migrate: no lineage under" in out


def test_mask_shows_keys_and_harmless_values_only() -> None:
    lines = ["dns_gandi_api_url = http://x  # staging\n", "#dns_gandi_token=abc\n", "dns_gandi_token = abc\n",
             "# old token: FAKE-in-a-comment\n", "\n", "certbot_plugin_gandi:dns_sharing_id = 0123\r\n"]
    assert [migrate.mask(line) for line in lines] == [
        "dns_gandi_api_url = http://x  # ***\n", "#dns_gandi_token=***\n", "dns_gandi_token = ***\n",
        "***\n", "\n", "certbot_plugin_gandi:dns_sharing_id = 0123\r\n"]


# --------------------------------------------- second review: access, writers, secrets

def test_migrate_keeps_acls_of_both_files(legacy: tuple[Path, Path, Path]) -> None:
    config_dir, old_ini, _ = legacy
    conf = config_dir / "renewal" / "old.example.org.conf"
    old_ini.chmod(0o600)
    setfacl("-m", "u:nobody:r", str(old_ini))
    setfacl("-m", "u:nobody:r", str(conf))
    before = acl(old_ini), acl(conf)
    code, out = run(config_dir)
    assert code == report.OK, out
    assert (acl(old_ini), acl(conf)) == before and "group::---" in acl(old_ini)


def test_an_append_to_the_renewal_configuration_while_migrate_writes_survives(
        legacy: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir = legacy[0]
    conf = config_dir / "renewal" / "old.example.org.conf"
    real_fsync = os.fsync

    def admin_appends(fd: int) -> None:
        if "pref_challs" not in conf.read_text() and os.readlink(f"/proc/self/fd/{fd}").startswith(str(conf.parent)):
            with open(conf, "a") as handle:
                handle.write("pref_challs = dns-01,\n")
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", admin_appends)
    code, out = run(config_dir)
    assert code == report.CRITICAL, out
    assert out.startswith(f"dns-gandi migrate CRITICAL - stopped at {conf}: {conf} changed while it was being "
                          "replaced (someone else edited it); their version was kept: run the command again; "
                          "that file is unchanged")
    assert conf.read_text().endswith("pref_challs = dns-01,\n")
    assert list(conf.parent.glob("*.bak-*")) == []


def test_a_token_in_a_comment_is_never_shown(tmp_path: Path) -> None:
    ini = tmp_path / "legacy.ini"
    ini.write_text("# the old token was FAKE-old-token-in-a-comment-0042, revoked in May\n"
                   f"certbot_plugin_gandi:dns_api_key = {FAKE_API_KEY}  # FAKE-inline-comment-token-99\n")
    ini.chmod(0o600)
    write_lineage(tmp_path, "old.example.org", ini, legacy=True)
    code, out = run(tmp_path, "--dry-run")
    assert code == report.OK, out
    assert "FAKE-old-token-in-a-comment-0042" not in out and "FAKE-inline-comment-token-99" not in out
    assert FAKE_API_KEY not in out
    assert "-certbot_plugin_gandi:dns_api_key = ***\n+dns_gandi_api_key = ***\n" in out


def test_an_interrupt_names_each_file(legacy: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir, old_ini, _ = legacy
    conf = config_dir / "renewal" / "old.example.org.conf"
    real_rewrite = files.rewrite

    def rewrite_then_interrupt(snap: files.Snapshot, data: bytes, **kw: Any) -> str:
        saved = real_rewrite(snap, data, **kw)
        os.kill(os.getpid(), signal.SIGTERM)  # after the first file (the INI), before the second
        return saved

    monkeypatch.setattr(files, "rewrite", rewrite_then_interrupt)
    code, out = run(config_dir)
    (backup,) = old_ini.parent.glob("legacy.ini.bak-*")
    assert code == report.UNKNOWN
    assert out == (f"dns-gandi migrate UNKNOWN - stopped by SIGTERM: {old_ini} replaced (backup {backup}); "
                   f"{conf} unchanged\n")
    assert "certbot-plugin-gandi:dns" in conf.read_text()
