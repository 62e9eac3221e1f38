"""The one rewrite: atomic, access kept exactly, never over someone else's edit; certbot's lock."""

from __future__ import annotations

import datetime as dt
import errno
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from certbot_dns_gandi_pat._internal.certbot_files import files
from tests.helpers import acl, hold_certbot_lock, release, setfacl


def rewrite(path: Path, data: bytes, secret: bool = True, **kw: Any) -> str:
    return files.rewrite(files.snapshot(str(path)), data, secret=secret, **kw)


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".bak-*"))


def test_a_rewrite_keeps_content_mode_owner_and_leaves_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "g.ini"
    path.write_text("old\n")
    path.chmod(0o640)
    if os.geteuid() == 0:
        os.chown(path, 1234, 5678)
    when = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    saved = rewrite(path, b"new\n", now=when)
    info = path.stat()
    assert path.read_text() == "new\n" and stat.S_IMODE(info.st_mode) == 0o640
    assert saved == f"{path}.bak-20250102T030405Z" and Path(saved).read_text() == "old\n"
    if os.geteuid() == 0:
        assert (info.st_uid, info.st_gid) == (1234, 5678)
        assert (Path(saved).stat().st_uid, Path(saved).stat().st_gid) == (1234, 5678)
    assert names(tmp_path) == ["g.ini", "g.ini.bak-20250102T030405Z"]
    # a second backup in the same second gets its own name
    assert rewrite(path, b"newer\n", now=when) == f"{saved}-2"


def test_backups_are_never_wider_than_the_original(tmp_path: Path) -> None:
    path = tmp_path / "x.conf"
    path.write_bytes(b"\x00a\r\nb")
    path.chmod(0o644)
    plain = rewrite(path, b"1", secret=False)
    assert stat.S_IMODE(Path(plain).stat().st_mode) == 0o644 and Path(plain).read_bytes() == b"\x00a\r\nb"
    assert stat.S_IMODE(Path(rewrite(path, b"2")).stat().st_mode) == 0o600
    path.chmod(0o400)
    assert stat.S_IMODE(Path(rewrite(path, b"3")).stat().st_mode) == 0o400


def test_an_acl_is_kept_exactly(tmp_path: Path) -> None:
    """Mode 600 plus read for one named user: the mask must not turn into group read."""
    path = tmp_path / "gandi.ini"
    path.write_text("dns_gandi_token = old\n")
    path.chmod(0o600)
    setfacl("-m", "u:nobody:r", str(path))
    before, mode = acl(path), stat.S_IMODE(path.stat().st_mode)
    assert "user:nobody:r--" in before and "group::---" in before
    saved = rewrite(path, b"dns_gandi_token = new\n")
    assert acl(path) == before and stat.S_IMODE(path.stat().st_mode) == mode
    # the credentials backup is the owner's alone: no ACL, no group
    assert "user:nobody" not in acl(Path(saved)) and stat.S_IMODE(Path(saved).stat().st_mode) == 0o600


def test_a_renewal_configurations_backup_keeps_its_acl(tmp_path: Path) -> None:
    path = tmp_path / "example.com.conf"
    path.write_text("a = 1\n")
    path.chmod(0o640)
    setfacl("-m", "u:nobody:r,g::-", str(path))
    saved = rewrite(path, b"a = 2\n", secret=False)
    assert acl(Path(saved)) == acl(path) and "group::---" in acl(path)


def test_a_directorys_default_acl_is_not_added_to_the_new_file(tmp_path: Path) -> None:
    path = tmp_path / "gandi.ini"
    path.write_text("old\n")
    path.chmod(0o600)
    before = acl(path)
    setfacl("-d", "-m", "u:nobody:rw", str(tmp_path))  # new files here would get it
    rewrite(path, b"new\n")
    assert acl(path) == before and "nobody" not in acl(path)


def test_other_extended_attributes_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "gandi.ini"
    path.write_text("old\n")
    os.setxattr(path, "user.managed-by", b"ansible")
    rewrite(path, b"new\n")
    assert os.getxattr(path, "user.managed-by") == b"ansible"


def test_access_that_cannot_be_kept_refuses_before_anything_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "gandi.ini"
    path.write_text("old\n")
    os.setxattr(path, "user.managed-by", b"ansible")

    def refuse(*args: Any) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(files.os, "setxattr", refuse)
    with pytest.raises(files.FileChangeError) as err:
        rewrite(path, b"new\n")
    assert str(err.value) == (f"{path}: cannot give the new file the same access (extended attribute "
                              "user.managed-by: Operation not permitted); nothing was changed. Run this "
                              "as root, or edit the file by hand")
    assert path.read_text() == "old\n" and names(tmp_path) == ["gandi.ini"]


def test_a_link_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real.ini"
    real.write_text("old\n")
    link = tmp_path / "link.ini"
    link.symlink_to(real)
    saved = rewrite(link, b"new\n")
    assert link.is_symlink() and real.read_text() == "new\n"
    assert saved.startswith(str(real) + ".bak-") and Path(saved).read_text() == "old\n"


def test_a_file_with_hard_links_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gandi.ini"
    path.write_text("old\n")
    os.link(path, tmp_path / "other-name.ini")
    with pytest.raises(files.FileChangeError, match="has 2 hard links"):
        rewrite(path, b"new\n")
    assert path.read_text() == "old\n" and names(tmp_path) == ["gandi.ini", "other-name.ini"]


def test_a_failure_before_the_swap_leaves_the_old_file_and_no_backup(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "g.ini"
    path.write_text("old\n")
    real_fsync = os.fsync
    calls = []

    def full(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:  # the backup is written; the new file is not
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", full)
    ledger = files.Ledger()
    with pytest.raises(OSError):
        rewrite(path, b"new\n", ledger=ledger)
    assert path.read_text() == "old\n" and names(tmp_path) == ["g.ini"]
    assert ledger.describe() == f"{path} unchanged"


# ------------------------------------------------------- a second writer

def test_an_append_while_the_backup_is_written_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "gandi.ini"
    path.write_text("dns_gandi_token = old\n")
    snap = files.snapshot(str(path))
    real_fsync = os.fsync

    def append_then_sync(fd: int) -> None:
        if not path.read_text().endswith("# added by ansible\n"):
            with open(path, "a") as handle:
                handle.write("# added by ansible\n")
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", append_then_sync)
    with pytest.raises(files.ChangedSinceRead) as err:
        files.rewrite(snap, b"dns_gandi_token = new\n", secret=True)
    assert str(err.value) == (f"{path} changed while it was being replaced (someone else edited it); their "
                              "version was kept: run the command again")
    assert path.read_text() == "dns_gandi_token = old\n# added by ansible\n"
    assert backups(path) == []


def test_an_edit_before_the_write_starts_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "gandi.ini"
    path.write_text("dns_gandi_token = old\n")
    snap = files.snapshot(str(path))
    path.write_text("dns_gandi_token = EDITED\n")  # same size, other bytes
    with pytest.raises(files.ChangedSinceRead, match="changed since it was read"):
        files.rewrite(snap, b"dns_gandi_token = new\n", secret=True)
    assert path.read_text() == "dns_gandi_token = EDITED\n" and backups(path) == []


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "rename"])
def test_an_append_at_the_moment_of_the_swap_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     exchange: bool) -> None:
    path = tmp_path / "gandi.ini"
    path.write_text("dns_gandi_token = old\n")
    real_exchange, real_replace = files._exchange, os.replace

    def append() -> None:
        with open(path, "a") as handle:
            handle.write("# appended during the swap\n")

    def racing_exchange(a: str, b: str) -> bool:
        if not exchange:
            return False
        if "appended" not in path.read_text():
            append()
        return real_exchange(a, b)

    def racing_replace(a: str, b: str) -> None:
        # after the last look, before the rename: the edit lands in the old file
        if b == str(path) and "appended" not in path.read_text():
            append()
        real_replace(a, b)

    monkeypatch.setattr(files, "_exchange", racing_exchange)
    monkeypatch.setattr(files.os, "replace", racing_replace)
    with pytest.raises(files.ChangedSinceRead, match="while it was being replaced"):
        rewrite(path, b"dns_gandi_token = new\n")
    assert path.read_text() == "dns_gandi_token = old\n# appended during the swap\n"
    assert backups(path) == [] and names(tmp_path) == ["gandi.ini"]


def test_a_file_replaced_by_an_editor_at_the_moment_of_the_swap_is_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "gandi.ini"
    path.write_text("dns_gandi_token = old\n")
    real_exchange = files._exchange

    def editor_then_exchange(a: str, b: str) -> bool:
        if "vim" not in path.read_text():
            (tmp_path / "swap").write_text("dns_gandi_token = old\n# saved by vim\n")
            os.rename(tmp_path / "swap", path)
        return real_exchange(a, b)

    monkeypatch.setattr(files, "_exchange", editor_then_exchange)
    with pytest.raises(files.ChangedSinceRead, match="replaced by another program"):
        rewrite(path, b"dns_gandi_token = new\n")
    assert path.read_text() == "dns_gandi_token = old\n# saved by vim\n"
    assert names(tmp_path) == ["gandi.ini"]


# ----------------------------------------------------------- interrupts

def test_a_signal_during_the_rewrite_takes_effect_after_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "gandi.ini"
    path.write_text("old\n")
    real_fsync = os.fsync

    def interrupted_fsync(fd: int) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of the backup
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", interrupted_fsync)
    ledger = files.Ledger()
    # Python's own Ctrl-C, as in certbot, whatever a test runner (mutmut's does) installed.
    runner_handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            rewrite(path, b"new\n", ledger=ledger)
    finally:
        signal.signal(signal.SIGINT, runner_handler)
    assert path.read_text() == "new\n"
    (saved,) = backups(path)
    assert ledger.describe() == f"{path} replaced (backup {saved})"


@pytest.mark.parametrize("mode", [0o600, 0o644])
def test_a_new_file_is_atomic_and_has_exactly_its_mode(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "j.json"
    setfacl("-d", "-m", "u:nobody:rw", str(tmp_path))
    old = os.umask(0o077)
    try:
        files.write_new(str(path), b"1", mode)
        files.write_new(str(path), b"2", mode)
    finally:
        os.umask(old)
    assert path.read_bytes() == b"2" and stat.S_IMODE(path.stat().st_mode) == mode
    assert "nobody" not in acl(path) and names(tmp_path) == ["j.json"]


# --------------------------------------------------------- certbot's lock

def test_certbot_lock_is_refused_while_certbot_holds_it(tmp_path: Path) -> None:
    proc = hold_certbot_lock(tmp_path)
    try:
        assert files.certbot_running(str(tmp_path))
        with pytest.raises(files.CertbotRunning, match="certbot is running"), files.certbot_lock(str(tmp_path)):
            pass
    finally:
        release(proc)
    assert not files.certbot_running(str(tmp_path))
    with files.certbot_lock(str(tmp_path)):
        assert (tmp_path / ".certbot.lock").exists()
    assert not (tmp_path / ".certbot.lock").exists()


def test_certbot_waits_for_our_lock(tmp_path: Path) -> None:
    with files.certbot_lock(str(tmp_path)):
        probe = subprocess.run(
            [sys.executable, "-c", "import sys\nfrom certbot._internal import lock\nfrom certbot import errors\n"
             "try:\n    lock.lock_dir(sys.argv[1])\nexcept errors.LockError as e:\n    print(e)\n", str(tmp_path)],
            capture_output=True, text=True, check=True, timeout=30)
    assert "Another instance of Certbot is already running" in probe.stdout


def test_probing_changes_nothing(tmp_path: Path) -> None:
    before = tmp_path.stat().st_mtime_ns
    assert not files.certbot_running(str(tmp_path))
    assert list(tmp_path.iterdir()) == [] and tmp_path.stat().st_mtime_ns == before
    with files.certbot_lock(str(tmp_path / "missing")):
        pass
