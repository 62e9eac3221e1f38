"""Redaction: secrets and Authorization-shaped values masked, before any cut, in printable text."""

from __future__ import annotations

import pytest

from certbot_dns_gandi_pat._internal import redact
from tests.helpers import FAKE_TOKEN


def test_every_secret_and_any_authorization_value_is_masked() -> None:
    assert redact.redact(f"x {FAKE_TOKEN} y Apikey abc; Bearer  def", FAKE_TOKEN) == "x *** y Apikey ***; Bearer  ***"
    assert redact.redact("no secret here", "") == "no secret here"


@pytest.mark.parametrize("offset", [-6, -3, -1])
def test_a_bare_token_across_the_cut_leaves_no_prefix(offset: int) -> None:
    """Redacting after the cut would leave the token's first characters before the "…"."""
    text = "m" * (redact.MAX_SHOWN + offset) + FAKE_TOKEN + " and more"
    cut = redact.shown(text, FAKE_TOKEN)
    assert len(cut) == redact.MAX_SHOWN and cut.endswith("…")
    assert all(FAKE_TOKEN[:n] not in cut for n in range(3, len(FAKE_TOKEN))), cut


def test_shown_masks_authorization_values_and_control_characters() -> None:
    text = redact.shown("Authorization: Bearer abc.def-123\x1b[31m red\nline", limit=60)
    assert text == "Authorization: Bearer *** red line"
    assert redact.shown("a" * 300).endswith("…") and len(redact.shown("a" * 300)) == 200


def test_what_is_shown_can_always_be_printed() -> None:
    shown = redact.shown('bad \ud800 request \x1b[31m')
    shown.encode("utf-8")  # a lone surrogate would raise here, and in print()
    assert shown.startswith("bad ") and "request" in shown and "\x1b" not in shown
