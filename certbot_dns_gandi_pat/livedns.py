"""Gandi LiveDNS v5 client: the few routes a DNS-01 challenge needs.

Usable without certbot::

    client = LiveDNSClient(config.parse({"dns_gandi_token": "..."}, "inline"))
    zone = client.find_zone("_acme-challenge.www.example.com")
    client.add_txt(zone, relative_name("_acme-challenge.www.example.com", zone), ["v"])

Design rules, each one a guarantee the tests check:

* TXT values are only ever added and removed with server-side operations
  (POST to create, PATCH ``add_rrset_values``/``remove_rrset_values``), never by
  reading the rrset and writing back a merged list, so a value that another
  client puts at the same name cannot be lost to a race.
* Every write is idempotent, so urllib3 may retry any of them: a POST whose
  answer was lost is retried into a 409 and finished with a no-op PATCH.
* Every request has connect and read timeouts and a bounded retry budget.
* The credential is never part of a message, log line or exception.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from typing import Any, Optional, Union
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from certbot_dns_gandi_pat import config as cfg
from certbot_dns_gandi_pat import tokens

logger = logging.getLogger(__name__)

__all__ = [
    "AuthError", "ForbiddenError", "LiveDNSClient", "LiveDNSError", "ZoneNotFoundError",
    "normalize_name", "quote_txt", "relative_name", "unquote_txt",
]

TTL = 300  # the LiveDNS minimum: challenge records should vanish from caches quickly
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0  # LiveDNS answers in well under a second when healthy
MAX_RETRY_AFTER = 10.0  # never let a server park a cron run for an hour
PER_PAGE = 100
MAX_PAGES = 50
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

# Worst cases for one request with these defaults (the README's guarantees):
# a server that accepts and never answers: 3 reads x 15 s + 1 s backoff = 46 s;
# persistent 429 with a long Retry-After: 4 x 10 s = 40 s; persistent 5xx: 5
# tries + 7 s backoff; unreachable: 4 connects x 5 s + 7 s backoff = 27 s. Once a
# request has failed like that, the client stops sending more (see _broken).


def default_retry() -> Retry:
    """The retry policy: transient faults only, bounded, honouring Retry-After."""
    return _CappedRetry(
        total=4,
        connect=3,
        read=2,
        status=4,
        other=0,
        backoff_factor=0.5,
        status_forcelist=RETRY_STATUSES,
        # All our writes are idempotent by construction (see module docstring).
        allowed_methods=frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"}),
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )


class _CappedRetry(Retry):
    def get_retry_after(self, response: Any) -> Optional[float]:
        value = super().get_retry_after(response)
        return None if value is None else min(value, MAX_RETRY_AFTER)


class LiveDNSError(Exception):
    """A LiveDNS operation failed; the message says what to do about it."""

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status


class AuthError(LiveDNSError):
    """HTTP 401: the credential was rejected."""


class ForbiddenError(LiveDNSError):
    """HTTP 403: the credential lacks a permission or the resource is out of its reach."""


class ZoneNotFoundError(LiveDNSError):
    """No LiveDNS domain of this organization contains the name."""


class _NotFound(LiveDNSError):
    pass


class _Conflict(LiveDNSError):
    pass


_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


def normalize_name(name: str) -> str:
    """Lower-case, drop a trailing dot, convert an internationalized name to IDNA."""
    text = name.strip().rstrip(".")
    try:
        ascii_name = text.encode("idna").decode("ascii") if not text.isascii() else text.lower()
    except UnicodeError as exc:
        raise LiveDNSError(f"{name!r} is not a valid domain name: {exc}") from None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or any(not _LABEL.fullmatch(label) for label in labels):
        raise LiveDNSError(
            f"{name!r} is not a valid domain name (at most 253 characters; labels of 1 to "
            "63 letters, digits, hyphens or underscores)"
        )
    return ascii_name


def relative_name(fqdn: str, zone: str) -> str:
    """The rrset name LiveDNS expects: relative to the zone, ``@`` for the apex."""
    fqdn, zone = normalize_name(fqdn), normalize_name(zone)
    if fqdn == zone:
        return "@"
    if not fqdn.endswith("." + zone):
        raise ValueError(f"{fqdn} is not inside zone {zone}")
    return fqdn[: -len(zone) - 1]


def quote_txt(value: str) -> str:
    """LiveDNS stores TXT data in zone-file syntax: one quoted string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unquote_txt(value: str) -> str:
    """Undo zone-file quoting; several quoted strings are concatenated, as DNS does."""
    text = value.strip()
    if not text.startswith('"'):
        return text
    out: list[str] = []
    i, inside = 0, False
    while i < len(text):
        char = text[i]
        if char == '"':
            inside = not inside
        elif inside and char == "\\" and i + 1 < len(text):
            i += 1
            out.append(text[i])
        elif inside or not char.isspace():
            out.append(char)
        i += 1
    return "".join(out)


_TRANSPORT_REASONS = (
    ("ConnectTimeout", "could not connect within the time limit"),
    ("ReadTimeout", "the server did not answer within the time limit"),
    ("Read timed out", "the server did not answer within the time limit"),
    ("Connection refused", "connection refused"),
    ("Name or service not known", "the host name could not be resolved"),
    ("Temporary failure in name resolution", "the host name could not be resolved"),
    ("NameResolutionError", "the host name could not be resolved"),
    ("CERTIFICATE_VERIFY_FAILED", "the server's TLS certificate is not trusted"),
    ("reset by peer", "the connection was reset"),
    ("RemoteDisconnected", "the server closed the connection without answering"),
    ("IncompleteRead", "the answer was cut off"),
    ("ProtocolError", "the connection broke"),
    ("timed out", "timed out"),
)


def _transport_reason(exc: BaseException) -> str:
    text = f"{type(exc).__name__} {exc}"
    for needle, reason in _TRANSPORT_REASONS:
        if needle in text:
            return reason
    return f"network error ({type(exc).__name__})"


class LiveDNSClient:
    """A thread-safe client for one set of credentials and one run."""

    def __init__(
        self,
        config: cfg.GandiConfig,
        *,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
        retry: Optional[Retry] = None,
        pool_size: int = 4,
        user_agent: str = "certbot-dns-gandi-pat",
    ) -> None:
        self._config = config
        self._timeout = timeout
        self._session = requests.Session()
        adapter = HTTPAdapter(
            max_retries=retry if retry is not None else default_retry(),
            pool_connections=2,
            pool_maxsize=max(pool_size, 1),
        )
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers["User-Agent"] = user_agent
        self._lock = threading.Lock()
        self._domains: Union[frozenset[str], bool, None] = False  # False: not asked yet
        self._zones: dict[str, str] = {}
        self._counter_lock = threading.Lock()
        self.requests_sent = 0
        # Learnt on the first emptied rrset: does LiveDNS drop it by itself?
        self._empty_rrset_vanishes: Optional[bool] = None
        self._learn_lock = threading.Lock()
        # Set when a request failed even after retries: LiveDNS is down or
        # unreachable, and every further request would only wait out the same
        # timeouts. Cleanup clears it once to get one more chance.
        self._broken: Optional[str] = None

    @property
    def config(self) -> cfg.GandiConfig:
        return self._config

    def close(self) -> None:
        self._session.close()

    def reset_breaker(self) -> None:
        """Allow requests again after a failure that stopped them."""
        self._broken = None

    # ----------------------------------------------------------------- zones

    def find_zone(self, name: str) -> str:
        """The longest LiveDNS domain that contains ``name`` (cached for the run)."""
        fqdn = normalize_name(name)
        with self._lock:
            if fqdn not in self._zones:
                self._zones[fqdn] = self._find_zone(fqdn)
            return self._zones[fqdn]

    def _find_zone(self, fqdn: str) -> str:
        domains = self._domain_list()
        if domains:
            matches = [d for d in domains if fqdn == d or fqdn.endswith("." + d)]
            if matches:
                return max(matches, key=len)
        # The listing may be refused, or may not show every domain the token can
        # reach; asking for each candidate, longest first, settles it.
        forbidden: Optional[ForbiddenError] = None
        for candidate in _zone_candidates(fqdn):
            if domains and candidate in domains:
                return candidate
            try:
                self._call("GET", f"/domains/{quote(candidate)}", what=f"looking up zone {candidate}")
                return candidate
            except _NotFound:
                continue
            except ForbiddenError as exc:
                forbidden = forbidden or exc
        if forbidden is not None:
            raise forbidden
        raise ZoneNotFoundError(
            f"No Gandi LiveDNS zone contains {fqdn}. The domain must belong to the "
            f"organization of the credential in {self._config.source}"
            + (f" (sharing id {self._config.sharing_id})" if self._config.sharing_id else "")
            + " and use Gandi LiveDNS nameservers; if the token is restricted to selected "
            "domains, add this one to its resources."
        )

    def _domain_list(self) -> Optional[frozenset[str]]:
        if self._domains is False:
            try:
                self._domains = self.list_domains()
            except (ForbiddenError, _NotFound) as exc:
                logger.debug("Domain listing unavailable (%s); looking zones up one by one", exc)
                self._domains = None
        return self._domains if isinstance(self._domains, frozenset) else None

    def list_domains(self) -> frozenset[str]:
        """Every LiveDNS domain visible to the credential (paginated)."""
        found: set[str] = set()
        for page in range(1, MAX_PAGES + 1):
            resp = self._call(
                "GET", "/domains", params={"per_page": str(PER_PAGE), "page": str(page)},
                what="listing the LiveDNS domains",
            )
            items = _json(resp, list, "the domain listing")
            found.update(
                str(item["fqdn"]).lower() for item in items
                if isinstance(item, dict) and isinstance(item.get("fqdn"), str)
            )
            total = resp.headers.get("Total-Count", "")
            if len(items) < PER_PAGE or (total.isdigit() and int(total) <= page * PER_PAGE):
                break
        else:
            logger.warning("Stopped listing LiveDNS domains after %d pages", MAX_PAGES)
        return frozenset(found)

    def nameservers(self, zone: str) -> list[str]:
        """The nameservers LiveDNS says the zone uses."""
        resp = self._call("GET", f"/domains/{quote(zone)}/nameservers",
                          what=f"reading the nameservers of {zone}")
        return [str(ns).rstrip(".").lower() for ns in _json(resp, list, "the nameserver list")]

    # --------------------------------------------------------------- records

    def txt_values(self, zone: str, name: str) -> Optional[list[str]]:
        """Unquoted values of the TXT rrset, or None when it does not exist."""
        try:
            resp = self._call("GET", self._rrset_path(zone, name),
                              what=f"reading TXT {_display(name, zone)}")
        except _NotFound:
            return None
        values = _rrset_values(resp)
        return [] if values is None else values

    def add_txt(self, zone: str, name: str, values: Sequence[str]) -> None:
        """Add values to the TXT rrset atomically; values already there are kept once."""
        path, where = self._rrset_path(zone, name), _display(name, zone)
        quoted = [quote_txt(v) for v in values]
        for _ in range(3):
            try:
                self._call("POST", path, json={"rrset_values": quoted, "rrset_ttl": TTL},
                           ok=(200, 201), what=f"creating TXT {where}")
                return
            except _Conflict:
                pass  # the rrset exists: merge into it on the server
            try:
                # No TTL here: the rrset may be someone else's and keeps its own.
                resp = self._call("PATCH", path, json={"add_rrset_values": quoted},
                                  ok=(200, 201, 204), what=f"adding to TXT {where}")
            except _NotFound:
                continue  # deleted between our POST and PATCH: create it again
            now = _rrset_values(resp)
            missing = set(values) - set(now) if now is not None else set()
            if missing:
                raise LiveDNSError(
                    f"Gandi accepted the update of TXT {where} but its answer lacks "
                    f"{len(missing)} of the values sent; not continuing"
                )
            return
        raise LiveDNSError(f"TXT {where} kept appearing and disappearing; giving up")

    def remove_txt(self, zone: str, name: str, values: Sequence[str]) -> None:
        """Remove exactly these values; other values at the name are never touched."""
        path, where = self._rrset_path(zone, name), _display(name, zone)
        quoted = [quote_txt(v) for v in values]
        try:
            resp = self._call("PATCH", path, json={"remove_rrset_values": quoted},
                              ok=(200, 201, 204), what=f"removing from TXT {where}")
        except _NotFound:
            return  # nothing there, so nothing of ours either
        except LiveDNSError as exc:
            # An API that refuses to empty an rrset with PATCH answers 400; then the
            # rrset may be deleted, but only if it holds nothing but our values.
            if exc.status != 400:
                raise
            current = self.txt_values(zone, name)
            if current is None:
                return
            if not set(current) <= set(values):
                raise
            self._delete(path, where)
            return
        remaining = _rrset_values(resp)
        if remaining:
            self._check_removed(values, remaining, where)
            return
        # Whether LiveDNS drops an rrset whose last value is removed is not
        # documented: look once, and remember the answer for the rest of the run
        # (the lock makes concurrent removals wait for that one look).
        with self._learn_lock:
            if self._empty_rrset_vanishes:
                return  # either other values remain or the API dropped the empty rrset
            if remaining == [] and self._empty_rrset_vanishes is False:
                self._delete(path, where)
                return
            current = self.txt_values(zone, name)
            if current is None:
                self._empty_rrset_vanishes = True
            elif current:
                self._check_removed(values, current, where)
            else:
                self._empty_rrset_vanishes = False
                self._delete(path, where)

    def _check_removed(self, values: Sequence[str], remaining: Sequence[str], where: str) -> None:
        left = set(values) & set(remaining)
        if left:
            raise LiveDNSError(
                f"Gandi answered the removal from TXT {where} but {len(left)} value(s) "
                "are still there"
            )

    def _delete(self, path: str, where: str) -> None:
        # An empty rrset must not stay behind in the zone.
        try:
            self._call("DELETE", path, ok=(200, 204), what=f"deleting empty TXT {where}")
        except _NotFound:
            pass

    # ----------------------------------------------------------------- token

    def token_info(self, timeout: float = 5.0) -> tokens.TokenInfo:
        """Best effort: the PAT's name, expiry and scopes from ``/tokeninfo``."""
        if not self._config.is_pat:
            return tokens.unavailable("legacy API keys have no token information")
        try:
            # Outside the retrying session: this is advice, not worth a delay.
            resp = requests.get(
                self._config.tokeninfo_url,
                headers={"Authorization": self._config.auth_header, "Accept": "application/json",
                         "User-Agent": str(self._session.headers["User-Agent"])},
                timeout=(timeout, timeout), allow_redirects=False,
            )
            self._count()
            if resp.status_code != 200:
                logger.debug("tokeninfo answered HTTP %s", resp.status_code)
                return tokens.unavailable(f"HTTP {resp.status_code}")
            body = resp.json()
        except ValueError:
            return tokens.unavailable("unreadable answer (not JSON)")
        except requests.RequestException as exc:
            logger.debug("tokeninfo unavailable: %s", _transport_reason(exc))
            return tokens.unavailable(_transport_reason(exc))
        info = tokens.parse(body)
        if not info.known:
            logger.debug("tokeninfo: %s", info.problem)
        return info

    # ------------------------------------------------------------------ HTTP

    def _rrset_path(self, zone: str, name: str) -> str:
        return f"/domains/{quote(zone)}/records/{quote(name, safe='@')}/TXT"

    def _count(self) -> None:
        with self._counter_lock:
            self.requests_sent += 1

    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        ok: Iterable[int] = (200,),
        json: Optional[dict[str, Any]] = None,
        params: Optional[dict[str, str]] = None,
    ) -> requests.Response:
        url = self._config.api_url + path
        query = dict(params or {})
        if self._config.sharing_id:
            query["sharing_id"] = self._config.sharing_id
        headers = {"Authorization": self._config.auth_header, "Accept": "application/json"}
        if self._broken:
            raise LiveDNSError(f"{what}: not attempted, because {self._broken}")
        logger.debug("LiveDNS %s %s", method, path)
        failure = ""
        try:
            resp = self._session.request(
                method, url, params=query, json=json, headers=headers,
                timeout=self._timeout, allow_redirects=False,
            )
        except requests.RequestException as exc:
            failure = _transport_reason(exc)
        finally:
            self._count()
        if failure:
            self._broken = f"an earlier request failed ({failure})"
            # Raised outside the handler, so not even __context__ refers to the
            # original: requests' exceptions carry the request, headers included.
            raise LiveDNSError(
                f"{what}: {failure} talking to Gandi LiveDNS at {urlsplit(url).netloc}, "
                "even after retries. Check this host's network access to it, or try again later."
            )
        logger.debug("LiveDNS %s %s -> HTTP %s", method, path, resp.status_code)
        if resp.status_code in tuple(ok):
            return resp
        if resp.status_code in RETRY_STATUSES:
            self._broken = f"an earlier request failed with HTTP {resp.status_code}"
        raise self._error(resp, what)

    def _error(self, resp: requests.Response, what: str) -> LiveDNSError:
        status = resp.status_code
        said = _redact(_gandi_message(resp), self._config.secret.reveal())
        detail = f"HTTP {status}" + (f", Gandi said: {said}" if said else "")
        source, key = self._config.source, self._config.credential_key
        if status == 401:
            if self._config.is_pat:
                advice = (
                    f"The Personal Access Token in {source} was rejected: it has most likely "
                    "expired (Gandi tokens last at most one year and cannot be renewed), or it "
                    "was revoked, or mistyped. " + cfg.PAT_HOWTO + "."
                )
            else:
                advice = (
                    f"The legacy API key in {source} was rejected (revoked or mistyped). "
                    "Gandi no longer issues API keys. " + cfg.PAT_HOWTO + f", and remove {key}."
                )
            return AuthError(f"{what}: {detail}. {advice}", status)
        if status == 403:
            org = (
                f"dns_gandi_sharing_id in {source} must be the organization that owns the domain"
                if self._config.sharing_id
                else f"if your account has several organizations, set dns_gandi_sharing_id in {source}"
            )
            return ForbiddenError(
                f"{what}: {detail}. The credential in {source} is not allowed to do this: it "
                "needs the permission \"Manage domain name technical configurations\", and "
                "the domain must be among its resources (when the token is restricted to "
                f"selected products) and in its organization; {org}. "
                "`certbot-dns-gandi-pat doctor` checks all of this.",
                status,
            )
        if status == 404:
            return _NotFound(f"{what}: {detail}", status)
        if status == 409:
            return _Conflict(f"{what}: {detail}", status)
        if status in RETRY_STATUSES:
            return LiveDNSError(
                f"{what}: {detail}, still after retries. Gandi LiveDNS is overloaded or "
                "failing; try again later.", status
            )
        if 300 <= status < 400:
            return LiveDNSError(
                f"{what}: unexpected redirect (HTTP {status}); check dns_gandi_api_url in {source}",
                status,
            )
        return LiveDNSError(f"{what}: {detail}", status)


def _zone_candidates(fqdn: str) -> list[str]:
    labels = fqdn.split(".")
    # A zone is a registered domain or below it: never a bare TLD, never a name
    # that starts with an underscore label (a challenge name itself).
    return [
        ".".join(labels[i:]) for i in range(len(labels) - 1)
        if not labels[i].startswith("_")
    ]


def _display(name: str, zone: str) -> str:
    return zone if name == "@" else f"{name}.{zone}"


def _json(resp: requests.Response, kind: type, what: str) -> Any:
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, kind):
        raise LiveDNSError(
            f"Gandi LiveDNS sent an unexpected answer for {what} (HTTP {resp.status_code}, "
            f"not a JSON {kind.__name__})", resp.status_code
        )
    return body


def _rrset_values(resp: requests.Response) -> Optional[list[str]]:
    try:
        body = resp.json()
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("rrset_values"), list):
        return [unquote_txt(str(v)) for v in body["rrset_values"]]
    return None


def _gandi_message(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        text = " ".join(resp.text.split())
        return text[:200]
    if not isinstance(body, dict):
        return ""
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        return "; ".join(
            f"{e.get('name', '?')}: {e.get('description', '')}" if isinstance(e, dict) else str(e)
            for e in errors
        )
    parts = [str(body[k]) for k in ("message", "cause") if body.get(k)]
    return " - ".join(dict.fromkeys(parts))


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text

