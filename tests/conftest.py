"""Shared fixtures: fake credentials, a LiveDNS stand-in on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from teststack.standin import StandIn  # noqa: E402

# Recognisable fake secrets: a test fails if they ever show up in output.
FAKE_TOKEN = "FAKE-PAT-0000-do-not-leak-7f3a9c"
FAKE_API_KEY = "fakelegacykey0000000000a"  # 24 lowercase alphanumerics, like a real one


@pytest.fixture
def standin() -> Iterator[StandIn]:
    server = StandIn()
    server.add_zone("example.com")
    server.add_zone("example.org")
    server.add_zone("sub.example.com")
    server.add_token(FAKE_TOKEN)
    server.add_token(FAKE_API_KEY, kind="apikey")
    with server:
        yield server
