"""What every operator command reports the same way: statuses, marks, exit codes, rendering.

Exit status follows the monitoring-plugin convention (Nagios, Icinga, systemd
``OnFailure=``): 0 OK, 1 WARNING (attention soon, such as a token about to
expire), 2 CRITICAL (a check failed), 3 UNKNOWN (a check could not be run;
never reported as OK).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from certbot_dns_gandi_pat._internal import redact

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
MARKS = {PASS: "[ ok ]", WARN: "[warn]", FAIL: "[FAIL]", SKIP: "[skip]"}
OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
VERDICTS = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
WORST_FIRST = (FAIL, WARN, SKIP, PASS)
CODES = {FAIL: CRITICAL, WARN: WARNING, SKIP: UNKNOWN, PASS: OK}


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    advice: str = ""


def exit_code(checks: Sequence[Check]) -> int:
    statuses = {c.status for c in checks}
    for status, code in ((FAIL, CRITICAL), (WARN, WARNING), (SKIP, UNKNOWN)):
        if status in statuses:
            return code
    return OK


def summary(title: str, checks: Sequence[Check]) -> str:
    """The first line of the output: verdict, counts, and what is wrong."""
    code = exit_code(checks)
    counts = [(FAIL, "failed"), (WARN, "warning"), (SKIP, "skipped"), (PASS, "ok")]
    parts = [f"{sum(c.status == s for c in checks)} {label}" for s, label in counts
             if any(c.status == s for c in checks)]
    worst = [c.name for c in checks if c.status == {CRITICAL: FAIL, WARNING: WARN,
                                                    UNKNOWN: SKIP}.get(code)]
    what = f" ({', '.join(dict.fromkeys(worst))})" if worst else ""
    return f"{title} {VERDICTS[code]} - {', '.join(parts) or 'nothing checked'}{what}"


def render(checks: Sequence[Check], as_json: bool, secret: str, title: str = "dns-gandi doctor") -> str:
    if as_json:
        text = json.dumps({"ok": exit_code(checks) == OK, "exit_code": exit_code(checks),
                           "verdict": VERDICTS[exit_code(checks)], "summary": summary(title, checks),
                           "checks": [asdict(c) for c in checks]}, indent=2)
    else:
        lines = [summary(title, checks)]
        for check in checks:
            lines.append(f"{MARKS[check.status]} {check.name}: {check.detail}")
            if check.advice and check.status != PASS:
                lines.append(f"       -> {check.advice}")
        text = "\n".join(lines)
    # Belt and braces: no check prints the credential, and none may ever.
    return redact.redact(text, secret)


def lines(checks: Sequence[Check]) -> list[str]:
    """A mark and a line per check, and the advice under those that need it."""
    out = []
    for check in checks:
        out.append(f"{MARKS[check.status]} {check.name}: {check.detail}")
        if check.advice and check.status in (FAIL, WARN, SKIP):
            out.append(f"       -> {check.advice}")
    return out
