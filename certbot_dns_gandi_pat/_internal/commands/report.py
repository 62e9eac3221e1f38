"""What every operator command reports the same way: statuses, marks, exit codes, rendering.

Rules (tests/unit/test_report.py):

* Exit status follows the monitoring-plugin convention (Nagios, Icinga,
  systemd ``OnFailure=``): 0 OK, 1 WARNING (attention soon, such as a token
  about to expire), 2 CRITICAL (a check failed), 3 UNKNOWN (a check could not
  be run; never reported as OK). The worst status decides.
* A report's first line is ``TITLE VERDICT - headline``: what a monitoring
  system shows. ``--json`` gives the same facts as one JSON object with
  ``ok``, ``exit_code``, ``verdict`` and ``summary`` (that first line) first,
  always valid JSON. ``--prometheus`` gives them in the Prometheus text format
  (HELP and TYPE for every metric, label values escaped), and ``--textfile``
  writes that to a file the way node_exporter's textfile collector expects:
  complete or not at all, mode 644.
* Everything printed or written goes through ``Output``, which masks every
  secret the command registered, wherever it appears.
"""

from __future__ import annotations

import json
import math
import sys
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


Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Metric:
    """One metric family in the Prometheus text format: a gauge unless said otherwise."""

    name: str
    help: str
    samples: tuple[tuple[Labels, float], ...]
    kind: str = "gauge"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def exposition(metrics: Iterable[Metric]) -> str:
    """The text exposition format, version 0.0.4."""
    lines = []
    for metric in metrics:
        if not metric.samples:
            continue  # nothing known of it in this run
        help_text = metric.help.replace("\\", "\\\\").replace("\n", "\\n")
        lines += [f"# HELP {metric.name} {help_text}", f"# TYPE {metric.name} {metric.kind}"]
        for labels, value in metric.samples:
            inner = ",".join(f'{key}="{_label(text)}"' for key, text in labels)
            lines.append(f"{metric.name}{{{inner}}} {_number(value)}" if inner else f"{metric.name} {_number(value)}")
    return "\n".join(lines)


TEXT, JSON, PROMETHEUS = "text", "json", "prometheus"


@dataclass
class Report:
    """What a command found: the verdict line, the lines under it, and the same facts for --json
    and, where the command has them, as metrics."""

    title: str
    code: int
    headline: str
    lines: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)

    @property
    def first_line(self) -> str:
        return f"{self.title} {VERDICTS[self.code]} - {self.headline}"

    def render(self, form: str = TEXT) -> str:
        if form == JSON:
            return json.dumps({"ok": self.code == OK, "exit_code": self.code, "verdict": VERDICTS[self.code],
                               "summary": self.first_line, **self.data}, indent=2)
        if form == PROMETHEUS:
            return exposition(self.metrics)
        return "\n".join([self.first_line, *self.lines])


def checks_report(title: str, checks: Sequence[Check]) -> Report:
    """The report of a command that is a list of checks (doctor)."""
    return Report(title, exit_code(checks), counted(checks), check_lines(checks),
                  {"checks": [asdict(c) for c in checks]})


class Output:
    """Where a command's report goes (text, --json or --prometheus; a --textfile too), every
    secret masked; and what the command changed, for an interrupted run to say."""

    def __init__(self, stream: TextIO, form: str = TEXT, textfile: Optional[str] = None,
                 ledger: Optional[files.Ledger] = None) -> None:
        self.stream, self.form, self.textfile = stream, form, textfile
        self.ledger = ledger or files.Ledger()
        self._secrets: list[str] = []

    def secret(self, *values: str) -> None:
        """Mask these wherever they would appear in what is printed."""
        self._secrets += [v for v in values if v]

    def emit(self, report: Report) -> int:
        print(redact.redact(report.render(self.form), *self._secrets), file=self.stream, flush=True)
        if self.textfile and report.metrics:  # an interrupted run has none: the last complete file stays
            try:
                # node_exporter reads *.prom: a temporary name beside it, then a rename.
                metrics = redact.redact(report.render(PROMETHEUS), *self._secrets) + "\n"
                files.write_new(self.textfile, metrics.encode("utf-8"), 0o644)
            except (OSError, files.FileChangeError) as exc:
                why = getattr(exc, "strerror", None) or str(exc)
                print(f"{report.title}: cannot write the metrics to {self.textfile} ({why}); the file was left "
                      "as it was", file=sys.stderr, flush=True)
                return UNKNOWN
        return report.code
