"""The Debian package and the snap carry the package's own version and name."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from certbot_dns_gandi_pat import __version__

ROOT = Path(__file__).resolve().parents[2]


def test_debian_changelog_is_in_step_with_the_package_version() -> None:
    first = (ROOT / "debian" / "changelog").read_text().splitlines()[0]
    match = re.fullmatch(r"certbot-dns-gandi-pat \(([^)]+)\) \S+; urgency=\w+", first)
    assert match, first
    upstream = match.group(1).rsplit("-", 1)[0]  # drop the Debian revision
    assert upstream == __version__, (
        f"debian/changelog says {match.group(1)}, certbot_dns_gandi_pat.__version__ is {__version__}: "
        "add a changelog entry (dch -v <version>-1)")


def test_debian_package_replaces_debians_gandi_plugin() -> None:
    control = (ROOT / "debian" / "control").read_text()
    binary = control.split("\nPackage: ", 1)[1]
    fields = dict(re.findall(r"(?m)^([A-Za-z-]+): (.*)$", binary))
    assert binary.startswith("python3-certbot-dns-gandi-pat\n")
    for field in ("Conflicts", "Replaces", "Provides"):
        assert fields[field] == "python3-certbot-dns-gandi", field


def test_snap_takes_its_version_from_the_package() -> None:
    # The command snapcraft.yaml's part runs to set the snap's version.
    snapcraft = (ROOT / "snap" / "snapcraft.yaml").read_text()
    (command,) = re.findall(r'craftctl set version="\$\((.*)\)"', snapcraft)
    out = subprocess.run(["sh", "-c", command], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == __version__


def test_every_install_command_block_is_marked_for_the_packaging_tests() -> None:
    """tests/packaging runs the marked install blocks of README and docs/install.md; only snap and
    docker commands, which cannot run there, are marked untested."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("\n## Install\n")
    sources = {"README.md": readme[start:readme.index("\n## ", start + 1)],
               "docs/install.md": (ROOT / "docs" / "install.md").read_text()}
    marked, untested = set(), []
    for source, section in sources.items():
        for marker, body in re.findall(r"(?:(<!-- [^\n]*? -->)\n)?```\w*\n(.*?)\n```", section, re.S):
            found = re.fullmatch(r"<!-- install-test: ([\w-]+) -->", marker)
            if found:
                marked.add(found.group(1))
            else:
                assert marker.startswith("<!-- untested: "), f"{source}: a block no test runs: {body[:80]!r}"
                untested.append(body.split()[0])
    runners = set(re.findall(r'install_blocks\(\)\["([\w-]+)"\]',
                             "".join(p.read_text() for p in (ROOT / "tests" / "packaging").glob("test_*.py"))))
    assert marked == runners, f"install blocks without a test: {marked - runners}; tests without a block: {runners - marked}"
    assert set(untested) == {"snapcraft", "docker"}, untested  # snapcraft/snap install; docker build/run
