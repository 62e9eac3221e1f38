"""Changing files safely: the one atomic write, backups, certbot's lock.

Rules, each one checked by a test (tests/unit/test_files.py):

* A file is replaced only by renaming a complete, fsynced temporary file from
  the same directory over it, so a crash leaves either the old file or the new
  one, never half of each, and never a stray temporary file when Python itself
  sees the failure. The journal, the metrics file and the file editors share
  this one write.
* A rewrite keeps the file's access exactly: owner, group, mode, POSIX ACL and
  every other extended attribute. When the new file cannot be given the same
  access, nothing is written and the refusal says why. A symlink is followed:
  the file it points to is rewritten and the link stays a link. A file with
  several hard links is refused (the other names would keep the old text).
* A file that changed since it was read is never overwritten, whoever changed
  it (certbot's lock keeps only certbot out): the content and metadata are
  compared once more at the moment of the swap. Where the kernel allows it the
  swap is an exchange of the two names, which is undone when what was swapped
  out is not what was read; elsewhere a change that lands during the rename is
  put back. Either way the command refuses, naming the file, and the edit
  survives.
* A backup is written, complete and fsynced, before the file is touched, next
  to it as ``NAME.bak-<UTC timestamp>`` (a name certbot's ``*.conf`` glob does
  not load), with the original's access (owner only, at most 600, for a
  credentials file). When the rewrite does not happen, the backup is removed:
  "nothing was changed" is literally true.
* Interrupts (Ctrl-C, SIGTERM) that arrive during a rewrite take effect after
  it, so each file is either unchanged or replaced with its backup in place,
  and the ``Ledger`` says which.
* While we change files, we hold certbot's own lock (``.certbot.lock``, a POSIX
  ``lockf`` lock, taken and released exactly as certbot does), so certbot cannot
  start half-way through, and we refuse to start while certbot runs.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import errno
import fcntl
import os
import secrets
import signal
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Optional

from certbot_dns_gandi_pat._internal.errors import GandiPatError

LOCK_NAME = ".certbot.lock"


class FileChangeError(GandiPatError):
    """A file could not be changed; nothing was replaced. The message names it."""


class CertbotRunning(FileChangeError):
    """certbot holds its lock on the directory."""


class ChangedSinceRead(FileChangeError):
    """Someone else changed the file after it was read; their change is kept."""


# ------------------------------------------------------------------ ledger

@dataclass
class Ledger:
    """What a command changed so far, so that an interrupted run can say it in one line."""

    files: dict[str, Optional[str]] = field(default_factory=dict)  # path -> backup, None: unchanged
    leftovers: list[str] = field(default_factory=list)  # things outside files a person must remove

    def unchanged(self, path: str) -> None:
        self.files.setdefault(path, None)

    def replaced(self, path: str, backup: str) -> None:
        self.files[path] = backup

    def describe(self) -> str:
        parts = [f"{path} replaced (backup {backup})" if backup else f"{path} unchanged"
                 for path, backup in self.files.items()]
        parts += self.leftovers
        return "; ".join(parts) if parts else "nothing was changed"


@contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block is done, then deliver them."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals only ever interrupt the main thread
        return
    caught: list[int] = []
    saved = {sig: signal.signal(sig, lambda number, frame: caught.append(number))
             for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        if caught:
            signal.raise_signal(caught[0])


# ----------------------------------------------------------------- reading

@dataclass(frozen=True)
class Snapshot:
    """A file as it was read: the bytes every decision was made on, and what they came with."""

    path: str  # the real file, links resolved
    data: bytes
    meta: tuple[int, ...]  # device, inode, size, mtime, mode, owner, group, links
    xattrs: tuple[tuple[str, bytes], ...]

    @property
    def links(self) -> int:
        return self.meta[-1]


def _meta(info: os.stat_result) -> tuple[int, ...]:
    # Not ctime: renaming changes it, and a rename is not an edit.
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_mode,
            info.st_uid, info.st_gid, info.st_nlink)


def _xattrs(fd: int) -> tuple[tuple[str, bytes], ...]:
    try:
        names = os.listxattr(fd)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return ()
        raise
    return tuple(sorted((name, os.getxattr(fd, name)) for name in names))


def _snap(fd: int, path: str) -> Snapshot:
    info = os.fstat(fd)
    chunks, offset = [], 0
    while True:
        chunk = os.pread(fd, 1 << 16, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return Snapshot(path, b"".join(chunks), _meta(info), _xattrs(fd))


def snapshot(path: str) -> Snapshot:
    """Read a file (following links) for a later :func:`rewrite`."""
    real = os.path.realpath(path)
    fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        return _snap(fd, real)
    finally:
        os.close(fd)


# ----------------------------------------------------------------- writing

def timestamp(now: Optional[dt.datetime] = None) -> str:
    return (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")


def write_new(path: str, data: bytes, mode: int) -> None:
    """Create or replace a file of this user's own (the journal, a metrics file) atomically, with ``mode``.

    The temporary file is ``.NAME.<random>.tmp`` in the same directory: no
    reader that globs ``*.json`` or ``*.prom`` ever sees it.
    """
    directory = os.path.dirname(path) or "."
    temp = _create(directory, os.path.basename(path), data, mode=mode)
    try:
        os.replace(temp, path)
    except BaseException:
        _unlink_quietly(temp)
        raise
    _fsync_dir(directory)


def rewrite(snap: Snapshot, data: bytes, *, secret: bool, ledger: Optional[Ledger] = None,
            now: Optional[dt.datetime] = None) -> str:
    """Replace the file ``snap`` was read from with ``data``; returns the backup's path.

    FileChangeError, with nothing changed and no backup left, when the file
    changed since ``snap`` was read or its access cannot be kept.
    """
    real = snap.path
    if ledger is not None:
        ledger.unchanged(real)
    if snap.links > 1:
        raise FileChangeError(f"{real} has {snap.links} hard links; replacing it would leave the other "
                              "names with the old text. Nothing was changed; edit it by hand")
    with deferred_signals():
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            _unchanged(fd, snap, "since it was read")
            info = os.fstat(fd)
            directory, name = os.path.split(real)
            backup = _backup(real, snap, info, secret=secret, now=now)
            try:
                temp = _create(directory, name, data, mode=stat.S_IMODE(info.st_mode), owner=info,
                               xattrs=snap.xattrs, what=real)
                _swap(temp, real, fd, snap)
            except BaseException:
                _unlink_quietly(backup)
                raise
        finally:
            os.close(fd)
        _fsync_dir(directory)
        if ledger is not None:
            ledger.replaced(real, backup)  # before a held interrupt is delivered
    return backup


def _unchanged(fd: int, snap: Snapshot, when: str) -> None:
    if _snap(fd, snap.path) != snap:
        raise ChangedSinceRead(f"{snap.path} changed {when} (someone else edited it); their version "
                               "was kept: run the command again")


def _swap(temp: str, real: str, fd: int, snap: Snapshot) -> None:
    """Put ``temp`` in place of ``real`` if ``real`` is still the file as read; ``temp`` is gone after."""
    try:
        exchanged = _exchange(temp, real)
    except BaseException:
        _unlink_quietly(temp)
        raise
    if exchanged:
        # `temp` now names what `real` was an instant ago: it must be the file as read.
        try:
            if os.stat(temp).st_ino != snap.meta[1]:
                raise ChangedSinceRead(f"{real} was replaced by another program while it was being "
                                       "rewritten; their version was kept: run the command again")
            _unchanged(fd, snap, "while it was being replaced")
        except BaseException:
            try:
                _exchange(temp, real)
            except OSError as exc:
                raise FileChangeError(f"{real} changed while it was being replaced and could not be put "
                                      f"back ({exc.strerror}): the other version is in {temp}") from None
            _unlink_quietly(temp)
            raise
        _unlink_quietly(temp)  # the old file
        return
    # No exchange on this system: check right before the rename, and put back a
    # change that lands during it.
    try:
        if os.stat(real).st_ino != snap.meta[1]:
            raise ChangedSinceRead(f"{real} was replaced by another program since it was read; their "
                                   "version was kept: run the command again")
        _unchanged(fd, snap, "since it was read")
        os.replace(temp, real)
    except BaseException:
        _unlink_quietly(temp)
        raise
    try:
        _unchanged(fd, snap, "while it was being replaced")
    except ChangedSinceRead:
        theirs = _snap(fd, real)
        info = os.fstat(fd)
        back = _create(os.path.dirname(real), os.path.basename(real), theirs.data,
                       mode=stat.S_IMODE(info.st_mode), owner=info, xattrs=theirs.xattrs, what=real)
        os.replace(back, real)
        raise


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: str, b: str) -> bool:
    """Swap two names in one step (Linux renameat2); False where the system cannot."""
    libc: Any = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # a file system (or kernel) without exchange
    raise OSError(code, os.strerror(code), b)


def _backup(real: str, snap: Snapshot, info: os.stat_result, *, secret: bool,
            now: Optional[dt.datetime]) -> str:
    base = f"{real}.bak-{timestamp(now)}"
    target, n = base, 1
    while os.path.lexists(target):
        n += 1
        target = f"{base}-{n}"
    mode = stat.S_IMODE(info.st_mode)
    # A credentials file's backup is its owner's alone: no group, no ACL (the
    # security module's label is kept: it only ever narrows access).
    label = tuple(x for x in snap.xattrs if x[0].startswith("security."))
    temp = _create(os.path.dirname(real), os.path.basename(real), snap.data,
                   mode=mode & 0o600 if secret else mode, owner=info,
                   xattrs=label if secret else snap.xattrs, what=real)
    try:
        os.link(temp, target)  # never over an existing file, whatever appeared meanwhile
    except FileExistsError:
        _unlink_quietly(temp)
        return _backup(real, snap, info, secret=secret, now=now)
    except BaseException:
        _unlink_quietly(temp)
        raise
    _unlink_quietly(temp)
    return target


def _create(directory: str, name: str, data: bytes, *, mode: int, owner: Optional[os.stat_result] = None,
            xattrs: tuple[tuple[str, bytes], ...] = (), what: str = "") -> str:
    """A complete, fsynced file next to ``name`` with exactly this access; returns its path."""
    temp = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise FileChangeError(f"{what or os.path.join(directory, name)}: cannot create a temporary file "
                              f"next to it ({exc.strerror}); nothing was changed") from None
    try:
        with os.fdopen(fd, "wb") as out:
            if owner is not None:
                _keep_owner(out.fileno(), owner, what)
            # A default ACL of the directory is inherited by new files: only the
            # original's attributes may stay (the security module's label aside).
            wanted = dict(xattrs)
            for key, _ in _xattrs(out.fileno()):
                if key not in wanted and not key.startswith("security."):
                    os.removexattr(out.fileno(), key)
            os.fchmod(out.fileno(), mode)
            for key, value in xattrs:
                try:
                    os.setxattr(out.fileno(), key, value)
                except OSError as exc:
                    raise FileChangeError(
                        f"{what}: cannot give the new file the same access (extended attribute {key}: "
                        f"{exc.strerror}); nothing was changed. Run this as root, or edit the file by hand"
                    ) from None
            if owner is not None:
                _same_access(out.fileno(), owner, xattrs, mode, what)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        _unlink_quietly(temp)
        raise
    return temp


def _same_access(fd: int, owner: os.stat_result, xattrs: tuple[tuple[str, bytes], ...], mode: int,
                 what: str) -> None:
    info = os.fstat(fd)
    if stat.S_IMODE(info.st_mode) != mode or _xattrs(fd) != xattrs:
        raise FileChangeError(f"{what}: the new file would not get the same access (mode or ACL); "
                              "nothing was changed. Edit the file by hand")


def _keep_owner(fd: int, info: os.stat_result, what: str) -> None:
    current = os.fstat(fd)
    if (current.st_uid, current.st_gid) == (info.st_uid, info.st_gid):
        return
    try:
        os.fchown(fd, info.st_uid, info.st_gid)
    except PermissionError:
        raise FileChangeError(
            f"{what}: cannot give the new file the owner {info.st_uid}:{info.st_gid} of the "
            "original (run this as root, or as the file's owner); nothing was changed"
        ) from None


def _unlink_quietly(path: str) -> None:
    with suppress(OSError):
        os.unlink(path)


def _fsync_dir(directory: str) -> None:
    # Makes the rename itself durable; some file systems do not allow it.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ------------------------------------------------------------ certbot's lock

def _busy(directory: str) -> CertbotRunning:
    return CertbotRunning(
        f"certbot is running: it holds its lock {os.path.join(directory, LOCK_NAME)}. Nothing "
        "was changed; run this again when certbot has finished (a renewal takes seconds to "
        "minutes)."
    )


def certbot_running(directory: str) -> bool:
    """Whether certbot holds its lock on ``directory``, without creating or changing anything."""
    path = os.path.join(directory, LOCK_NAME)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
    except OSError:
        return False  # no lock file: certbot removes it when it releases the lock
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EAGAIN):
            return True
        raise
    finally:
        os.close(fd)  # closing drops a lock we may have taken
    return False


@contextmanager
def certbot_lock(directory: str) -> Iterator[None]:
    """Hold certbot's lock on ``directory`` (see certbot's ``lock.py``), or refuse.

    A missing directory needs no lock: certbot cannot be using it.
    """
    if not os.path.isdir(directory):
        yield
        return
    path = os.path.join(directory, LOCK_NAME)
    fd: Optional[int] = None
    while fd is None:
        try:
            candidate = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise FileChangeError(f"cannot take certbot's lock {path} ({exc.strerror}): run "
                                  "this as the user certbot runs as; nothing was changed") from None
        try:
            fcntl.lockf(candidate, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(candidate)
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                raise _busy(directory) from None
            raise
        # certbot deletes the file before releasing it: if that happened between
        # our open and our lock, we locked a file nobody else will look at.
        try:
            same = os.path.samestat(os.stat(path), os.fstat(candidate))
        except FileNotFoundError:
            same = False
        if same:
            fd = candidate
        else:
            os.close(candidate)
    try:
        yield
    finally:
        # Removed before it is unlocked, as certbot does (see its lock.py).
        try:
            os.remove(path)
        finally:
            os.close(fd)
