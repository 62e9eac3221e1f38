"""The certbot glue: a thin DNS-01 authenticator over the LiveDNS client."""

from __future__ import annotations

import logging
import os
from typing import Any, Callable, Optional

from acme import challenges
from certbot import achallenges, errors
from certbot.display import util as display_util
from certbot.plugins import dns_common

from certbot_dns_gandi_pat import __version__, config, dnscheck, livedns, records, tokens

logger = logging.getLogger(__name__)

# An upper bound, not a sleep: the run goes on as soon as every authoritative
# server answers, usually within seconds. Five minutes covers a slow LiveDNS
# push without letting a broken delegation hold a cron run for long, and is
# what gets slept only when no nameserver can be asked at all.
DEFAULT_PROPAGATION_SECONDS = 300
DEFAULT_EXPIRY_WARNING_DAYS = tokens.DEFAULT_WARNING_DAYS


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
        self._nameservers: Optional[list[dnscheck.Server]] = None
        self._checked_token = False

    @classmethod
    def add_parser_arguments(
        cls, add: Callable[..., None], default_propagation_seconds: int = DEFAULT_PROPAGATION_SECONDS
    ) -> None:
        add(
            "propagation-seconds",
            default=default_propagation_seconds,
            type=int,
            help="The longest time to wait for every authoritative nameserver to serve the "
            "TXT records; the plugin checks about once a second and goes on as soon as they "
            f"do. (default: {default_propagation_seconds})",
        )
        add(
            "credentials",
            help="Path to the Gandi credentials INI file (dns_gandi_token = <Personal Access "
            "Token>, or the legacy dns_gandi_api_key; optional dns_gandi_sharing_id).",
        )
        add(
            "nameservers",
            default=None,
            help="HOST[:PORT],... Ask these DNS servers, instead of the zone's authoritative "
            "nameservers, whether the records are served, and follow _acme-challenge CNAME "
            "delegations through them (restricted networks, split horizon, tests).",
        )
        add(
            "expiry-warning-days",
            default=DEFAULT_EXPIRY_WARNING_DAYS,
            type=int,
            help="Warn when the Personal Access Token expires within this many days; 0 turns "
            f"the check off. (default: {DEFAULT_EXPIRY_WARNING_DAYS})",
        )

    def more_info(self) -> str:
        return (
            "This plugin answers DNS-01 challenges by creating TXT records through the Gandi "
            "LiveDNS API, waits until Gandi's nameservers serve them, and removes them again."
        )

    def auth_hint(self, failed_achalls: list[achallenges.AnnotatedChallenge]) -> str:
        # The base class suggests a longer sleep; here the records were already
        # seen on the zone's nameservers, so the delegation is the likely cause.
        return (
            "The Certificate Authority could not verify the TXT records created by "
            "--dns-gandi, although the zone's nameservers served them. Check that each "
            "domain is delegated to its Gandi LiveDNS nameservers: "
            "`certbot-dns-gandi-pat doctor --credentials FILE DOMAIN` compares them."
        )

    def prepare(self) -> None:
        # Checked before the order exists, so that a typo costs nothing at the CA.
        spec = self.conf("nameservers")
        if spec:
            try:
                self._nameservers = dnscheck.resolve_addresses(dnscheck.parse_nameservers(spec))
            except dnscheck.DNSCheckError as exc:
                raise errors.PluginError(str(exc)) from None
            if not self._nameservers:
                raise errors.PluginError(f"--dns-gandi-nameservers: cannot resolve {spec}")

    # ------------------------------------------------------------ credentials

    def _setup_credentials(self) -> None:
        if self._gandi is not None:
            return
        self._configure_file("credentials", "Gandi credentials INI file")
        # Stored absolute so that `certbot renew` works from any directory.
        path = os.path.abspath(os.path.expanduser(self.conf("credentials")))
        setattr(self.config, self.dest("credentials"), path)
        try:
            self._gandi = config.read_file(path)
        except config.ConfigError as exc:
            raise errors.PluginError(str(exc)) from None
        for warning in self._gandi.warnings:
            logger.warning("%s", warning)

    def _get_client(self) -> livedns.LiveDNSClient:
        if self._client is None:
            import certbot

            assert self._gandi is not None
            self._client = livedns.LiveDNSClient(
                self._gandi,
                pool_size=self.concurrency,
                user_agent=f"certbot-dns-gandi-pat/{__version__} certbot/{certbot.__version__}",
            )
        return self._client

    def _get_records(self) -> records.ChallengeRecords:
        if self._records is None:
            cnames = dnscheck.CnameResolver(self._nameservers)
            self._records = records.ChallengeRecords(
                self._get_client(), resolve_target=cnames.target, concurrency=self.concurrency
            )
        return self._records

    # ---------------------------------------------------------------- perform

    def perform(
        self, achalls: list[achallenges.AnnotatedChallenge]
    ) -> list[challenges.ChallengeResponse]:
        self._setup_credentials()
        self._attempt_cleanup = True
        self._warn_token_expiry()
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
        except (livedns.LiveDNSError, dnscheck.DNSCheckError) as exc:
            raise errors.PluginError(str(exc)) from None
        return [achall.response(achall.account_key) for achall in achalls]

    def _wait(self, expected: dict[str, list[str]], zones: dict[str, str]) -> None:
        if self._nameservers is not None:
            servers = {fqdn: list(self._nameservers) for fqdn in expected}
        else:
            by_zone = {zone: self._zone_servers(zone) for zone in sorted(set(zones.values()))}
            servers = {fqdn: by_zone[zones[fqdn]] for fqdn in expected}
        waiter = self.waiter_factory(progress=display_util.notify)
        result = waiter.wait(expected, servers, float(self.conf("propagation-seconds")))
        logger.info("Propagation verified for %d name(s) in %.1f s",
                    len(result.verified), result.seconds)

    def _zone_servers(self, zone: str) -> list[dnscheck.Server]:
        # The public delegation is what the CA follows; LiveDNS's own list is the
        # fallback when this host cannot resolve it.
        hosts = dnscheck.zone_nameservers(zone)
        if not hosts:
            try:
                hosts = self._get_client().nameservers(zone)
            except livedns.LiveDNSError as exc:
                logger.warning("Cannot find the nameservers of %s: %s", zone, exc)
                return []
        return dnscheck.resolve_addresses((host, 53) for host in hosts)

    def _warn_token_expiry(self) -> None:
        if self._checked_token:
            return
        self._checked_token = True
        days = self.conf("expiry-warning-days")
        if not days or days <= 0:
            return
        info = self._get_client().token_info()
        message = tokens.expiry_warning(info, days, self._gandi.source if self._gandi else "")
        if message:
            logger.warning("%s", message)
            display_util.notify(message)

    # ---------------------------------------------------------------- cleanup

    def cleanup(self, achalls: list[achallenges.AnnotatedChallenge]) -> None:
        if not self._attempt_cleanup or self._records is None:
            return
        for failure in self._records.remove_all():
            logger.warning(
                "Could not remove a challenge record, remove it by hand in Gandi's DNS "
                "records page: %s", failure,
            )

    # certbot's base class requires these; perform/cleanup above batch instead.
    def _perform(self, domain: str, validation_name: str, validation: str) -> None:
        try:
            self._get_records().add([(validation_name, validation)])
        except livedns.LiveDNSError as exc:
            raise errors.PluginError(str(exc)) from None

    def _cleanup(self, domain: str, validation_name: str, validation: str) -> None:
        if self._records is not None:
            for failure in self._records.remove_all():
                logger.warning("Could not remove a challenge record: %s", failure)


def _domain(achall: achallenges.AnnotatedChallenge) -> str:
    identifier = getattr(achall, "identifier", None)
    value = getattr(identifier, "value", None)
    return str(value) if value else str(achall.domain)


