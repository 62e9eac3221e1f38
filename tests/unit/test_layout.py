"""The layout's rules, read from the code's own imports: no cycles, no command imports another,
only the LiveDNS client talks to the transport, every module says what it guarantees."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "certbot_dns_gandi_pat"
COMMANDS = {"doctor", "renewals", "rotate", "migrate"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Each module of the package and the package modules it imports."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    found: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("certbot_dns_gandi_pat"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    targets.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.startswith("certbot_dns_gandi_pat")}
        found[name] = {t for t in targets if t in modules and t != name}
    return found


def test_no_module_imports_itself_back() -> None:
    graph = imports()
    # a package's __init__ re-exporting its modules is no cycle of the code
    graph = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in graph.items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            assert state.get(nxt) != 1, " -> ".join([*trail, node, nxt])
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])


def test_no_command_imports_another() -> None:
    for name, targets in imports().items():
        if name.rsplit(".", 1)[-1] in COMMANDS:
            others = {t for t in targets if t.rsplit(".", 1)[-1] in COMMANDS}
            assert not others, f"{name} imports {others}"


def test_only_the_livedns_package_uses_the_transport() -> None:
    users = {name for name, targets in imports().items() if any(t.endswith("livedns.transport") for t in targets)}
    assert all(".livedns." in name for name in users), users


def test_every_module_says_what_it_is_for() -> None:
    missing = [p for p in PACKAGE.rglob("*.py") if not ast.get_docstring(ast.parse(p.read_text()))]
    assert not missing, missing


# Helpers that assert on the caller's behalf (each holds asserts of its own).
CHECKING_HELPERS = {"ok", "cycle", "assert_lists_this_plugin"}


def test_every_test_asserts_something_that_can_fail() -> None:
    tests = Path(__file__).resolve().parents[1]
    silent = []
    for path in sorted(tests.rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test_")):
                continue
            inner = list(ast.walk(node))
            if any(isinstance(n, ast.Assert) for n in inner):
                continue
            calls = {ast.unparse(n.func).rsplit(".", 1)[-1] for n in inner if isinstance(n, ast.Call)}
            if "raises" in calls or calls & CHECKING_HELPERS:
                continue
            silent.append(f"{path.relative_to(tests)}::{node.name}")
    assert silent == [], silent
