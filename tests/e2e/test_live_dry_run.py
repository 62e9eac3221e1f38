"""The dry run of the live contract suite (CONTRIBUTING.md) against the stand-in leaves nothing to commit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from teststack.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = ROOT / "tests" / "live" / "recordings"


def test_a_dry_run_against_the_stand_in_writes_an_ignored_recording() -> None:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "teststack.standin", "--port", str(port), "--zone",
                               "example.com", "--token", "FAKE"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and "LiveDNS stand-in at" in server.stdout.readline()
        env = dict(os.environ, GANDI_LIVE_TOKEN="FAKE", GANDI_LIVE_DOMAIN="example.com",
                   GANDI_LIVE_API_URL=f"http://127.0.0.1:{port}/v5/livedns",
                   GANDI_LIVE_TOKENINFO_URL=f"http://127.0.0.1:{port}/tokeninfo")
        real = RECORDINGS / "livedns.json"
        before = real.read_bytes() if real.exists() else None
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "live",
                                 "tests/live"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                                check=False)
        assert result.returncode == 0, result.stdout[-2000:]
        assert "8 passed" in result.stdout
        assert (real.read_bytes() if real.exists() else None) == before
        dry = RECORDINGS / "dry-run.json"
        assert dry.exists()
        ignored = subprocess.run(["git", "check-ignore", "-q", str(dry)], cwd=ROOT, check=False)
        assert ignored.returncode == 0, "dry-run.json must be ignored by git"
        dry.unlink()
    finally:
        server.terminate()
        server.wait(10)
