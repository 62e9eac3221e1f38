"""A small on-disk journal of the TXT values a run is about to write.

Rules (tests/unit/test_journal.py):

* A run writes its journal before the first write request leaves, and rewrites
  it as values are confirmed gone; the file disappears once nothing is left.
* Files are created with mode 0600 in a 0700 directory and replaced atomically
  (temporary file, fsync, rename), so a crash leaves the old or the new journal,
  never half of one.
* A journal is *stale* only when the process that wrote it is gone on this host
  (its pid no longer runs, or now belongs to a process that started later).
* A journal that cannot be read or parsed is reported and never acted on, not
  even in part.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import secrets
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Optional

VERSION = 1
Entries = Mapping[tuple[str, str], list[str]]  # (zone, rrset name) -> values


@dataclass(frozen=True)
class Stale:
    """A dead run's journal: where it is, whose it was, what it holds."""

    path: str
    pid: int
    created: str
    credentials: str
    api_url: str
    records: dict[tuple[str, str], list[str]]


class Journal:
    """The journal of one run (one authenticator instance)."""

    def __init__(self, directory: str, credentials: str, api_url: str) -> None:
        self.directory = directory
        self.path = os.path.join(directory, f"{os.getpid()}-{secrets.token_hex(4)}.json")
        self._head = {
            "version": VERSION, "pid": os.getpid(), "pid_start": _start_time(os.getpid()),
            "host": socket.gethostname(), "credentials": credentials, "api_url": api_url,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }

    def save(self, entries: Entries) -> None:
        """Make the file say exactly ``entries``; remove it when there are none."""
        if not any(entries.values()):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            return
        records = [{"zone": z, "name": n, "values": list(v)} for (z, n), v in entries.items() if v]
        _atomic_write(self.path, json.dumps({**self._head, "records": records}, indent=1))


def _atomic_write(path: str, text: str) -> None:
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    tmp = f"{path}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _start_time(pid: int) -> Optional[str]:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            # The command name may hold spaces and parentheses: count after the last ')'.
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, start: Optional[str]) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    now = _start_time(pid)
    return start is None or now is None or now == start


@contextlib.contextmanager
def recovery_lock(directory: str) -> Iterator[bool]:
    """Held while stale journals are acted on; yields False when another process holds it."""
    if not os.path.isdir(directory):
        yield False
        return
    fd = os.open(os.path.join(directory, ".lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def find_stale(directory: str) -> tuple[list[Stale], list[str]]:
    """Journals of dead runs on this host, and a problem line per unreadable journal."""
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".json"))
    except FileNotFoundError:
        return [], []
    found, problems = [], []
    for name in names:
        path = os.path.join(directory, name)
        try:
            stale = _load(path)
        except Exception as exc:  # whatever is wrong with it, a journal is never acted on in part
            problems.append(f"{path}: cannot be read ({type(exc).__name__}); left alone: check the "
                            "_acme-challenge TXT records it names by hand, then delete it")
            continue
        if stale is not None:
            found.append(stale)
    return found, problems


def _load(path: str) -> Optional[Stale]:
    with open(path, encoding="utf-8") as handle:
        data: Any = json.load(handle)
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ValueError("unknown format")
    pid, host = data["pid"], data["host"]
    if not isinstance(pid, int) or isinstance(pid, bool) or not isinstance(host, str):
        raise TypeError("pid or host")
    if not 0 < pid < 2**31:  # 0 and negative pids name process groups in kill()
        raise ValueError("pid")
    records: dict[tuple[str, str], list[str]] = {}
    for item in data["records"]:
        zone, name, values = item["zone"], item["name"], item["values"]
        if not (isinstance(zone, str) and isinstance(name, str) and isinstance(values, list)
                and values and all(isinstance(v, str) for v in values)):
            raise TypeError("record")
        records[(zone, name)] = values
    for key in ("credentials", "api_url", "created"):
        if not isinstance(data[key], str):
            raise TypeError(key)
    start = data.get("pid_start")
    if host != socket.gethostname() or _alive(pid, start if isinstance(start, str) else None):
        return None
    return Stale(path, pid, data["created"], data["credentials"], data["api_url"], records)


def discard(stale: Stale, remaining: Entries) -> None:
    """After recovery: keep only what could not be removed, or delete the file."""
    if not any(remaining.values()):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(stale.path)
        return
    if remaining == stale.records:
        return  # unchanged: its age still tells when its writes were sent
    with open(stale.path, encoding="utf-8") as handle:
        data = json.load(handle)
    data["records"] = [{"zone": z, "name": n, "values": v} for (z, n), v in remaining.items() if v]
    _atomic_write(stale.path, json.dumps(data, indent=1))
