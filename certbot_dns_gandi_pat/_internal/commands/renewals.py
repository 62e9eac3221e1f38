"""``certbot-dns-gandi-pat renewals``: will every renewal of this machine succeed?

One line per lineage of this authenticator under the configuration directory,
with a verdict: **ok**; **will fail at the next renewal** (a prefixed legacy
configuration certbot cannot load, credentials missing or unusable, a token
expired or expiring before the next renewal, a domain whose zone the
credential cannot reach), with the date and the fix; or **needs attention
soon** (a token that will not last until the renewal after next, or expires
within the warning window; a renewal that is overdue). Exit status follows the
monitoring-plugin convention: 0 OK, 1 WARNING, 2 CRITICAL (some lineage will
fail), 3 UNKNOWN (nothing could be checked, or a check could not run).

Network use: for each distinct credentials file, one ``/tokeninfo`` request,
the domain listing (one request per 100 domains) to find each domain's zone,
and one request per zone to prove the credential may use it (a listing may
show domains a restricted token cannot touch); the ``_acme-challenge`` CNAMEs
are followed with DNS queries. Nothing
secret is printed: the whole output is redacted with every credential read.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from certbot_dns_gandi_pat._internal import config, dnscheck, livedns, plugin_options, tokens
from certbot_dns_gandi_pat._internal.certbot_files import lineages
from certbot_dns_gandi_pat._internal.commands import checks, options, report
from certbot_dns_gandi_pat._internal.commands.report import FAIL, PASS, SKIP, WARN

NAME = "renewals"
TITLE = "dns-gandi renewals"
HELP = "will every dns-gandi renewal on this machine succeed?"
VERDICT_WORDS = {PASS: "ok", WARN: "needs attention soon", FAIL: "will fail at the next renewal",
                 SKIP: "unknown"}
# certbot runs twice a day, after a random sleep: a renewal is late only past this.
OVERDUE_GRACE = dt.timedelta(days=2)


@dataclass(frozen=True)
class Finding:
    status: str
    detail: str
    advice: str = ""


@dataclass
class Credentials:
    """What a renewal will find in one credentials file."""

    path: str
    exists: bool = False
    mode: Optional[int] = None
    gandi: Optional[config.GandiConfig] = None  # as certbot will read it (or as `migrate` makes it)
    legacy_keys: tuple[str, ...] = ()
    problem: Optional[str] = None  # why a renewal cannot use the file today
    denied: bool = False  # this user may not read it (certbot, as root, can)
    missing: bool = False
    token: Optional[tokens.TokenInfo] = None
    rejected: Optional[str] = None  # LiveDNS refused the credential (HTTP 401)
    accepted: Optional[bool] = None  # None: LiveDNS was not asked, or did not answer
    zones: dict[str, Finding] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)

    @property
    def key(self) -> Optional[str]:
        """The key that holds the credential, as written in the file."""
        if self.gandi is None:
            return None
        if self.problem:
            old = [k for k in self.legacy_keys if config.modern_key(k) == self.gandi.credential_key]
            return old[0] if old else None
        return self.gandi.credential_key


def inspect_credentials(path: str) -> Credentials:
    state = Credentials(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        state.problem, state.missing = f"{path} does not exist", True
        return state
    except OSError as exc:
        state.problem = f"{path} cannot be read ({exc.strerror})"
        return state
    state.exists, state.mode = True, stat.S_IMODE(info.st_mode)
    if not os.access(path, os.R_OK):
        state.problem, state.denied = f"{path} cannot be read by this user", True
        return state
    try:
        ini = config.load(path)
    except config.ConfigError as exc:
        state.problem = str(exc)
        return state
    raw = ini.values
    try:
        state.gandi = config.from_ini(ini)
    except config.ConfigError as exc:
        state.problem = str(exc)
    state.legacy_keys = tuple(k for k in raw if config.modern_key(k))
    state.secrets = config.secret_values(raw)
    if state.gandi is None and state.legacy_keys:
        # What the file holds once `migrate` renamed the keys: its token's
        # expiry matters as much as the rename.
        try:
            state.gandi = config.parse({(config.modern_key(k) or k): v for k, v in raw.items()}, path)
        except config.ConfigError:
            pass
    if state.gandi is not None:
        state.secrets.append(state.gandi.secret.reveal())
    return state


def check_remote(state: Credentials, domains: Sequence[str],
                 nameservers: Optional[Sequence[dnscheck.Server]]) -> None:
    """/tokeninfo once, then each domain's zone, with this file's credential."""
    gandi = state.gandi
    if gandi is None:
        return
    client = livedns.connect(gandi, user_agent=f"{checks.DISTRIBUTION} renewals")
    resolver = dnscheck.CnameResolver(nameservers)
    try:
        if gandi.is_pat:
            state.token = client.token_info()
        for domain in domains:
            if domain in state.zones:
                continue
            try:
                reach = checks.challenge_zone(client, resolver, domain)
            except livedns.AuthError as exc:
                state.rejected, state.accepted = exc.headline, False
                return
            except (livedns.ZoneNotFoundError, livedns.ForbiddenError) as exc:
                state.accepted = True  # known to LiveDNS, just not allowed there
                state.zones[domain] = Finding(FAIL, f"{domain}: {exc.headline}", _zone_advice(gandi))
                continue
            except (livedns.LiveDNSError, dnscheck.DNSCheckError) as exc:
                state.zones[domain] = Finding(SKIP, f"{domain}: could not check the zone: {exc.headline}")
                continue
            state.accepted = True
            via = f" (CNAME to {reach.target})" if reach.target != reach.challenge else ""
            state.zones[domain] = Finding(PASS, f"{domain}{via} in zone {reach.zone}")
    finally:
        client.close()


def _zone_advice(gandi: config.GandiConfig) -> str:
    return (f"give the token in {gandi.source} access to this domain (its organization, and its "
            "resources if the token is restricted), or delegate _acme-challenge by CNAME to a "
            "zone it can reach; `certbot-dns-gandi-pat doctor` shows the details")


def _day(when: dt.datetime) -> str:
    return f"{when:%Y-%m-%d}"


@dataclass
class Verdict:
    """One lineage's facts and what they mean for its next renewal."""

    lineage: Optional[lineages.Lineage]
    conf: str
    findings: list[Finding] = field(default_factory=list)
    schedule: Optional[lineages.Schedule] = None
    next_renewal: Optional[dt.datetime] = None
    credentials: Optional[Credentials] = None
    last_safe_day: Optional[dt.date] = None

    @property
    def status(self) -> str:
        return report.worst(f.status for f in self.findings)

    def add(self, status: str, detail: str, advice: str = "") -> None:
        self.findings.append(Finding(status, detail, advice))


class Renewals:
    def __init__(
        self,
        config_dir: str,
        *,
        nameservers: Optional[Sequence[dnscheck.Server]] = None,
        warning_days: int = tokens.DEFAULT_WARNING_DAYS,
        now: Optional[dt.datetime] = None,
        certbot_version: Optional[Sequence[int]] = None,
    ) -> None:
        self.config_dir = os.path.abspath(config_dir)
        self.nameservers = list(nameservers) if nameservers else None
        self.warning_days = warning_days
        self.now = now or dt.datetime.now(dt.timezone.utc)
        self.version = tuple(certbot_version) if certbot_version is not None else lineages.certbot_version()
        self.reports: list[Verdict] = []
        self.files: dict[str, Credentials] = {}
        self.problem: Optional[str] = None
        self.secrets: list[str] = []

    def run(self) -> list[Verdict]:
        try:
            found, broken = lineages.find(self.config_dir)
        except lineages.LineageError as exc:
            self.problem = str(exc)
            return []
        files = self.files
        for lineage in found:
            path = lineage.credentials_path
            if path and path not in files:
                files[path] = inspect_credentials(path)
        for path, state in files.items():
            users = [x for x in found if x.credentials_path == path and x.autorenew]
            check_remote(state, sorted({d for x in users for d in x.domains}), self.nameservers)
            self.secrets += state.secrets
        for item in broken:
            report = Verdict(None, item.conf)
            report.add(FAIL, item.problem, "fix or remove the file; `certbot certificates` lists what "
                       "certbot can read")
            self.reports.append(report)
        for lineage in found:
            try:
                report = self.assess(lineage, files.get(lineage.credentials_path or ""), found, files)
            except Exception as exc:  # one lineage no rule foresaw must not hide the others
                report = Verdict(lineage, lineage.conf)
                report.add(SKIP, f"could not be assessed ({type(exc).__name__}: {exc})",
                           "please report this with the lineage's renewal configuration")
            self.reports.append(report)
        self.reports.sort(key=lambda r: (r.lineage.name if r.lineage else r.conf))
        return self.reports

    # ------------------------------------------------------------- verdicts

    def assess(self, lineage: lineages.Lineage, state: Optional[Credentials],
               everyone: Sequence[lineages.Lineage], files: dict[str, Credentials]) -> Verdict:
        report = Verdict(lineage, lineage.conf, credentials=state)
        migrate = f"certbot-dns-gandi-pat migrate --config-dir {self.config_dir}"
        if lineage.certificate_denied:
            report.add(SKIP, f"certificate unreadable for this user: {lineage.certificate_problem}",
                       "run this as root, as certbot runs")
        elif lineage.certificate_problem:
            report.add(FAIL, f"certificate unreadable: {lineage.certificate_problem}",
                       "`certbot certificates` shows the lineage's state")
        if lineage.authenticator in lineages.LEGACY:
            report.add(FAIL, f"authenticator = {lineage.authenticator} is the old prefixed form, which "
                       "certbot no longer loads", f"run: {migrate}")
        elif lineage.credentials_key == lineages.LEGACY_CREDENTIALS:
            report.add(FAIL, f"the credentials path is stored as {lineages.LEGACY_CREDENTIALS}, a name "
                       "certbot no longer gives the plugin", f"run: {migrate}")
        elif lineage.legacy_keys:
            report.add(WARN, f"old prefixed keys are ignored: {', '.join(lineage.legacy_keys)}",
                       f"run: {migrate}")
        self._schedule(report, lineage)
        self._settings(report, lineage)
        if not lineage.credentials:
            report.add(FAIL, f"no {lineages.CREDENTIALS} in {lineage.conf}: a renewal does not know "
                       "the credentials file",
                       f"certbot reconfigure --cert-name {lineage.name} --dns-gandi-credentials FILE "
                       f"(certbot 2.3+), or add {lineages.CREDENTIALS} = FILE under [renewalparams]")
        elif state is not None:
            self._credentials(report, lineage, state, migrate)
            if lineage.autorenew:
                self._token(report, lineage, state, everyone, files)
                self._zones(report, lineage, state)
        return report

    def _schedule(self, report: Verdict, lineage: lineages.Lineage) -> None:
        plan = lineages.schedule(lineage, self.version, self.now)
        report.schedule = plan
        cert = lineage.certificate
        if plan is None or cert is None:
            return
        report.next_renewal = max(plan.first, self.now)
        if not lineage.autorenew:
            report.add(PASS, "autorenew is off: certbot renew skips this lineage")
            return
        if plan.problem:
            report.add(FAIL, plan.problem)
            return
        fix = f"set renew_before_expiry in {lineage.conf} to a span such as 30 days, or delete the line"
        if plan.after_expiry:
            report.add(FAIL, f"certbot reads {plan.rule} as no time before expiry, so it renews this lineage "
                       f"only once the certificate has expired (from {_day(plan.first)}): until the renewal, "
                       "clients get an expired certificate", fix)
        elif plan.every_run:
            report.add(WARN, f"{plan.rule} is longer than the certificate's lifetime "
                       f"({plan.lifetime.days} days), so every certbot run renews it and soon meets the "
                       "CA's rate limits", fix)
        if cert.not_after <= self.now:
            report.add(FAIL, f"the certificate expired on {_day(cert.not_after)}: renewals have been "
                       "failing", "see certbot's log (/var/log/letsencrypt/letsencrypt.log) and run "
                       f"`certbot renew --cert-name {lineage.name}`")
        elif self.now - plan.first > OVERDUE_GRACE:
            report.add(WARN, f"renewal overdue: due since {_day(plan.first)}, the certificate expires "
                       f"on {_day(cert.not_after)}", "see certbot's log (/var/log/letsencrypt/"
                       f"letsencrypt.log) and run `certbot renew --cert-name {lineage.name}`; is "
                       "certbot's timer or cron job running?")

    def _settings(self, report: Verdict, lineage: lineages.Lineage) -> None:
        """The plugin's numeric options as certbot will read them back at renewal."""
        stored = dict(lineage.options)
        for option in plugin_options.OPTIONS:
            value = stored.get(option.key)
            if not option.numeric or value is None or value == "None":
                continue
            fix = (f"set {option.key} in {lineage.conf} to a whole number from {option.low} to {option.high}, "
                   f"or delete the line (default: {option.default})")
            try:
                number = int(str(value))  # what certbot's renewal does with it (the option's type)
            except ValueError:
                report.add(FAIL, f"{option.key} = {value} is not a whole number: `certbot renew` cannot read "
                           "this lineage and skips it", fix)
                continue
            if not (option.low or 0) <= number <= (option.high or 0):
                report.add(FAIL, f"{option.key} = {value} is out of range ({option.low} to {option.high}): "
                           "the plugin refuses it at renewal", fix)

    def _credentials(self, report: Verdict, lineage: lineages.Lineage, state: Credentials,
                     migrate: str) -> None:
        assert lineage.credentials is not None
        if not os.path.isabs(lineage.credentials):
            report.add(WARN, f"credentials path {lineage.credentials} is relative: a renewal started "
                       "from another directory will not find it", f"store it absolute in {lineage.conf}")
        if state.problem:
            if state.legacy_keys and state.gandi is not None:
                report.add(FAIL, f"{state.path} uses old prefixed keys "
                           f"({', '.join(state.legacy_keys)}), which this plugin does not read",
                           f"run: {migrate}")
            elif state.denied:
                report.add(SKIP, state.problem, "run this as root, as certbot runs")
            elif state.missing:
                report.add(FAIL, state.problem,
                           f"create it with the token (docs/credentials.md: Credentials file), or store another file: "
                           f"certbot reconfigure --cert-name {lineage.name} --dns-gandi-credentials FILE "
                           f"(certbot 2.3+), or edit {lineages.CREDENTIALS} in {lineage.conf}")
            else:
                report.add(FAIL, state.problem, f"fix {state.path}, then check it with "
                           f"`certbot-dns-gandi-pat doctor --credentials {state.path}`")
        elif state.legacy_keys:
            report.add(WARN, f"{state.path}: old prefixed keys are ignored: {', '.join(state.legacy_keys)}",
                       f"run: {migrate}")
        if state.mode is not None and state.mode & 0o007:
            report.add(WARN, f"{state.path} has mode {state.mode:o}: every user of this host can read "
                       "the credential", f"chmod 600 {state.path}")
        if state.gandi is not None and not state.problem:
            for warning in state.gandi.warnings:
                if config.API_KEY in warning and "deprecated" in warning:
                    report.add(WARN, f"{state.path} holds a legacy API key, which Gandi has deprecated",
                               "create a Personal Access Token (docs/credentials.md: Create a Personal Access Token); "
                               f"`certbot-dns-gandi-pat rotate --credentials {state.path}` puts it in "
                               "place of the key")
                elif config.LEGACY_PREFIX not in warning:
                    report.add(WARN, warning)

    def _token(self, report: Verdict, lineage: lineages.Lineage, state: Credentials,
               everyone: Sequence[lineages.Lineage], files: dict[str, Credentials]) -> None:
        gandi = state.gandi
        if gandi is None:
            return
        rotate = f"create a new token and run `certbot-dns-gandi-pat rotate --credentials {state.path}`"
        if state.rejected:
            report.add(FAIL, f"LiveDNS rejects the credential in {state.path}: {state.rejected}",
                       rotate + " (docs/commands.md: rotate)")
            return
        if not gandi.is_pat:
            return
        info = state.token
        if info is None or not info.known or info.expires_at is None:
            why = info.problem if info is not None and info.problem else "expiry not given"
            report.add(SKIP, f"token expiry unknown (/tokeninfo: {why})",
                       f"`certbot-dns-gandi-pat doctor --credentials {state.path}` checks the token")
            return
        token = checks.Token(info, self.now)
        name = token.name
        if token.lacks_scope:
            report.add(FAIL, f"the token{name} lacks the permission {checks.REQUIRED_SCOPE} (\"Manage "
                       "domain name technical configurations\")", rotate)
        expiry = info.expires_at
        sharing = [x for x in everyone if x.credentials_path == state.path and x.autorenew]
        plans = [p for p in (lineages.schedule(x, self.version, self.now) for x in sharing) if p is not None]
        report.last_safe_day = lineages.last_safe_day(plans, expiry, self.now)
        deadline = f"{rotate} by {report.last_safe_day} at the latest"
        plan = report.schedule
        if token.expired:
            report.add(FAIL, f"the token{name} expired on {_day(expiry)}", rotate)
            return
        if plan is None:
            report.add(PASS, f"token{name} expires on {_day(expiry)}")
            return
        # Renewals further off than any token lives are done by a later token.
        near = [when for when in itertools.islice(plan.renewals(self.now), 2)
                if when - self.now <= lineages.TOKEN_LIFE]
        first, second = [*near, None, None][:2]
        usable = lineages.usable_until(expiry)
        if first is not None and usable <= first:
            report.add(FAIL, f"the token{name} expires on {_day(expiry)}, {lineages.against(expiry, first)} "
                       f"the next renewal (due from {_day(first)})", deadline)
        elif first is not None and second is not None and usable <= second:
            report.add(WARN, f"the token{name} expires on {_day(expiry)}: after the next renewal (due from "
                       f"{_day(first)}) but {lineages.against(expiry, second)} the one after it (from "
                       f"{_day(second)})", deadline)
        elif expiry - self.now <= dt.timedelta(days=self.warning_days):
            report.add(WARN, f"the token{name} expires in {tokens.days_left(info, self.now)} day(s), on "
                       f"{_day(expiry)}", deadline)
        else:
            report.add(PASS, f"token{name} expires on {_day(expiry)}; last safe day to rotate it: "
                       f"{report.last_safe_day}")

    def _zones(self, report: Verdict, lineage: lineages.Lineage, state: Credentials) -> None:
        if state.rejected or state.gandi is None:
            return
        for domain in lineage.domains:
            result = state.zones.get(domain)
            if result is not None and result.status != PASS:
                report.add(result.status, result.detail, result.advice)

    # --------------------------------------------------------------- output

    def checks(self) -> list[report.Check]:
        return [report.Check(r.lineage.name if r.lineage else r.conf, r.status, "") for r in self.reports]

    def exit_code(self) -> int:
        if self.problem or not self.reports:
            return report.UNKNOWN
        return report.exit_code(self.checks())

    def headline(self) -> str:
        if self.problem:
            return self.problem
        if not self.reports:
            return f"no lineage under {self.config_dir} uses the dns-gandi authenticator"
        parts = []
        for status in report.WORST_FIRST:
            names = [c.name for c in self.checks() if c.status == status]
            if names:
                words = VERDICT_WORDS[status]
                if len(names) > 1 and status == WARN:
                    words = "need attention soon"
                parts.append(f"{len(names)} {words}")
        worst = report.worst(c.status for c in self.checks())
        which = [c.name for c in self.checks() if c.status == worst and worst != PASS]
        return ", ".join(parts) + (f" ({', '.join(which)})" if which else "")

    def to_report(self) -> report.Report:
        lines = []
        for item in self.reports:
            lines.append(f"{report.MARKS[item.status]} {_line(item)}")
            lines += report.advice_lines(f.advice for f in item.findings if f.status != PASS)
        return report.Report(TITLE, self.exit_code(), self.headline(), lines,
                             {"config_dir": self.config_dir, "lineages": [_report_dict(r) for r in self.reports]})


def _line(report: Verdict) -> str:
    lineage = report.lineage
    problems = [f.detail for f in report.findings if f.status != PASS]
    notes = [f.detail for f in report.findings if f.status == PASS]
    if lineage is None:
        return f"{report.conf}: {VERDICT_WORDS[report.status]}: {'; '.join(problems)}"
    facts = [", ".join(lineage.domains) or "(no names)"]
    cert = lineage.certificate
    if cert is not None:
        renew = f", renewal due from {_day(report.next_renewal)}" if report.next_renewal and lineage.autorenew else ""
        facts.append(f"certificate expires {_day(cert.not_after)}{renew}")
    facts.append(f"{lineage.authenticator} ({'legacy' if lineage.legacy else 'current'} form)")
    state = report.credentials
    if lineage.credentials:
        cred = lineage.credentials
        if state is not None and state.exists:
            key = state.key or "no usable credential"
            cred += f" ({key}, mode {state.mode:o})" if state.mode is not None else f" ({key})"
        facts.append(cred)
    verdict = VERDICT_WORDS[report.status]
    tail = "; ".join(problems if problems else notes)
    return f"{lineage.name}: {'; '.join(facts)}: {verdict}" + (f": {tail}" if tail else "")


def _iso(when: Optional[dt.datetime]) -> Optional[str]:
    return when.isoformat(timespec="seconds") if when else None


def _report_dict(report: Verdict) -> dict[str, Any]:
    lineage, state = report.lineage, report.credentials
    cert = lineage.certificate if lineage else None
    token = state.token if state else None
    return {
        "name": lineage.name if lineage else None,
        "renewal_conf": report.conf,
        "status": report.status,
        "verdict": VERDICT_WORDS[report.status],
        "names": list(lineage.domains) if lineage else [],
        "not_before": _iso(cert.not_before) if cert else None,
        "not_after": _iso(cert.not_after) if cert else None,
        "next_renewal": _iso(report.next_renewal),
        "renewal_rule": report.schedule.rule if report.schedule else None,
        "autorenew": lineage.autorenew if lineage else None,
        "authenticator": lineage.authenticator if lineage else None,
        "form": None if lineage is None else "legacy" if lineage.legacy else "current",
        "credentials": None if lineage is None or not lineage.credentials else {
            "path": lineage.credentials,
            "exists": bool(state and state.exists),
            "mode": f"{state.mode:o}" if state and state.mode is not None else None,
            "key": state.key if state else None,
            "legacy_keys": list(state.legacy_keys) if state else [],
        },
        "token": None if token is None else {
            "name": token.name, "expires_at": _iso(token.expires_at),
            "scopes": list(token.scopes) if token.scopes is not None else None, "problem": token.problem,
        },
        "last_safe_day": report.last_safe_day.isoformat() if report.last_safe_day else None,
        "findings": [{"status": f.status, "detail": f.detail, "advice": f.advice} for f in report.findings],
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.config_dir(parser)
    form = parser.add_mutually_exclusive_group()
    options.json_output(form)
    form.add_argument("--prometheus", action="store_true",
                      help="print the findings as Prometheus metrics instead of the report")
    parser.add_argument("--textfile", metavar="PATH",
                        help="also write the metrics to PATH for node_exporter's textfile collector "
                        "(a *.prom file in its directory; replaced atomically, mode 644)")
    options.nameservers(parser, "follow CNAMEs through")
    options.expiry_warning_days(parser, "a token expires")


def run(args: argparse.Namespace, out: report.Output) -> int:
    started, clock = time.time(), time.monotonic()
    check = Renewals(args.config_dir, nameservers=args.nameservers,
                     warning_days=args.expiry_warning_days)
    check.run()
    out.secret(*check.secrets)  # no line quotes a credential; this makes sure none ever does
    found = check.to_report()
    found.metrics = metrics(check, started, time.monotonic() - clock)
    return out.emit(found)


# ------------------------------------------------------------ Prometheus

NAMESPACE = "certbot_dns_gandi_pat"
STATUS_WORDS = {PASS: "ok", WARN: "warning", FAIL: "critical", SKIP: "unknown"}


def _stamp(when: Optional[dt.datetime]) -> Optional[float]:
    return float(round(when.timestamp())) if when is not None else None


def _day_start(day: Optional[dt.date]) -> Optional[float]:
    if day is None:
        return None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp()


def _gauge(name: str, help_text: str, samples: Sequence[tuple[report.Labels, Optional[float]]]) -> report.Metric:
    return report.Metric(f"{NAMESPACE}_{name}", help_text,
                         tuple((labels, value) for labels, value in samples if value is not None))


def metrics(check: Renewals, started: float, seconds: float) -> list[report.Metric]:
    """The facts of a run as gauges: per credentials file, per lineage, and of the check itself."""
    files = sorted(check.files.items())
    verdicts = [(r.lineage.name if r.lineage else os.path.basename(r.conf).removesuffix(".conf"), r)
                for r in check.reports]

    def lineage_labels(name: str, verdict: Verdict) -> report.Labels:
        path = verdict.lineage.credentials_path if verdict.lineage else None
        return (("lineage", name), ("credentials", path or ""))

    return [
        _gauge("token_expiry_timestamp_seconds", "When the Personal Access Token in the credentials file "
               "expires, as Gandi's /tokeninfo says (absent when it does not).",
               [((("credentials", path),), _stamp(state.token.expires_at if state.token else None))
                for path, state in files]),
        _gauge("credentials_accepted", "1 when Gandi LiveDNS accepted the credential of the file, 0 when it "
               "rejected it (absent when it could not be asked).",
               [((("credentials", path),), None if state.accepted is None else float(state.accepted))
                for path, state in files]),
        _gauge("certificate_expiry_timestamp_seconds", "When the lineage's certificate expires.",
               [(lineage_labels(name, v), _stamp(v.lineage.certificate.not_after)
                 if v.lineage and v.lineage.certificate else None) for name, v in verdicts]),
        _gauge("next_renewal_timestamp_seconds", "When certbot will renew the lineage, as the installed "
               "certbot reads its renewal configuration (ACME Renewal Information aside).",
               [(lineage_labels(name, v), _stamp(v.next_renewal)) for name, v in verdicts]),
        _gauge("token_last_safe_day_timestamp_seconds", "The start (00:00 UTC) of the last day the lineage's "
               "token can be replaced without a failed renewal.",
               [(lineage_labels(name, v), _day_start(v.last_safe_day)) for name, v in verdicts]),
        _gauge("lineage_status", "The lineage's verdict: 1 for its status (ok, warning, critical, unknown), "
               "0 for the others.",
               [((*lineage_labels(name, v), ("status", word)), float(STATUS_WORDS[v.status] == word))
                for name, v in verdicts for word in STATUS_WORDS.values()]),
        _gauge("renewals_last_run_timestamp_seconds", "When this check ran.", [((), float(round(started)))]),
        _gauge("renewals_duration_seconds", "How long this check took.", [((), round(seconds, 3))]),
        _gauge("renewals_check_success", "1 when the check could read certbot's configuration and check its "
               "lineages, 0 when it could not check at all.", [((), 0.0 if check.problem else 1.0)]),
        _gauge("renewals_exit_code", "The check's exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
               [((), float(check.exit_code()))]),
    ]
