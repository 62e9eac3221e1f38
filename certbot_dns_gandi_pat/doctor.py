"""Diagnostics: ``certbot-dns-gandi-pat doctor`` and the token expiry warning.

Each check prints one line with a mark and, when something is wrong, what to
do about it. Exit status: 0 when every check passes, 1 when one fails, 2 when
nothing fails but something needs attention soon (a token about to expire),
so that a monitoring system can alert on anything but 0.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import stat
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Optional, TextIO

from certbot_dns_gandi_pat import config, dnscheck, livedns

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
_MARKS = {PASS: "[ ok ]", WARN: "[warn]", FAIL: "[FAIL]", SKIP: "[ -- ]"}
REQUIRED_SCOPE = "domain:tech"
ENTRY_POINT = "dns-gandi"
DISTRIBUTION = "certbot-dns-gandi-pat"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    advice: str = ""


# ------------------------------------------------------------- token expiry

def token_expiry(info: Optional[dict[str, Any]], now: Optional[dt.datetime] = None) -> Optional[dt.datetime]:
    """When the token expires, from a ``/tokeninfo`` answer; None when unknown."""
    if not info:
        return None
    now = now or dt.datetime.now(dt.timezone.utc)
    seconds = info.get("expires_in")
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
        return now + dt.timedelta(seconds=float(seconds))
    stamp = info.get("expires_at") or info.get("expire")
    if isinstance(stamp, str):
        try:
            when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return None
        return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
    return None


def expiry_warning(
    info: Optional[dict[str, Any]], days: int, source: str, now: Optional[dt.datetime] = None
) -> Optional[str]:
    """The warning to print when the token expires within ``days``; else None."""
    now = now or dt.datetime.now(dt.timezone.utc)
    when = token_expiry(info, now)
    if when is None or when - now > dt.timedelta(days=days):
        return None
    left = max(0, (when - now).days)
    name = f" \"{info['pat_name']}\"" if info and isinstance(info.get("pat_name"), str) else ""
    return (
        f"The Gandi Personal Access Token{name} in {source} expires on "
        f"{when:%Y-%m-%d} (in {left} day(s)); renewals will fail after that. Tokens cannot "
        f"be extended: {config.PAT_HOWTO}, then replace the old value in {source}."
    )


# ------------------------------------------------------------------ checks

class Doctor:
    """Runs the checks in order; later checks are skipped when a basis is missing."""

    def __init__(
        self,
        credentials: str,
        domains: Sequence[str],
        *,
        nameservers: Optional[Sequence[dnscheck.Server]] = None,
        write_test: bool = False,
        expiry_days: int = 30,
    ) -> None:
        self.credentials = os.path.abspath(os.path.expanduser(credentials))
        self.domains = list(domains)
        self.nameservers = list(nameservers) if nameservers else None
        self.write_test = write_test
        self.expiry_days = expiry_days
        self.checks: list[Check] = []
        self.secret = ""

    def add(self, name: str, status: str, detail: str, advice: str = "") -> None:
        self.checks.append(Check(name, status, detail, advice))

    def run(self) -> list[Check]:
        self.check_plugin_conflicts()
        gandi = self.check_file()
        if gandi is None:
            return self.checks
        client = livedns.LiveDNSClient(gandi, user_agent=f"{DISTRIBUTION} doctor")
        try:
            if self.check_accepted(client):
                self.check_token(client, gandi)
                for domain in self.domains:
                    self.check_domain(client, domain)
        finally:
            client.close()
        return self.checks

    def check_plugin_conflicts(self) -> None:
        from importlib.metadata import distributions

        owners = sorted({
            dist.metadata["Name"] for dist in distributions()
            for ep in dist.entry_points
            if ep.group == "certbot.plugins" and ep.name == ENTRY_POINT
        })
        others = [name for name in owners if name.lower().replace("_", "-") != DISTRIBUTION]
        if others:
            self.add("plugin", FAIL, f"{', '.join(others)} also registers the {ENTRY_POINT} "
                     "authenticator, so certbot refuses to start",
                     f"pip uninstall {' '.join(others)} (your INI files keep working)")
        else:
            self.add("plugin", PASS, f"only {DISTRIBUTION} provides {ENTRY_POINT}")

    def check_file(self) -> Optional[config.GandiConfig]:
        try:
            gandi = config.read_file(self.credentials)
        except config.ConfigError as exc:
            self.add("credentials file", FAIL, str(exc))
            return None
        self.secret = gandi.secret.reveal()
        self.add("credentials file", PASS,
                 f"{self.credentials}: one credential ({gandi.credential_key})")
        for warning in gandi.warnings:
            self.add("credentials file", WARN, warning)
        mode = stat.S_IMODE(os.stat(self.credentials).st_mode)
        if mode & 0o077:
            self.add("file permissions", FAIL if mode & 0o007 else WARN,
                     f"{self.credentials} has mode {mode:o}: others can read the credential",
                     f"chmod 600 {self.credentials}")
        else:
            self.add("file permissions", PASS, f"mode {mode:o}")
        return gandi

    def check_accepted(self, client: livedns.LiveDNSClient) -> bool:
        try:
            count = len(client.list_domains())
        except livedns.ForbiddenError:
            self.add("credential", PASS, "accepted by LiveDNS (it may not list domains)")
            return True
        except livedns.LiveDNSError as exc:
            self.add("credential", FAIL, str(exc))
            return False
        self.add("credential", PASS, f"accepted by LiveDNS; {count} domain(s) visible")
        return True

    def check_token(self, client: livedns.LiveDNSClient, gandi: config.GandiConfig) -> None:
        if not gandi.is_pat:
            self.add("token", WARN, "legacy API key: no expiry or scope information",
                     config.PAT_HOWTO)
            return
        info = client.token_info()
        if info is None:
            self.add("token", SKIP, f"{gandi.tokeninfo_url} gave no token information")
            return
        name = str(info.get("pat_name") or "(unnamed)")
        when = token_expiry(info)
        if when is None:
            self.add("token expiry", SKIP, f"token {name}: expiry unknown")
        else:
            now = dt.datetime.now(dt.timezone.utc)
            days = (when - now).days
            if when <= now:
                self.add("token expiry", FAIL, f"token {name} expired on {when:%Y-%m-%d}",
                         config.PAT_HOWTO)
            elif days < self.expiry_days:
                self.add("token expiry", WARN,
                         f"token {name} expires in {days} day(s), on {when:%Y-%m-%d}",
                         config.PAT_HOWTO + ", before that date")
            else:
                self.add("token expiry", PASS,
                         f"token {name} expires in {days} day(s), on {when:%Y-%m-%d}")
        scopes = info.get("scope")
        if isinstance(scopes, str):
            scopes = scopes.split()
        if not isinstance(scopes, list):
            self.add("token scopes", SKIP, "scopes unknown")
        elif REQUIRED_SCOPE in scopes:
            self.add("token scopes", PASS, f"{', '.join(map(str, scopes))}")
        else:
            self.add("token scopes", FAIL,
                     f"{REQUIRED_SCOPE} missing (has: {', '.join(map(str, scopes)) or 'none'})",
                     "create a token with the permission \"Manage domain name technical "
                     "configurations\"")

    def check_domain(self, client: livedns.LiveDNSClient, domain: str) -> None:
        label = f"domain {domain}"
        try:
            name = livedns.normalize_name(domain.removeprefix("*."))
            challenge = f"_acme-challenge.{name}"
            target = dnscheck.CnameResolver(self.nameservers).target(challenge)
            zone = client.find_zone(target)
        except (livedns.LiveDNSError, dnscheck.DNSCheckError) as exc:
            self.add(label, FAIL, str(exc))
            return
        via = f" (delegated by CNAME to {target})" if target != challenge else ""
        self.add(label, PASS, f"{challenge}{via} is written in LiveDNS zone {zone}")
        try:
            ours = sorted(client.nameservers(zone))
        except livedns.LiveDNSError as exc:
            self.add(f"{label} nameservers", FAIL, str(exc))
            return
        public = dnscheck.zone_nameservers(zone, servers=self.nameservers)
        if not public:
            self.add(f"{label} delegation", SKIP,
                     f"LiveDNS serves {zone} from {', '.join(ours)}; the public delegation "
                     "could not be looked up from this host")
        elif set(public) <= set(ours):
            self.add(f"{label} delegation", PASS, f"{zone} is delegated to {', '.join(public)}")
        else:
            self.add(f"{label} delegation", FAIL,
                     f"{zone} is delegated to {', '.join(public)}, not to its LiveDNS "
                     f"nameservers {', '.join(ours)}",
                     "at the registrar, set the domain's nameservers to the LiveDNS ones; "
                     "until then the CA cannot see the challenge records")
        if self.write_test:
            self.check_write(client, zone)

    def check_write(self, client: livedns.LiveDNSClient, zone: str) -> None:
        # No real challenge is ever named like this, so nothing can collide.
        name = f"_certbot-dns-gandi-pat-doctor-{secrets.token_hex(4)}"
        value = f"write test {secrets.token_hex(8)}"
        try:
            client.add_txt(zone, name, [value])
        except livedns.LiveDNSError as exc:
            self.add(f"write test {zone}", FAIL, str(exc))
            return
        try:
            client.remove_txt(zone, name, [value])
        except livedns.LiveDNSError as exc:
            self.add(f"write test {zone}", FAIL, f"created {name}.{zone} but could not "
                     f"remove it: {exc}", f"delete TXT {name}.{zone} in Gandi's admin panel")
            return
        self.add(f"write test {zone}", PASS, f"created and removed TXT {name}.{zone}")


def exit_code(checks: Sequence[Check]) -> int:
    statuses = {c.status for c in checks}
    return 1 if FAIL in statuses else 2 if WARN in statuses else 0


def render(checks: Sequence[Check], as_json: bool, secret: str) -> str:
    if as_json:
        text = json.dumps({"ok": exit_code(checks) == 0, "exit_code": exit_code(checks),
                           "checks": [asdict(c) for c in checks]}, indent=2)
    else:
        lines = []
        for check in checks:
            lines.append(f"{_MARKS[check.status]} {check.name}: {check.detail}")
            if check.advice and check.status in (FAIL, WARN):
                lines.append(f"       -> {check.advice}")
        text = "\n".join(lines)
    # Belt and braces: no check prints the credential, and none may ever.
    return text.replace(secret, "***") if secret else text


def main(argv: Optional[Sequence[str]] = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(
        prog="certbot-dns-gandi-pat",
        description="Diagnostics for the certbot dns-gandi authenticator.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    doc = sub.add_parser("doctor", help="check credentials, token, zones and delegation")
    doc.add_argument("--credentials", required=True, help="the credentials INI file")
    doc.add_argument("--nameservers", help="HOST[:PORT],... DNS servers to ask instead")
    doc.add_argument("--write-test", action="store_true",
                     help="also create and remove a TXT record in each domain's zone")
    doc.add_argument("--json", action="store_true", help="machine-readable output")
    doc.add_argument("--expiry-warning-days", type=int, default=30,
                     help="warn when the token expires within this many days (default: 30)")
    doc.add_argument("domains", nargs="*", metavar="DOMAIN")
    args = parser.parse_args(argv)

    servers = None
    if args.nameservers:
        try:
            servers = dnscheck.resolve_addresses(dnscheck.parse_nameservers(args.nameservers))
        except dnscheck.DNSCheckError as exc:
            parser.error(str(exc))
    doctor = Doctor(args.credentials, args.domains, nameservers=servers,
                    write_test=args.write_test, expiry_days=args.expiry_warning_days)
    checks = doctor.run()
    print(render(checks, args.json, doctor.secret), file=out)
    return exit_code(checks)
