"""Options several commands take, defined once so that they read and behave the same."""

from __future__ import annotations

import argparse
from typing import Optional

from certbot_dns_gandi_pat._internal import dnscheck, plugin_options, tokens

CONFIG_DIR = "/etc/letsencrypt"
# The same range as the plugin's --dns-gandi-expiry-warning-days.
_WARNING = plugin_options.BY_NAME["expiry-warning-days"]
DAYS = (_WARNING.low or 0, _WARNING.high or 0)


def config_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config-dir", default=CONFIG_DIR,
                        help=f"certbot's configuration directory (default: {CONFIG_DIR})")


def verbose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log what is done (requests, DNS queries) on standard error")


def json_output(parser: argparse.ArgumentParser | argparse._MutuallyExclusiveGroup) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def nameservers(parser: argparse.ArgumentParser, purpose: str) -> None:
    """``--nameservers``; the command line's reader resolves it (``servers``) before the command runs."""
    parser.add_argument("--nameservers", help=f"HOST[:PORT],... DNS servers to {purpose}")


def expiry_warning_days(parser: argparse.ArgumentParser, whose: str = "the token expires") -> None:
    parser.add_argument("--expiry-warning-days", type=_days, default=tokens.DEFAULT_WARNING_DAYS,
                        help=f"warn when {whose} within this many days (default: {tokens.DEFAULT_WARNING_DAYS})")


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if not DAYS[0] <= value <= DAYS[1]:
        raise argparse.ArgumentTypeError(f"must be between {DAYS[0]} and {DAYS[1]} days")
    return value


def servers(spec: Optional[str]) -> Optional[list[dnscheck.Server]]:
    """The addresses of ``--nameservers``; DNSCheckError naming the option when it is unusable."""
    if not spec:
        return None
    found = dnscheck.resolve_addresses(dnscheck.parse_nameservers(spec, option="--nameservers"))
    if not found:
        raise dnscheck.DNSCheckError(f"--nameservers: cannot resolve {spec}")
    return found
