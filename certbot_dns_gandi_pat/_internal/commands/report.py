"""What every operator command reports the same way: statuses, marks, exit codes, rendering.

Rules (tests/unit/test_report.py):

* Exit status follows the monitoring-plugin convention (Nagios, Icinga,
  systemd ``OnFailure=``): 0 OK, 1 WARNING (attention soon, such as a token
  about to expire), 2 CRITICAL (a check failed), 3 UNKNOWN (a check could not
  be run; never reported as OK). The worst status decides.
* A report's first line is ``TITLE VERDICT - headline``: what a monitoring
  system shows. ``--json`` gives the same facts as one JSON object with
  ``ok``, ``exit_code``, ``verdict`` and ``summary`` (that first line) first,
  always valid JSON.
* Everything printed goes through ``Output``, which masks every secret the
  command registered, wherever it appears.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Optional, TextIO

from certbot_dns_gandi_pat._internal import redact
from certbot_dns_gandi_pat._internal.certbot_files import files

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
MARKS = {PASS: "[ ok ]", WARN: "[warn]", FAIL: "[FAIL]", SKIP: "[skip]"}
OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
VERDICTS = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
CODES = {FAIL: CRITICAL, WARN: WARNING, SKIP: UNKNOWN, PASS: OK}
WORST_FIRST = (FAIL, WARN, SKIP, PASS)


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    advice: str = ""


def worst(statuses: Iterable[str]) -> str:
    """The worst of these statuses (PASS for none)."""
    present = set(statuses)
    return next((s for s in WORST_FIRST if s in present), PASS)


def exit_code(checks: Sequence[Check]) -> int:
    return CODES[worst(c.status for c in checks)]


def check_lines(checks: Sequence[Check]) -> list[str]:
    """A mark and a line per check, and the advice under each that is not a pass."""
    out = []
    for check in checks:
        out.append(f"{MARKS[check.status]} {check.name}: {check.detail}")
        out += advice_lines([check.advice] if check.status != PASS else [])
    return out


def advice_lines(advice: Iterable[str]) -> list[str]:
    return [f"       -> {a}" for a in dict.fromkeys(advice) if a]


def counted(checks: Sequence[Check]) -> str:
    """``2 failed, 1 ok (name, name)``: the counts, and which checks set the verdict."""
    labels = {FAIL: "failed", WARN: "warning", SKIP: "skipped", PASS: "ok"}
    parts = [f"{sum(c.status == s for c in checks)} {labels[s]}" for s in WORST_FIRST
             if any(c.status == s for c in checks)]
    status = worst(c.status for c in checks)
    names = [c.name for c in checks if c.status == status and status != PASS]
    return (", ".join(parts) or "nothing checked") + (f" ({', '.join(dict.fromkeys(names))})" if names else "")


@dataclass
class Report:
    """What a command found: the verdict line, the lines under it, and the same facts for --json."""

    title: str
    code: int
    headline: str
    lines: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def first_line(self) -> str:
        return f"{self.title} {VERDICTS[self.code]} - {self.headline}"

    def render(self, as_json: bool) -> str:
        if as_json:
            return json.dumps({"ok": self.code == OK, "exit_code": self.code, "verdict": VERDICTS[self.code],
                               "summary": self.first_line, **self.data}, indent=2)
        return "\n".join([self.first_line, *self.lines])


def checks_report(title: str, checks: Sequence[Check]) -> Report:
    """The report of a command that is a list of checks (doctor)."""
    return Report(title, exit_code(checks), counted(checks), check_lines(checks),
                  {"checks": [asdict(c) for c in checks]})


class Output:
    """Where a command's report goes: text or --json, every secret masked; and what it changed."""

    def __init__(self, stream: TextIO, as_json: bool = False, ledger: Optional[files.Ledger] = None) -> None:
        self.stream, self.as_json = stream, as_json
        self.ledger = ledger or files.Ledger()
        self._secrets: list[str] = []

    def secret(self, *values: str) -> None:
        """Mask these wherever they would appear in what is printed."""
        self._secrets += [v for v in values if v]

    def emit(self, report: Report) -> int:
        print(redact.redact(report.render(self.as_json), *self._secrets), file=self.stream, flush=True)
        return report.code
