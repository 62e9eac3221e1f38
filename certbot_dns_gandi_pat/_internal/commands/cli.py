"""The ``certbot-dns-gandi-pat`` command: sub-commands and exit codes.

Exit codes follow the monitoring-plugin convention for every sub-command:
0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. A usage error is UNKNOWN (argparse's
own status 2 would read as CRITICAL to a monitoring system).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NoReturn, Optional, TextIO

from certbot_dns_gandi_pat import __version__
from certbot_dns_gandi_pat._internal import dnscheck, tokens
from certbot_dns_gandi_pat._internal.certbot_files import files
from certbot_dns_gandi_pat._internal.commands import doctor, report

PROG = "certbot-dns-gandi-pat"
CONFIG_DIR = "/etc/letsencrypt"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(report.UNKNOWN, f"{self.prog}: error: {message}\n")


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
    _verbose(doc)
    doc.set_defaults(run=_doctor)

    ren = sub.add_parser("renewals", help="will every dns-gandi renewal on this machine succeed?")
    _config_dir(ren)
    ren.add_argument("--json", action="store_true", help="machine-readable output")
    ren.add_argument("--nameservers", help="HOST[:PORT],... DNS servers to follow CNAMEs through")
    ren.add_argument("--expiry-warning-days", type=_days, default=tokens.DEFAULT_WARNING_DAYS,
                     help="warn when a token expires within this many days "
                     f"(default: {tokens.DEFAULT_WARNING_DAYS})")
    _verbose(ren)
    ren.set_defaults(run=_renewals)

    mig = sub.add_parser("migrate", help="rewrite old certbot-plugin-gandi:dns configurations")
    _config_dir(mig)
    mig.add_argument("--dry-run", action="store_true",
                     help="print the changes (credential values masked) and write nothing")
    _verbose(mig)
    mig.set_defaults(run=_migrate)

    rot = sub.add_parser("rotate", help="replace the token in a credentials file, after checking it; "
                         "the new token is read from standard input")
    rot.add_argument("--credentials", required=True, help="the credentials INI file to update")
    _config_dir(rot)
    rot.add_argument("--nameservers", help="HOST[:PORT],... DNS servers to follow CNAMEs through")
    rot.add_argument("--write-test", action="store_true",
                     help="also create and remove a TXT record in each zone with the new token")
    rot.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
    _verbose(rot)
    rot.set_defaults(run=_rotate)
    return parser


def _config_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config-dir", default=CONFIG_DIR,
                        help=f"certbot's configuration directory (default: {CONFIG_DIR})")


def _verbose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log what is done (requests, DNS queries) on standard error")


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if not 0 <= value <= 3650:
        raise argparse.ArgumentTypeError("must be between 0 and 3650 days")
    return value


def _servers(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Optional[list[dnscheck.Server]]:
    if not args.nameservers:
        return None
    try:
        servers = dnscheck.resolve_addresses(
            dnscheck.parse_nameservers(args.nameservers, option="--nameservers"))
    except dnscheck.DNSCheckError as exc:
        parser.error(str(exc))
    if not servers:
        parser.error(f"--nameservers: cannot resolve {args.nameservers}")
    return servers


@contextmanager
def _logging(verbose: bool) -> Iterator[None]:
    """Log to standard error: everything with -v, otherwise errors only.

    The commands report every problem in their own output; certbot's own
    warnings (such as file permissions) would only repeat it.
    """
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG if verbose else logging.ERROR)
    saved = root.level
    root.addHandler(handler)
    if verbose:
        root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(saved)


def _renewals(args: argparse.Namespace, parser: argparse.ArgumentParser, out: TextIO, ledger: files.Ledger) -> int:
    from certbot_dns_gandi_pat._internal.commands import renewals

    servers = _servers(args, parser)
    with _logging(args.verbose):
        check = renewals.Renewals(args.config_dir, nameservers=servers,
                                  warning_days=args.expiry_warning_days)
        check.run()
        print(check.render(args.json), file=out)
    return check.exit_code()


def _migrate(args: argparse.Namespace, parser: argparse.ArgumentParser, out: TextIO, ledger: files.Ledger) -> int:
    from certbot_dns_gandi_pat._internal.commands import migrate

    with _logging(args.verbose):
        return migrate.run(args.config_dir, args.dry_run, out, ledger)


def _rotate(args: argparse.Namespace, parser: argparse.ArgumentParser, out: TextIO, ledger: files.Ledger) -> int:
    from certbot_dns_gandi_pat._internal.commands import rotate

    servers = _servers(args, parser)
    with _logging(args.verbose):
        rotation = rotate.Rotation(args.credentials, os.path.abspath(args.config_dir),
                                   nameservers=servers, write_test=args.write_test,
                                   dry_run=args.dry_run, ledger=ledger)
        return rotation.run(sys.stdin, out)


def _doctor(args: argparse.Namespace, parser: argparse.ArgumentParser, out: TextIO, ledger: files.Ledger) -> int:
    servers = _servers(args, parser)
    with _logging(args.verbose):
        check = doctor.Doctor(args.credentials, args.domains, nameservers=servers,
                              write_test=args.write_test, expiry_days=args.expiry_warning_days,
                              ledger=ledger)
        checks = check.run()
        print(report.render(checks, args.json, check.secret), file=out)
    return report.exit_code(checks)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises KeyboardInterrupt, so that the same cleanup runs."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: Optional[Sequence[str]] = None, out: TextIO = sys.stdout) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    ledger = files.Ledger()
    main_thread = threading.current_thread() is threading.main_thread()
    saved = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        code: int = args.run(args, parser, out, ledger)
        return code
    except KeyboardInterrupt as exc:
        # Whatever was cleaned up ran on the way here (finally blocks); what is
        # left to say is the state of each file, in one line.
        what = "SIGTERM" if isinstance(exc, Terminated) else "interrupt"
        line = f"dns-gandi {args.command} UNKNOWN - stopped by {what}: {ledger.describe()}"
        if getattr(args, "json", False):
            line = json.dumps({"ok": False, "exit_code": report.UNKNOWN, "verdict": "UNKNOWN", "summary": line})
        print(line, file=out, flush=True)
        return report.UNKNOWN
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, saved if saved is not None else signal.SIG_DFL)
