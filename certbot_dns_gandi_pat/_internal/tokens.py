"""What ``/tokeninfo`` says about a Personal Access Token, and when that matters.

``/tokeninfo`` is undocumented, so its answer is advice, never a reason to
fail: every field is checked for type and plausibility, and an answer that
does not pass is ``unreadable`` rather than an exception (an ``expires_in``
of ``NaN`` or ``1e300`` must not stop a renewal).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Optional

# Tokens last at most a year; anything beyond ten years either way is noise.
_MAX_SECONDS = 3650 * 86400
# certbot renews 30 days before expiry: a 90-day certificate issued today is
# renewed in 60 days, so a token that expires sooner breaks the next renewal.
# Shorter certificate lifetimes only bring that renewal closer.
DEFAULT_WARNING_DAYS = 60


@dataclass(frozen=True)
class TokenInfo:
    """The validated facts; ``problem`` says why there are none."""

    name: Optional[str] = None
    expires_at: Optional[dt.datetime] = None
    scopes: Optional[tuple[str, ...]] = None
    problem: Optional[str] = None

    @property
    def known(self) -> bool:
        return self.problem is None


def unavailable(problem: str) -> TokenInfo:
    return TokenInfo(problem=problem)


class _Unreadable(ValueError):
    pass


def parse(body: Any, now: Optional[dt.datetime] = None) -> TokenInfo:
    """Validate a decoded ``/tokeninfo`` body; odd fields make it unreadable."""
    if not isinstance(body, dict):
        return unavailable("unreadable answer (not a JSON object)")
    now = now or dt.datetime.now(dt.timezone.utc)
    try:
        return TokenInfo(_name(body), _expiry(body, now), _scopes(body))
    except _Unreadable as exc:
        return unavailable(f"unreadable answer ({exc})")


def _name(body: dict[str, Any]) -> Optional[str]:
    name = body.get("pat_name")
    if name is not None and (not isinstance(name, str) or len(name) > 200 or not name.isprintable()):
        raise _Unreadable("pat_name")
    return name or None


def _scopes(body: dict[str, Any]) -> Optional[tuple[str, ...]]:
    scopes = body.get("scope")
    if isinstance(scopes, str):
        scopes = scopes.split()
    if scopes is None:
        return None
    if not isinstance(scopes, list) or not all(isinstance(s, str) and s.isprintable() for s in scopes):
        raise _Unreadable("scope")
    return tuple(scopes)


def _expiry(body: dict[str, Any], now: dt.datetime) -> Optional[dt.datetime]:
    seconds = body.get("expires_in")
    if seconds is not None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise _Unreadable("expires_in")
        # Compared before any conversion: float(10**400) itself overflows.
        if not (isinstance(seconds, int) or math.isfinite(seconds)) or not -_MAX_SECONDS <= seconds <= _MAX_SECONDS:
            raise _Unreadable("expires_in")
        return now + dt.timedelta(seconds=float(seconds))
    stamp = body.get("expires_at", body.get("expire"))
    if stamp is None:
        return None
    if not isinstance(stamp, str) or len(stamp) > 40:
        raise _Unreadable("expires_at")
    try:
        when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        raise _Unreadable("expires_at") from None
    when = when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
    if abs((when - now).total_seconds()) > _MAX_SECONDS:
        raise _Unreadable("expires_at")
    return when


def days_left(info: TokenInfo, now: Optional[dt.datetime] = None) -> Optional[int]:
    """Calendar days (UTC) until the expiry date, so that the count agrees with the date shown."""
    if info.expires_at is None:
        return None
    now = now or dt.datetime.now(dt.timezone.utc)
    utc = dt.timezone.utc
    return max(0, (info.expires_at.astimezone(utc).date() - now.astimezone(utc).date()).days)


def expires_within(info: TokenInfo, days: int, now: Optional[dt.datetime] = None) -> bool:
    now = now or dt.datetime.now(dt.timezone.utc)
    return info.expires_at is not None and info.expires_at - now <= dt.timedelta(days=days)


def expiry_warning(
    info: TokenInfo, days: int, source: str, now: Optional[dt.datetime] = None
) -> Optional[str]:
    """One line when the token expires within ``days``; None otherwise."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if days <= 0 or info.expires_at is None or not expires_within(info, days, now):
        return None
    name = f' "{info.name}"' if info.name else ""
    if info.expires_at <= now:
        return f"The Gandi Personal Access Token{name} in {source} has expired; replace it."
    return (
        f"The Gandi Personal Access Token{name} in {source} expires on {info.expires_at:%Y-%m-%d} "
        f"(in {days_left(info, now)} day(s)), before the next renewal: create a new token "
        "and run `certbot-dns-gandi-pat rotate` (docs/commands.md: rotate)."
    )
