"""One order's challenge records: grouped, written concurrently, removed exactly.

An order with N names in Z zones costs one zone listing, one write per
validation name (apex and wildcard share one) and one removal per validation
name, whatever N is; docs/design.md gives the exact count.

Rules (tests/integration/test_records.py, tests/integration/test_journal.py, tests/e2e/test_faults.py):

* Writes always run in worker threads, even a single one, so that a signal
  that interrupts the main thread abandons only the wait, never a write
  half-sent; cleanup first waits for every write of the run that may still be
  in flight.
* Cleanup removes only what may have been written: a write that Gandi refused
  outright (401, 403, 400...) left nothing and is not cleaned up.
* A removal that finds no rrset for a value whose write was never confirmed
  looks again once that write's time bound has passed, before concluding that
  nothing was written. "Removed" is logged only for values confirmed gone.
* With a journal, the values are on disk before the first write leaves and
  stay there until confirmed gone, so that a later run can remove what a
  killed one left (``recover``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from typing import Callable, Optional, TypeVar

from certbot_dns_gandi_pat._internal import journal as journals
from certbot_dns_gandi_pat._internal.livedns import (
    LiveDNSClient,
    LiveDNSError,
    normalize_name,
    relative_name,
)

logger = logging.getLogger(__name__)

# At most 16 requests in flight. An order makes about 2 requests per name, so
# even 100 names (~200 requests, about a second at 50 ms each) stay far below
# LiveDNS's 1000 requests/minute; a 429 still backs off through the retry
# policy, honouring Retry-After.
DEFAULT_CONCURRENCY = 16

_T = TypeVar("_T")
_R = TypeVar("_R")

PENDING, WRITTEN, REFUSED, UNKNOWN = "pending", "written", "refused", "unknown"


@dataclass(frozen=True)
class RRset:
    """Where a TXT value lives: the zone and the rrset name relative to it."""

    zone: str
    name: str
    fqdn: str


@dataclass
class _Write:
    values: list[str]
    validations: list[str] = field(default_factory=list)  # the _acme-challenge names that led here
    state: str = PENDING
    earlier: Optional[str] = None  # the state an earlier write at the same rrset left
    started: float = 0.0
    ended: Optional[float] = None
    future: Optional[Future[None]] = field(default=None, repr=False)


class ChallengeRecords:
    """Adds the TXT values of one run and later removes exactly those."""

    def __init__(
        self,
        client: LiveDNSClient,
        *,
        resolve_target: Callable[[str], str] = lambda name: name,
        concurrency: int = DEFAULT_CONCURRENCY,
        journal: Optional[journals.Journal] = None,
        write_bound: Optional[float] = None,
        settle: Optional[float] = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._resolve_target = resolve_target
        self._concurrency = max(1, concurrency)
        self._journal = journal
        # How long after it started a write may still land, and how long an answer may take:
        # the client knows its transport's bounds.
        self._write_bound = client.write_bound if write_bound is None else write_bound
        self._settle = client.attempt_bound if settle is None else settle
        self._clock, self._sleep = clock, sleep
        self._writes: dict[RRset, _Write] = {}
        self._lock = threading.Lock()
        self._pool: Optional[ThreadPoolExecutor] = None

    @property
    def written(self) -> dict[RRset, list[str]]:
        """Values that may be in the zone now (written, in flight or unknown)."""
        with self._lock:
            return {k: list(w.values) for k, w in self._writes.items() if w.state != REFUSED}

    def locate(self, validation_names: Sequence[str]) -> dict[str, RRset]:
        """Map each validation name to the rrset that must hold its value."""
        unique = list(dict.fromkeys(normalize_name(n) for n in validation_names))
        targets = dict(zip(unique, self._map(self._resolve_target, unique)))
        located = {}
        for name, target in targets.items():
            fqdn = normalize_name(target)
            zone = self._client.find_zone(fqdn)
            located[name] = RRset(zone, relative_name(fqdn, zone), fqdn)
        return located

    def add(self, records: Sequence[tuple[str, str]]) -> dict[str, RRset]:
        """Write (validation name, value) pairs; every zone is found before any write."""
        located = self.locate([name for name, _ in records])
        groups: dict[RRset, list[str]] = {}
        for name, value in records:
            values = groups.setdefault(located[normalize_name(name)], [])
            if value not in values:
                values.append(value)
        with self._lock:
            for name, rrset in located.items():
                entry = self._writes.setdefault(rrset, _Write([]))
                if name not in entry.validations:
                    entry.validations.append(name)
            for rrset, values in groups.items():
                entry = self._writes[rrset]
                entry.values.extend(v for v in values if v not in entry.values)
                if entry.state in (WRITTEN, UNKNOWN):
                    entry.earlier = entry.state
                entry.state = PENDING
            self._save_journal()
        futures = {rrset: self._submit(rrset, values) for rrset, values in groups.items()}
        # Only this wait is interrupted by a signal; the writes go on, and
        # cleanup waits for them.
        wait_futures(futures.values())
        errors = [exc for f in futures.values() if (exc := f.exception()) is not None]
        if errors:
            # One kind of failure keeps its class (a 403 stays a ForbiddenError).
            kind = type(errors[0]) if all(type(e) is type(errors[0]) for e in errors) else LiveDNSError
            kind = kind if issubclass(kind, LiveDNSError) else LiveDNSError
            error = kind(_summary("Could not create every challenge record", errors),
                         getattr(errors[0], "status", None), _advice(errors))
            # A refusal only when every write was refused: one may have landed.
            error.maybe_applied = not all(isinstance(e, LiveDNSError) and e.refused for e in errors)
            raise error
        return located

    def _submit(self, rrset: RRset, values: list[str]) -> Future[None]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._concurrency,
                                            thread_name_prefix="gandi-write")
        entry = self._writes[rrset]
        entry.started, entry.ended = self._clock(), None

        def write() -> None:
            try:
                self._client.add_txt(rrset.zone, rrset.name, values)
            except BaseException as exc:
                refused = isinstance(exc, LiveDNSError) and exc.refused
                # A refusal of this write says nothing of what an earlier one put there.
                self._finish(entry, (entry.earlier or REFUSED) if refused else UNKNOWN)
                raise
            self._finish(entry, WRITTEN)
            logger.info("Added %d TXT value(s) at %s", len(values), rrset.fqdn)

        entry.future = self._pool.submit(write)
        return entry.future

    def _finish(self, entry: _Write, state: str) -> None:
        with self._lock:
            entry.state, entry.ended = state, self._clock()
            if state == REFUSED:
                self._save_journal()

    def remove_all(self) -> list[str]:
        """Remove every value this run may have written; returns what could not be removed."""
        self._await_writes()
        # A failure during perform may have stopped the client; cleanup deserves
        # its own chance (and stops again at its first exhausted failure).
        self._client.reset_breaker()
        with self._lock:
            for rrset in [r for r, w in self._writes.items() if w.state == REFUSED or w.future is None]:
                logger.debug("Nothing to remove at %s: nothing was written there", rrset.fqdn)
                del self._writes[rrset]
            self._save_journal()
            items = list(self._writes.items())
        outcomes = self._map(self._remove, items)
        failures = []
        for (rrset, entry), error in zip(items, outcomes):
            if error is None:
                with self._lock:
                    self._writes.pop(rrset, None)
                    self._save_journal()
            else:
                failures.append(f"{rrset.fqdn} TXT {', '.join(entry.values)}: {error}")
        return failures

    def _await_writes(self) -> None:
        running = [w.future for w in self._writes.values() if w.future is not None and not w.future.done()]
        if running:
            logger.info("Waiting for %d TXT write(s) still in flight before removing them", len(running))
            wait_futures(running, timeout=self._write_bound + 1)

    def _remove(self, item: tuple[RRset, _Write]) -> Optional[LiveDNSError]:
        rrset, entry = item
        if entry.future is not None and not entry.future.done():
            return LiveDNSError("its write is still in flight, so it cannot be removed safely yet")
        try:
            gone = self._client.remove_txt(rrset.zone, rrset.name, entry.values)
            if not gone and entry.state != WRITTEN:
                # The write was never confirmed: it may still be applied. Look
                # again once it can no longer land, before concluding.
                ended = entry.ended if entry.ended is not None else self._clock()
                due = max(entry.started + self._write_bound, ended + self._settle)
                delay = due - self._clock()
                if delay > 0:
                    logger.info("No TXT at %s yet although its write had no answer; looking "
                                "again in %.0f s", rrset.fqdn, delay)
                    self._sleep(delay)
                gone = self._client.remove_txt(rrset.zone, rrset.name, entry.values)
        except LiveDNSError as exc:
            return exc
        if gone:
            logger.info("Removed %d TXT value(s) at %s", len(entry.values), rrset.fqdn)
        else:
            logger.debug("Nothing to remove at %s: the values were not there", rrset.fqdn)
        return None

    def _save_journal(self) -> None:
        if self._journal is None:
            return
        try:
            self._journal.save(journals.Entry(r.zone, r.name, tuple(w.values), tuple(w.validations))
                               for r, w in self._writes.items() if w.state != REFUSED)
        except (OSError, journals.JournalError) as exc:
            # A full disk must not cost the certificate: go on without a journal.
            logger.warning("Cannot write the journal %s (%s); a crash now would leave the challenge "
                           "values in the zone", self._journal.path, getattr(exc, "strerror", None) or exc)
            self._journal = None

    def _map(self, fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
        if self._concurrency == 1 or len(items) <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self._concurrency, len(items))) as pool:
            return list(pool.map(fn, items))


def recover(client: LiveDNSClient, directory: str, credentials: str,
            resolve_target: Callable[[str], str] = lambda name: name) -> None:
    """Remove the values that dead runs with these credentials journalled, and nothing else."""
    stale, problems = journals.find_stale(directory)
    for problem in problems:
        logger.warning("Journal of an earlier run %s", problem)
    for run in stale:
        try:
            if run.credentials != credentials or run.api_url != client.config.api_url:
                logger.debug("Journal %s belongs to other credentials; left for a run that uses them", run.path)
                continue
            moved = [e for e in run.entries for v in e.validations
                     if e.delegated and normalize_name(resolve_target(v)) != e.fqdn]
            if moved:
                # A delegation is believed only while DNS still says so.
                logger.warning("Journal of an earlier run %s: %s no longer points to %s by CNAME; left alone, "
                               "nothing in the zone was touched: check that TXT record by hand, then delete "
                               "the journal", run.path, moved[0].validations[0], moved[0].fqdn)
                continue
            journals.discard(run, _recover_run(client, run))
        finally:
            journals.release(run)


def _recover_run(client: LiveDNSClient, run: journals.Stale) -> list[journals.Entry]:
    remaining: list[journals.Entry] = []
    # Killed moments ago: a write it sent may still be applied.
    recent = time.time() - run.written < client.write_bound
    for entry in run.entries:
        where, values = entry.fqdn, list(entry.values)
        try:
            if client.remove_txt(entry.zone, entry.name, values):
                logger.warning("Removed %d TXT value(s) at %s left by an interrupted run "
                               "(pid %d, %s)", len(values), where, run.pid, run.created)
            elif recent:
                remaining.append(entry)
                logger.info("No TXT values yet at %s from an interrupted run (pid %d); looking "
                            "again at the next run", where, run.pid)
        except LiveDNSError as exc:
            remaining.append(entry)
            logger.warning("Could not yet remove TXT values at %s left by an interrupted run "
                           "(pid %d): %s", where, run.pid, exc.headline)
    return remaining


def _summary(head: str, errors: Sequence[BaseException]) -> str:
    # Identical errors (a revoked token fails every write the same way) once.
    lines = [e.headline if isinstance(e, LiveDNSError) else str(e) for e in errors]
    return f"{head}: " + "; ".join(dict.fromkeys(lines))


def _advice(errors: Sequence[BaseException]) -> str:
    return " ".join(dict.fromkeys(e.advice for e in errors if isinstance(e, LiveDNSError) and e.advice))
