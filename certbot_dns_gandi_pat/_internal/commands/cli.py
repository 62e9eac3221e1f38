"""The ``certbot-dns-gandi-pat`` command: its sub-commands, logging, signals and exit codes.

Every sub-command is one module with the same face: ``NAME``, ``TITLE``,
``HELP``, ``add_arguments(parser)`` and ``run(args, out) -> int``; adding one
is adding it to ``COMMANDS``.

Rules (tests/integration/test_doctor.py, test_rotate.py, test_migrate.py):

* Exit codes follow the monitoring-plugin convention for every sub-command:
  0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. A usage error is UNKNOWN (argparse's
  own status 2 would read as CRITICAL to a monitoring system).
* Ctrl-C and SIGTERM end a command with one line saying what state each file
  is in (``files.Ledger``), exit code 3 and no traceback; the cleanup of what
  it had started (a write test's record) runs first.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NoReturn, Optional, TextIO

from certbot_dns_gandi_pat import __version__
from certbot_dns_gandi_pat._internal import dnscheck
from certbot_dns_gandi_pat._internal.commands import doctor, migrate, options, renewals, report, rotate

PROG = "certbot-dns-gandi-pat"
COMMANDS = (doctor, renewals, migrate, rotate)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(report.UNKNOWN, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Diagnostics and maintenance for the certbot "
                     "dns-gandi authenticator (Gandi LiveDNS).")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS:
        one = sub.add_parser(command.NAME, help=command.HELP)
        command.add_arguments(one)
        options.verbose(one)
        one.set_defaults(module=command)
    return parser


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


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises KeyboardInterrupt, so that the same cleanup runs."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: Optional[Sequence[str]] = None, out: TextIO = sys.stdout) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.module
    if hasattr(args, "nameservers"):
        try:
            # Resolved once, here: a bad value is a usage error, before anything is done.
            args.nameservers = options.servers(args.nameservers)
        except dnscheck.DNSCheckError as exc:
            parser.error(exc.headline)
    form = (report.JSON if getattr(args, "json", False) else
            report.PROMETHEUS if getattr(args, "prometheus", False) else report.TEXT)
    output = report.Output(out, form, textfile=getattr(args, "textfile", None))
    main_thread = threading.current_thread() is threading.main_thread()
    saved = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        with _logging(args.verbose):
            code: int = command.run(args, output)
        return code
    except KeyboardInterrupt as exc:
        # Whatever was cleaned up ran on the way here (finally blocks); what is
        # left to say is the state of each file, in one line.
        what = "SIGTERM" if isinstance(exc, Terminated) else "interrupt"
        return output.emit(report.Report(command.TITLE, report.UNKNOWN,
                                         f"stopped by {what}: {output.ledger.describe()}"))
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, saved if saved is not None else signal.SIG_DFL)
