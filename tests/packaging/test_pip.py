"""The README's pip, PyPI and Docker install commands, run as written against a certbot
installed the way certbot's pip instructions say: a virtual environment in /opt/certbot
(Debian's python3, the newest certbot from PyPI).

/opt/certbot is created for these tests and removed afterwards; if it already exists
(a real certbot), they do not touch it and fail in CI, skip elsewhere.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from certbot_dns_gandi_pat import __version__
from tests.packaging.helpers import (
    ROOT,
    SYSTEM_PATH,
    assert_lists_this_plugin,
    install_blocks,
    one_file,
    plugin_entry,
    run_block,
)

OPT = Path("/opt/certbot")
LINK = Path("/usr/local/bin/certbot-dns-gandi-pat")
COMMAND_VENV = Path("/opt/certbot-dns-gandi-pat")
# certbot's instructions link /usr/bin/certbot to /opt/certbot/bin/certbot; a
# directory of the test's own holds that link, and /opt/certbot/bin stays off
# the PATH as it is on a real machine.
LINKS = ROOT / ".venv" / "packaging-links"
PATH = f"{LINKS}:/usr/local/bin:{SYSTEM_PATH}"


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(OPT / "bin" / "pip"), "--disable-pip-version-check", *args], capture_output=True,
                          text=True, check=False, timeout=600, env=dict(os.environ, PATH=PATH))


def require_absent(path: Path) -> None:
    if path.exists() or path.is_symlink():
        message = f"{path} exists (installed by hand?): not touching it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def opt_certbot() -> Iterator[Path]:
    require_absent(OPT)
    try:
        subprocess.run(["/usr/bin/python3", "-m", "venv", str(OPT)], check=True, capture_output=True)
        for step in (("install", "-q", "--upgrade", "pip"), ("install", "-q", "certbot")):
            result = pip(*step)
            assert result.returncode == 0, result.stderr[-2000:]
        LINKS.mkdir(parents=True, exist_ok=True)
        (LINKS / "certbot").unlink(missing_ok=True)
        (LINKS / "certbot").symlink_to(OPT / "bin" / "certbot")
        yield OPT
    finally:
        shutil.rmtree(OPT, ignore_errors=True)
        shutil.rmtree(LINKS, ignore_errors=True)


@pytest.fixture
def certbot_venv(opt_certbot: Path) -> Iterator[Path]:
    """/opt/certbot without this plugin (nor the command's link) before and after the test."""
    require_absent(LINK)
    pip("uninstall", "-y", "certbot-dns-gandi-pat")
    yield opt_certbot
    pip("uninstall", "-y", "certbot-dns-gandi-pat")
    LINK.unlink(missing_ok=True)


def assert_version(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert f"certbot-dns-gandi-pat {__version__}\n" in result.stdout, result.stdout[-2000:]


def plugins(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return run_block("certbot plugins\n", path=PATH, certbot_dir=tmp_path / "certbot")


def test_wheel_block_command_link_and_removal(certbot_venv: Path, tmp_path: Path) -> None:
    result = run_block(install_blocks()["pip-wheel"], path=PATH, certbot_dir=tmp_path / "certbot")
    assert_lists_this_plugin(result)
    assert_version(run_block(install_blocks()["pip-command"], path=PATH, certbot_dir=tmp_path / "certbot"))
    assert LINK.resolve() == OPT / "bin" / "certbot-dns-gandi-pat"
    removed = run_block(install_blocks()["pip-remove"], path=PATH, certbot_dir=tmp_path / "certbot", answer="y\n")
    assert removed.returncode == 0, removed.stdout[-2000:] + removed.stderr[-2000:]
    after = plugins(tmp_path)
    assert after.returncode == 0 and plugin_entry(after.stdout) is None, after.stdout
    assert not LINK.is_symlink()


def test_command_in_a_venv_of_its_own(tmp_path: Path) -> None:
    # What the README gives snap users: no certbot needed on the PATH.
    require_absent(COMMAND_VENV)
    require_absent(LINK)
    try:
        result = run_block(install_blocks()["command-venv"], path=f"/usr/local/bin:{SYSTEM_PATH}",
                           certbot_dir=tmp_path / "certbot")
        assert_version(result)
        assert LINK.resolve() == COMMAND_VENV / "bin" / "certbot-dns-gandi-pat"
    finally:
        LINK.unlink(missing_ok=True)
        shutil.rmtree(COMMAND_VENV, ignore_errors=True)


def test_source_tree_block(certbot_venv: Path, tmp_path: Path) -> None:
    result = run_block(install_blocks()["pip-source"], path=PATH, certbot_dir=tmp_path / "certbot")
    assert_lists_this_plugin(result)


def test_pypi_line_with_the_wheel_standing_in_for_pypi(certbot_venv: Path, tmp_path: Path) -> None:
    # Not on PyPI yet: pip also looks in dist/ (PIP_FIND_LINKS), which holds the
    # wheel that would be uploaded; dnspython still comes from PyPI.
    one_file("certbot_dns_gandi_pat-*-py3-none-any.whl", ROOT / "dist")
    result = run_block(install_blocks()["pypi"], path=PATH, certbot_dir=tmp_path / "certbot",
                       env={"PIP_FIND_LINKS": str(ROOT / "dist")})
    assert result.returncode == 0, result.stderr[-3000:]
    assert_lists_this_plugin(plugins(tmp_path))
    # What got installed is this source tree, not a package of the same name from elsewhere.
    site = next(OPT.glob("lib/python3*/site-packages"))
    installed = site / "certbot_dns_gandi_pat" / "__init__.py"
    assert installed.read_bytes() == (ROOT / "certbot_dns_gandi_pat" / "__init__.py").read_bytes()


def test_dockerfile_run_line_against_a_venv_certbot(certbot_venv: Path, tmp_path: Path) -> None:
    # Docker does not run here: the COPY line is done by hand into a directory
    # that stands for the image's /tmp, and the RUN line runs with the venv's pip
    # as the image's pip.
    dockerfile = install_blocks()["docker"]
    assert dockerfile.startswith("FROM certbot/certbot\n")
    (copy,) = re.findall(r"^COPY (\S+) (\S+)$", dockerfile, re.M)
    (run,) = re.findall(r"^RUN (.+)$", dockerfile, re.M)
    image_tmp = tmp_path / "image-tmp"
    image_tmp.mkdir()
    assert copy[1] == "/tmp/"
    sources = sorted(ROOT.glob(copy[0]))
    assert len(sources) == 1, sources
    shutil.copy(sources[0], image_tmp)
    image_path = f"{OPT}/bin:{SYSTEM_PATH}"  # pip and certbot are on the image's PATH
    result = run_block(run.replace("/tmp/", f"{image_tmp}/") + "\n", path=image_path, certbot_dir=tmp_path / "certbot")
    assert result.returncode == 0, result.stderr[-3000:]
    assert_lists_this_plugin(plugins(tmp_path))
    # the image's PATH holds pip's scripts: the README's --entrypoint names this one
    assert_version(run_block("certbot-dns-gandi-pat --version\n", path=image_path, certbot_dir=tmp_path / "certbot"))
