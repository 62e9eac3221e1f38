"""A small on-disk journal of the TXT values a run is about to write, for crash recovery.

Rules (tests/integration/test_journal.py):

* A run writes its journal before the first write request leaves, and rewrites
  it as values are confirmed gone; the file disappears once nothing is left.
  Files are mode 600, replaced atomically (``files.write_new``).
* The directory is this user's and mode 700: a looser one of ours is
  tightened; one that belongs to another user, or is a link, is not used.
* A run holds a lock (``flock``) on its own ``<id>.lock`` for as long as its
  journal exists. A journal is stale exactly when nobody holds that lock, so
  the next run with the same work directory recovers it whatever the host
  name, pid namespace or container; a journal of a live run, this process's
  included, is never touched.
* A journal is acted on only when this user owns it and everything in it is
  something the plugin writes: TXT values shaped like an ACME challenge value,
  at an ``_acme-challenge`` name or at the CNAME target recorded for one.
  Anything else (unreadable, another version, odd types, a forged entry) is
  reported and never acted on, not even in part.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import secrets
import socket
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from certbot_dns_gandi_pat._internal.certbot_files import files
from certbot_dns_gandi_pat._internal.errors import GandiPatError

VERSION = 2
CHALLENGE_LABEL = "_acme-challenge"
# A DNS-01 value is the base64url SHA-256 digest of the key authorization (RFC 8555, 8.4).
_ACME_VALUE = re.compile(r"[A-Za-z0-9_-]{43}")
_NAME = re.compile(r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


class JournalError(GandiPatError):
    """The journal directory cannot be used safely; the message names it."""


@dataclass(frozen=True)
class Entry:
    """What a run may have put in one TXT rrset, and the challenge names that led there."""

    zone: str
    name: str  # relative to the zone, "@" for the apex
    values: tuple[str, ...]
    validations: tuple[str, ...]  # the _acme-challenge names; another name when delegated by CNAME

    @property
    def fqdn(self) -> str:
        return self.zone if self.name == "@" else f"{self.name}.{self.zone}"

    @property
    def delegated(self) -> bool:
        return any(v != self.fqdn for v in self.validations)


@dataclass
class Stale:
    """A dead run's journal, locked by us until ``release`` or ``discard``."""

    path: str
    pid: int
    created: str
    credentials: str
    api_url: str
    entries: tuple[Entry, ...]
    written: float = 0.0  # when the journal was last written (its mtime), as read
    _lock: Optional[int] = field(default=None, repr=False)


def secure_directory(directory: str, create: bool) -> bool:
    """Make sure ``directory`` is ours alone; False when it does not exist (and ``create`` is off)."""
    if create:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    try:
        info = os.lstat(directory)
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(info.st_mode):
        raise JournalError(f"{directory} is a link or a file, not a directory: not used for crash journals; "
                           "remove it")
    if info.st_uid != os.geteuid():
        raise JournalError(f"{directory} belongs to uid {info.st_uid}, not to this user: not used for crash "
                           "journals; remove it, or run certbot as its owner")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(directory, 0o700)
    return True


class Journal:
    """The journal of one run (one authenticator instance)."""

    def __init__(self, directory: str, credentials: str, api_url: str) -> None:
        self.directory = directory
        run = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.path = os.path.join(directory, f"{run}.json")
        self._lock_path = os.path.join(directory, f"{run}.lock")
        self._lock: Optional[int] = None
        self._head = {
            "version": VERSION, "pid": os.getpid(), "host": socket.gethostname(),
            "credentials": credentials, "api_url": api_url,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }

    def save(self, entries: Iterable[Entry]) -> None:
        """Make the file say exactly ``entries``; remove it when there are none."""
        kept = [e for e in entries if e.values]
        if not kept:
            self.close()
            return
        if self._lock is None:
            secure_directory(self.directory, create=True)
            self._lock = _new_lock(self._lock_path)
        body = {**self._head, "records": [_dump(e) for e in kept]}
        files.write_new(self.path, json.dumps(body).encode(), 0o600)

    def close(self) -> None:
        """Remove the journal and give up its lock (nothing of the run is left in the zone)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        if self._lock is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._lock_path)
            os.close(self._lock)
            self._lock = None


def _new_lock(path: str) -> int:
    # Locked before it gets its name, so that nobody ever finds it unlocked while we live.
    temp = f"{path}.{secrets.token_hex(4)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(temp, path)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return fd


def _dump(entry: Entry) -> dict[str, Any]:
    return {"zone": entry.zone, "name": entry.name, "values": list(entry.values),
            "validations": list(entry.validations)}


# ------------------------------------------------------------------ recovery

class _Refused(Exception):
    """A journal this plugin will not act on; the message says why, in words."""


_ALIVE = -2  # the lock is held: its run is alive
_NO_LOCK = -1  # no lock file: its run is gone


def _try_lock(path: str) -> int:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return _NO_LOCK
    except OSError:
        return _ALIVE  # a link, or no file of ours: nothing proves its run is gone
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return _ALIVE
    return fd


def find_stale(directory: str) -> tuple[list[Stale], list[str]]:
    """Journals whose run is gone, each locked for us, and a line per journal left alone."""
    try:
        if not secure_directory(directory, create=False):
            return [], []
    except JournalError as exc:
        return [], [str(exc)]
    found, problems = [], []
    for name in sorted(n for n in os.listdir(directory) if n.endswith(".json")):
        path = os.path.join(directory, name)
        lock = _try_lock(path[: -len(".json")] + ".lock")
        if lock == _ALIVE:
            continue
        try:
            stale = _load(path)
        except FileNotFoundError:
            _close(lock)  # its run finished while we looked
            continue
        except _Refused as exc:
            problems.append(f"{path}: {exc}; left alone, nothing in the zone was touched")
        except Exception as exc:  # whatever is wrong with it, a journal is never acted on in part
            problems.append(f"{path}: cannot be read ({type(exc).__name__}); left alone: check the "
                            "_acme-challenge TXT records it names by hand, then delete it")
        else:
            stale._lock = lock if lock >= 0 else None
            found.append(stale)
            continue
        _close(lock)
    return found, problems


def _close(fd: int) -> None:
    if fd >= 0:
        os.close(fd)


def _load(path: str) -> Stale:
    # Never a link, and never a wait on a FIFO put in its place.
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            raise _Refused(f"belongs to uid {info.st_uid}, not to this user (a journal is acted on only "
                           "when this user wrote it)")
        data: Any = json.loads(handle.read())
    version = data.get("version") if isinstance(data, dict) else None
    if version != VERSION:
        raise _Refused(f"written by another version of the plugin (format {version!r}): check the "
                       "_acme-challenge TXT records it names by hand, then delete it")
    pid = data["pid"]
    # 0 and negative pids name process groups to kill(): no single run wrote them.
    _shape(isinstance(pid, int) and not isinstance(pid, bool) and 0 < pid < 2**31)
    _shape(all(isinstance(data[key], str) for key in ("credentials", "api_url", "created")))
    _shape(isinstance(data["records"], list))
    entries = tuple(_entry(item) for item in data["records"])
    return Stale(path, pid, data["created"], data["credentials"], data["api_url"], entries, info.st_mtime)


def _shape(ok: bool) -> None:
    """The types of a journal this version writes; anything else makes it unreadable as a whole."""
    if not ok:
        raise TypeError("not the shape of a journal")


def _entry(item: Any) -> Entry:
    zone, name, values, validations = item["zone"], item["name"], item["values"], item["validations"]
    _shape(isinstance(zone, str) and isinstance(name, str))
    _shape(_strings(values) and _strings(validations))
    _shape(_NAME.fullmatch(zone) is not None and (name == "@" or _NAME.fullmatch(name) is not None))
    entry = Entry(zone, name, tuple(values), tuple(validations))
    if any(not _ACME_VALUE.fullmatch(v) for v in values):
        raise _Refused(f"names TXT values at {entry.fqdn} that are not ACME challenge values, which is all "
                       "the plugin writes: check it, then delete it")
    for validation in validations:
        if not (_NAME.fullmatch(validation) and validation.split(".")[0] == CHALLENGE_LABEL):
            raise _Refused(f"names {validation}, which is no {CHALLENGE_LABEL} name: check it, then delete it")
    if not entry.delegated and name.split(".")[0] != CHALLENGE_LABEL:
        raise _Refused(f"names TXT {entry.fqdn}, which is no {CHALLENGE_LABEL} name: check it, then delete it")
    return entry


def _strings(value: Any) -> bool:
    """A non-empty list of strings."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def release(stale: Stale) -> None:
    """Leave a stale journal for a later run (another one may take it meanwhile)."""
    if stale._lock is not None:
        os.close(stale._lock)
        stale._lock = None


def discard(stale: Stale, remaining: Sequence[Entry]) -> None:
    """After recovery: keep only what could not be removed, or delete the journal."""
    try:
        if not remaining:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(stale.path)
            if stale._lock is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(stale.path[: -len(".json")] + ".lock")
            return
        if tuple(remaining) == stale.entries:
            return  # unchanged: its age still tells when its writes were sent
        with open(stale.path, "rb") as handle:
            data = json.loads(handle.read())
        data["records"] = [_dump(e) for e in remaining]
        files.write_new(stale.path, json.dumps(data).encode(), 0o600)
    finally:
        release(stale)
