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
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
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

from certbot_dns_gandi_pat._internal.errors import GandiPatError

logger = logging.getLogger(__name__)

Server = tuple[str, int]  # an address and port to query
QueryFn = Callable[[str, str, Server, bool, float], "Optional[Answer]"]

MAX_CNAME_DEPTH = 8


class DNSCheckError(GandiPatError):
    """A DNS check failed; the message says what to do about it."""


class NoAnswer(DNSCheckError):
    """No DNS server answered: whether there is a CNAME is unknown."""


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
    return list(resolve_labeled(hosts))


def resolve_labeled(hosts: Iterable[tuple[str, int]]) -> dict[Server, str]:
    """Every A and AAAA address of the hosts, each with the host name it came from."""
    found: dict[Server, str] = {}
    for host, port in hosts:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        except OSError as exc:
            logger.debug("Cannot resolve nameserver %s: %s", host, exc)
            continue
        for family, _, _, _, sockaddr in infos:
            if family in (socket.AF_INET, socket.AF_INET6):
                found.setdefault((str(sockaddr[0]), port), host)
    return found


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
        timeout: float = 3.0, lenient: bool = False,
    ) -> None:
        # lenient: a run that cannot ask DNS still writes at the name itself
        # (the propagation check then says loudly that nobody answers); the
        # checking commands must instead say they could not check.
        self._servers = list(servers or [])
        self._query = query_fn
        self._timeout = timeout
        self._lenient = lenient

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
            return self._unknown(name, f"none of {_fmt(self._servers)} answered a CNAME query")
        try:
            rrset = dns.resolver.resolve(name, "CNAME", raise_on_no_answer=False, lifetime=self._timeout)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoNameservers):
            return None
        except dns.exception.DNSException as exc:
            return self._unknown(name, f"the system resolver gave no answer ({type(exc).__name__})")
        if rrset.rrset is None:
            return None
        return str(next(iter(rrset.rrset)).target.to_text(omit_final_dot=True)).lower()

    def _unknown(self, name: str, why: str) -> Optional[str]:
        if not self._lenient:
            raise NoAnswer(f"cannot tell whether {name} is delegated by CNAME: {why}")
        logger.warning("Cannot tell whether %s is delegated by CNAME (%s); assuming it is not", name, why)
        return None


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
    unchecked: tuple[str, ...]  # names no nameserver answered for: waited the bound instead


class PropagationWaiter:
    """Poll every authoritative address until each that answers serves every value.

    An address that has not answered (yet) is asked one question at a time, so
    that a silent one (IPv6 without a route, a firewall) costs one worker and
    never holds back the rounds of the addresses that answer. Names whose every
    address stays silent cannot be verified: that is said at once, and the wait
    goes on to the bound, in case they start answering.
    """

    def __init__(
        self,
        *,
        query_fn: QueryFn = query,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        interval: float = 1.0,
        query_timeout: float = 2.0,
        report_every: float = 10.0,
        progress: Callable[[str], None] = logger.info,
        warn: Callable[[str], None] = logger.warning,
        workers: int = 16,
    ) -> None:
        self._query = query_fn
        self._clock = clock
        self._sleep = sleep
        self._interval = interval
        self._query_timeout = query_timeout
        self._report_every = report_every
        self._progress = progress
        self._warn = warn
        self._workers = workers

    def wait(
        self,
        expected: Mapping[str, Iterable[str]],
        servers: Mapping[str, Sequence[Server]],
        timeout: float,
        labels: Optional[Mapping[Server, str]] = None,
    ) -> WaitResult:
        labels = labels or {}
        start = self._clock()
        deadline = start + timeout
        want = {name: frozenset(values) for name, values in expected.items()}
        pairs = [_Pair(name, srv) for name in want for srv in servers.get(name, ())]
        addresses = list(dict.fromkeys(p.server for p in pairs))
        self._progress(
            f"Waiting up to {timeout:.0f} s for {_count(len(want), 'TXT record')} to be served by "
            f"{_fmt_hosts(addresses, labels) or 'their nameservers'}: {_names(list(want))}"
        )
        silent: set[Server] = set()  # asked, and not answered since
        answering: set[Server] = set()
        inflight: dict[Future[Optional[Answer]], _Pair] = {}
        warned: set[str] = set()
        last_report = start
        pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="dns-check")
        try:
            while True:
                tick = self._clock()
                busy = {p.server for p in inflight.values()}
                for pair in pairs:
                    if pair.satisfied or any(p is pair for p in inflight.values()):
                        continue
                    if pair.server not in answering:
                        if pair.server in busy:
                            continue  # one probe at a time to an address that has not answered
                        busy.add(pair.server)
                    inflight[pool.submit(self._ask, pair)] = pair
                done, _ = wait_futures(list(inflight), timeout=self._interval)
                for future in done:
                    pair = inflight.pop(future)
                    answer = future.result()
                    if answer is None:
                        silent.add(pair.server)
                        answering.discard(pair.server)
                        continue
                    silent.discard(pair.server)
                    answering.add(pair.server)
                    pair.answered, pair.got = True, answer.values
                    pair.satisfied = want[pair.name] <= answer.values
                now = self._clock()
                # At the deadline, an address still silent counts as not answering.
                verified, pending, unreachable = self._classify(
                    want, pairs, silent if now < deadline else set(addresses))
                blocked = [n for n in unreachable if n not in warned]
                if blocked:
                    warned.update(blocked)
                    self._warn(self._blocked_message(blocked, pairs, labels, timeout))
                if not pending and not unreachable:
                    self._progress(
                        f"Every nameserver that answers serves the {_count(len(want), 'TXT record')} "
                        f"({now - start:.1f} s)" + self._silent_note(pairs, answering, labels))
                    return WaitResult(now - start, tuple(verified), ())
                if now >= deadline:
                    if pending:
                        raise PropagationTimeout(self._timeout_message(timeout, pairs, pending, labels))
                    self._progress(
                        f"Waited the full {timeout:.0f} s: {_count(len(unreachable), 'TXT record')} not "
                        f"verified, as no nameserver answered ({_names(unreachable)})"
                        + (f"; {_count(len(verified), 'other')} verified" if verified else ""))
                    return WaitResult(now - start, tuple(verified), tuple(unreachable))
                if now - last_report >= self._report_every and (pending or unreachable):
                    last_report = now
                    self._progress(self._lag_message(now - start, timeout, pairs, pending, unreachable, labels))
                self._sleep(max(0.0, min(self._interval - (now - tick), deadline - now)))
        finally:
            pool.shutdown(wait=False)

    def _ask(self, pair: _Pair) -> Optional[Answer]:
        return self._query(pair.name, "TXT", pair.server, False, self._query_timeout)

    @staticmethod
    def _classify(
        want: Mapping[str, frozenset[str]], pairs: Sequence[_Pair], silent: set[Server]
    ) -> tuple[list[str], list[str], list[str]]:
        verified, pending, unreachable = [], [], []
        for name in want:
            mine = [p for p in pairs if p.name == name]
            heard = [p for p in mine if p.answered]
            if heard and all(p.satisfied for p in heard):
                verified.append(name)
            elif heard:
                pending.append(name)
            elif all(p.server in silent for p in mine):
                unreachable.append(name)  # every address asked, none answered (or none known)
            else:
                pending.append(name)  # first answers not in yet
        return verified, pending, unreachable

    @staticmethod
    def _blocked_message(names: list[str], pairs: Sequence[_Pair], labels: Mapping[Server, str],
                         timeout: float) -> str:
        asked = list(dict.fromkeys(p.server for p in pairs if p.name in names))
        which = (f"{_fmt_hosts(asked, labels)} did not answer DNS queries from this host"
                 if asked else "their nameservers' addresses could not be found from this host")
        return (
            f"Cannot verify that {_names(names)} is served: {which}. Waiting the full "
            f"{timeout:.0f} s instead. Allow outbound DNS (port 53, UDP and TCP) to them, or name "
            "servers this host can reach with --dns-gandi-nameservers."
        )

    @staticmethod
    def _silent_note(pairs: Sequence[_Pair], answering: set[Server], labels: Mapping[Server, str]) -> str:
        quiet = [s for s in dict.fromkeys(p.server for p in pairs) if s not in answering]
        return f"; not waited for, as they did not answer: {_fmt_hosts(quiet, labels)}" if quiet else ""

    @staticmethod
    def _lag_message(elapsed: float, timeout: float, pairs: Sequence[_Pair], pending: list[str],
                     unreachable: list[str], labels: Mapping[Server, str]) -> str:
        parts = []
        if pending:
            lagging = list(dict.fromkeys(p.server for p in pairs if p.name in pending and p.answered
                                         and not p.satisfied))
            what = (f"not yet served by {_fmt_hosts(lagging, labels)}" if lagging
                    else "waiting for the nameservers' first answers")
            parts.append(f"{_count(len(pending), 'record')} {what}")
        if unreachable:
            parts.append(f"{_count(len(unreachable), 'record')} cannot be checked, as no nameserver "
                         "answers: waiting the full time")
        return f"Still waiting after {elapsed:.0f} s of at most {timeout:.0f} s: {'; '.join(parts)}"

    @staticmethod
    def _timeout_message(timeout: float, pairs: Sequence[_Pair], pending: list[str],
                         labels: Mapping[Server, str]) -> str:
        lines = []
        for name in pending:
            bad = [p.server for p in pairs if p.name == name and p.answered and not p.satisfied]
            lines.append(f"{name} (not yet served by {_fmt_hosts(bad, labels)})")
        return (
            f"DNS propagation not verified within {timeout:.0f} s: {'; '.join(lines)}. "
            "Check that the domain is delegated to its Gandi LiveDNS nameservers "
            "(`certbot-dns-gandi-pat doctor` compares them), or raise "
            "--dns-gandi-propagation-seconds if Gandi is slow today."
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _names(names: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _fmt_hosts(servers: Sequence[Server], labels: Mapping[Server, str]) -> str:
    parts = []
    for server in servers:
        address = _fmt([server])
        label = labels.get(server)
        parts.append(f"{label} ({address})" if label and label != server[0] else address)
    return ", ".join(parts)


def _fmt(servers: Iterable[Server]) -> str:
    return ", ".join(h if p == 53 else f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in servers)
