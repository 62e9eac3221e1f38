"""The ``certbot-dns-gandi-pat`` command: sub-commands and exit codes.

Exit codes follow the monitoring-plugin convention for every sub-command:
0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. A usage error is UNKNOWN (argparse's
own status 2 would read as CRITICAL to a monitoring system).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn, Optional, TextIO

from certbot_dns_gandi_pat import __version__, dnscheck, doctor, tokens

PROG = "certbot-dns-gandi-pat"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(doctor.UNKNOWN, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Diagnostics and maintenance for the certbot "
                     "dns-gandi authenticator (Gandi LiveDNS).")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    doc = sub.add_parser("doctor", help="check credentials, token, zones and delegation")
    doc.add_argument("--credentials", required=True, help="the credentials INI file")
    doc.add_argument("--nameservers", help="HOST[:PORT],... DNS servers to ask instead")
    doc.add_argument("--write-test", action="store_true",
                     help="also create and remove a TXT record in each domain's zone")
    doc.add_argument("--json", action="store_true", help="machine-readable output")
    doc.add_argument("--expiry-warning-days", type=_days, default=tokens.DEFAULT_WARNING_DAYS,
                     help="warn when the token expires within this many days "
                     f"(default: {tokens.DEFAULT_WARNING_DAYS})")
    doc.add_argument("domains", nargs="*", metavar="DOMAIN")
    doc.set_defaults(run=_doctor)
    return parser


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if not 0 <= value <= 3650:
        raise argparse.ArgumentTypeError("must be between 0 and 3650 days")
    return value


def _doctor(args: argparse.Namespace, parser: argparse.ArgumentParser, out: TextIO) -> int:
    servers = None
    if args.nameservers:
        try:
            servers = dnscheck.resolve_addresses(
                dnscheck.parse_nameservers(args.nameservers, option="--nameservers"))
        except dnscheck.DNSCheckError as exc:
            parser.error(str(exc))
    check = doctor.Doctor(args.credentials, args.domains, nameservers=servers,
                          write_test=args.write_test, expiry_days=args.expiry_warning_days)
    checks = check.run()
    print(doctor.render(checks, args.json, check.secret), file=out)
    return doctor.exit_code(checks)


def main(argv: Optional[Sequence[str]] = None, out: TextIO = sys.stdout) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.run(args, parser, out)
    return code
