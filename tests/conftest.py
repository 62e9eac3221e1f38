"""Shared fixtures: fake credentials, a LiveDNS stand-in on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.helpers import FAKE_API_KEY, FAKE_TOKEN  # noqa: E402
from teststack.standin import StandIn  # noqa: E402


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
