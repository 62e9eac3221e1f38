"""Packaging tests: they install Debian packages, create /opt/certbot and download
certbot from PyPI, so they run only through ``make packaging-test`` (``.ci/packaging``),
as root on Debian, never from a bare ``pytest``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import FAKE_API_KEY, FAKE_TOKEN
from tests.packaging.helpers import ROOT
from teststack.stack import Stack


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = None
    if os.environ.get("PACKAGING_TESTS") != "1":
        reason = "packaging tests change the machine: run them with `make packaging-test`"
    elif os.geteuid() != 0 or not shutil.which("apt-get"):
        reason = "packaging tests need root on Debian/Ubuntu"
    if reason is None:
        return
    for item in items:
        if "tests/packaging" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(workdir=str(tmp_path_factory.mktemp("stack"))) as running:
        yield running


@pytest.fixture
def live(stack: Stack) -> Iterator[Stack]:
    """The stack with fresh LiveDNS state: zone example.com, a token and a legacy key."""
    s = stack.standin
    s.reset("example.com")
    s.add_token(FAKE_TOKEN)
    s.add_token(FAKE_API_KEY, kind="apikey")
    yield stack
    assert s.challenge_records() == {}, f"challenge records left in the zone: {s.challenge_records()}"


@pytest.fixture(scope="session")
def repo() -> Path:
    return ROOT
