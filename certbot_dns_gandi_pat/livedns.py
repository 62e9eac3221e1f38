"""Gandi LiveDNS v5 client: the few routes a DNS-01 challenge needs.

Usable without certbot::

    client = LiveDNSClient(config.parse({"dns_gandi_token": "..."}, "inline"))
    zone = client.find_zone("_acme-challenge.www.example.com")
    client.add_txt(zone, relative_name("_acme-challenge.www.example.com", zone), ["v"])

Rules, each one a guarantee the tests check:

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
* Bounds, retries, proxy and netrc rules, and redaction belong to
  ``transport``; the credential is never part of a message or exception.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from typing import Any, Optional, Union
from urllib.parse import quote, urlsplit

import idna

from certbot_dns_gandi_pat import config as cfg
from certbot_dns_gandi_pat import tokens, transport

logger = logging.getLogger(__name__)

__all__ = [
    "AuthError", "ForbiddenError", "LiveDNSClient", "LiveDNSError", "UnreadableAnswer",
    "ZoneNotFoundError", "normalize_name", "quote_txt", "relative_name", "unquote_txt",
]

TTL = 300  # the LiveDNS minimum: challenge records should vanish from caches quickly
PER_PAGE = 100
MAX_PAGES = 50
TOKENINFO_SECONDS = 5.0


# The "object" of Gandi's 404 bodies: a missing rrset, a missing or invisible zone.
NOT_FOUND_OBJECTS = ("dns-record", "HTTPNotFound", "LocalizedHTTPNotFound")


class LiveDNSError(Exception):
    """A LiveDNS operation failed: a headline (what failed) and advice (what to do)."""

    def __init__(self, headline: str, status: Optional[int] = None, advice: str = "") -> None:
        super().__init__(headline + (f"\n{advice}" if advice else ""))
        self.headline, self.advice, self.status = headline, advice, status
        self.maybe_applied = False  # an earlier request of the same write may have landed

    @property
    def refused(self) -> bool:
        """Gandi answered with a definite refusal: the write was not applied."""
        return (not self.maybe_applied and self.status is not None and 400 <= self.status < 500
                and self.status not in (408, 429))


class AuthError(LiveDNSError):
    """HTTP 401: the credential was rejected."""


class ForbiddenError(LiveDNSError):
    """HTTP 403: the credential lacks a permission or the resource is out of its reach."""


class ZoneNotFoundError(LiveDNSError):
    """No LiveDNS domain of this organization contains the name."""


class UnreadableAnswer(LiveDNSError):
    """An answer whose body is not what the route returns: nothing can be concluded."""

    @property
    def refused(self) -> bool:
        return False


class _NotFound(LiveDNSError):
    pass


class _Conflict(LiveDNSError):
    pass


_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


def normalize_name(name: str) -> str:
    """Lower-case, drop a trailing dot, convert internationalized labels (IDNA 2008, UTS 46)."""
    text = name.strip().rstrip(".")
    try:
        # Per label: `_acme-challenge` is no IDNA label, and `straße` must stay
        # `xn--strae-oqa` rather than become `strasse` as IDNA 2003 would have it.
        labels = [label.lower() if label.isascii() else idna.encode(label, uts46=True).decode("ascii")
                  for label in text.split(".")]
    except (idna.IDNAError, UnicodeError) as exc:
        raise LiveDNSError(f"{name!r} is not a valid domain name: {exc}") from None
    ascii_name = ".".join(labels)
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


class LiveDNSClient:
    """A thread-safe client for one set of credentials and one run."""

    def __init__(
        self,
        config: cfg.GandiConfig,
        *,
        pool_size: int = 4,
        user_agent: str = "certbot-dns-gandi-pat",
        **bounds: Any,
    ) -> None:
        """``bounds`` go to :class:`transport.Transport` (tests shorten them)."""
        self._config = config
        secret = config.secret.reveal()
        api_host = urlsplit(config.api_url).hostname or ""
        info_host = urlsplit(config.tokeninfo_url).hostname or ""
        self._http = transport.Transport(
            config.auth_header, loopback=cfg.is_loopback(api_host), user_agent=user_agent,
            pool_size=pool_size, secrets=(secret,), **bounds)
        # /tokeninfo is advice: one short attempt, and its failures never stop
        # the LiveDNS requests.
        self._info_http = transport.Transport(
            config.auth_header, loopback=cfg.is_loopback(info_host), user_agent=user_agent,
            retries=False, attempt_seconds=min(TOKENINFO_SECONDS, bounds.get("attempt_seconds", 99.0)),
            secrets=(secret,))
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
        for candidate in _zone_candidates(fqdn):
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
            "list it (README: Troubleshooting).",
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
        except _NotFound:
            raise self._zone_missing(f"Gandi LiveDNS has no zone {zone} for this credential.") from None
        body = _json_or_none(answer)
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
            except (ForbiddenError, _NotFound) as exc:
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
        what = f"reading TXT {_display(name, zone)}"
        try:
            answer = self._call("GET", self._rrset_path(zone, name), what=what)
        except _NotFound:
            return None
        return self._rrset_values(answer, what)

    def add_txt(self, zone: str, name: str, values: Sequence[str]) -> None:
        """Add values to the TXT rrset atomically; values already there are kept once."""
        path, where = self._rrset_path(zone, name), _display(name, zone)
        quoted = [quote_txt(v) for v in values]
        conflicted = False
        try:
            for _ in range(3):
                try:
                    self._call("POST", path, json={"rrset_values": quoted, "rrset_ttl": TTL},
                               ok=(200, 201), what=f"creating TXT {where}")
                    return
                except _Conflict:
                    conflicted = True  # the rrset exists: merge into it on the server
                what = f"adding to TXT {where}"
                try:
                    # No TTL here: the rrset may be someone else's and keeps its own.
                    answer = self._call("PATCH", path, json={"add_rrset_values": quoted},
                                        ok=(200, 201, 204), what=what)
                except _NotFound:
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
        path, where = self._rrset_path(zone, name), _display(name, zone)
        what = f"removing from TXT {where}"
        try:
            answer = self._call("PATCH", path, json={"remove_rrset_values": [quote_txt(v) for v in values]},
                                ok=(200, 201, 204), what=what)
        except _NotFound:
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
        except _NotFound:
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
        raise self._error(answer, what)

    def _error(self, answer: transport.Answer, what: str) -> LiveDNSError:
        status = answer.status
        said = self._http.shown(_gandi_message(answer))
        trace = self._http.shown(answer.headers.get("Trace-Id", ""), limit=40)
        detail = f"HTTP {status}" + (f" ({said})" if said else "") + (f" [trace id {trace}]" if trace else "")
        source, key = self._config.source, self._config.credential_key
        if status == 401:
            if self._config.is_pat:
                return AuthError(
                    f"{what}: {detail}: Gandi rejected the Personal Access Token in {source}.",
                    status, advice="It has most likely expired (tokens last at most one year), or was "
                    f"revoked or mistyped: create a new one and run `certbot-dns-gandi-pat rotate --credentials "
                    f"{source}` (README: Token rejected).")
            return AuthError(
                f"{what}: {detail}: Gandi rejected the legacy API key in {source}.", status,
                advice="Gandi no longer issues API keys: create a Personal Access Token and run "
                f"`certbot-dns-gandi-pat rotate --credentials {source}`, which replaces the {key} line "
                "(README: Token rejected).")
        if status == 403:
            org = "dns_gandi_sharing_id must name the domain's organization; " if self._config.sharing_id else ""
            return ForbiddenError(
                f"{what}: {detail}: the credential in {source} is not allowed to do this.", status,
                advice="It needs \"Manage domain name technical configurations\" on this domain, in "
                f"its organization; {org}`certbot-dns-gandi-pat doctor` shows which is missing "
                "(README: Permission denied).")
        if status == 404:
            # Absence is concluded only from Gandi's own not-found body: a proxy's
            # or gateway's 404 ({"message": "no Route matched"}) proves nothing.
            body = _json_or_none(answer)
            if not isinstance(body, dict) or body.get("object") not in NOT_FOUND_OBJECTS:
                return UnreadableAnswer(
                    f"{what}: HTTP 404 without Gandi's JSON error body, so whether the record "
                    f"exists is unknown; check dns_gandi_api_url in {source}", status)
            return _NotFound(f"{what}: {detail}", status)
        if status == 409:
            return _Conflict(f"{what}: {detail}", status)
        if status == 429:
            return LiveDNSError(f"{what}: {detail}, still after retries.", status,
                                advice="Gandi LiveDNS is rate-limiting this host (1000 requests a minute "
                                "per IP address; other clients on it count too); try again later.")
        if status in transport.RETRY_STATUSES:
            return LiveDNSError(f"{what}: {detail}, still after retries.", status,
                                advice="Gandi LiveDNS is overloaded or failing; try again later.")
        if 300 <= status < 400:
            return LiveDNSError(f"{what}: unexpected redirect (HTTP {status})", status,
                                advice=f"Check dns_gandi_api_url in {source}.")
        return LiveDNSError(f"{what}: {detail}", status)

    def _json(self, answer: transport.Answer, kind: type, what: str) -> Any:
        body = _json_or_none(answer)
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
        body = _json_or_none(answer)
        if not isinstance(body, dict):
            return None
        values = body.get("rrset_values")
        kind = body.get("rrset_type", "TXT")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values) or kind != "TXT":
            return None
        return [unquote_txt(v) for v in values]


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


def _json_or_none(answer: transport.Answer) -> Any:
    try:
        return answer.json()
    except ValueError:
        return None


def _gandi_message(answer: transport.Answer) -> str:
    body = _json_or_none(answer)
    if body is None:
        return answer.text
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
