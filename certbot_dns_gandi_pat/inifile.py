"""Line-preserving edits of configobj files (renewal configurations, credentials INIs).

Only the lines being changed are rewritten, and in them only the key or the
value: indentation, spacing around ``=``, inline comments, line endings, every
other line and the order of keys stay byte for byte. After an edit the result is
parsed again with configobj and compared with what the edit meant to do, so a
file whose layout this module misreads is refused instead of damaged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from certbot_dns_gandi_pat import config

# key = value [ # comment]: the value ends where whitespace is followed by '#'.
_ENTRY = re.compile(
    r"""^(?P<indent>[ \t]*)(?P<key>"[^"\n]*"|'[^'\n]*'|[^\s=#;\['"][^=\n]*?)(?P<eq>[ \t]*=[ \t]*)"""
    r"""(?P<value>.*?)(?P<tail>(?:[ \t]+#.*)?[ \t]*)$"""
)
_SECTION = re.compile(r"^[ \t]*\[+[ \t]*(?P<name>[^\]]*?)[ \t]*\]+[ \t]*(?:#.*)?$")


# Settings whose values may be shown; any other value of a credentials file may
# be a credential (under a misspelt or old key, too) and is never shown.
SHOWN = frozenset({config.API_URL, config.TOKENINFO_URL, config.SHARING_ID, config.PREFIX + "credentials",
                   config.PREFIX + "propagation_seconds", config.PREFIX + "nameservers",
                   config.PREFIX + "expiry_warning_days"})
_SHORTEST_SECRET = 8  # shorter values ("10", "yes") are settings; masking them would garble output


def secret_values(values: Mapping[str, Any]) -> list[str]:
    """The values of a credentials file that must never be printed."""
    return [v for k, v in values.items() if isinstance(v, str) and len(v.strip()) >= _SHORTEST_SECRET
            and (config.modern_key(k) or k) not in SHOWN]


class EditError(Exception):
    """The file cannot be edited safely; the message names it and says why."""


@dataclass(frozen=True)
class Entry:
    """One ``key = value`` line."""

    index: int  # line number, from 0
    section: Optional[str]  # None above the first [section]
    key: str
    value: str


class Document:
    """A file's lines, with the ``key = value`` entries found in them."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.lines = text.splitlines(keepends=True)
        self.entries: list[Entry] = []
        section: Optional[str] = None
        for index, line in enumerate(self.lines):
            body = line.rstrip("\r\n")
            stripped = body.strip()
            if not stripped or stripped.startswith("#"):
                continue
            heading = _SECTION.match(body)
            if heading:
                section = heading.group("name")
                continue
            match = _ENTRY.match(body)
            if match is None:
                continue
            self.entries.append(Entry(index, section, _unquote(match.group("key")), match.group("value")))

    @classmethod
    def from_bytes(cls, data: bytes, source: str) -> Document:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise EditError(f"{source}: not UTF-8 text; edit it by hand") from None
        return cls(text, source)

    def text(self) -> str:
        return "".join(self.lines)

    def find(self, key: str, section: Optional[str] = None) -> list[Entry]:
        return [e for e in self.entries if e.key == key and e.section == section]

    def keys(self, section: Optional[str] = None) -> list[str]:
        return [e.key for e in self.entries if e.section == section]

    def _split(self, entry: Entry) -> tuple[re.Match[str], str]:
        line = self.lines[entry.index]
        body = line.rstrip("\r\n")
        match = _ENTRY.match(body)
        assert match is not None
        return match, line[len(body):]

    def rename(self, entry: Entry, new_key: str) -> None:
        match, ending = self._split(entry)
        self.lines[entry.index] = (match.group("indent") + new_key + match.group("eq")
                                   + match.group("value") + match.group("tail") + ending)

    def set_value(self, entry: Entry, value: str, key: Optional[str] = None) -> None:
        match, ending = self._split(entry)
        self.lines[entry.index] = (match.group("indent") + (key or match.group("key"))
                                   + match.group("eq") + value + match.group("tail") + ending)

    def delete(self, entry: Entry) -> None:
        self.lines[entry.index] = ""


def _unquote(key: str) -> str:
    if len(key) >= 2 and key[0] == key[-1] and key[0] in "'\"":
        return key[1:-1]
    return key.strip()


def parse(text: str, source: str) -> dict[str, Any]:
    """The file as configobj reads it (sections as nested dicts)."""
    import configobj

    try:
        parsed = configobj.ConfigObj(text.splitlines(), encoding="utf-8", default_encoding="utf-8")
    except configobj.ConfigObjError:
        raise EditError(f"{source}: cannot be parsed as configobj does; edit it by hand") from None
    return _plain(parsed)


def _plain(section: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) if isinstance(v, Mapping) else v for k, v in section.items()}


def verify(after: str, source: str, expected: Mapping[str, Any]) -> None:
    """Refuse an edit whose parsed result is not ``expected`` (a nested dict)."""
    if parse(after, source) != dict(expected):
        raise EditError(f"{source}: the edit would not give the intended result (unusual "
                        "layout, such as multi-line values); nothing was changed, edit it by hand")
