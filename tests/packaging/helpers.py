"""What the packaging tests share: the README's install commands, certbot's plugin
listing, and a record of the machine's Debian packages to put back afterwards."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

# ----------------------------------------------------------------- README


def install_blocks(readme: Path = ROOT / "README.md", page: Path = ROOT / "docs" / "install.md") -> dict[str, str]:
    """The install commands the docs show, by their marker: README's "## Install" section and docs/install.md.

    A block is marked by ``<!-- install-test: NAME -->`` on the line before its
    opening fence; the tests run those blocks as written. A name may mark a block
    in both files only if the two blocks are the same, so that what is run is
    what either file shows.
    """
    text = readme.read_text()
    start = text.index("\n## Install\n")
    end = text.find("\n## ", start + 1)
    sections = {readme.name: text[start:end if end != -1 else None], f"{page.parent.name}/{page.name}": page.read_text()}
    blocks: dict[str, str] = {}
    for source, section in sections.items():
        for match in re.finditer(r"<!-- install-test: ([\w-]+) -->\n```[\w]*\n(.*?)\n```", section, re.S):
            name, body = match.group(1), match.group(2) + "\n"
            if blocks.get(name, body) != body:
                raise AssertionError(f"install-test: {name} in {source} marks other commands than before:\n"
                                     f"{blocks[name]}---\n{body}")
            blocks[name] = body
    return blocks


def run_block(block: str, *, path: str, certbot_dir: Path, env: Optional[Mapping[str, str]] = None,
              answer: Optional[str] = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run a README block with bash, as a user would paste it, from the source tree.

    ``certbot`` becomes a function that adds --config-dir/--work-dir/--logs-dir
    under ``certbot_dir``, so that ``certbot plugins`` run as root leaves
    /etc/letsencrypt and /var/log/letsencrypt alone; the command itself is the
    one on ``path``. ``answer`` is what the person types at a prompt.
    """
    prelude = (
        "set -euo pipefail\n"
        'certbot() { command certbot "$@" --config-dir "$CERTBOT_TEST_DIR/config" '
        '--work-dir "$CERTBOT_TEST_DIR/work" --logs-dir "$CERTBOT_TEST_DIR/logs"; }\n'
    )
    full_env = dict(os.environ, **(env or {}))
    full_env.update(PATH=path, CERTBOT_TEST_DIR=str(certbot_dir), DEBIAN_FRONTEND="noninteractive")
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PIP_REQUIRE_VIRTUALENV"):
        full_env.pop(name, None)
    return subprocess.run(["bash", "-c", prelude + block], cwd=ROOT, env=full_env, capture_output=True,
                          text=True, timeout=timeout, check=False, input=answer or "")


def lines_starting(block: str, prefix: str) -> list[str]:
    return [line for line in block.splitlines() if line.startswith(prefix)]


# ---------------------------------------------------------- certbot plugins


def plugin_entry(listing: str, name: str = "dns-gandi") -> Optional[str]:
    """The lines that ``certbot plugins`` prints for ``name``, or None."""
    lines = listing.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == f"* {name}":
            entry = []
            for following in lines[i:]:
                if not following.strip() or following.startswith("- - -"):
                    break
                entry.append(following)
            return "\n".join(entry)
    return None


def assert_lists_this_plugin(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    entry = plugin_entry(result.stdout)
    assert entry is not None, f"certbot plugins does not list dns-gandi:\n{result.stdout[-3000:]}"
    assert "certbot_dns_gandi_pat" in entry, f"dns-gandi comes from another package:\n{entry}"


# -------------------------------------------------------------------- apt


def installed_packages() -> dict[str, str]:
    """Installed Debian packages (``name:arch`` where several arches can exist) and versions."""
    out = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev}\t${binary:Package}\t${Version}\n"],
                         capture_output=True, text=True, check=True).stdout
    packages = {}
    for line in out.splitlines():
        status, name, version = line.split("\t")
        if status.startswith("ii"):
            packages[name] = version
    return packages


def apt_get(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", PATH=SYSTEM_PATH)
    result = subprocess.run(["apt-get", "-y", "-q", *args], env=env, capture_output=True, text=True,
                            check=False, timeout=600)
    if check:
        assert result.returncode == 0, f"apt-get {' '.join(args)}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
    return result


@dataclass
class AptState:
    """The installed packages when a test started, so that it can leave them so."""

    before: dict[str, str] = field(default_factory=installed_packages)

    def restore(self) -> list[str]:
        """Purge what was installed since, reinstall what was removed; return what could not be."""
        now = installed_packages()
        added = sorted(set(now) - set(self.before))
        problems: list[str] = []
        if added:
            result = apt_get("purge", *added, check=False)
            if result.returncode != 0:
                problems.append(f"purge {added}: {result.stderr[-500:]}")
        now = installed_packages()
        # Removed or changed (an upgrade pulled in along the way): back to the old version.
        wanted = [f"{name}={version}" for name, version in self.before.items()
                  if now.get(name) != version]
        if wanted:
            result = apt_get("install", "--no-install-recommends", "--allow-downgrades", *wanted, check=False)
            if result.returncode != 0:
                problems.append(f"reinstall {wanted}: {result.stderr[-500:]}")
        now = installed_packages()
        changed = sorted(name for name, version in self.before.items() if now.get(name) != version)
        problems += [f"{name}: {self.before[name]} before, {now.get(name, 'not installed')} now" for name in changed]
        return problems


def package_status(name: str) -> Optional[str]:
    """The installed version of a package, or None."""
    return installed_packages().get(name)


def one_file(pattern: str, directory: Path) -> Path:
    found = sorted(directory.glob(pattern))
    assert len(found) == 1, f"expected exactly one {directory}/{pattern}, found {[f.name for f in found]}"
    return found[0]


def certbot_command(args: Sequence[str], certbot: str) -> list[str]:
    """``Stack.certbot_args`` with another certbot executable than the test venv's."""
    return [certbot, *args[1:]]
