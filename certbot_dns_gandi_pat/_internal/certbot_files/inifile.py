"""The one reader of configobj files (credentials INIs, renewal configurations), and their edits.

Rules, each one checked by a test (tests/unit/test_inifile.py):

* Every reader of these files (the plugin, ``doctor``, ``renewals``, ``rotate``,
  ``migrate``) goes through :func:`read`, so a file is either read the same way
  by all of them or refused by all with the same message naming it.
* A file is UTF-8 text, with an optional byte-order mark (kept when the file is
  rewritten) and LF or CRLF line ends. A bare CR, a form feed or a Unicode line
  separator is refused: configobj reads the text around it as one line while
  most editors show two, so no reading of such a file is safe.
* Edits change only the key or the value of the lines being changed:
  indentation, spacing around ``=``, inline comments, line endings, every other
  line and the order of keys stay byte for byte. After an edit the result is
  read again and compared with what the edit meant to do, so a file whose
  layout this module misreads is refused instead of damaged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from certbot_dns_gandi_pat._internal.errors import GandiPatError

BOM = "\ufeff"
# Characters that Python's str.splitlines() ends a line at and configobj does not.
_ODD_BREAKS = re.compile("\r(?!\n)|[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_BREAK_NAMES = {"\r": "a carriage return without a line feed (old Mac line ends)", "\x0c": "a form feed"}

# key = value [ # comment]: the value ends where whitespace is followed by '#'.
_ENTRY = re.compile(
    r"""^(?P<indent>[ \t]*)(?P<key>"[^"\n]*"|'[^'\n]*'|[^\s=#;\['"][^=\n]*?)(?P<eq>[ \t]*=[ \t]*)"""
    r"""(?P<value>.*?)(?P<tail>(?:[ \t]+#.*)?[ \t]*)$"""
)
_SECTION = re.compile(r"^[ \t]*\[+[ \t]*(?P<name>[^\]]*?)[ \t]*\]+[ \t]*(?:#.*)?$")


class EditError(GandiPatError):
    """The file cannot be read or edited safely; the message names it and says why."""


class Unparsable(EditError):
    """configobj cannot parse the file."""


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
        # Split exactly where configobj splits (read() refused every other break).
        self.lines = [line + "\n" for line in text.split("\n")]
        self.lines[-1] = self.lines[-1][:-1]
        if not self.lines[-1]:
            self.lines.pop()
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


@dataclass
class Ini:
    """One read of a file: its bytes, its lines and its values as configobj reads them."""

    source: str
    data: bytes
    document: Document
    values: dict[str, Any]  # sections as nested dicts
    bom: bool = False

    def encode(self) -> bytes:
        """The document as it stands now (after edits), in the file's own encoding."""
        return ((BOM if self.bom else "") + self.document.text()).encode("utf-8")

    def verify(self, expected: Mapping[str, Any]) -> None:
        """Refuse the edits made to ``document`` unless reading the result gives ``expected``."""
        if loads(self.encode(), self.source).values != dict(expected):
            raise EditError(f"{self.source}: the edit would not give the intended result (unusual "
                            "layout, such as multi-line values); nothing was changed, edit it by hand")


def read(path: str) -> Ini:
    """Read ``path`` once; OSError when it cannot be opened, EditError when it cannot be used."""
    with open(path, "rb") as handle:
        data = handle.read()
    return loads(data, path)


def loads(data: bytes, source: str) -> Ini:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise EditError(f"{source}: not UTF-8 text; save it as UTF-8") from None
    bom = text.startswith(BOM)
    text = text[len(BOM):] if bom else text
    odd = _ODD_BREAKS.search(text)
    if odd is not None:
        line = text.count("\n", 0, odd.start()) + 1
        what = _BREAK_NAMES.get(odd.group(), f"a line separator U+{ord(odd.group()):04X}")
        raise EditError(f"{source}: line {line} holds {what}, which INI readers disagree about; "
                        "save the file with plain LF (or CRLF) line ends")
    document = Document(text, source)
    return Ini(source, data, document, _parse(document.lines, source), bom)


def _parse(lines: list[str], source: str) -> dict[str, Any]:
    import configobj

    try:
        parsed = configobj.ConfigObj([line.rstrip("\r\n") for line in lines])
    except configobj.ConfigObjError as exc:
        numbers = sorted({e.line_number for e in getattr(exc, "errors", [exc])
                          if getattr(e, "line_number", None)})
        where = f" (line {', '.join(map(str, numbers))})" if numbers else ""
        # Never the line itself: it may be the one holding the token.
        raise Unparsable(f"{source}: cannot be parsed as an INI file{where}") from None
    return _plain(parsed)


def _plain(section: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) if isinstance(v, Mapping) else v for k, v in section.items()}
