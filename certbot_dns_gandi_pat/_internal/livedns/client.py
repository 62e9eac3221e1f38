"""Gandi LiveDNS v5 client: the few routes a DNS-01 challenge needs.

Usable without certbot::

    client = connect(config.parse({"dns_gandi_token": "..."}, "inline"))
    zone = client.find_zone("_acme-challenge.www.example.com")
    client.add_txt(zone, relative_name("_acme-challenge.www.example.com", zone), ["v"])

Rules (tests/unit/test_livedns.py, tests/integration/test_records.py):

* TXT values are only ever added and removed with server-side operations
  (POST to create, PATCH ``add_rrset_values``/``remove_rrset_values``), never by
  reading the rrset and writing back a merged list, so a value that another
  client puts at the same name cannot be lost to a race.
* An answer is believed only when it is well formed. An rrset is deleted only
  after a well-formed answer shows that it holds nothing but the values being
  removed; a body that cannot be read (a proxy's HTML page, ``null`` values, a
  list, nothing at all) means "unknown" and is never taken for "empty" or
  "absent". A 404 means "absent" only with Gandi's JSON error body.
* Every write is idempotent, so the transport may retry any of them: a POST
  whose answer was lost is retried into a 409 and finished with a no-op PATCH.
* The client is given its transports: bounds, retries, proxy and netrc rules
  belong to ``transport``, and the client tells its users how long a write
  may take (``write_bound``). The credential is never part of a message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from typing import Any, Optional, Union
from urllib.parse import quote, urlsplit

from certbot_dns_gandi_pat._internal import config as cfg
from certbot_dns_gandi_pat._internal import tokens
from certbot_dns_gandi_pat._internal.livedns import errors, transport
from certbot_dns_gandi_pat._internal.livedns.errors import (
    Conflict,
    ForbiddenError,
    LiveDNSError,
    NotFound,
    UnreadableAnswer,
    ZoneNotFoundError,
    json_or_none,
)
from certbot_dns_gandi_pat._internal.livedns.names import (
    display,
    normalize_name,
    quote_txt,
    unquote_txt,
    zone_candidates,
)

logger = logging.getLogger(__name__)

TTL = 300  # the LiveDNS minimum: challenge records should vanish from caches quickly
PER_PAGE = 100
MAX_PAGES = 50
# /tokeninfo is advice: one short attempt, and its failures never stop the LiveDNS requests.
TOKENINFO_BOUNDS = transport.Bounds(connect=5.0, attempt=5.0, request=5.0, retries=False)


def connect(config: cfg.GandiConfig, *, user_agent: str = "certbot-dns-gandi-pat", pool_size: int = 4,
            bounds: transport.Bounds = transport.DEFAULT_BOUNDS) -> LiveDNSClient:
    """A client for these credentials, with the transports ``transport``'s rules call for."""
    secret = (config.secret.reveal(),)

    def to(url: str, chosen: transport.Bounds, pool: int) -> transport.Transport:
        loopback = cfg.is_loopback(urlsplit(url).hostname or "")
        return transport.Transport(config.auth_header, loopback=loopback, user_agent=user_agent,
                                   bounds=chosen, pool_size=pool, secrets=secret)

    info = transport.Bounds(connect=min(TOKENINFO_BOUNDS.connect, bounds.connect),
                            attempt=min(TOKENINFO_BOUNDS.attempt, bounds.attempt),
                            request=min(TOKENINFO_BOUNDS.request, bounds.request), retries=False)
    return LiveDNSClient(config, to(config.api_url, bounds, pool_size), to(config.tokeninfo_url, info, 1))


class LiveDNSClient:
    """A thread-safe client for one set of credentials and one run."""

    def __init__(self, config: cfg.GandiConfig, http: transport.Transport, info: transport.Transport) -> None:
        """``http`` carries the LiveDNS requests, ``info`` the /tokeninfo one (see :func:`connect`)."""
        self._config = config
        self._http = http
        self._info_http = info
        self._lock = threading.Lock()
        self._domains: Union[frozenset[str], bool, None] = False  # False: not asked yet
        self._zones: dict[str, str] = {}
        self._reachable: set[str] = set()  # zones a request scoped to them has proven
        self._reach_lock = threading.Lock()  # find_zone holds self._lock while it probes
        # Learnt on the first emptied rrset: does LiveDNS drop it by itself?
        self._empty_rrset_vanishes: Optional[bool] = None
        self._learn_lock = threading.Lock()

    @property
    def config(self) -> cfg.GandiConfig:
        return self._config

    @property
    def write_bound(self) -> float:
        """How long after it was sent a write may still be applied: one request's whole bound."""
        return self._http.bounds.request

    @property
    def attempt_bound(self) -> float:
        """How long one attempt may take."""
        return self._http.bounds.attempt

    @property
    def requests_sent(self) -> int:
        return self._http.requests_sent + self._info_http.requests_sent

    def close(self) -> None:
        self._http.close()
        self._info_http.close()

    def reset_breaker(self) -> None:
        """Allow requests again after a failure that stopped them."""
        self._http.reset_breaker()

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
        for candidate in zone_candidates(fqdn):
            if domains and candidate in domains:
                return candidate
            try:
                self.zone_access(candidate)
                return candidate
            except ZoneNotFoundError:
                continue
            except ForbiddenError as exc:
                forbidden = forbidden or exc
        if forbidden is not None:
            raise forbidden
        raise self._zone_missing(f"No Gandi LiveDNS zone contains {fqdn}.")

    def _zone_missing(self, headline: str) -> ZoneNotFoundError:
        org = f" (sharing id {self._config.sharing_id})" if self._config.sharing_id else ""
        return ZoneNotFoundError(
            headline, 404,
            advice=f"The domain must use Gandi LiveDNS and belong to the organization{org} of the "
            f"credential in {self._config.source}; a token restricted to selected domains must "
            "list it (docs/troubleshooting.md).",
        )

    def zone_access(self, zone: str) -> None:
        """Raise unless the credential may use ``zone``: a request scoped to it, not the listing.

        Whether the listing hides the domains a restricted token cannot touch
        is not documented; the zone's own route answers 403 for them.
        """
        with self._reach_lock:
            if zone in self._reachable:
                return
        what = f"looking up zone {zone}"
        try:
            answer = self._call("GET", f"/domains/{quote(zone)}", what=what)
        except NotFound:
            raise self._zone_missing(f"Gandi LiveDNS has no zone {zone} for this credential.") from None
        body = json_or_none(answer)
        # Only the zone's own description proves it: a captive portal answers 200 too.
        if not (isinstance(body, dict) and str(body.get("fqdn", "")).lower() == zone):
            raise self._unreadable(answer, what, "a LiveDNS domain")
        with self._reach_lock:
            self._reachable.add(zone)

    def check_access(self) -> None:
        """Raise when LiveDNS rejects the credential or cannot be reached (the listing is kept)."""
        self._domain_list()

    def _domain_list(self) -> Optional[frozenset[str]]:
        if self._domains is False:
            try:
                self._domains = self.list_domains()
            except (ForbiddenError, NotFound) as exc:
                logger.debug("Domain listing unavailable (%s); looking zones up one by one", exc.headline)
                self._domains = None
        return self._domains if isinstance(self._domains, frozenset) else None

    def list_domains(self) -> frozenset[str]:
        """Every LiveDNS domain visible to the credential (paginated)."""
        found: set[str] = set()
        for page in range(1, MAX_PAGES + 1):
            answer = self._call("GET", "/domains", params={"per_page": str(PER_PAGE), "page": str(page)},
                                what="listing the LiveDNS domains")
            items = self._json(answer, list, "the domain listing")
            found.update(
                str(item["fqdn"]).lower() for item in items
                if isinstance(item, dict) and isinstance(item.get("fqdn"), str)
            )
            total = answer.headers.get("Total-Count", "")
            if len(items) < PER_PAGE or (transport.digits(total) and int(total) <= page * PER_PAGE):
                break
        else:
            logger.warning("Stopped listing LiveDNS domains after %d pages", MAX_PAGES)
        return frozenset(found)

    def nameservers(self, zone: str) -> list[str]:
        """The nameservers LiveDNS says the zone uses."""
        answer = self._call("GET", f"/domains/{quote(zone)}/nameservers",
                            what=f"reading the nameservers of {zone}")
        names = self._json(answer, list, "the nameserver list")
        return [str(ns).rstrip(".").lower() for ns in names if isinstance(ns, str)]

    # --------------------------------------------------------------- records

    def txt_values(self, zone: str, name: str) -> Optional[list[str]]:
        """Unquoted values of the TXT rrset; None only when Gandi says it does not exist."""
        what = f"reading TXT {display(name, zone)}"
        try:
            answer = self._call("GET", self._rrset_path(zone, name), what=what)
        except NotFound:
            return None
        return self._rrset_values(answer, what)

    def add_txt(self, zone: str, name: str, values: Sequence[str]) -> None:
        """Add values to the TXT rrset atomically; values already there are kept once."""
        path, where = self._rrset_path(zone, name), display(name, zone)
        quoted = [quote_txt(v) for v in values]
        conflicted = False
        try:
            for _ in range(3):
                try:
                    self._call("POST", path, json={"rrset_values": quoted, "rrset_ttl": TTL},
                               ok=(200, 201), what=f"creating TXT {where}")
                    return
                except Conflict:
                    conflicted = True  # the rrset exists: merge into it on the server
                what = f"adding to TXT {where}"
                try:
                    # No TTL here: the rrset may be someone else's and keeps its own.
                    answer = self._call("PATCH", path, json={"add_rrset_values": quoted},
                                        ok=(200, 201, 204), what=what)
                except NotFound:
                    continue  # deleted between our POST and PATCH: create it again
                now = self._readable_rrset(answer)
                if now is None:
                    now = self.txt_values(zone, name) or []
                missing = set(values) - set(now)
                if missing:
                    raise LiveDNSError(
                        f"{what}: Gandi accepted the update but the rrset lacks {len(missing)} of "
                        "the values sent; not continuing", answer.status)
                return
            raise LiveDNSError(f"TXT {where} kept appearing and disappearing; giving up")
        except LiveDNSError as exc:
            if not (conflicted and exc.refused):
                raise
            # The 409 may have answered our own POST, sent again after its first
            # answer was lost: then our values are there and the write is done;
            # otherwise nothing proves they will not be, so it is no refusal.
            current = self.txt_values(zone, name)
            if current is not None and set(values) <= set(current):
                return
            exc.maybe_applied = True
            raise

    def remove_txt(self, zone: str, name: str, values: Sequence[str]) -> bool:
        """Remove exactly these values; other values at the name are never touched.

        True when the values are confirmed gone, False when Gandi says the rrset
        does not exist (nothing of ours is there, at least not yet).
        """
        path, where = self._rrset_path(zone, name), display(name, zone)
        what = f"removing from TXT {where}"
        try:
            answer = self._call("PATCH", path, json={"remove_rrset_values": [quote_txt(v) for v in values]},
                                ok=(200, 201, 204), what=what)
        except NotFound:
            return False
        except LiveDNSError as exc:
            # An API that refuses to empty an rrset with PATCH answers 400; the
            # rrset may then be deleted, but only if it holds nothing else.
            if exc.status != 400:
                raise
            current = self.txt_values(zone, name)
            if current is None:
                return False
            if not set(current) <= set(values):
                raise
            self._delete(path, where)
            return True
        remaining = self._readable_rrset(answer)
        if remaining:
            self._check_removed(values, remaining, what)
            return True
        # The rrset looks empty, or the answer did not say. Whether LiveDNS drops
        # an emptied rrset is not documented: look once and remember it for the
        # run (the lock makes concurrent removals wait for that one look).
        with self._learn_lock:
            if remaining == [] and self._empty_rrset_vanishes:
                return True
            if remaining == [] and self._empty_rrset_vanishes is False:
                self._delete(path, where)
                return True
            current = self.txt_values(zone, name)
            if current is None:
                self._empty_rrset_vanishes = True if remaining == [] else self._empty_rrset_vanishes
            elif current:
                self._check_removed(values, current, what)
            else:
                self._empty_rrset_vanishes = False
                self._delete(path, where)
        return True

    def _check_removed(self, values: Sequence[str], remaining: Sequence[str], what: str) -> None:
        left = set(values) & set(remaining)
        if left:
            raise LiveDNSError(f"{what}: Gandi answered the removal but {len(left)} value(s) are still there")

    def _delete(self, path: str, where: str) -> None:
        # An empty rrset must not stay behind in the zone.
        try:
            self._call("DELETE", path, ok=(200, 204), what=f"deleting empty TXT {where}")
        except NotFound:
            pass

    # ----------------------------------------------------------------- token

    def token_info(self) -> tokens.TokenInfo:
        """Best effort: the PAT's name, expiry and scopes from ``/tokeninfo``; never raises."""
        if not self._config.is_pat:
            return tokens.unavailable("legacy API keys have no token information")
        try:
            answer = self._info_http.request("GET", self._config.tokeninfo_url)
        except transport.TransportError as exc:
            logger.debug("tokeninfo unavailable: %s", exc)
            return tokens.unavailable(str(exc))
        if answer.status != 200:
            logger.debug("tokeninfo answered HTTP %s", answer.status)
            return tokens.unavailable(f"HTTP {answer.status}")
        try:
            info = tokens.parse(answer.json())
        except ValueError:
            info = tokens.unavailable("unreadable answer (not JSON)")
        if not info.known:
            logger.debug("tokeninfo: %s", info.problem)
        return info

    # ------------------------------------------------------------------ HTTP

    def _rrset_path(self, zone: str, name: str) -> str:
        return f"/domains/{quote(zone)}/records/{quote(name, safe='@')}/TXT"

    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        ok: Iterable[int] = (200,),
        json: Optional[dict[str, Any]] = None,
        params: Optional[dict[str, str]] = None,
    ) -> transport.Answer:
        query = dict(params or {})
        if self._config.sharing_id:
            query["sharing_id"] = self._config.sharing_id
        logger.debug("LiveDNS %s %s", method, path)
        failure = ""
        try:
            answer = self._http.request(method, self._config.api_url + path, params=query, json=json)
        except transport.TransportError as exc:
            failure = str(exc)
        if failure:
            # Raised outside the handler: nothing of the original travels with it.
            host = urlsplit(self._config.api_url).netloc
            raise LiveDNSError(f"{what}: {failure} (Gandi LiveDNS at {host})",
                               advice="Check this host's network access to it, or try again later.")
        logger.debug("LiveDNS %s %s -> HTTP %s", method, path, answer.status)
        if answer.status in tuple(ok):
            return answer
        raise errors.from_answer(answer, what, self._config, self._http.shown)

    def _json(self, answer: transport.Answer, kind: type, what: str) -> Any:
        body = json_or_none(answer)
        if not isinstance(body, kind):
            raise UnreadableAnswer(
                f"Gandi LiveDNS sent an unexpected answer for {what} (HTTP {answer.status}, "
                f"not a JSON {kind.__name__})", answer.status)
        return body

    def _rrset_values(self, answer: transport.Answer, what: str) -> list[str]:
        values = self._readable_rrset(answer)
        if values is None:
            raise self._unreadable(answer, what, "a TXT rrset")
        return values

    def _unreadable(self, answer: transport.Answer, what: str, expected: str) -> UnreadableAnswer:
        return UnreadableAnswer(
            f"{what}: HTTP {answer.status} with a body that is not {expected} "
            f"({self._http.shown(answer.text, limit=60) or 'empty'}); nothing was concluded", answer.status)

    @staticmethod
    def _readable_rrset(answer: transport.Answer) -> Optional[list[str]]:
        """The rrset's unquoted values when the body is one; None otherwise."""
        body = json_or_none(answer)
        if not isinstance(body, dict):
            return None
        values = body.get("rrset_values")
        kind = body.get("rrset_type", "TXT")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values) or kind != "TXT":
            return None
        return [unquote_txt(v) for v in values]


