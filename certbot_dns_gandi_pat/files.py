"""Changing certbot's files safely: certbot's lock, backups, atomic rewrites.

Rules, each one checked by a test:

* A file is replaced only by renaming a complete, fsynced temporary file from
  the same directory over it, so a crash leaves either the old file or the new
  one, never half of each, and never a stray temporary file when Python itself
  sees the failure.
* The new file keeps the old one's mode, owner and group. A symlink is
  followed: the file it points to is rewritten and the link stays a link.
* A backup is written, complete and fsynced, before the file is touched, next
  to it as ``NAME.bak-<UTC timestamp>`` (a name certbot's ``*.conf`` glob does
  not load), with the original owner and a mode no wider than the original's
  (and no wider than 600 for a credentials file).
* While we change files, we hold certbot's own lock (``.certbot.lock``, a POSIX
  ``lockf`` lock, taken and released exactly as certbot does), so certbot cannot
  start half-way through, and we refuse to start while certbot runs.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional

LOCK_NAME = ".certbot.lock"


class FileChangeError(Exception):
    """A file could not be changed; nothing was replaced. The message names it."""


class CertbotRunning(FileChangeError):
    """certbot holds its lock on the directory."""


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


def timestamp(now: Optional[dt.datetime] = None) -> str:
    return (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")


def backup(path: str, *, secret: bool, now: Optional[dt.datetime] = None) -> str:
    """Copy ``path`` to ``path.bak-<timestamp>`` (the real file, if ``path`` is a link)."""
    real = os.path.realpath(path)
    info = os.stat(real)
    mode = stat.S_IMODE(info.st_mode) & (0o600 if secret else 0o777)
    base = f"{real}.bak-{timestamp(now)}"
    target, n = base, 1
    with open(real, "rb") as handle:
        data = handle.read()
    while True:
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            break
        except FileExistsError:
            n += 1
            target = f"{base}-{n}"
    try:
        with os.fdopen(fd, "wb") as out:
            _keep_owner(out.fileno(), info, target)
            os.fchmod(out.fileno(), mode)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        _unlink_quietly(target)
        raise
    _fsync_dir(os.path.dirname(target))
    return target


def atomic_write(path: str, data: bytes) -> None:
    """Replace the file at ``path`` (following links) with ``data``, keeping mode and owner."""
    real = os.path.realpath(path)
    info = os.stat(real)
    directory, name = os.path.split(real)
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise FileChangeError(f"{real}: cannot create a temporary file next to it "
                              f"({exc.strerror}); nothing was changed") from None
    try:
        with os.fdopen(fd, "wb") as out:
            _keep_owner(out.fileno(), info, real)
            os.fchmod(out.fileno(), stat.S_IMODE(info.st_mode))
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, real)
    except BaseException:
        _unlink_quietly(temp)
        raise
    _fsync_dir(directory)


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
    try:
        os.unlink(path)
    except OSError:
        pass


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
