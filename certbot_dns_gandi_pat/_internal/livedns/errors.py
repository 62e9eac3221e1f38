"""What went wrong with LiveDNS, and what to do about it.

Rules (tests/unit/test_livedns.py):

* Every error carries a headline naming the operation, the HTTP status and
  Gandi's own message (redacted), and advice that names the file to fix or
  the command to run.
* ``refused`` is true only for a definite refusal (a 4xx other than 408/429,
  with no earlier attempt of the same write in doubt): only then was nothing
  written.
* A 404 means "absent" only with Gandi's own not-found object; any other 404
  (a gateway's, a proxy's) is an unreadable answer.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from certbot_dns_gandi_pat._internal.config import GandiConfig
from certbot_dns_gandi_pat._internal.errors import GandiPatError
from certbot_dns_gandi_pat._internal.livedns import transport

# The "object" of Gandi's 404 bodies: a missing rrset, a missing or invisible zone.
NOT_FOUND_OBJECTS = ("dns-record", "HTTPNotFound", "LocalizedHTTPNotFound")


class LiveDNSError(GandiPatError):
    """A LiveDNS operation failed: a headline (what failed) and advice (what to do)."""

    def __init__(self, headline: str, status: Optional[int] = None, advice: str = "") -> None:
        super().__init__(headline, advice)
        self.status = status
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


class NotFound(LiveDNSError):
    """Gandi's own not-found answer: the rrset or zone does not exist (for this credential)."""
    pass


class Conflict(LiveDNSError):
    """HTTP 409: the rrset already exists."""
    pass


def from_answer(answer: transport.Answer, what: str, config: GandiConfig, shown: Callable[..., str]) -> LiveDNSError:
    """The error for an answer with an unexpected status: what failed, in words, and what to do."""
    status = answer.status
    said = shown(gandi_message(answer))
    trace = shown(answer.headers.get("Trace-Id", ""), limit=40)
    detail = f"HTTP {status}" + (f" ({said})" if said else "") + (f" [trace id {trace}]" if trace else "")
    source, key = config.source, config.credential_key
    if status == 401:
        if config.is_pat:
            return AuthError(
                f"{what}: {detail}: Gandi rejected the Personal Access Token in {source}.",
                status, advice="It has most likely expired (tokens last at most one year), or was "
                f"revoked or mistyped: create a new one and run `certbot-dns-gandi-pat rotate --credentials "
                f"{source}` (docs/troubleshooting.md: Token rejected).")
        return AuthError(
            f"{what}: {detail}: Gandi rejected the legacy API key in {source}.", status,
            advice="Gandi no longer issues API keys: create a Personal Access Token and run "
            f"`certbot-dns-gandi-pat rotate --credentials {source}`, which replaces the {key} line "
            "(docs/troubleshooting.md: Token rejected).")
    if status == 403:
        org = "dns_gandi_sharing_id must name the domain's organization; " if config.sharing_id else ""
        return ForbiddenError(
            f"{what}: {detail}: the credential in {source} is not allowed to do this.", status,
            advice="It needs \"Manage domain name technical configurations\" on this domain, in "
            f"its organization; {org}`certbot-dns-gandi-pat doctor` shows which is missing "
            "(docs/troubleshooting.md: Permission denied).")
    if status == 404:
        # Absence is concluded only from Gandi's own not-found body: a proxy's
        # or gateway's 404 ({"message": "no Route matched"}) proves nothing.
        body = json_or_none(answer)
        if not isinstance(body, dict) or body.get("object") not in NOT_FOUND_OBJECTS:
            return UnreadableAnswer(
                f"{what}: HTTP 404 without Gandi's JSON error body, so whether the record "
                f"exists is unknown; check dns_gandi_api_url in {source}", status)
        return NotFound(f"{what}: {detail}", status)
    if status == 409:
        return Conflict(f"{what}: {detail}", status)
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


def json_or_none(answer: transport.Answer) -> Any:
    try:
        return answer.json()
    except ValueError:
        return None


def gandi_message(answer: transport.Answer) -> str:
    body = json_or_none(answer)
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
