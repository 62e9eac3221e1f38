"""``certbot-dns-gandi-pat doctor``: is this credentials file ready for these domains?

Each check prints one line with a mark and, when something is wrong, what to
do about it, under a one-line summary; exit codes as in ``report``. The checks
run in order, and later ones are skipped when what they build on failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import stat
from collections.abc import Sequence
from typing import Optional

from certbot_dns_gandi_pat._internal import config, dnscheck, livedns, tokens
from certbot_dns_gandi_pat._internal.certbot_files import files
from certbot_dns_gandi_pat._internal.commands import checks, options, report
from certbot_dns_gandi_pat._internal.commands.checks import DISTRIBUTION, REQUIRED_SCOPE
from certbot_dns_gandi_pat._internal.commands.report import FAIL, PASS, SKIP, WARN, Check

NAME = "doctor"
TITLE = "dns-gandi doctor"
HELP = "check credentials, token, zones and delegation"
ENTRY_POINT = "dns-gandi"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--credentials", required=True, help="the credentials INI file")
    options.nameservers(parser, "ask instead")
    parser.add_argument("--write-test", action="store_true",
                        help="also create and remove a TXT record in each domain's zone")
    options.json_output(parser)
    options.expiry_warning_days(parser)
    parser.add_argument("domains", nargs="*", metavar="DOMAIN")


def run(args: argparse.Namespace, out: report.Output) -> int:
    doctor = Doctor(args.credentials, args.domains, nameservers=args.nameservers,
                    write_test=args.write_test, expiry_days=args.expiry_warning_days, ledger=out.ledger)
    found = doctor.run()
    out.secret(doctor.secret)  # no check prints the credential; this makes sure none ever does
    return out.emit(report.checks_report(TITLE, found))


class Doctor:
    """Runs the checks in order; later checks are skipped when a basis is missing."""

    def __init__(
        self,
        credentials: str,
        domains: Sequence[str],
        *,
        nameservers: Optional[Sequence[dnscheck.Server]] = None,
        write_test: bool = False,
        expiry_days: int = tokens.DEFAULT_WARNING_DAYS,
        ledger: Optional[files.Ledger] = None,
    ) -> None:
        self.credentials = os.path.abspath(os.path.expanduser(credentials))
        self.domains = list(domains)
        self.nameservers = list(nameservers) if nameservers else None
        self.write_test = write_test
        self.expiry_days = expiry_days
        self.ledger = ledger
        self.checks: list[Check] = []
        self.secret = ""

    def add(self, name: str, status: str, detail: str, advice: str = "") -> None:
        self.checks.append(Check(name, status, detail, advice))

    def run(self) -> list[Check]:
        self.check_plugin_conflicts()
        gandi = self.check_file()
        if gandi is None:
            return self.checks
        client = livedns.connect(gandi, user_agent=f"{DISTRIBUTION} doctor")
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
        if mode & 0o007:
            self.add("file permissions", FAIL,
                     f"{self.credentials} has mode {mode:o}: every user of this host can read "
                     "the credential", f"chmod 600 {self.credentials}")
        elif mode & 0o070:
            self.add("file permissions", WARN,
                     f"{self.credentials} has mode {mode:o}: members of its group can read "
                     "the credential", f"chmod 600 {self.credentials}, unless that group is meant to")
        else:
            self.add("file permissions", PASS, f"mode {mode:o}")
        return gandi

    def check_accepted(self, client: livedns.LiveDNSClient) -> bool:
        said = checks.acceptance(client)
        if said.error is not None:
            # Rejected is CRITICAL; unreachable or failing LiveDNS is "could not check".
            self.add("credential", FAIL if said.accepted is False else SKIP, said.error.headline, said.error.advice)
            return False
        if said.domains is None:
            self.add("credential", PASS, "accepted by LiveDNS (it may not list domains)")
        else:
            self.add("credential", PASS, f"accepted by LiveDNS; {said.domains} domain(s) visible")
        return True

    def check_token(self, client: livedns.LiveDNSClient, gandi: config.GandiConfig) -> None:
        if not gandi.is_pat:
            self.add("token", WARN, "legacy API key: no expiry or scope information",
                     config.PAT_HOWTO)
            return
        info = client.token_info()
        if not info.known:
            self.add("token", SKIP, f"token information unreadable: {gandi.tokeninfo_url} gave "
                     f"{info.problem}")
            return
        token = checks.Token(info, dt.datetime.now(dt.timezone.utc))
        name = token.name.strip() or "(unnamed)"
        when = info.expires_at
        if when is None:
            self.add("token expiry", SKIP, f"token {name}: expiry unknown")
        elif token.expired:
            self.add("token expiry", FAIL, f"token {name} expired on {when:%Y-%m-%d}", config.PAT_HOWTO)
        else:
            days = tokens.days_left(info, token.now)
            status = WARN if tokens.expires_within(info, self.expiry_days, token.now) else PASS
            self.add("token expiry", status, f"token {name} expires in {days} day(s), on {when:%Y-%m-%d}",
                     "create a new token and run `certbot-dns-gandi-pat rotate` before that date"
                     if status == WARN else "")
        if info.scopes is None:
            self.add("token scopes", SKIP, "scopes unknown")
        elif token.lacks_scope:
            self.add("token scopes", FAIL, f"{REQUIRED_SCOPE} missing (has: {token.scopes})",
                     "create a token with the permission \"Manage domain name technical configurations\"")
        else:
            self.add("token scopes", PASS, token.scopes)

    def check_domain(self, client: livedns.LiveDNSClient, domain: str) -> None:
        label = f"domain {domain}"
        try:
            reach = checks.challenge_zone(client, dnscheck.CnameResolver(self.nameservers), domain)
        except dnscheck.NoAnswer as exc:
            self.add(label, SKIP, f"could not check: {exc}",
                     "allow DNS queries from this host, or name reachable servers with --nameservers")
            return
        except livedns.ForbiddenError as exc:
            self.add(label, FAIL, exc.headline,
                     f"give the token \"Manage domain name technical configurations\" on {domain} (the "
                     "whole organization, or this domain among its resources), in the organization that "
                     "owns the domain (dns_gandi_sharing_id, if set, must be that organization)")
            return
        except livedns.LiveDNSError as exc:
            known = exc.refused or isinstance(exc, livedns.ZoneNotFoundError)
            self.add(label, FAIL if known else SKIP, exc.headline, exc.advice)
            return
        except dnscheck.DNSCheckError as exc:
            self.add(label, FAIL, exc.headline)
            return
        zone = reach.zone
        self.add(label, PASS, f"{reach.challenge}{reach.via} is written in LiveDNS zone {zone}")
        try:
            ours = sorted(client.nameservers(zone))
        except livedns.LiveDNSError as exc:
            self.add(f"{label} nameservers", FAIL, exc.headline, exc.advice)
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
        self.checks.append(checks.write_test(client, zone, "doctor", self.ledger))
