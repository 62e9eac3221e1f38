"""One order's challenge records: grouped, written concurrently, removed exactly.

An order with N names in Z zones costs one zone listing, one write per
validation name (apex and wildcard share one) and one removal per validation
name, whatever N is; see the README's design notes for the exact count.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, TypeVar

from certbot_dns_gandi_pat.livedns import LiveDNSClient, LiveDNSError, normalize_name, relative_name

logger = logging.getLogger(__name__)

# At most 16 requests in flight. An order makes about 2 requests per name, so
# even 100 names (~200 requests, about a second at 50 ms each) stay far below
# LiveDNS's 1000 requests/minute; a 429 still backs off through the retry
# policy, honouring Retry-After.
DEFAULT_CONCURRENCY = 16

_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True)
class RRset:
    """Where a TXT value lives: the zone and the rrset name relative to it."""

    zone: str
    name: str
    fqdn: str


class ChallengeRecords:
    """Adds the TXT values of one run and later removes exactly those."""

    def __init__(
        self,
        client: LiveDNSClient,
        *,
        resolve_target: Callable[[str], str] = lambda name: name,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self._client = client
        self._resolve_target = resolve_target
        self._concurrency = max(1, concurrency)
        # Values are recorded *before* the write is sent: a write whose answer
        # was lost may still have been applied, and must be cleaned up too.
        self._written: dict[RRset, list[str]] = {}

    @property
    def written(self) -> dict[RRset, list[str]]:
        return {k: list(v) for k, v in self._written.items()}

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
        for rrset, values in groups.items():
            mine = self._written.setdefault(rrset, [])
            mine.extend(v for v in values if v not in mine)

        def write(item: tuple[RRset, list[str]]) -> None:
            rrset, values = item
            self._client.add_txt(rrset.zone, rrset.name, values)
            logger.info("Added %d TXT value(s) at %s", len(values), rrset.fqdn)

        errors = [e for e in self._map(_capture(write), list(groups.items())) if e]
        if errors:
            raise LiveDNSError(_summary("Could not create every challenge record", errors),
                               getattr(errors[0], "status", None))
        return located

    def remove_all(self) -> list[str]:
        """Remove every value this run wrote; returns what could not be removed."""

        def remove(item: tuple[RRset, list[str]]) -> None:
            rrset, values = item
            self._client.remove_txt(rrset.zone, rrset.name, values)
            logger.info("Removed %d TXT value(s) at %s", len(values), rrset.fqdn)

        # A failure during perform may have stopped the client; cleanup deserves
        # its own chance (and stops again at its first exhausted failure).
        self._client.reset_breaker()
        items = list(self._written.items())
        outcomes = self._map(_capture(remove), items)
        failures = []
        for (rrset, values), error in zip(items, outcomes):
            if error is None:
                del self._written[rrset]
            else:
                failures.append(
                    f"{rrset.fqdn} TXT {', '.join(values)}: {error}"
                )
        return failures

    def _map(self, fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
        if self._concurrency == 1 or len(items) <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self._concurrency, len(items))) as pool:
            return list(pool.map(fn, items))


def _capture(fn: Callable[[_T], None]) -> Callable[[_T], Exception | None]:
    def run(item: _T) -> Exception | None:
        try:
            fn(item)
        except LiveDNSError as exc:
            return exc
        return None

    return run


def _summary(head: str, errors: Sequence[object]) -> str:
    # Identical errors (a revoked token fails every write the same way) once.
    unique = list(dict.fromkeys(str(e) for e in errors))
    return f"{head}: " + " | ".join(unique)
