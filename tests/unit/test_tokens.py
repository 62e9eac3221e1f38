"""/tokeninfo answers: every field validated, anything odd is 'unreadable', never an exception."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from certbot_dns_gandi_pat._internal import tokens

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def test_a_well_formed_answer() -> None:
    info = tokens.parse({"pat_name": "t", "expires_in": 5 * 86400, "scope": ["domain:tech"]}, NOW)
    assert info == tokens.TokenInfo("t", NOW + dt.timedelta(days=5), ("domain:tech",))
    assert info.known and tokens.days_left(info, NOW) == 5


@pytest.mark.parametrize("body,expected", [
    ({"expires_at": "2026-02-01T00:00:00Z"}, dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)),
    ({"expires_at": "2026-02-01T00:00:00"}, dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)),
    ({"expire": "2026-02-01T00:00:00+00:00"}, dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)),
    ({"expires_in": 0}, NOW), ({}, None), ({"expires_in": None}, None),
])
def test_expiry_forms(body: dict[str, Any], expected: Any) -> None:
    info = tokens.parse(body, NOW)
    assert info.known and info.expires_at == expected


@pytest.mark.parametrize("body", [
    {"expires_in": float("nan")}, {"expires_in": float("inf")}, {"expires_in": -float("inf")},
    {"expires_in": 1e12}, {"expires_in": 1e20}, {"expires_in": -1e300}, {"expires_in": 10**400},
    {"expires_in": True}, {"expires_in": "86400"}, {"expires_in": [1]},
    {"expires_at": "soon"}, {"expires_at": "9999-12-31T00:00:00"}, {"expires_at": 5}, {"expires_at": "x" * 500},
    {"pat_name": 5}, {"pat_name": "a\x00b"}, {"pat_name": "n" * 1000},
    {"scope": 5}, {"scope": [1, 2]}, {"scope": {"a": 1}},
    [], "text", None, 3,
])
def test_odd_answers_are_unreadable_not_errors(body: Any) -> None:
    info = tokens.parse(body, NOW)
    assert not info.known and "unreadable" in str(info.problem)
    assert tokens.expiry_warning(info, 60, "/etc/g.ini", NOW) is None


def test_scope_as_a_string() -> None:
    assert tokens.parse({"scope": "domain:tech domain:view"}, NOW).scopes == ("domain:tech", "domain:view")


def test_days_left_counts_calendar_days_like_the_date_shown() -> None:
    late = dt.datetime(2026, 1, 1, 23, 0, tzinfo=dt.timezone.utc)
    info = tokens.parse({"expires_in": 10 * 86400 - 3600 * 22}, late)  # 2026-01-11 01:00
    assert info.expires_at is not None and f"{info.expires_at:%Y-%m-%d}" == "2026-01-11"
    assert tokens.days_left(info, late) == 10  # 9.08 days, but the date is ten days on
    assert "expires on 2026-01-11 (in 10 day(s))" in (tokens.expiry_warning(info, 60, "f", late) or "")


def test_expiry_warning_window() -> None:
    info = tokens.parse({"pat_name": "renewals", "expires_in": 5 * 86400}, NOW)
    warning = tokens.expiry_warning(info, 60, "/etc/g.ini", NOW)
    assert warning == ('The Gandi Personal Access Token "renewals" in /etc/g.ini expires on 2026-01-06 '
                       "(in 5 day(s)), before the next renewal: create a new token and run "
                       "`certbot-dns-gandi-pat rotate` (docs/commands.md: rotate).")
    assert tokens.expiry_warning(info, 3, "/etc/g.ini", NOW) is None
    assert tokens.expiry_warning(info, 0, "/etc/g.ini", NOW) is None
    far = tokens.parse({"expires_in": 61 * 86400}, NOW)
    assert tokens.expiry_warning(far, tokens.DEFAULT_WARNING_DAYS, "x", NOW) is None
    near = tokens.parse({"expires_in": 59 * 86400}, NOW)
    assert tokens.expiry_warning(near, tokens.DEFAULT_WARNING_DAYS, "x", NOW)
    gone = tokens.parse({"expires_in": -5}, NOW)
    assert "has expired" in str(tokens.expiry_warning(gone, 60, "x", NOW))
    assert tokens.expiry_warning(tokens.unavailable("HTTP 404"), 60, "x", NOW) is None
