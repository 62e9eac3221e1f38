"""The stand-in must answer like the real API did, when a live recording exists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

RECORDING = Path(__file__).resolve().parent.parent / "live" / "recordings" / "livedns.json"


@pytest.mark.skipif(not RECORDING.exists(), reason="no recording from `make live-test` committed yet")
def test_standin_matches_the_recording() -> None:
    from teststack.standin import Modes

    real = json.loads(RECORDING.read_text())
    modes = Modes()
    expected_patch_missing = {404: "404"}.get(real.get("PATCH missing rrset", {}).get("status"), "create")
    assert modes.patch_missing == expected_patch_missing
    after = real.get("rrset after emptying PATCH")
    if after is not None:
        assert (modes.empty_rrset == "delete") == (after == "absent")
    delete_status = real.get("DELETE missing rrset", {}).get("status")
    if delete_status is not None:
        assert modes.delete_missing == str(delete_status)
