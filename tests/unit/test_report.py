"""The one report layer: verdicts, exit codes, marks, text and --json, every secret masked."""

from __future__ import annotations

import io
import json

from certbot_dns_gandi_pat._internal.certbot_files import files
from certbot_dns_gandi_pat._internal.commands import report
from tests.helpers import FAKE_TOKEN


def test_exit_code_precedence() -> None:
    def code(*statuses: str) -> int:
        return report.exit_code([report.Check(s, s, "") for s in statuses])
    assert code("pass") == report.OK and code() == report.OK
    assert code("pass", "skip") == report.UNKNOWN
    assert code("skip", "warn") == report.WARNING
    assert code("warn", "fail", "skip") == report.CRITICAL


def test_a_checks_report_counts_and_names_what_set_the_verdict() -> None:
    checks = [report.Check("a", "pass", "fine"), report.Check("b", "fail", "broken", "fix b"),
              report.Check("c", "skip", "unknown", "look at c"), report.Check("b", "fail", "again")]
    found = report.checks_report("dns-gandi doctor", checks)
    assert found.code == report.CRITICAL
    assert found.first_line == "dns-gandi doctor CRITICAL - 2 failed, 1 skipped, 1 ok (b)"
    assert found.lines == ["[ ok ] a: fine", "[FAIL] b: broken", "       -> fix b", "[skip] c: unknown",
                           "       -> look at c", "[FAIL] b: again"]
    assert report.checks_report("t", []).first_line == "t OK - nothing checked"


def test_text_and_json_say_the_same_and_mask_every_secret() -> None:
    checks = [report.Check("a", "pass", "fine"), report.Check("b", "fail", f"oops {FAKE_TOKEN}", "do this")]
    for as_json in (False, True):
        stream = io.StringIO()
        out = report.Output(stream, report.JSON if as_json else report.TEXT)
        out.secret(FAKE_TOKEN, "")
        assert out.emit(report.checks_report("dns-gandi doctor", checks)) == report.CRITICAL
        text = stream.getvalue()
        assert FAKE_TOKEN not in text
        if as_json:
            data = json.loads(text)
            assert (data["ok"], data["exit_code"], data["verdict"]) == (False, 2, "CRITICAL")
            assert data["summary"] == "dns-gandi doctor CRITICAL - 1 failed, 1 ok (b)"
            assert data["checks"][1] == {"name": "b", "status": "fail", "detail": "oops ***", "advice": "do this"}
        else:
            assert text == ("dns-gandi doctor CRITICAL - 1 failed, 1 ok (b)\n[ ok ] a: fine\n[FAIL] b: oops ***\n"
                            "       -> do this\n")


def test_advice_is_said_once() -> None:
    assert report.advice_lines(["x", "", "x", "y"]) == ["       -> x", "       -> y"]


def test_an_output_carries_a_ledger() -> None:
    out = report.Output(io.StringIO())
    assert isinstance(out.ledger, files.Ledger) and out.ledger.describe() == "nothing was changed"
