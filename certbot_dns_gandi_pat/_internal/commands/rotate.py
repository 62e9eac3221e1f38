"""``certbot-dns-gandi-pat rotate``: put a new token in place without risking a renewal.

Rules, each one checked by a test:

* The new token is read from standard input only (a no-echo prompt on a
  terminal, otherwise a pipe), never from the command line, where shell
  history and the process list would keep it. One trailing newline is
  dropped; empty, blank, multi-line input or a value with spaces is refused.
* Nothing is written until every check passed: ``/tokeninfo`` (expired, no
  ``domain:tech``, or expiring before a renewal that uses the file: refused),
  LiveDNS accepts the token, and for every domain of every lineage under
  ``--config-dir`` that uses this credentials file, the token reaches the zone
  that holds ``_acme-challenge`` (CNAMEs followed); with ``--write-test`` it
  also creates and removes a TXT record there.
* Only the credential line changes, in place (an old ``dns_gandi_api_key`` line
  becomes ``dns_gandi_token``); comments, key order, owner and mode stay. The
  file is backed up (``FILE.bak-<timestamp>``, mode 600 or narrower) and
  replaced atomically while certbot's lock is held; if certbot runs, the
  rotation is refused.
* No token, old or new, is ever printed or logged: the two are told apart by a
  fingerprint, the first 8 hex digits of their SHA-256.

Exit status: 0 done (or, with ``--dry-run``, would be done), 2 refused,
3 could not check (network, DNS, unreadable configuration).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import hashlib
import os
import stat
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional, TextIO

from certbot_dns_gandi_pat._internal import config, dnscheck, livedns, tokens
from certbot_dns_gandi_pat._internal.certbot_files import files, inifile, lineages
from certbot_dns_gandi_pat._internal.commands import checks, options, report
from certbot_dns_gandi_pat._internal.commands.report import FAIL, PASS, SKIP, WARN
from certbot_dns_gandi_pat._internal.errors import GandiPatError

NAME = "rotate"
TITLE = "dns-gandi rotate"
HELP = ("replace the token in a credentials file, after checking it; the new token is read from "
        "standard input")
MAX_INPUT = 4096
PROMPT = "New Gandi Personal Access Token (input is not shown): "


class Stop(GandiPatError):
    """The rotation stops here; ``code`` is the exit status."""

    def __init__(self, message: str, code: int, advice: str = "") -> None:
        super().__init__(message, advice)
        self.code = code


def refused(message: str, advice: str = "") -> Stop:
    return Stop(message, report.CRITICAL, advice)


def cannot_check(message: str, advice: str = "") -> Stop:
    return Stop(message, report.UNKNOWN, advice)


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:8]


def read_token(stdin: TextIO) -> str:
    """The new token from a no-echo prompt or a pipe, validated; never echoed."""
    try:
        # getpass prompts on, and reads from, the terminal itself, without echo.
        value = getpass.getpass(PROMPT) if stdin.isatty() else stdin.read(MAX_INPUT + 1)
    except (EOFError, KeyboardInterrupt):
        raise refused("no token was given") from None
    except UnicodeDecodeError:
        raise refused("standard input is not UTF-8 text") from None
    if len(value) > MAX_INPUT:
        raise refused(f"standard input holds more than {MAX_INPUT} characters: not a token")
    for ending in ("\r\n", "\n"):
        if value.endswith(ending):
            value = value[: -len(ending)]
            break
    how = ("pipe the token alone on one line, e.g. `pass show gandi-token | certbot-dns-gandi-pat "
           "rotate --credentials FILE`, or type it at the prompt")
    if not value.strip():
        raise refused("the new token is empty (standard input held nothing but whitespace)", how)
    if "\n" in value or "\r" in value:
        raise refused("standard input holds more than one line; a token is a single line", how)
    if any(ch.isspace() for ch in value):
        raise refused("the new token contains spaces or tabs; a token has none (copy it again from "
                      "Gandi's admin panel)", how)
    try:
        config.parse({config.TOKEN: value}, "the new token")
    except config.ConfigError as exc:
        raise refused(str(exc)) from None
    return value


@dataclass
class Rotation:
    credentials: str
    config_dir: str
    nameservers: Optional[Sequence[dnscheck.Server]] = None
    write_test: bool = False
    dry_run: bool = False
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    certbot_version: Optional[Sequence[int]] = None
    checks: list[report.Check] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    info: Optional[tokens.TokenInfo] = None
    ledger: files.Ledger = field(default_factory=files.Ledger)

    def add(self, name: str, status: str, detail: str, advice: str = "") -> None:
        self.checks.append(report.Check(name, status, detail, advice))

    # ----------------------------------------------------------- the steps

    def run(self, stdin: TextIO) -> report.Report:
        path = os.path.abspath(os.path.expanduser(self.credentials))
        try:
            old = self.read_file(path)
            users = self.find_users(path)
            if files.certbot_running(self.config_dir):
                raise refused(f"certbot is running (it holds {os.path.join(self.config_dir, files.LOCK_NAME)})",
                              "run this again when certbot has finished")
            token = read_token(stdin)
            self.secrets.append(token)
            if token == old.secret:
                raise refused(f"the new token is the one already in {path} (fingerprint "
                              f"{fingerprint(token)})", "paste the token you created in Gandi's admin panel")
            new_values = dict(old.values)
            if old.entry.key == config.API_KEY:
                del new_values[config.API_KEY]  # the line becomes the token line
            new_values[config.TOKEN] = token
            try:
                # Named so that LiveDNS's errors speak of the new token, not the file's.
                gandi = config.parse(new_values, f"{path} (new token)")
            except config.ConfigError as exc:
                raise refused(str(exc)) from None
            old_name = self.old_token_name(old)
            self.check(gandi, users, path)
            old.ini.document.set_value(old.entry, token,
                                       key=config.TOKEN if old.entry.key != config.TOKEN else None)
            try:
                old.ini.verify(new_values)
            except inifile.EditError as exc:
                raise refused(str(exc)) from None
            change = (f"{path} line {old.entry.index + 1}: {old.entry.key} ({fingerprint(old.secret)}) "
                      f"-> {config.TOKEN} ({fingerprint(token)})")
            if self.dry_run:
                return self.report(report.OK, f"dry run: every check passed; would change {change}; "
                                   "nothing was written")
            backup = self.write(old)
            self.add("credentials file", PASS, f"{change}; backup {backup}")
            mode = stat.S_IMODE(os.stat(path).st_mode)
            if mode & 0o007:
                self.add("credentials file", WARN, f"{path} has mode {mode:o} (kept): every user of this "
                         "host can read the token", f"chmod 600 {path}")
            if old.entry.key == config.TOKEN and config.API_KEY in old.values:
                self.add("credentials file", WARN, f"{config.API_KEY} in {path} is not used (the token is)",
                         f"delete the {config.API_KEY} line")
            return self.done(path, old, token, old_name, users)
        except Stop as stop:
            if stop.advice:
                self.notes.insert(0, f"-> {stop.advice}")
            why = "refused" if stop.code == report.CRITICAL else "could not check"
            return self.report(stop.code, f"{why}, nothing was changed: {stop.headline}")

    def read_file(self, path: str) -> _OldFile:
        self.ledger.unchanged(path)
        try:
            snap = files.snapshot(path)
        except FileNotFoundError:
            raise refused(f"{path} does not exist", "give the credentials file your renewals use "
                          "(dns_gandi_credentials in /etc/letsencrypt/renewal/*.conf)") from None
        except OSError as exc:
            raise refused(f"{path} cannot be read ({exc.strerror})", "run this as root") from None
        try:
            # Read as the plugin reads it, so that the checks below see what a renewal will.
            ini = inifile.loads(snap.data, path)
            config.check_layout(ini)
        except (inifile.EditError, config.ConfigError) as exc:
            raise refused(str(exc)) from None
        values = ini.values
        self.secrets += config.secret_values(values)
        legacy = [k for k in values if config.modern_key(k) in config.CREDENTIAL_KEYS]
        if legacy:
            raise refused(f"{path} names its credential {legacy[0]}, the old prefixed form",
                          f"run `certbot-dns-gandi-pat migrate --config-dir {self.config_dir}` first")
        for key in (config.TOKEN, config.API_KEY):
            entries = ini.document.find(key)
            if entries and isinstance(values.get(key), str):
                return _OldFile(snap, ini, entries[0], values, str(values[key]))
        raise refused(f"{path} has no {config.TOKEN} or {config.API_KEY} line to replace",
                      f"add a line `{config.TOKEN} = <token>` by hand, or check the file name")

    def find_users(self, path: str) -> list[lineages.Lineage]:
        try:
            found, _ = lineages.find(self.config_dir)
        except lineages.LineageError as exc:
            raise cannot_check(f"the lineages that use {path} cannot be found: {exc}") from None
        users = lineages.using(found, path)
        if not users:
            self.add("lineages", WARN, f"no renewal configuration under {self.config_dir} uses {path}: "
                     "only the token itself is checked")
        for lineage in users:
            if lineage.certificate is None:
                # Without its certificate the lineage's domains are unknown, so
                # the zone checks that make a rotation safe cannot run.
                raise cannot_check(
                    f"lineage {lineage.name} uses {path}, but its domains cannot be checked: "
                    f"{lineage.certificate_problem}",
                    "run rotate as root, as certbot runs" if lineage.certificate_denied else
                    f"restore the certificate, or remove the lineage with `certbot delete --cert-name {lineage.name}`")
            if lineage.legacy:
                self.add(f"lineage {lineage.name}", WARN, "in the old prefixed form, which certbot cannot "
                         "load", f"run `certbot-dns-gandi-pat migrate --config-dir {self.config_dir}`")
        return users

    def old_token_name(self, old: _OldFile) -> Optional[str]:
        """The old token's name, to say which one to delete in Gandi's panel (best effort)."""
        if old.entry.key != config.TOKEN:
            return None
        try:
            gandi = config.parse(old.values, old.ini.source)
        except config.ConfigError:
            return None
        client = livedns.connect(gandi, user_agent=f"{checks.DISTRIBUTION} rotate")
        try:
            return client.token_info().name
        finally:
            client.close()

    def check(self, gandi: config.GandiConfig, users: Sequence[lineages.Lineage], path: str) -> None:
        client = livedns.connect(gandi, user_agent=f"{checks.DISTRIBUTION} rotate")
        try:
            self.check_token(client, users)
            self.check_accepted(client)
            zones = self.check_domains(client, users)
            if self.write_test:
                for zone in zones:
                    self.check_write(client, zone)
        finally:
            client.close()

    def check_token(self, client: livedns.LiveDNSClient, users: Sequence[lineages.Lineage]) -> None:
        info = client.token_info()
        self.info = info
        if not info.known:
            self.add("new token", SKIP, f"token information unavailable ({info.problem}): expiry and "
                     "permission not checked here; the zone checks below still apply")
            return
        token = checks.Token(info, self.now)
        name = token.name
        if token.lacks_scope:
            raise refused(f"the new token{name} lacks the permission {checks.REQUIRED_SCOPE} (has: "
                          f"{token.scopes})", "create a token with \"Manage domain name technical "
                          "configurations\"")
        when = info.expires_at
        if when is None:
            self.add("new token", SKIP, f"token{name}: expiry unknown")
            return
        if token.expired:
            raise refused(f"the new token{name} expired on {when:%Y-%m-%d}", "create a new one")
        for lineage in users:
            plan = lineages.schedule(lineage, self.certbot_version, self.now)
            due = max(plan.first, self.now) if plan is not None else None
            if (due is not None and lineage.autorenew and lineages.usable_until(when) <= due
                    and due - self.now <= lineages.TOKEN_LIFE):
                raise refused(f"the new token{name} expires on {when:%Y-%m-%d}, {lineages.against(when, due)} "
                              f"the next renewal of {lineage.name} (due from {due:%Y-%m-%d})",
                              "create a token with a longer expiry")
        scopes = ", ".join(info.scopes) if info.scopes is not None else "permissions not given"
        self.add("new token", PASS, f"token{name} expires on {when:%Y-%m-%d} ({scopes})")

    def check_accepted(self, client: livedns.LiveDNSClient) -> None:
        said = checks.acceptance(client)
        if isinstance(said.error, livedns.AuthError):
            raise refused(f"LiveDNS rejects the new token: {said.error.headline}",
                          "check that you copied the whole token, from the right organization, and that "
                          "Gandi's admin panel does not show it as expired or revoked")
        if said.error is not None:
            raise cannot_check(said.error.headline)
        seen = "it may not list domains" if said.domains is None else f"{said.domains} domain(s) visible"
        self.add("accepted", PASS, f"LiveDNS accepts the new token ({seen})" if said.domains is None
                 else f"LiveDNS accepts the new token; {seen}")

    def check_domains(self, client: livedns.LiveDNSClient, users: Sequence[lineages.Lineage]) -> list[str]:
        resolver = dnscheck.CnameResolver(self.nameservers)
        zones: dict[str, None] = {}
        # example.com and *.example.com share one challenge name: checked once.
        names: dict[str, list[str]] = {}
        for domain in sorted({d for lineage in users for d in lineage.domains}):
            names.setdefault(checks.base_domain(domain), []).append(domain)
        for base, domains in names.items():
            label = ", ".join(domains)
            try:
                reach = checks.challenge_zone(client, resolver, base)
            except (livedns.ZoneNotFoundError, livedns.ForbiddenError, livedns.AuthError) as exc:
                raise refused(f"{label}: {exc.headline}",
                              "give the new token access to this domain (its organization, and its "
                              "resources if restricted), then run rotate again") from None
            except (livedns.LiveDNSError, dnscheck.DNSCheckError) as exc:
                raise cannot_check(f"{label}: {exc.headline}") from None
            via = f" (CNAME to {reach.target})" if reach.target != reach.challenge else ""
            self.add(f"domain {label}", PASS, f"{reach.challenge}{via} is in zone {reach.zone}, which the new "
                     "token reaches")
            zones[reach.zone] = None
        return list(zones)

    def check_write(self, client: livedns.LiveDNSClient, zone: str) -> None:
        check = checks.write_test(client, zone, "rotate", self.ledger)
        if check.status == FAIL:
            raise refused(f"{check.name}: {check.detail}", check.advice)
        self.add(check.name, PASS, check.detail)

    def write(self, old: _OldFile) -> str:
        try:
            with files.certbot_lock(self.config_dir):
                return files.rewrite(old.snap, old.ini.encode(), secret=True, ledger=self.ledger)
        except files.FileChangeError as exc:
            raise refused(str(exc)) from None
        except OSError as exc:
            raise refused(f"{old.snap.path}: {exc.strerror}; the file is unchanged") from None

    # -------------------------------------------------------------- output

    def done(self, path: str, old: _OldFile, token: str, old_name: Optional[str],
             users: Sequence[lineages.Lineage]) -> report.Report:
        info = self.info
        head = (f"replaced the credential in {path} (old {fingerprint(old.secret)}, new "
                f"{fingerprint(token)}); {len(users)} lineage(s) checked")
        if info is not None and info.expires_at is not None:
            expiry = info.expires_at
            plans = [(plan, lineage.name) for lineage in users if lineage.autorenew
                     for plan in [lineages.schedule(lineage, self.certbot_version, self.now)] if plan]
            failing = sorted((plan.first_failing(expiry, self.now), name) for plan, name in plans)
            safe = lineages.last_safe_day([plan for plan, _ in plans], expiry, self.now)
            reasons = ["the day before it expires"] if safe == (expiry - lineages.DAY).date() else []
            if failing:
                when, name = failing[0]
                reasons.append(f"the first renewal it cannot do, {name}'s, is due from {when:%Y-%m-%d}")
            else:
                reasons.append("no lineage uses this file")
            why = "; ".join(reasons)
            self.notes.append(f"The new token expires on {expiry:%Y-%m-%d}. Last safe day to rotate again: "
                              f"{safe:%Y-%m-%d} ({why}); `certbot-dns-gandi-pat renewals "
                              f"--config-dir {self.config_dir}` tells when.")
        else:
            self.notes.append("The new token's expiry is unknown: note the date Gandi's admin panel shows.")
        which = f' ("{old_name}")' if old_name else f" (fingerprint {fingerprint(old.secret)})"
        if old.entry.key == config.API_KEY:
            self.notes.append("The legacy API key is no longer used by this file; you can delete it in "
                              "Gandi's admin panel (Account settings > Security).")
        else:
            self.notes.append(f"Now delete the old token{which} in Gandi's admin panel.")
        return self.report(report.OK, head)

    def report(self, code: int, headline: str) -> report.Report:
        return report.Report(TITLE, code, headline, report.check_lines(self.checks) + self.notes)


@dataclass
class _OldFile:
    snap: files.Snapshot
    ini: inifile.Ini
    entry: inifile.Entry
    values: dict[str, Any]
    secret: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--credentials", required=True, help="the credentials INI file to update")
    options.config_dir(parser)
    options.nameservers(parser, "follow CNAMEs through")
    parser.add_argument("--write-test", action="store_true",
                        help="also create and remove a TXT record in each zone with the new token")
    parser.add_argument("--dry-run", action="store_true", help="check everything, write nothing")


def run(args: argparse.Namespace, out: report.Output) -> int:
    rotation = Rotation(args.credentials, os.path.abspath(args.config_dir),
                        nameservers=args.nameservers, write_test=args.write_test,
                        dry_run=args.dry_run, ledger=out.ledger)
    try:
        found = rotation.run(sys.stdin)
    finally:
        out.secret(*rotation.secrets)  # no line quotes a token; this makes sure none ever does
    return out.emit(found)
