"""The certbot snap plugin, as far as it can be checked without snapd.

The certbot snap (3.0 and later: core24, Python 3.12) finds a connected plugin
snap through the plugin's "certbot" content slot and puts
``/snap/<plugin>/current/lib/python3.12/site-packages/`` on CERTBOT_PLUGIN_PATH;
certbot appends those directories to ``sys.path`` and reads their entry points
(certbot/_internal/snap_config.py and plugins/disco.py). Here the payload is
built with the script snapcraft.yaml runs, and the newest certbot from PyPI, on
Python 3.12, loads it through CERTBOT_PLUGIN_PATH and issues a certificate.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
from importlib.metadata import distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from certbot_dns_gandi_pat import __version__
from tests.helpers import FAKE_TOKEN
from tests.packaging.helpers import ROOT, SYSTEM_PATH, assert_lists_this_plugin, plugin_entry
from teststack.stack import Stack

SNAP = ROOT / "snap"
# The certbot snap ships these (certbot and what it depends on); a copy in the
# plugin's payload would sit on sys.path next to certbot's own.
CERTBOT_SNAP_SHIPS = {"certbot", "acme", "josepy", "cryptography", "cffi", "pyopenssl", "requests", "urllib3",
                      "idna", "certifi", "charset-normalizer", "configobj", "configargparse", "parsedatetime",
                      "pyrfc3339", "pytz", "distro", "setuptools"}


def python312() -> str:
    candidates = [*sorted(glob.glob("/root/.pyenv/versions/3.12.*/bin/python")),
                  *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12.*/bin/python"))),
                  shutil.which("python3.12") or "/usr/bin/python3.12"]
    for candidate in candidates:
        if os.access(candidate, os.X_OK) and subprocess.run([candidate, "--version"], capture_output=True,
                                                             check=False).returncode == 0:
            return candidate
    pytest.fail("no Python 3.12 on this machine (the certbot snap's Python): install it (pyenv install 3.12); "
                "looked at " + ", ".join(candidates))


def run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600, **kw)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{argv}:\n{result.stdout[-2000:]}{result.stderr[-3000:]}"
    return result  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def snap_certbot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Python 3.12 virtual environment with the newest certbot, standing for the certbot snap."""
    venv = tmp_path_factory.mktemp("certbot-py312")
    run([python312(), "-m", "venv", str(venv)])
    run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "certbot"])
    return venv


@pytest.fixture(scope="module")
def payload(snap_certbot: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """$SNAP/lib/python3.12/site-packages as snapcraft.yaml's part builds it (from the source tree)."""
    site = tmp_path_factory.mktemp("snap") / "lib" / "python3.12" / "site-packages"
    run(["sh", str(SNAP / "local" / "build-payload"), str(snap_certbot / "bin" / "python"), str(site), "."],
        cwd=ROOT, env=dict(os.environ, PATH=f"{snap_certbot / 'bin'}:{SYSTEM_PATH}"))
    return site


def dist_names(path: Path) -> dict[str, str]:
    return {canonicalize_name(d.metadata["Name"]): d.version for d in distributions(path=[str(path)])}


def snap_certbot_run(venv: Path, argv: list[str], plugin_path: str | None, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, PATH=f"{venv / 'bin'}:{SYSTEM_PATH}", **env)
    full_env.pop("CERTBOT_PLUGIN_PATH", None)
    if plugin_path is not None:
        full_env["CERTBOT_PLUGIN_PATH"] = plugin_path
    # The certbot snap adds --preconfigured-renewal to every run.
    return subprocess.run([str(venv / "bin" / "certbot"), *argv, "--preconfigured-renewal"], env=full_env,
                          capture_output=True, text=True, check=False, timeout=300)


def yaml_to_json(path: Path, python: str, tmp: Path) -> dict[str, object]:
    lib = tmp / "yaml-lib"
    run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target", str(lib), "pyyaml"])
    out = run([python, "-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
               str(path)], env=dict(os.environ, PYTHONPATH=str(lib)))
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_snapcraft_yaml_has_certbots_plugin_shape(snap_certbot: Path, tmp_path: Path) -> None:
    doc = yaml_to_json(SNAP / "snapcraft.yaml", str(snap_certbot / "bin" / "python"), tmp_path)
    assert (doc["name"], doc["base"], doc["confinement"]) == ("certbot-dns-gandi-pat", "core24", "strict")
    assert doc["slots"] == {"certbot": {"interface": "content", "content": "certbot-1",
                                        "read": ["$SNAP/lib/python3.12/site-packages"]}}
    assert doc["plugs"] == {"certbot-metadata": {"interface": "content", "content": "metadata-1",
                                                 "target": "$SNAP/certbot-shared"}}
    parts = doc["parts"]
    assert isinstance(parts, dict)
    part = parts[doc["adopt-info"]]
    # The part builds with the very script this test runs, into the slot's directory.
    assert 'build-payload python3 "$CRAFT_PART_INSTALL/lib/python3.12/site-packages" .' in part["override-build"]
    assert "mkdir -p \"$CRAFT_PART_INSTALL/certbot-shared\"" in parts["certbot-metadata"]["override-build"]
    # The snap's version is read from the package, by the command the part runs.
    (expression,) = re.findall(r'craftctl set version="\$\((.*)\)"', part["override-pull"])
    version = run(["sh", "-c", expression], cwd=ROOT).stdout.strip()
    assert version == __version__


@pytest.mark.parametrize(("certbot_version", "status"), [
    ("2.11.0", 1), ("3.0.0", 0), ("3.3.0", 0), ("5.1.0", 0), ("10.0.0", 0), (None, 0)])
def test_post_refresh_hook_refuses_a_certbot_snap_older_than_3(tmp_path: Path, certbot_version: str | None,
                                                                status: int) -> None:
    (tmp_path / "certbot-shared").mkdir()
    if certbot_version:
        (tmp_path / "certbot-shared" / "certbot-version.txt").write_text(certbot_version + "\n")
    hook = SNAP / "hooks" / "post-refresh"
    assert os.access(hook, os.X_OK)
    result = subprocess.run([str(hook)], env={"SNAP": str(tmp_path), "PATH": SYSTEM_PATH}, capture_output=True,
                            text=True, check=False)
    assert result.returncode == status, result.stderr
    if status:
        assert certbot_version and certbot_version in result.stderr and "3.0.0" in result.stderr


def test_payload_holds_only_what_the_certbot_snap_lacks(payload: Path, snap_certbot: Path) -> None:
    shipped = dist_names(payload)
    certbots = dist_names(next(snap_certbot.glob("lib/python3.12/site-packages")))
    assert "certbot" in certbots
    assert shipped.keys() & certbots.keys() == set(), f"payload shadows certbot's own: {shipped}"
    assert shipped.keys() & CERTBOT_SNAP_SHIPS == set(), f"payload shadows certbot's own: {shipped}"
    assert shipped.get("certbot-dns-gandi-pat") == __version__, shipped
    # Every requirement of the plugin is met by certbot's environment or the payload.
    (ours,) = distributions(name="certbot-dns-gandi-pat", path=[str(payload)])
    available = {**certbots, **shipped}
    for line in ours.requires or []:
        req = Requirement(line)
        if req.marker and not req.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(req.name)
        assert name in available, f"{req} is neither in the certbot snap nor in the payload: add it to " \
                                  "snap/local/payload-requirements.txt"
        assert req.specifier.contains(available[name], prereleases=True), f"{req}: found {available[name]}"
    assert sorted(shipped) == ["certbot-dns-gandi-pat", "dnspython"], shipped  # what the snap holds today


def test_certbot_on_python312_loads_the_payload_and_issues(payload: Path, snap_certbot: Path, live: Stack,
                                                            tmp_path: Path) -> None:
    plugin_path = f"{payload}/"  # as the certbot snap writes it
    dirs = ["--config-dir", str(tmp_path / "config"), "--work-dir", str(tmp_path / "work"),
            "--logs-dir", str(tmp_path / "logs")]
    without = snap_certbot_run(snap_certbot, ["plugins", *dirs], None)
    assert without.returncode == 0, without.stderr[-2000:]
    assert plugin_entry(without.stdout) is None, "certbot's environment already has a dns-gandi plugin"
    assert_lists_this_plugin(snap_certbot_run(snap_certbot, ["plugins", *dirs], plugin_path))

    creds = live.credentials("snap.ini", dns_gandi_token=FAKE_TOKEN)
    args = live.certbot_args(tmp_path, "certonly", "--authenticator", "dns-gandi", "--dns-gandi-credentials",
                             str(creds), "--dns-gandi-nameservers", live.nameserver, "-d", "snap.example.com",
                             "-d", "*.snap.example.com")[1:]
    result = snap_certbot_run(snap_certbot, args, plugin_path, **{
        k: v for k, v in live.certbot_env().items() if k == "REQUESTS_CA_BUNDLE"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert (tmp_path / "config" / "live" / "snap.example.com" / "fullchain.pem").exists()
