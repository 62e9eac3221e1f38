"""The plugin's ``--dns-gandi-*`` options: the one source of their names, defaults and values.

The plugin registers them from here; the plugin's page (the package
docstring), ``certbot --help dns-gandi`` and docs/options.md are held to this
table by tests/unit/test_options.py, and ``renewals`` checks a renewal
configuration's values against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from certbot_dns_gandi_pat._internal import tokens

PREFIX = "dns_gandi_"
# certbot-plugin-gandi before certbot 1.7 named everything with this prefix
# (`certbot_plugin_gandi:dns_api_key`); certbot no longer loads such names.
LEGACY_PREFIX = "certbot_plugin_gandi:dns_"


@dataclass(frozen=True)
class Option:
    """One ``--dns-gandi-*`` option."""

    name: str
    help: str
    default: Optional[int] = None
    values: str = ""  # as the docs show a non-numeric one ("path"); a numeric one shows low-high
    low: Optional[int] = None
    high: Optional[int] = None

    @property
    def numeric(self) -> bool:
        return self.low is not None

    @property
    def key(self) -> str:
        """How a renewal configuration stores it: ``dns_gandi_propagation_seconds``."""
        return PREFIX + self.name.replace("-", "_")

    def full_help(self, default: Optional[int] = None) -> str:
        shown = self.default if default is None else default
        bounds = f" {self.low} to {self.high}." if self.numeric else ""
        return self.help + bounds + (f" (default: {shown})" if shown is not None else "")


OPTIONS = (
    Option("credentials", "Path to the Gandi credentials INI file (dns_gandi_token = <Personal Access Token>, "
           "or the legacy dns_gandi_api_key; optional dns_gandi_sharing_id).", values="path"),
    # An upper bound, not a sleep: the run goes on as soon as every authoritative
    # server answers, usually within seconds. Five minutes covers a slow LiveDNS
    # push without letting a broken delegation hold a cron run for long, and is
    # what gets waited only when no nameserver can be asked at all.
    Option("propagation-seconds", "The longest time to wait for every authoritative nameserver to serve "
           "the TXT records; the plugin checks about once a second and goes on as soon as they do.",
           default=300, low=1, high=86400),
    Option("nameservers", "HOST[:PORT],... Ask these DNS servers, instead of the zone's authoritative "
           "nameservers, whether the records are served, and follow _acme-challenge CNAME delegations "
           "through them (restricted networks, split horizon, tests).", values="HOST[:PORT],..."),
    Option("expiry-warning-days", "Warn, even under --quiet, when the Personal Access Token expires within "
           "this many days: the next renewal of a 90-day certificate comes 60 days after this one. 0 turns "
           "the check off.", default=tokens.DEFAULT_WARNING_DAYS, low=0, high=3650),
)
BY_NAME = {option.name: option for option in OPTIONS}
DEFAULT_PROPAGATION_SECONDS = BY_NAME["propagation-seconds"].default or 0
