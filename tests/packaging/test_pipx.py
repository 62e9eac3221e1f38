"""The README's pipx command, run as written against a certbot that pipx installed.

pipx itself is installed into a throw-away virtual environment, and PIPX_HOME /
PIPX_BIN_DIR point into the test's temporary directory: nothing is left behind.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from certbot_dns_gandi_pat import __version__
from tests.packaging.helpers import SYSTEM_PATH, assert_lists_this_plugin, install_blocks, run_block


def test_pipx_block(tmp_path: Path) -> None:
    tools = tmp_path / "pipx-venv"
    env = dict(os.environ, PIPX_HOME=str(tmp_path / "pipx-home"), PIPX_BIN_DIR=str(tmp_path / "pipx-bin"),
               PIPX_MAN_DIR=str(tmp_path / "pipx-man"), PATH=f"{tmp_path / 'pipx-bin'}:{tools / 'bin'}:{SYSTEM_PATH}")
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(tools)], check=True, capture_output=True)
    for argv in ([str(tools / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "pipx"],
                 [str(tools / "bin" / "pipx"), "install", "certbot"]):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=600)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    result = run_block(install_blocks()["pipx"], path=env["PATH"], certbot_dir=tmp_path / "certbot",
                       env={k: env[k] for k in ("PIPX_HOME", "PIPX_BIN_DIR", "PIPX_MAN_DIR")})
    assert_lists_this_plugin(result)
    assert f"certbot-dns-gandi-pat {__version__}\n" in result.stdout, result.stdout[-2000:]
