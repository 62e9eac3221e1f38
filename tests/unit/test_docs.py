"""The user's and contributors' documentation keeps its contract (CONTRIBUTING.md: Documentation).

For README.md, CONTRIBUTING.md and docs/*.md:

* every relative link leads to an existing file, and its ``#anchor`` to an existing
  heading, named as GitHub names headings;
* every ``bash``/``sh``/``shell``/``console`` block has, on the line right before its
  opening fence, one marker saying what runs it: ``install-test``, ``tested``, ``demo``,
  or ``untested`` (snap and Docker commands only);
* every quoted message (a ``text`` block or a blockquote) has a ``tested`` marker;
* every ``tested`` marker names an existing test function;
* every ``(docs/PAGE.md: Heading)`` that a message of the package points to exists;
* README.md stays short and shows ``make demo`` and ``make test``;
* nothing points at the project's private notes, which a user's checkout lacks.

Plain file reading: no server, no subprocess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL = {"bash", "sh", "shell", "console"}
UNTESTED_COMMANDS = {"snapcraft", "snap", "docker"}  # what cannot run where the project is tested
MAX_README_LINES = 220

FENCE = re.compile(r"(`{3,}|~{3,})\s*([^\s`]*)")  # matched after the indentation: fences in lists
MARKER = re.compile(r"<!-- (install-test|tested|demo|untested)(?:: (.+?))? -->")
TEST_REF = re.compile(r"(tests/[\w/]+\.py)::(test_\w+)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\n\n).)+?\1", re.S)


@dataclass
class Block:
    line: int  # 1-based line of the opening fence
    lang: str
    marker: str  # the line before the opening fence, stripped
    body: list[str] = field(default_factory=list)


@dataclass
class Doc:
    path: Path
    lines: list[str]
    blocks: list[Block]
    prose: list[tuple[int, str]]  # (line, text) outside fenced blocks

    @property
    def name(self) -> str:
        return self.path.relative_to(ROOT).as_posix()


@cache
def parse(path: Path) -> Doc:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    prose: list[tuple[int, str]] = []
    fence = ""
    for number, line in enumerate(lines, 1):
        if fence:
            if line.strip().startswith(fence) and set(line.strip()) == {fence[0]}:
                fence = ""
            else:
                blocks[-1].body.append(line)
            continue
        opened = FENCE.match(line.lstrip())
        if opened:
            fence = opened.group(1)
            before = lines[number - 2].strip() if number > 1 else ""
            blocks.append(Block(number, opened.group(2).lower(), before))
        else:
            prose.append((number, line))
    assert not fence, f"{path}: a code block opened and never closed"
    return Doc(path, lines, blocks, prose)


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file."""
    seen: dict[str, int] = {}
    found = set()
    for _, line in parse(path).prose:
        match = HEADING.match(line)
        if not match:
            continue
        text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", match.group(2))  # a link counts by its text
        text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def markers(doc: Doc) -> list[tuple[int, str, str]]:
    """Every marker line outside code blocks: (line, kind, value)."""
    found = []
    for number, line in doc.prose:
        match = MARKER.fullmatch(line.strip())
        if match:
            found.append((number, match.group(1), match.group(2) or ""))
    return found


def commands(body: list[str]) -> list[str]:
    """The first word of each command in a shell block (continuation lines skipped)."""
    words, continued = [], False
    for line in body:
        text = line.strip()
        if text and not text.startswith("#") and not continued:
            words.append(text.split()[0])
        continued = text.endswith("\\")
    return words


ids = [p.relative_to(ROOT).as_posix() for p in FILES]


def test_the_documentation_files_exist() -> None:
    missing = [name for name in ("README.md", "CONTRIBUTING.md", "docs/install.md", "docs/credentials.md",
                                 "docs/renewal.md", "docs/commands.md", "docs/options.md",
                                 "docs/troubleshooting.md", "docs/guarantees.md", "docs/design.md",
                                 "docs/livedns-api.md") if not (ROOT / name).is_file()]
    assert missing == []


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_relative_links_and_anchors_resolve(path: Path) -> None:
    doc = parse(path)
    text = "\n".join(line for _, line in doc.prose)
    text = CODE_SPAN.sub("", text)
    broken = []
    for target in LINK.findall(text):
        if not target or re.match(r"[a-z][a-z0-9+.-]*:|//", target, re.I):
            continue  # an absolute URL
        where, _, anchor = target.partition("#")
        dest = (path.parent / where).resolve() if where else path
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (dest.suffix != ".md" or anchor not in anchors(dest)):
            broken.append(f"{target}: no heading #{anchor} in {dest.relative_to(ROOT).as_posix()}")
    assert broken == [], f"{doc.name}: {broken}"


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_every_shell_block_says_what_runs_it(path: Path) -> None:
    doc = parse(path)
    problems = []
    for block in doc.blocks:
        if block.lang not in SHELL:
            continue
        match = MARKER.fullmatch(block.marker)
        if not match:
            problems.append(f"line {block.line}: no marker on the line before the ```{block.lang} block")
            continue
        kind, value = match.group(1), (match.group(2) or "").strip()
        if kind in ("install-test", "tested", "untested") and not value:
            problems.append(f"line {block.line}: `{kind}` needs a value")
        if kind == "untested":
            words = commands(block.body)
            if not set(words) & UNTESTED_COMMANDS or not set(words) <= UNTESTED_COMMANDS | {"certbot"}:
                problems.append(f"line {block.line}: `untested` is only for snap and docker commands, not {words}")
    assert problems == [], f"{doc.name}: {problems}"


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_every_quoted_message_names_a_test_that_asserts_it(path: Path) -> None:
    doc = parse(path)
    problems = [f"line {b.line}: a ```text block without a `tested:` marker on the line before it"
                for b in doc.blocks if b.lang == "text" and not b.marker.startswith("<!-- tested: ")]
    previous = ""
    for number, line in doc.prose:
        quoted = re.match(r" {0,3}>", line) is not None
        if quoted and not re.match(r" {0,3}>", previous) and not previous.strip().startswith("<!-- tested: "):
            problems.append(f"line {number}: a blockquote without a `tested:` marker on the line before it")
        previous = line
    assert problems == [], f"{doc.name}: {problems}"


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_tested_markers_name_existing_tests(path: Path) -> None:
    doc = parse(path)
    problems = []
    for number, kind, value in markers(doc):
        if kind != "tested":
            continue
        refs = value.split()
        for ref in refs:
            match = TEST_REF.fullmatch(ref)
            if not match:
                problems.append(f"line {number}: {ref!r} is not tests/PATH.py::test_function")
                continue
            test_file = ROOT / match.group(1)
            if not test_file.is_file():
                problems.append(f"line {number}: {match.group(1)} does not exist")
            elif not re.search(rf"^\s*def {match.group(2)}\(", test_file.read_text(), re.M):
                problems.append(f"line {number}: {match.group(1)} has no def {match.group(2)}")
    assert problems == [], f"{doc.name}: {problems}"


def headings(path: Path) -> set[str]:
    """The text of each heading, as written (code marks dropped)."""
    found = set()
    for _, line in parse(path).prose:
        match = HEADING.match(line)
        if match:
            found.add(match.group(2).replace("`", ""))
    return found


def test_every_page_a_message_points_to_has_the_heading_it_names() -> None:
    """Messages say ``(docs/troubleshooting.md: Token rejected)``: that page and heading must exist."""
    pointers = set()
    for source in (ROOT / "certbot_dns_gandi_pat").rglob("*.py"):
        pointers |= {(page, heading.strip()) for page, heading in
                     re.findall(r"\(docs/([\w-]+\.md)(?:: ([^)`\"]+))?\)", source.read_text(encoding="utf-8"))}
    assert ("troubleshooting.md", "Token rejected") in pointers  # the pattern still finds them
    missing = [f"docs/{page}" + (f": {heading}" if heading else "") for page, heading in sorted(pointers)
               if not (ROOT / "docs" / page).is_file() or (heading and heading not in headings(ROOT / "docs" / page))]
    assert missing == []


def test_the_readme_is_short_and_shows_the_two_set_up_commands() -> None:
    doc = parse(ROOT / "README.md")
    assert len(doc.lines) <= MAX_README_LINES, f"README.md has {len(doc.lines)} lines; the rest belongs in docs/"
    text = "\n".join(doc.lines)
    for command in ("make demo", "make test"):
        assert re.search(rf"(^|`){command}(`|\s|$)", text, re.M), f"README.md does not show {command}"


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_nothing_points_at_the_private_notes(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    notes = "shared"  # spelt apart so this file does not point at them either
    assert f"../{notes}" not in text and f"/work/{notes}" not in text, path.name
