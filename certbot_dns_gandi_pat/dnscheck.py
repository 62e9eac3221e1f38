"""DNS checks: CNAME delegation and verified propagation, with dnspython.

Propagation is checked on the zone's *authoritative* servers, asked directly
with recursion off: a recursive resolver could have cached the name's absence
for the zone's negative TTL (three hours at LiveDNS) and would say nothing
about what the CA will see.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Optional

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver

logger = logging.getLogger(__name__)

Server = tuple[str, int]  # an address and port to query
QueryFn = Callable[[str, str, Server, bool, float], "Optional[Answer]"]

MAX_CNAME_DEPTH = 8


class DNSCheckError(Exception):
    """A DNS check failed; the message says what to do about it."""


class PropagationTimeout(DNSCheckError):
    """Reachable nameservers still did not serve every value at the deadline."""


@dataclass(frozen=True)
class Answer:
    rcode: int
    values: frozenset[str] = frozenset()
    cname: Optional[str] = None


def query(name: str, rdtype: str, server: Server, recurse: bool, timeout: float) -> Optional[Answer]:
    """One question to one server; None when it did not answer at all."""
    qname = dns.name.from_text(name)
    msg = dns.message.make_query(qname, rdtype)
    if not recurse:
        msg.flags &= ~dns.flags.RD
    try:
        resp, _ = dns.query.udp_with_fallback(msg, server[0], timeout=timeout, port=server[1])
    except (dns.exception.DNSException, OSError, EOFError, ValueError) as exc:
        logger.debug("DNS %s %s @%s:%d: no answer (%s)", rdtype, name, server[0], server[1], exc)
        return None
    values: set[str] = set()
    cname: Optional[str] = None
    for rrset in resp.answer:
        if rrset.name != qname:
            continue
        if rrset.rdtype == dns.rdatatype.TXT:
            values.update(b"".join(r.strings).decode("ascii", "replace") for r in rrset)
        elif rrset.rdtype == dns.rdatatype.CNAME:
            cname = next(iter(rrset)).target.to_text(omit_final_dot=True).lower()
    return Answer(resp.rcode(), frozenset(values), cname)


_HOSTNAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?")
_ITEM = re.compile(r"\[(?P<v6>[^\]]+)\](?::(?P<v6port>[^:]*))?|(?P<host>[^:\[\]]+)(?::(?P<port>[^:]*))?")


def parse_nameservers(spec: str, option: str = "--dns-gandi-nameservers") -> list[tuple[str, int]]:
    """Parse ``HOST[:PORT],...`` strictly: IPv6 as ``ADDR`` or ``[ADDR]:PORT``."""
    servers: list[tuple[str, int]] = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        servers.append(_server(item, option))
    if not servers:
        raise DNSCheckError(f"{option}: no server given; expected HOST[:PORT],...")
    return servers


def _server(item: str, option: str) -> tuple[str, int]:
    bad = DNSCheckError(
        f"{option}: {item!r} is not HOST, HOST:PORT, an IPv6 address or [IPv6]:PORT"
    )
    try:
        return (str(ipaddress.ip_address(item)), 53)  # a bare IPv4 or IPv6 address
    except ValueError:
        pass
    match = _ITEM.fullmatch(item)
    if match is None:
        raise bad
    if match["v6"] is not None:
        try:
            host = str(ipaddress.IPv6Address(match["v6"]))
        except ValueError:
            raise bad from None
        raw = match["v6port"]
    else:
        host, raw = match["host"], match["port"]
        try:
            host = str(ipaddress.IPv4Address(host))
        except ValueError:
            if not _HOSTNAME.fullmatch(host) or host.replace(".", "").isdigit():
                raise bad from None
    if raw is None:
        return host, 53
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise DNSCheckError(f"{option}: {item!r} has an invalid port (1 to 65535)")
    return host, int(raw)


def resolve_addresses(hosts: Iterable[tuple[str, int]]) -> list[Server]:
    """Every A and AAAA address of the hosts, through the system resolver."""
    found: dict[Server, None] = {}
    for host, port in hosts:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        except OSError as exc:
            logger.warning("Cannot resolve nameserver %s: %s", host, exc)
            continue
        for family, _, _, _, sockaddr in infos:
            if family in (socket.AF_INET, socket.AF_INET6):
                found[(str(sockaddr[0]), port)] = None
    return list(found)


def zone_nameservers(
    zone: str, timeout: float = 5.0, servers: Optional[Sequence[Server]] = None
) -> list[str]:
    """The zone's NS records as the public DNS (the CA's view) delegates them."""
    resolver = dns.resolver.Resolver(configure=not servers)
    for address, port in servers or ():
        resolver.nameservers = [address]
        resolver.port = port
        break
    try:
        answer = resolver.resolve(zone, "NS", lifetime=timeout)
    except dns.exception.DNSException as exc:
        logger.debug("NS lookup of %s failed: %s", zone, exc)
        return []
    return sorted(str(r.target.to_text(omit_final_dot=True)).lower() for r in answer)


class CnameResolver:
    """Follow ``_acme-challenge`` CNAME delegations to the name that holds the TXT."""

    def __init__(
        self, servers: Optional[Sequence[Server]] = None, *, query_fn: QueryFn = query,
        timeout: float = 3.0,
    ) -> None:
        self._servers = list(servers or [])
        self._query = query_fn
        self._timeout = timeout

    def target(self, name: str) -> str:
        chain = [name.rstrip(".").lower()]
        while True:
            nxt = self._cname(chain[-1])
            if nxt is None:
                break
            if nxt in chain:
                raise DNSCheckError(f"CNAME loop: {' -> '.join([*chain, nxt])}")
            chain.append(nxt)
            if len(chain) > MAX_CNAME_DEPTH:
                raise DNSCheckError(f"CNAME chain longer than {MAX_CNAME_DEPTH}: {' -> '.join(chain)}")
        if len(chain) > 1:
            logger.info("%s is delegated by CNAME to %s", chain[0], chain[-1])
        return chain[-1]

    def _cname(self, name: str) -> Optional[str]:
        if self._servers:
            for server in self._servers:
                answer = self._query(name, "CNAME", server, True, self._timeout)
                if answer is not None:
                    return answer.cname
            raise DNSCheckError(
                f"none of the nameservers {_fmt(self._servers)} answered a CNAME query for {name}"
            )
        try:
            rrset = dns.resolver.resolve(name, "CNAME", raise_on_no_answer=False, lifetime=self._timeout)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoNameservers):
            return None
        except dns.exception.DNSException as exc:
            # Delegation is optional: without an answer, assume there is none.
            logger.warning("Could not check %s for a CNAME (%s); assuming there is none", name, exc)
            return None
        if rrset.rrset is None:
            return None
        return str(next(iter(rrset.rrset)).target.to_text(omit_final_dot=True)).lower()


@dataclass
class _Pair:
    name: str
    server: Server
    answered: bool = False
    satisfied: bool = False
    got: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class WaitResult:
    seconds: float
    verified: tuple[str, ...]
    unchecked: tuple[str, ...]  # names with no reachable nameserver: slept instead


class PropagationWaiter:
    """Poll every authoritative address until each serves every expected value."""

    def __init__(
        self,
        *,
        query_fn: QueryFn = query,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        interval: float = 1.0,
        query_timeout: float = 2.0,
        grace: float = 10.0,
        progress: Callable[[str], None] = logger.info,
        workers: int = 16,
    ) -> None:
        self._query = query_fn
        self._clock = clock
        self._sleep = sleep
        self._interval = interval
        self._query_timeout = query_timeout
        self._grace = grace
        self._progress = progress
        self._workers = workers

    def wait(
        self,
        expected: Mapping[str, Iterable[str]],
        servers: Mapping[str, Sequence[Server]],
        timeout: float,
    ) -> WaitResult:
        start = self._clock()
        deadline = start + timeout
        want = {name: frozenset(values) for name, values in expected.items()}
        pairs = [_Pair(name, srv) for name in want for srv in servers.get(name, ())]
        total = len(pairs)
        self._progress(
            f"Waiting up to {timeout:.0f} s for {len(want)} TXT record(s) to be served by "
            f"{len({p.server for p in pairs})} authoritative nameserver address(es)"
        )
        last_report, last_ok = start, -1
        with ThreadPoolExecutor(max_workers=self._workers) as pool:
            while True:
                todo = [p for p in pairs if not p.satisfied]
                answers = pool.map(
                    lambda p: self._query(p.name, "TXT", p.server, False, self._query_timeout), todo
                )
                for pair, answer in zip(todo, answers):
                    if answer is not None:
                        pair.answered, pair.got = True, answer.values
                        pair.satisfied = want[pair.name] <= answer.values
                now = self._clock()
                verified, pending, unreachable = self._classify(want, pairs)
                ok = sum(p.satisfied for p in pairs)
                if ok != last_ok and (now - last_report >= 10 or not pending):
                    self._progress(f"{ok}/{total} nameserver answers carry the new TXT values")
                    last_report, last_ok = now, ok
                past_grace = now - start >= min(self._grace, timeout)
                if not pending and (not unreachable or past_grace):
                    return self._finish(start, deadline, verified, unreachable)
                if now >= deadline:
                    if pending:
                        raise PropagationTimeout(self._timeout_message(timeout, pairs, pending))
                    return self._finish(start, deadline, verified, unreachable)
                self._sleep(max(0.0, min(self._interval, deadline - now)))

    @staticmethod
    def _classify(
        want: Mapping[str, frozenset[str]], pairs: Sequence[_Pair]
    ) -> tuple[list[str], list[str], list[str]]:
        verified, pending, unreachable = [], [], []
        for name in want:
            mine = [p for p in pairs if p.name == name and p.answered]
            if not mine:
                unreachable.append(name)
            elif all(p.satisfied for p in mine):
                verified.append(name)
            else:
                pending.append(name)
        return verified, pending, unreachable

    def _finish(
        self, start: float, deadline: float, verified: list[str], unreachable: list[str]
    ) -> WaitResult:
        if unreachable:
            logger.warning(
                "No authoritative nameserver of %s answered DNS queries from this host "
                "(outbound DNS blocked?); cannot verify propagation, sleeping until the "
                "%.0f s limit instead. --dns-gandi-nameservers can name servers this host can reach.",
                ", ".join(unreachable), deadline - start,
            )
            self._sleep(max(0.0, deadline - self._clock()))
        return WaitResult(self._clock() - start, tuple(verified), tuple(unreachable))

    @staticmethod
    def _timeout_message(timeout: float, pairs: Sequence[_Pair], pending: list[str]) -> str:
        lines = []
        for name in pending:
            bad = [p.server for p in pairs if p.name == name and p.answered and not p.satisfied]
            lines.append(f"{name} (not yet served by {_fmt(bad)})")
        return (
            f"DNS propagation not verified within {timeout:.0f} s: {'; '.join(lines)}. "
            "Check that the domain is delegated to its Gandi LiveDNS nameservers "
            "(`certbot-dns-gandi-pat doctor` compares them), or raise "
            "--dns-gandi-propagation-seconds if Gandi is slow today."
        )


def _fmt(servers: Iterable[Server]) -> str:
    return ", ".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" if p != 53 else h for h, p in servers)
