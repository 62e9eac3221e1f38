"""The .deb with Debian's own certbot (/usr/bin/certbot, Debian's Python modules).

The README's Debian block runs as written, then /usr/bin/certbot issues a
certificate through the installed package. The migration case starts from
Debian's python3-certbot-dns-gandi (1.4.3, API keys only, the same dns-gandi
name) and a lineage of the form it leaves, replaces it with one `apt install`,
and renews without editing any file.

The machine's package set is put back as it was at the end: what the tests
installed is purged, what they removed is reinstalled.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from certbot_dns_gandi_pat import __version__
from tests.helpers import FAKE_API_KEY, FAKE_TOKEN
from tests.packaging.helpers import (
    ROOT,
    SYSTEM_PATH,
    AptState,
    apt_get,
    assert_lists_this_plugin,
    install_blocks,
    lines_starting,
    one_file,
    package_status,
    plugin_entry,
    run_block,
)
from teststack.stack import Stack

OURS = "python3-certbot-dns-gandi-pat"
DEBIANS = "python3-certbot-dns-gandi"
CERTBOT = "/usr/bin/certbot"


@pytest.fixture(scope="module")
def debian_certbot() -> Iterator[None]:
    """Debian's certbot installed with apt; the package set restored afterwards."""
    for name in (OURS, DEBIANS):
        if package_status(name):
            pytest.fail(f"{name} is installed on this machine; these tests install and remove it, "
                        "so remove it first (or run them on a CI machine)")
    state = AptState()
    try:
        apt_get("install", "--no-install-recommends", "certbot")
        yield
    finally:
        problems = state.restore()
        assert not problems, f"the machine's packages could not be put back: {problems}"


@pytest.fixture
def apt_yes(tmp_path: Path) -> dict[str, str]:
    """Answer apt's "Do you want to continue?" with yes, as the person at the terminal would."""
    conf = tmp_path / "apt-yes.conf"
    conf.write_text('APT::Get::Assume-Yes "true";\n')
    return {"APT_CONFIG": str(conf)}


def system_certbot(stack: Stack, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [CERTBOT, *stack.certbot_args(workdir, *args)[1:]]
    env = stack.certbot_env(PATH=SYSTEM_PATH)
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False, cwd=workdir)


def ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]


def cert_names(path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName))


def deb_version() -> str:
    deb = one_file("python3-certbot-dns-gandi-pat_*_all.deb", ROOT / "dist" / "deb")
    return deb.name.split("_")[1]


def test_readme_block_installs_the_deb_and_system_certbot_issues(
        debian_certbot: None, live: Stack, tmp_path: Path, apt_yes: dict[str, str]) -> None:
    result = run_block(install_blocks()["deb"], path=SYSTEM_PATH, certbot_dir=tmp_path / "plugins", env=apt_yes)
    assert_lists_this_plugin(result)
    assert package_status(OURS) == deb_version()
    version = subprocess.run(["/usr/bin/certbot-dns-gandi-pat", "--version"], capture_output=True, text=True,
                             check=False, env={"PATH": SYSTEM_PATH})
    assert version.returncode == 0 and __version__ in version.stdout + version.stderr, version

    creds = live.credentials("pat.ini", dns_gandi_token=FAKE_TOKEN)
    ok(system_certbot(live, tmp_path, "certonly", "--authenticator", "dns-gandi", "--dns-gandi-credentials",
                      str(creds), "--dns-gandi-nameservers", live.nameserver, "-d", "example.com",
                      "-d", "*.example.com"))
    assert cert_names(tmp_path / "config" / "live" / "example.com" / "fullchain.pem") == {
        "example.com", "*.example.com"}


def test_replaces_debians_plugin_in_one_command_and_renews_unedited(
        debian_certbot: None, live: Stack, tmp_path: Path, apt_yes: dict[str, str]) -> None:
    deb = one_file("python3-certbot-dns-gandi-pat_*_all.deb", ROOT / "dist" / "deb")
    if not package_status(OURS):
        apt_get("install", f"./{deb.relative_to(ROOT)}")

    # The credentials file of a python3-certbot-dns-gandi user: an API key (24
    # lowercase alphanumerics). The two URL lines point both plugins' successor,
    # this one, at the stand-in; 1.4.3 reads only dns_gandi_api_key and cannot be
    # pointed anywhere but api.gandi.net, so it never runs here.
    creds = live.credentials("gandi.ini", dns_gandi_api_key=FAKE_API_KEY)

    # The lineage is issued through this package with /usr/bin/certbot, then its
    # renewal configuration is cut down to what a `certbot certonly
    # --authenticator dns-gandi --dns-gandi-credentials gandi.ini` run with
    # python3-certbot-dns-gandi writes: no option that only this plugin knows.
    ok(system_certbot(live, tmp_path, "certonly", "--authenticator", "dns-gandi", "--dns-gandi-credentials",
                      str(creds), "--dns-gandi-nameservers", live.nameserver, "-d", "migrate.example.com"))
    renewal = tmp_path / "config" / "renewal" / "migrate.example.com.conf"
    conf = re.sub(r"(?m)^dns_gandi_(?!credentials\b)\w+ = .*\n", "", renewal.read_text())
    renewal.write_text(conf)
    assert re.findall(r"(?m)^(authenticator|dns_gandi_\w+) = (.*)$", conf) == [
        ("authenticator", "dns-gandi"), ("dns_gandi_credentials", str(creds))]

    # Debian's plugin replaces this package (the Conflicts work both ways) and
    # takes the dns-gandi name; certbot still reads the lineage.
    swap = apt_get("install", "--no-install-recommends", DEBIANS)
    assert package_status(OURS) is None, swap.stdout
    listing = system_certbot(live, tmp_path, "plugins")
    ok(listing)
    entry = plugin_entry(listing.stdout)
    assert entry is not None and "certbot_plugin_gandi" in entry, listing.stdout
    certificates = system_certbot(live, tmp_path, "certificates")
    ok(certificates)
    assert "migrate.example.com" in certificates.stdout

    ini_before = creds.read_bytes()
    # The README's command, in one apt run: Debian's plugin goes, this one comes.
    (install,) = lines_starting(install_blocks()["deb"], "apt install ")
    result = run_block(install, path=SYSTEM_PATH, certbot_dir=tmp_path / "plugins", env=apt_yes)
    ok(result)
    assert package_status(DEBIANS) is None, result.stdout
    assert package_status(OURS) == deb_version()

    # The test's DNS server is on 127.0.0.1: name it on the command line, as
    # there is no public delegation to follow here. No file is edited.
    renewed = system_certbot(live, tmp_path, "renew", "--force-renewal",
                             "--dns-gandi-nameservers", live.nameserver)
    ok(renewed)
    archive = tmp_path / "config" / "archive" / "migrate.example.com"
    assert (archive / "cert2.pem").exists(), sorted(p.name for p in archive.iterdir())
    assert cert_names(tmp_path / "config" / "live" / "migrate.example.com" / "cert.pem") == {"migrate.example.com"}
    assert creds.read_bytes() == ini_before
    after = renewal.read_text()
    assert "authenticator = dns-gandi\n" in after
    assert f"dns_gandi_credentials = {creds}\n" in after
    assert [m for m, _, status in live.standin.log if m in ("POST", "PATCH") and status < 300], live.standin.log

    removed = run_block(install_blocks()["deb-remove"], path=SYSTEM_PATH, certbot_dir=tmp_path / "plugins",
                        env=apt_yes)
    ok(removed)
    assert package_status(OURS) is None
    listing = system_certbot(live, tmp_path, "plugins")
    ok(listing)
    assert plugin_entry(listing.stdout) is None, listing.stdout
