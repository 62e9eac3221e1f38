"""One Pebble + challtestsrv + LiveDNS stand-in stack for the whole e2e session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import FAKE_API_KEY, FAKE_TOKEN
from teststack.stack import Stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(workdir=str(tmp_path_factory.mktemp("stack"))) as running:
        yield running


@pytest.fixture
def live(stack: Stack, tmp_path: Path) -> Iterator[Stack]:
    """The stack with a fresh LiveDNS state: zones example.com/.org/.net, two credentials."""
    s = stack.standin
    s.reset("example.com", "example.org", "example.net")
    s.add_token(FAKE_TOKEN)
    s.add_token(FAKE_API_KEY, kind="apikey")
    yield stack
    # Nothing of ours may ever be left behind, whatever the test did.
    assert s.challenge_records() == {} or all(
        v == ["pre-existing"] for v in s.challenge_records().values()), s.challenge_records()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
