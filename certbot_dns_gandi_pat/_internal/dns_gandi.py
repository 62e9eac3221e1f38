"""The certbot glue: a thin DNS-01 authenticator over the LiveDNS client.

What the user reads is decided here, through certbot's channels: progress with
certbot's display (silent under ``--quiet``), problems with logging levels
that ``-q``, the default and ``-v`` expect, and the one warning that must
survive ``--quiet`` (a token that will not last until the next renewal)
written to stderr as well, once per run.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Callable, Optional

from acme import challenges
from certbot import achallenges, errors
from certbot.display import util as display_util
from certbot.plugins import dns_common

from certbot_dns_gandi_pat import __version__
from certbot_dns_gandi_pat._internal import config, dnscheck, journal, livedns, records, tokens
from certbot_dns_gandi_pat._internal.errors import GandiPatError
from certbot_dns_gandi_pat._internal.plugin_options import BY_NAME, DEFAULT_PROPAGATION_SECONDS, OPTIONS

logger = logging.getLogger(__name__)

# Credentials files already warned about in this process: `certbot renew`
# runs one authenticator per lineage, and each warning is said once per run.
_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key in _warned:
        logger.debug("%s", message)
    else:
        _warned.add(key)
        logger.warning("%s", message)


class _Misconfigured(errors.MisconfigurationError):
    # certbot shows a failed prepare() as "The error was: {problem!r}"; the
    # message itself reads better than PluginError('...') with escapes.
    def __repr__(self) -> str:
        return str(self)


class Authenticator(dns_common.DNSAuthenticator):
    """DNS-01 authenticator for domains on Gandi LiveDNS."""

    description = (
        "Obtain certificates using DNS TXT records for domains hosted on Gandi LiveDNS "
        "(Personal Access Token or legacy API key)."
    )
    # Kept as attributes so that tests and the benchmark can change them.
    concurrency = records.DEFAULT_CONCURRENCY
    waiter_factory: Callable[..., dnscheck.PropagationWaiter] = dnscheck.PropagationWaiter

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gandi: Optional[config.GandiConfig] = None
        self._client: Optional[livedns.LiveDNSClient] = None
        self._records: Optional[records.ChallengeRecords] = None
        self._nameservers: Optional[dict[dnscheck.Server, str]] = None
        self._checked_token = False
        self._verified: Optional[bool] = None  # did the last wait see the records served?

    @classmethod
    def add_parser_arguments(
        cls, add: Callable[..., None], default_propagation_seconds: int = DEFAULT_PROPAGATION_SECONDS
    ) -> None:
        for option in OPTIONS:
            if option.name == "propagation-seconds":
                # certbot's convention for this one option: a subclass may move the default.
                add(option.name, type=int, default=default_propagation_seconds,
                    help=option.full_help(default_propagation_seconds))
            elif option.numeric:
                add(option.name, type=int, default=option.default, help=option.full_help())
            else:
                add(option.name, default=option.default, help=option.full_help())

    def more_info(self) -> str:
        return (
            "This plugin answers DNS-01 challenges by creating TXT records through the Gandi "
            "LiveDNS API, waits until Gandi's nameservers serve them, and removes them again."
        )

    def auth_hint(self, failed_achalls: list[achallenges.AnnotatedChallenge]) -> str:
        # The base class suggests a longer sleep; say what was actually checked.
        if self._verified:
            seen = ("The TXT records created by --dns-gandi were served by the zone's "
                    "nameservers, yet the Certificate Authority could not verify them")
        else:
            seen = ("The Certificate Authority could not verify the TXT records created by "
                    "--dns-gandi; this host could not check whether the zone's nameservers "
                    "serve them (no nameserver answered its DNS queries)")
        return (f"{seen}. Check that each domain is delegated to its Gandi LiveDNS nameservers: "
                "`certbot-dns-gandi-pat doctor --credentials FILE DOMAIN` compares them.")

    def prepare(self) -> None:
        # certbot prepares before the ACME order exists: a mistake found here
        # costs nothing at the CA. Every plugin is also prepared for the
        # interactive menu, before any credentials path was given: then the
        # file is checked when certbot asks for it.
        self._check_number("propagation-seconds", "seconds")
        self._check_number("expiry-warning-days", "days")
        spec = self.conf("nameservers")
        if spec:
            try:
                self._nameservers = dnscheck.resolve_labeled(dnscheck.parse_nameservers(spec))
            except dnscheck.DNSCheckError as exc:
                raise _Misconfigured(str(exc)) from None
            if not self._nameservers:
                raise _Misconfigured(f"--dns-gandi-nameservers: cannot resolve {spec}")
        if self.conf("credentials"):
            try:
                self._load_credentials()
            except errors.PluginError as exc:
                raise _Misconfigured(f"{exc} (--dns-gandi-credentials)") from None
            try:
                # A rejected token or an unreachable API, found before the order;
                # the domain listing is needed anyway and kept for the run.
                self._get_client().check_access()
            except livedns.LiveDNSError as exc:
                raise _Misconfigured(str(exc)) from None

    def _check_number(self, name: str, unit: str) -> None:
        # argparse (type=int) and certbot's renewal reader refuse text; the range is ours to hold.
        option = BY_NAME[name]
        value = self.conf(name)
        low, high = option.low or 0, option.high or 0
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise _Misconfigured(
                f"--dns-gandi-{name} must be a whole number of {unit} from {low} to {high}"
            )

    # ------------------------------------------------------------ credentials

    def _setup_credentials(self) -> None:
        if self._gandi is None:
            # Asks for the path when it was not given (interactive runs).
            self._configure_file("credentials", "Gandi credentials INI file")
            self._load_credentials()

    def _load_credentials(self) -> None:
        # Stored absolute so that `certbot renew` works from any directory.
        path = os.path.abspath(os.path.expanduser(self.conf("credentials")))
        setattr(self.config, self.dest("credentials"), path)
        try:
            self._gandi = config.read_file(path)
        except config.ConfigError as exc:
            raise errors.PluginError(str(exc)) from None
        for warning in self._gandi.warnings:
            _warn_once(warning, warning)

    def _get_client(self) -> livedns.LiveDNSClient:
        if self._client is None:
            import certbot

            assert self._gandi is not None
            self._client = livedns.connect(
                self._gandi,
                pool_size=self.concurrency,
                user_agent=f"certbot-dns-gandi-pat/{__version__} certbot/{certbot.__version__}",
            )
        return self._client

    def _journal_dir(self) -> Optional[str]:
        work_dir = getattr(self.config, "work_dir", None)
        return os.path.join(work_dir, "dns-gandi-pat") if work_dir else None

    def _cnames(self) -> dnscheck.CnameResolver:
        return dnscheck.CnameResolver(list(self._nameservers) if self._nameservers else None, lenient=True)

    def _get_records(self) -> records.ChallengeRecords:
        if self._records is None:
            assert self._gandi is not None
            directory = self._journal_dir()
            self._records = records.ChallengeRecords(
                self._get_client(), resolve_target=self._cnames().target, concurrency=self.concurrency,
                journal=journal.Journal(directory, self._gandi.source, self._gandi.api_url)
                if directory else None,
            )
        return self._records

    # ---------------------------------------------------------------- perform

    def perform(
        self, achalls: list[achallenges.AnnotatedChallenge]
    ) -> list[challenges.ChallengeResponse]:
        self._setup_credentials()
        self._attempt_cleanup = True
        self._warn_token_expiry()
        self._recover()
        wanted = [
            (achall.validation_domain_name(_domain(achall)), achall.validation(achall.account_key))
            for achall in achalls
        ]
        try:
            located = self._get_records().add(wanted)
            expected: dict[str, list[str]] = {}
            for name, value in wanted:
                expected.setdefault(located[livedns.normalize_name(name)].fqdn, []).append(value)
            self._wait(expected, {rrset.fqdn: rrset.zone for rrset in located.values()})
        except GandiPatError as exc:
            # The glue's one mapping: our two lines become certbot's error.
            raise errors.PluginError(str(exc)) from None
        return [achall.response(achall.account_key) for achall in achalls]

    def _recover(self) -> None:
        directory = self._journal_dir()
        if directory and self._gandi is not None:
            try:
                records.recover(self._get_client(), directory, self._gandi.source, self._cnames().target)
            except OSError as exc:
                logger.warning("Could not read the journals in %s (%s)", directory, exc.strerror)

    def _wait(self, expected: dict[str, list[str]], zones: dict[str, str]) -> None:
        if self._nameservers is not None:
            servers = {fqdn: list(self._nameservers) for fqdn in expected}
            labels = dict(self._nameservers)
        else:
            by_zone = {zone: self._zone_servers(zone) for zone in sorted(set(zones.values()))}
            servers = {fqdn: list(by_zone[zones[fqdn]]) for fqdn in expected}
            labels = {srv: host for found in by_zone.values() for srv, host in found.items()}
        waiter = self.waiter_factory(progress=display_util.notify, warn=logger.warning)
        self._verified = None
        result = waiter.wait(expected, servers, float(self.conf("propagation-seconds")), labels=labels)
        self._verified = not result.unchecked

    def _zone_servers(self, zone: str) -> dict[dnscheck.Server, str]:
        # The public delegation is what the CA follows; LiveDNS's own list is the
        # fallback when this host cannot resolve it.
        hosts = dnscheck.zone_nameservers(zone)
        if not hosts:
            try:
                hosts = self._get_client().nameservers(zone)
            except livedns.LiveDNSError as exc:
                logger.warning("Cannot find the nameservers of %s: %s", zone, exc.headline)
                return {}
        return dnscheck.resolve_labeled((host, 53) for host in hosts)

    def _warn_token_expiry(self) -> None:
        if self._checked_token or self._gandi is None:
            return
        self._checked_token = True
        days = self.conf("expiry-warning-days")
        if not days or f"expiry {self._gandi.source}" in _warned:
            return
        message = tokens.expiry_warning(self._get_client().token_info(), days, self._gandi.source)
        if message:
            _warn_once(f"expiry {self._gandi.source}", message)
            if getattr(self.config, "quiet", False):
                # --quiet shows errors only; cron and systemd mail what reaches
                # stderr, and this is what they must see while there is time.
                print(message, file=sys.stderr, flush=True)

    # ---------------------------------------------------------------- cleanup

    def cleanup(self, achalls: list[achallenges.AnnotatedChallenge]) -> None:
        if not self._attempt_cleanup or self._records is None:
            return
        for failure in self._records.remove_all():
            logger.warning("Could not remove a challenge record; delete it in Gandi's DNS records "
                           "page if a later run does not: %s", failure)

    # certbot's base class requires these; perform/cleanup above batch instead.
    def _perform(self, domain: str, validation_name: str, validation: str) -> None:
        raise NotImplementedError  # pragma: no cover - perform() is overridden

    def _cleanup(self, domain: str, validation_name: str, validation: str) -> None:
        raise NotImplementedError  # pragma: no cover - cleanup() is overridden


def _domain(achall: achallenges.AnnotatedChallenge) -> str:
    identifier = getattr(achall, "identifier", None)
    value = getattr(identifier, "value", None)
    return str(value) if value else str(achall.domain)
