"""renewals, migrate and rotate on real certbot lineages (Pebble + challtestsrv + the LiveDNS stand-in).

Lineages are created by `certbot certonly --authenticator dns-gandi`, then, for
the migration, rewritten into certbot-plugin-gandi's prefixed form (the renewal
file certbot writes, with `authenticator = certbot-plugin-gandi:dns` and
`certbot_plugin_gandi:dns_*` keys, and an INI with `certbot_plugin_gandi:dns_api_key`,
as public issue threads show them).
"""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from certbot import __version__ as certbot_version

from tests.helpers import FAKE_API_KEY, FAKE_TOKEN, certonly, ok
from teststack.stack import Stack

EXE = str(Path(sys.executable).parent / "certbot-dns-gandi-pat")
LEGACY_ERRORS = ("The requested certbot-plugin-gandi:dns plugin does not appear to be installed",
                 "'Namespace' object has no attribute 'certbot_plugin_gandi:dns_")
DOCS = Path(__file__).resolve().parents[2] / "docs"


def command(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], input=stdin, capture_output=True, text=True, timeout=120, check=False)


def cron(config: Path, stack: Stack) -> subprocess.CompletedProcess[str]:
    """docs/renewal.md's cron recipe (prints only when something needs doing), on this config dir."""
    readme = (DOCS / "renewal.md").read_text()
    recipe = readme[readme.index("# /etc/cron.d/certbot-dns-gandi-pat-renewals\n"):]
    recipe = recipe[:recipe.index("```")]
    (path,) = re.findall(r"(?m)^PATH=(.*)$", recipe)
    (line,) = re.findall(r"(?m)^23 7 \* \* \* root (.*)$", recipe)
    line = line.replace("certbot-dns-gandi-pat renewals",
                        f"certbot-dns-gandi-pat renewals --config-dir {config} --nameservers {stack.nameserver}")
    # the command as installed: this environment's bin directory stands in for /usr/local/bin
    env = {"PATH": path.replace("/usr/local/bin", str(Path(EXE).parent))}
    return subprocess.run(["sh", "-c", line], capture_output=True, text=True, timeout=120, check=False, env=env)


def credentials(stack: Stack, tmp: Path, name: str, lines: str, mode: int = 0o600) -> Path:
    path = tmp / "secrets" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"dns_gandi_api_url = {stack.standin.api_url}\n{lines}"
                    f"dns_gandi_tokeninfo_url = {stack.standin.tokeninfo_url}\n")
    path.chmod(mode)
    return path


def to_legacy(conf: Path, ini: Path) -> None:
    """The prefixed form certbot-plugin-gandi wrote before certbot 1.7."""
    text = conf.read_text()
    text = text.replace("authenticator = dns-gandi", "authenticator = certbot-plugin-gandi:dns")
    text = re.sub(r"(?m)^dns_gandi_", "certbot_plugin_gandi:dns_", text)
    # In the order docs/commands.md shows (that plugin's): certbot 1.x names the first unknown key.
    wait = re.search(r"(?m)^certbot_plugin_gandi:dns_propagation_seconds = .*\n", text)
    if wait:
        text = text.replace(wait[0], "").replace("authenticator = certbot-plugin-gandi:dns\n",
                                                 "authenticator = certbot-plugin-gandi:dns\n" + wait[0])
    conf.write_text(text)
    ini.write_text(re.sub(r"(?m)^dns_gandi_", "certbot_plugin_gandi:dns_", ini.read_text()))


def snapshot(*roots: Path) -> dict[str, tuple[bytes, int, int]]:
    seen = {}
    for root in roots:
        for path in [root, *root.rglob("*")]:
            info = path.lstat()
            data = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
            seen[str(path)] = (data, info.st_mode, info.st_mtime_ns)
    return seen


@pytest.mark.compat
def test_certbot_cannot_renew_the_prefixed_form_as_the_docs_say(live: Stack, tmp_path: Path) -> None:
    """What docs/commands.md's migrate section quotes, for certbot 1.x and for today's (run on both by `make compat`)."""
    ini = credentials(live, tmp_path, "old.ini", f"dns_gandi_api_key = {FAKE_API_KEY}\n")
    ok(certonly(live, tmp_path, ini, "example.com", propagation=10))
    to_legacy(tmp_path / "config" / "renewal" / "example.com.conf", ini)
    failed = live.run_certbot(tmp_path, "renew", "--force-renewal")
    assert failed.returncode != 0
    out = failed.stdout + failed.stderr
    readme = (DOCS / "commands.md").read_text()
    section = readme[readme.index("\n## migrate\n"):]
    section = section[:section.index("\n## ", 3)]
    quoted = [line.replace("/etc/letsencrypt", str(tmp_path / "config"))
              for line in re.findall(r"(?m)^(?:Failed to renew|Renewal configuration file) .*$", section)]
    old_certbot = int(certbot_version.split(".")[0]) < 2
    assert quoted[1 if old_certbot else 0] in out, out


def test_renewals_and_migrate_on_a_legacy_lineage(live: Stack, tmp_path: Path) -> None:
    config = tmp_path / "config"
    legacy_ini = credentials(live, tmp_path, "legacy.ini", f"dns_gandi_api_key = {FAKE_API_KEY}\n")
    ok(certonly(live, tmp_path, legacy_ini, "legacy.example.net", propagation=10))
    live.standin.add_token("FAKE-expires-in-20-days-e2e", expires_in=20 * 86400)
    soon_ini = credentials(live, tmp_path, "soon.ini", "dns_gandi_token = FAKE-expires-in-20-days-e2e\n")
    ok(certonly(live, tmp_path, soon_ini, "soon.example.com", propagation=10))
    soon_conf = config / "renewal" / "soon.example.com.conf"
    # Pebble's certificates last five years: the next renewal about 26 days away, as with
    # Let's Encrypt's; renewals further off than a token can live are not held against it.
    soon_conf.write_text("renew_before_expiry = 1800 days\n" + soon_conf.read_text())
    conf = config / "renewal" / "legacy.example.net.conf"
    to_legacy(conf, legacy_ini)
    legacy_conf_bytes, legacy_ini_bytes = conf.read_bytes(), legacy_ini.read_bytes()

    # today's certbot cannot renew the prefixed form
    failed = live.run_certbot(tmp_path, "renew", "--force-renewal", "--cert-name", "legacy.example.net")
    assert failed.returncode != 0
    assert any(message in failed.stdout + failed.stderr for message in LEGACY_ERRORS), failed.stderr

    audit = command("renewals", "--config-dir", str(config), "--nameservers", live.nameserver)
    assert audit.returncode == 2, audit.stdout + audit.stderr
    assert audit.stdout.startswith("dns-gandi renewals CRITICAL - 2 will fail at the next renewal "
                                   "(legacy.example.net, soon.example.com)")
    # the example line docs/commands.md shows, in its parts
    assert ("certbot-plugin-gandi:dns (legacy form); " + str(legacy_ini) + " (certbot_plugin_gandi:dns_api_key, "
            "mode 600): will fail at the next renewal: authenticator = certbot-plugin-gandi:dns is the old "
            "prefixed form, which certbot no longer loads; " + str(legacy_ini) + " uses old prefixed keys "
            "(certbot_plugin_gandi:dns_api_url, certbot_plugin_gandi:dns_api_key, "  # the stand-in's URLs too
            "certbot_plugin_gandi:dns_tokeninfo_url), which this plugin does not read") in audit.stdout, audit.stdout
    assert "expires on" in audit.stdout and "before the next renewal (due from" in audit.stdout
    for secret in (FAKE_API_KEY, "FAKE-expires-in-20-days-e2e"):
        assert secret not in audit.stdout + audit.stderr
    assert cron(config, live).stdout.startswith("dns-gandi renewals CRITICAL - 2 will fail at the next renewal")

    before = snapshot(config, legacy_ini.parent)
    dry = command("migrate", "--config-dir", str(config), "--dry-run")
    assert dry.returncode == 0 and "+authenticator = dns-gandi" in dry.stdout, dry.stdout + dry.stderr
    assert "+dns_gandi_api_key = ***" in dry.stdout and FAKE_API_KEY not in dry.stdout
    assert snapshot(config, legacy_ini.parent) == before  # no byte, mode or mtime changed

    done = command("migrate", "--config-dir", str(config))
    assert done.returncode == 0 and "rewrote 2 file(s) for legacy.example.net" in done.stdout, done.stdout
    again = command("migrate", "--config-dir", str(config))
    assert again.returncode == 0 and "nothing to migrate" in again.stdout

    renewed = live.run_certbot(tmp_path, "renew", "--force-renewal", "--cert-name", "legacy.example.net")
    ok(renewed)
    assert "Congratulations, all renewals succeeded" in renewed.stdout
    assert live.standin.challenge_records() == {}

    audit = command("renewals", "--config-dir", str(config), "--nameservers", live.nameserver, "--json")
    lineages = {x["name"]: x for x in json.loads(audit.stdout)["lineages"]}
    assert lineages["legacy.example.net"]["form"] == "current"
    assert lineages["legacy.example.net"]["status"] == "warn"  # only the API key's deprecation is left
    assert lineages["soon.example.com"]["status"] == "fail"

    # the backups restore the originals byte for byte
    (conf_backup,) = conf.parent.glob("legacy.example.net.conf.bak-*")
    (ini_backup,) = legacy_ini.parent.glob("legacy.ini.bak-*")
    conf.write_bytes(conf_backup.read_bytes())
    legacy_ini.write_bytes(ini_backup.read_bytes())
    assert conf.read_bytes() == legacy_conf_bytes and legacy_ini.read_bytes() == legacy_ini_bytes


def test_rotate_a_token_shared_by_two_lineages(live: Stack, tmp_path: Path) -> None:
    config = tmp_path / "config"
    shared = credentials(live, tmp_path, "shared.ini", f"# certbot's Gandi token\ndns_gandi_token = {FAKE_TOKEN}\n",
                         mode=0o640)
    ok(certonly(live, tmp_path, shared, "example.com", "*.example.com", propagation=10))
    ok(certonly(live, tmp_path, shared, "www.example.org", propagation=10))
    for name in ("example.com", "www.example.org"):
        conf = config / "renewal" / f"{name}.conf"
        # Pebble's certificates last five years; this puts the next renewal
        # about 26 days away, as with Let's Encrypt's 90-day certificates.
        conf.write_text("renew_before_expiry = 1800 days\n" + conf.read_text())
    original = shared.read_bytes()
    new = "FAKE-rotated-token-e2e-31337"
    args = ("rotate", "--credentials", str(shared), "--config-dir", str(config), "--nameservers", live.nameserver)

    bad_tokens = {"FAKE-rotate-expired-e2e": {"expires_in": 0}, "FAKE-rotate-viewonly-e2e": {"scopes": ("domain:view",)},
                  "FAKE-rotate-narrow-e2e": {"domains": ("example.com",)}}
    for secret, kw in bad_tokens.items():
        live.standin.add_token(secret, **kw)
    for stdin in [*(s + "\n" for s in bad_tokens), "", "  \n"]:
        refused = command(*args, "--write-test", stdin=stdin)
        assert refused.returncode == 2, (stdin, refused.stdout, refused.stderr)
        assert refused.stdout.startswith("dns-gandi rotate CRITICAL - refused, nothing was changed")
        assert shared.read_bytes() == original and sorted(shared.parent.glob("shared.ini.*")) == []
        assert stdin.strip() not in refused.stdout + refused.stderr or not stdin.strip()

    live.standin.add_token(new, name="certbot 2026")
    rotated = command(*args, "--write-test", "-v", stdin=new + "\n")
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert "replaced the credential" in rotated.stdout and "2 lineage(s) checked" in rotated.stdout
    assert "[ ok ] write test example.org" in rotated.stdout and "Last safe day to rotate again" in rotated.stdout
    assert shared.read_bytes() == original.replace(FAKE_TOKEN.encode(), new.encode())
    assert stat.S_IMODE(shared.stat().st_mode) == 0o640
    (backup,) = shared.parent.glob("shared.ini.bak-*")
    assert backup.read_bytes() == original and stat.S_IMODE(backup.stat().st_mode) == 0o600

    # the old token is deleted in Gandi's panel: renewals must use the new one
    del live.standin.tokens[FAKE_TOKEN]
    before = {n: (config / "live" / n / "cert.pem").read_bytes() for n in ("example.com", "www.example.org")}
    renewed = live.run_certbot(tmp_path, "renew", "--force-renewal")
    ok(renewed)
    for name, pem in before.items():
        assert (config / "live" / name / "cert.pem").read_bytes() != pem
    assert live.standin.challenge_records() == {}
    quiet = cron(config, live)  # all is well: the cron line prints nothing, so cron mails nothing
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""

    blobs = [rotated.stdout, rotated.stderr, renewed.stdout, renewed.stderr]
    blobs += [p.read_text(errors="replace") for p in (tmp_path / "logs").rglob("*") if p.is_file()]
    assert "LiveDNS" in rotated.stderr  # -v logged the requests
    assert all(new not in blob and FAKE_TOKEN not in blob for blob in blobs)


def test_prometheus_metrics_of_lineages_certbot_made(live: Stack, tmp_path: Path) -> None:
    """Two lineages sharing one INI, renewing in about 26 days: a token lasting ten days makes both
    critical; a healthy one, both ok; the values are the certificates' own."""
    from cryptography import x509
    from prometheus_client.parser import text_string_to_metric_families

    config = tmp_path / "config"
    live.standin.add_token("FAKE-ten-days-prom-e2e", expires_in=10 * 86400)
    shared = credentials(live, tmp_path, "shared.ini", "dns_gandi_token = FAKE-ten-days-prom-e2e\n")
    ok(certonly(live, tmp_path, shared, "example.com", "*.example.com", propagation=10))
    ok(certonly(live, tmp_path, shared, "www.example.org", propagation=10))
    for name in ("example.com", "www.example.org"):
        conf = config / "renewal" / f"{name}.conf"
        conf.write_text("renew_before_expiry = 1800 days\n" + conf.read_text())  # as in the rotate test

    collector = tmp_path / "node-exporter"
    collector.mkdir()
    recipe = (DOCS / "renewal.md").read_text()
    recipe = recipe[recipe.index("# /etc/cron.d/certbot-dns-gandi-pat-metrics\n"):]
    (line,) = re.findall(r"(?m)^17 \* \* \* \* root (.*)$", recipe[:recipe.index("```")])
    line = line.replace("/var/lib/prometheus/node-exporter", str(collector)).replace(
        "certbot-dns-gandi-pat renewals", f"certbot-dns-gandi-pat renewals --config-dir {config} "
        f"--nameservers {live.nameserver}")
    textfile = collector / "certbot-dns-gandi-pat.prom"

    def metrics() -> tuple[int, dict[str, dict[tuple[tuple[str, str], ...], float]]]:
        # the documented cron line, with the command as installed here
        done = subprocess.run(["sh", "-c", line], capture_output=True, text=True, timeout=120, check=False,
                              env={"PATH": f"{Path(EXE).parent}:/usr/bin:/bin"})
        assert done.stdout == "" and done.stderr == "" and [p.name for p in collector.iterdir()] == [textfile.name]
        printed = command("renewals", "--config-dir", str(config), "--nameservers", live.nameserver, "--prometheus")
        assert printed.stdout.splitlines()[-1] == textfile.read_text().splitlines()[-1]  # the same exit code
        return printed.returncode, {f.name: {tuple(sorted(s.labels.items())): s.value for s in f.samples}
                                    for f in text_string_to_metric_families(textfile.read_text())}

    now = time.time()
    code, found = metrics()
    assert code == 2
    prefix, creds = "certbot_dns_gandi_pat_", str(shared)
    assert abs(found[prefix + "token_expiry_timestamp_seconds"][(("credentials", creds),)] - (now + 10 * 86400)) < 600
    for name in ("example.com", "www.example.org"):
        labels = (("credentials", creds), ("lineage", name))
        pem = (config / "live" / name / "cert.pem").read_bytes()
        not_after = x509.load_pem_x509_certificate(pem).not_valid_after_utc.timestamp()
        assert found[prefix + "certificate_expiry_timestamp_seconds"][labels] == not_after
        assert abs(found[prefix + "next_renewal_timestamp_seconds"][labels] - (not_after - 1800 * 86400)) < 2
        assert found[prefix + "lineage_status"][(*labels, ("status", "critical"))] == 1.0
    live.standin.tokens["FAKE-ten-days-prom-e2e"].expires_in = 200 * 86400  # a token that lasts
    code, found = metrics()
    assert code == 0
    assert {labels: v for labels, v in found[prefix + "lineage_status"].items() if v} == {
        (("credentials", creds), ("lineage", name), ("status", "ok")): 1.0 for name in ("example.com", "www.example.org")}
    assert "FAKE-ten-days-prom-e2e" not in textfile.read_text()
