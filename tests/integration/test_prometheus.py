"""`renewals --prometheus` and `--textfile`: the text format Prometheus parses, the facts of the
report as gauges, an atomic file for node_exporter, and the example alerting rules."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from certbot_dns_gandi_pat._internal.certbot_files import files
from certbot_dns_gandi_pat._internal.commands import renewals, report
from tests.helpers import FAKE_TOKEN, command, credentials_file, write_lineage
from teststack.standin import StandIn

ROOT = Path(__file__).resolve().parents[2]
DAY = dt.timedelta(days=1)
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
M = "certbot_dns_gandi_pat_"


def parse(text: str) -> dict[str, Any]:
    """name -> {labels (sorted tuple) -> value}, via Prometheus' own parser; HELP and TYPE checked."""
    found: dict[str, Any] = {}
    for family in text_string_to_metric_families(text):
        assert family.documentation and family.type == "gauge", family.name
        found[family.name] = {tuple(sorted(s.labels.items())): s.value for s in family.samples}
    return found


def two_lineages(tmp_path: Path, standin: StandIn, secret: str = FAKE_TOKEN) -> Path:
    creds = credentials_file(tmp_path / "gandi.ini", standin, dns_gandi_token=secret)
    write_lineage(tmp_path, "example.com", creds, names=("example.com", "*.example.com"), not_before=NOW - DAY)
    write_lineage(tmp_path, "www.example.org", creds, not_before=NOW - 5 * DAY)
    return creds


@pytest.fixture(autouse=True)
def no_public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    from certbot_dns_gandi_pat._internal import dnscheck

    monkeypatch.setattr(dnscheck.CnameResolver, "target", lambda self, name: name)


def test_the_metrics_say_what_the_report_says(tmp_path: Path, standin: StandIn) -> None:
    creds = two_lineages(tmp_path, standin)
    code, text = command("renewals", "--config-dir", str(tmp_path), "--prometheus")
    json_code, raw = command("renewals", "--config-dir", str(tmp_path), "--json")
    assert code == json_code == report.OK
    data, metrics = json.loads(raw), parse(text)
    path = str(creds)
    for lineage in data["lineages"]:
        labels = (("credentials", path), ("lineage", lineage["name"]))
        for metric, field in (("certificate_expiry_timestamp_seconds", "not_after"),
                              ("next_renewal_timestamp_seconds", "next_renewal")):
            assert metrics[M + metric][labels] == dt.datetime.fromisoformat(lineage[field]).timestamp()
        day = dt.date.fromisoformat(lineage["last_safe_day"])
        assert metrics[M + "token_last_safe_day_timestamp_seconds"][labels] == \
            dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp()
        states = {s: metrics[M + "lineage_status"][(*labels, ("status", s))] for s in
                  ("ok", "warning", "critical", "unknown")}
        assert states == {"ok": 1.0, "warning": 0.0, "critical": 0.0, "unknown": 0.0}
    # /tokeninfo says "expires in N seconds": two runs a moment apart read it a second apart
    token = dt.datetime.fromisoformat(data["lineages"][0]["token"]["expires_at"]).timestamp()
    (expiry,) = metrics[M + "token_expiry_timestamp_seconds"].items()
    assert expiry[0] == (("credentials", path),) and abs(expiry[1] - token) <= 5
    assert metrics[M + "credentials_accepted"] == {(("credentials", path),): 1.0}
    assert metrics[M + "renewals_check_success"] == {(): 1.0} and metrics[M + "renewals_exit_code"] == {(): 0.0}
    ran = metrics[M + "renewals_last_run_timestamp_seconds"][()]
    assert abs(ran - NOW.timestamp()) < 600 and 0 <= metrics[M + "renewals_duration_seconds"][()] < 60
    assert FAKE_TOKEN not in text


def test_a_token_expiring_in_ten_days_makes_both_lineages_critical(tmp_path: Path, standin: StandIn) -> None:
    standin.add_token("FAKE-ten-days-left-0001", expires_in=10 * 86400)
    creds = two_lineages(tmp_path, standin, "FAKE-ten-days-left-0001")
    code, text = command("renewals", "--config-dir", str(tmp_path), "--prometheus")
    assert code == report.CRITICAL  # the exit code is the report's, whatever the format
    metrics = parse(text)
    for name in ("example.com", "www.example.org"):
        labels = (("credentials", str(creds)), ("lineage", name), ("status", "critical"))
        assert metrics[M + "lineage_status"][labels] == 1.0
    expiry = metrics[M + "token_expiry_timestamp_seconds"][(("credentials", str(creds)),)]
    assert abs(expiry - (NOW + 10 * DAY).timestamp()) < 600
    assert metrics[M + "renewals_exit_code"] == {(): 2.0}
    assert "FAKE-ten-days-left-0001" not in text


def test_a_rejected_credential_and_an_unreadable_directory(tmp_path: Path, standin: StandIn) -> None:
    creds = two_lineages(tmp_path, standin, "FAKE-unknown-to-gandi-01")
    code, text = command("renewals", "--config-dir", str(tmp_path), "--prometheus")
    assert code == report.CRITICAL
    assert parse(text)[M + "credentials_accepted"] == {(("credentials", str(creds)),): 0.0}
    code, text = command("renewals", "--config-dir", str(tmp_path / "nowhere"), "--prometheus")
    metrics = parse(text)
    assert code == report.UNKNOWN and metrics[M + "renewals_check_success"] == {(): 0.0}
    assert metrics[M + "renewals_exit_code"] == {(): 3.0} and M + "lineage_status" not in metrics


def test_label_values_are_escaped(tmp_path: Path, standin: StandIn) -> None:
    odd = tmp_path / 'we"ird\\dir'
    odd.mkdir()
    creds = credentials_file(odd / "gandi.ini", standin, dns_gandi_token=FAKE_TOKEN)
    write_lineage(tmp_path, "example.com", creds)
    _, text = command("renewals", "--config-dir", str(tmp_path), "--prometheus")
    assert parse(text)[M + "credentials_accepted"] == {(("credentials", str(creds)),): 1.0}


def test_the_textfile_is_written_whole_mode_644_and_alone(tmp_path: Path, standin: StandIn,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    two_lineages(tmp_path, standin)
    collector = tmp_path / "textfile"
    collector.mkdir()
    target = collector / "certbot.prom"
    seen: list[tuple[str, str]] = []
    real_replace = os.replace

    def check_then_replace(src: str, dst: str) -> None:
        # At the rename, the temporary file is complete, in the same directory, and no *.prom.
        seen.append((src, Path(src).read_text()))
        assert Path(src).parent == collector and not src.endswith(".prom")
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", check_then_replace)
    old = os.umask(0o077)
    try:
        code, out = command("renewals", "--config-dir", str(tmp_path), "--textfile", str(target))
    finally:
        os.umask(old)
    assert code == report.OK and out.startswith("dns-gandi renewals OK - 2 ok")  # the report still printed
    assert sorted(p.name for p in collector.iterdir()) == ["certbot.prom"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    ((_, written),) = seen
    assert target.read_text() == written and parse(written)[M + "renewals_exit_code"] == {(): 0.0}


def test_a_textfile_that_cannot_be_written_is_unknown_and_the_old_one_stays(tmp_path: Path, standin: StandIn,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    two_lineages(tmp_path, standin)
    code, _ = command("renewals", "--config-dir", str(tmp_path), "--textfile", str(tmp_path / "nodir" / "x.prom"))
    assert code == report.UNKNOWN
    assert f"dns-gandi renewals: cannot write the metrics to {tmp_path / 'nodir' / 'x.prom'}" in capsys.readouterr().err


def test_an_interrupted_check_leaves_the_last_textfile(tmp_path: Path, standin: StandIn,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    two_lineages(tmp_path, standin)
    target = tmp_path / "certbot.prom"
    assert command("renewals", "--config-dir", str(tmp_path), "--textfile", str(target))[0] == report.OK
    before = target.read_bytes()

    def interrupted(*args: Any, **kw: Any) -> Any:
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(renewals, "check_remote", interrupted)
    code, _ = command("renewals", "--config-dir", str(tmp_path), "--prometheus", "--textfile", str(target))
    assert code == report.UNKNOWN and target.read_bytes() == before
    assert "stopped by SIGTERM" not in target.read_text()


def test_every_option_works_with_the_metrics(tmp_path: Path, standin: StandIn) -> None:
    two_lineages(tmp_path, standin)
    target = tmp_path / "m.prom"
    code, raw = command("renewals", "--config-dir", str(tmp_path), "--json", "--textfile", str(target),
                        "--expiry-warning-days", "400", "--nameservers", "127.0.0.1:53")
    assert code == report.WARNING and json.loads(raw)["exit_code"] == 1
    assert parse(target.read_text())[M + "renewals_exit_code"] == {(): 1.0}
    with pytest.raises(SystemExit) as err:
        command("renewals", "--json", "--prometheus")
    assert err.value.code == report.UNKNOWN  # one format at a time, a usage error


PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool comes with Debian's prometheus package")


@needs_promtool
def test_promtool_accepts_the_metrics(tmp_path: Path, standin: StandIn) -> None:
    two_lineages(tmp_path, standin)
    _, text = command("renewals", "--config-dir", str(tmp_path), "--prometheus")
    checked = subprocess.run([str(PROMTOOL), "check", "metrics"], input=text, capture_output=True, text=True,
                             check=False, timeout=60)
    assert checked.returncode == 0 and checked.stdout + checked.stderr == "", checked.stdout + checked.stderr


@needs_promtool
def test_the_example_rules_check_and_fire_as_meant() -> None:
    rules = ROOT / "docs" / "prometheus-rules.yml"
    checked = subprocess.run([str(PROMTOOL), "check", "rules", str(rules)], capture_output=True, text=True,
                             check=False, timeout=60)
    assert checked.returncode == 0 and "SUCCESS: 3 rules found" in checked.stdout, checked.stdout + checked.stderr
    tested = subprocess.run([str(PROMTOOL), "test", "rules", str(Path(__file__).parent / "data" /
                                                                  "prometheus-rules-test.yml")],
                            capture_output=True, text=True, check=False, timeout=60)
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr
