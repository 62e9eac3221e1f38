"""certbot's lineages, as ``certbot renew`` will see them: read, never written here.

A lineage is one ``<config-dir>/renewal/<name>.conf`` (parsed with configobj, as
certbot parses it) and the certificate it points to. Only lineages of this
authenticator are of interest: ``dns-gandi``, or the prefixed form
``certbot-plugin-gandi:dns`` that certbot-plugin-gandi used before certbot 1.7
and that today's certbot cannot load.

When the next renewal happens is worked out as the installed certbot decides
it (ACME Renewal Information aside, which can only be asked of the CA):
``renew_before_expiry`` is read by certbot's own parser, so text it cannot
place counts as no time at all, just as certbot counts it; before 4.1 a lineage
without the setting gets certbot's 30 days, 4.0 also renews when a third of the
lifetime is left, and from 4.1 that third (half, below ten days) is the default
instead. Dates are held at the ends of the calendar, never overflowing. After a
renewal the new certificate has the same lifetime.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from certbot_dns_gandi_pat._internal import plugin_options
from certbot_dns_gandi_pat._internal.certbot_files import inifile
from certbot_dns_gandi_pat._internal.errors import GandiPatError

CURRENT = "dns-gandi"
LEGACY = ("certbot-plugin-gandi:dns", "certbot_plugin_gandi:dns")
CREDENTIALS = plugin_options.PREFIX + "credentials"
LEGACY_CREDENTIALS = plugin_options.LEGACY_PREFIX + "credentials"
DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)


class LineageError(GandiPatError):
    """The configuration directory cannot be read; the message names it."""


@dataclass(frozen=True)
class Certificate:
    names: tuple[str, ...]
    not_before: dt.datetime
    not_after: dt.datetime

    @property
    def lifetime(self) -> dt.timedelta:
        return self.not_after - self.not_before


@dataclass(frozen=True)
class Lineage:
    """One renewal configuration that uses this authenticator, in either form."""

    name: str
    conf: str
    authenticator: str
    legacy_keys: tuple[str, ...]  # prefixed keys in [renewalparams]
    credentials: Optional[str]  # the path as stored
    credentials_key: Optional[str]  # the key that holds it
    renew_before_expiry: object  # as configobj reads it: text, None, or a list when it holds a comma
    autorenew: bool
    certificate: Optional[Certificate]
    certificate_problem: Optional[str] = None
    certificate_denied: bool = False  # unreadable for this user only (certbot runs as root)
    options: tuple[tuple[str, object], ...] = ()  # the dns_gandi_* settings of [renewalparams]

    @property
    def legacy(self) -> bool:
        return self.authenticator in LEGACY or bool(self.legacy_keys)

    @property
    def domains(self) -> tuple[str, ...]:
        return self.certificate.names if self.certificate else ()

    @property
    def credentials_path(self) -> Optional[str]:
        """The credentials file as certbot will open it (links resolved)."""
        if not self.credentials:
            return None
        return os.path.realpath(os.path.expanduser(self.credentials))


@dataclass(frozen=True)
class Unreadable:
    """A renewal configuration that mentions Gandi but cannot be parsed."""

    conf: str
    problem: str


def renewal_dir(config_dir: str) -> str:
    return os.path.join(config_dir, "renewal")


def find(config_dir: str) -> tuple[list[Lineage], list[Unreadable]]:
    """Every lineage of this authenticator under ``config_dir``, sorted by name."""
    directory = renewal_dir(config_dir)
    if not os.path.isdir(directory):
        raise LineageError(
            f"{directory} does not exist: no certbot configuration here (certbot's default "
            "is /etc/letsencrypt; give the one certbot uses with --config-dir)"
        )
    if not os.access(directory, os.R_OK | os.X_OK):
        raise LineageError(f"{directory} cannot be read: run this as root (or as the user "
                           "certbot runs as)")
    found: list[Lineage] = []
    broken: list[Unreadable] = []
    # certbot loads exactly this glob: backups named *.conf.bak-* are never lineages.
    for path in sorted(glob.glob(os.path.join(directory, "*.conf"))):
        try:
            lineage = read(path)
        except LineageError as exc:
            if _mentions_gandi(path):
                broken.append(Unreadable(path, str(exc)))
            continue
        if lineage is not None:
            found.append(lineage)
    return found, broken


def _mentions_gandi(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return b"gandi" in handle.read().lower()
    except OSError:
        return True


def parse_conf(path: str) -> dict[str, Any]:
    """A renewal configuration's values, read as every command reads these files (``inifile``)."""
    try:
        return inifile.read(path).values
    except inifile.EditError as exc:
        raise LineageError(f"{exc}; certbot cannot renew it either") from None
    except OSError as exc:
        raise LineageError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None


def read(path: str) -> Optional[Lineage]:
    """The lineage of one renewal configuration, or None when it uses another authenticator."""
    conf = parse_conf(path)
    params = conf.get("renewalparams")
    if not isinstance(params, dict):
        return None
    authenticator = str(params.get("authenticator", ""))
    if authenticator != CURRENT and authenticator not in LEGACY:
        return None
    legacy_keys = tuple(k for k in params if k.startswith(plugin_options.LEGACY_PREFIX))
    key = CREDENTIALS if CREDENTIALS in params else LEGACY_CREDENTIALS if LEGACY_CREDENTIALS in params else None
    credentials = str(params[key]) if key else None
    renew_before = conf.get("renew_before_expiry")
    autorenew = str(params.get("autorenew", "True")).lower() not in ("false", "no", "off", "0")
    cert, problem, denied = None, None, False
    cert_path = conf.get("cert")
    if not isinstance(cert_path, str):
        problem = f"{path} names no certificate (cert = ...)"
    else:
        try:
            cert = read_certificate(cert_path)
        except (OSError, ValueError) as exc:
            problem = f"{cert_path} cannot be read ({getattr(exc, 'strerror', None) or exc})"
            denied = isinstance(exc, PermissionError)
    name = os.path.basename(path)[: -len(".conf")]
    settings = tuple((k, v) for k, v in params.items() if k.startswith(plugin_options.PREFIX))
    return Lineage(name, path, authenticator, legacy_keys, credentials, key,
                   renew_before, autorenew, cert, problem, denied, settings)


def read_certificate(path: str) -> Certificate:
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID, NameOID

    with open(path, "rb") as handle:
        cert = x509.load_pem_x509_certificate(handle.read())
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        names = list(san.get_values_for_type(x509.DNSName))  # type: ignore[attr-defined]
    except x509.ExtensionNotFound:
        names = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return Certificate(tuple(names), _utc(cert, "not_valid_before"), _utc(cert, "not_valid_after"))


def _utc(cert: Any, field: str) -> dt.datetime:
    # cryptography 42 added the aware *_utc properties and deprecated the naive ones.
    aware = getattr(cert, field + "_utc", None)
    if isinstance(aware, dt.datetime):
        return aware
    naive: dt.datetime = getattr(cert, field)
    return naive.replace(tzinfo=dt.timezone.utc)


def using(lineages: Iterable[Lineage], credentials: str) -> list[Lineage]:
    """The lineages whose credentials file is ``credentials`` (links resolved)."""
    real = os.path.realpath(os.path.expanduser(credentials))
    return [lineage for lineage in lineages if lineage.credentials_path == real]


# ------------------------------------------------------------ renewal dates

# certbot renews at its first run after a renewal is due: twice a day from cron
# or Debian's timer, which adds up to 12 hours of random delay. A token counts
# as doing a renewal only if it is still valid two days after it is due.
RUN_SLACK = dt.timedelta(days=2)
# Gandi's tokens last a year at most: a renewal further off is no new token's concern.
TOKEN_LIFE = dt.timedelta(days=366)
# Renewals looked at ahead: a year of six-day certificates, with room to spare.
_HORIZON = 400


def usable_until(expiry: dt.datetime) -> dt.datetime:
    """The last moment a renewal can be due and still be done with a token expiring at ``expiry``."""
    return expiry - RUN_SLACK


def against(expiry: dt.datetime, due: dt.datetime) -> str:
    """How a token's expiry stands to a renewal it cannot do, for messages."""
    return "before" if expiry <= due else "less than two days after"


def shift(when: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    """``when + delta``, held at the ends of the calendar instead of overflowing (year 9999 is legal)."""
    try:
        return when + delta
    except OverflowError:
        return dt.datetime.max.replace(tzinfo=dt.timezone.utc) if delta > dt.timedelta(0) else \
            dt.datetime.min.replace(tzinfo=dt.timezone.utc)


def certbot_version() -> tuple[int, ...]:
    import certbot

    return tuple(int(p) for p in re.findall(r"\d+", certbot.__version__)[:3])


def _read_interval(text: str, base: dt.datetime) -> dt.timedelta:
    """How long ``text`` is from ``base``, read by the installed certbot's own function."""
    from certbot._internal import storage

    base = base.replace(microsecond=0)  # its parser drops them: not part of the interval
    try:
        later: dt.datetime = storage.add_time_interval(base, text)
        return later - base
    except (OverflowError, ValueError):
        return dt.timedelta(0)  # what certbot's parser makes of what it cannot place


Due = Callable[[dt.datetime, dt.datetime], dt.datetime]  # (not_before, not_after) -> due


@dataclass(frozen=True)
class Schedule:
    """When certbot will renew a lineage, as the installed certbot decides it.

    ``due(not_before, not_after)`` is the moment certbot first finds a
    certificate with that validity due; ``first`` applies it to the current one.
    After a renewal the new certificate has the same lifetime.
    """

    first: dt.datetime
    lifetime: dt.timedelta
    rule: str
    due: Due = field(repr=False, compare=False)
    after_expiry: bool = False  # certbot reads the interval as nothing (or less): it renews only expired
    every_run: bool = False  # the interval is longer than the lifetime: every run renews
    problem: Optional[str] = None  # certbot cannot read the setting at all

    def renewals(self, now: dt.datetime) -> Iterator[dt.datetime]:
        """The renewal dates from now on (a renewal already due happens at the next run)."""
        when = max(self.first, now)
        yield when
        for _ in range(_HORIZON):
            later = self.due(when, shift(when, self.lifetime))
            if later <= when:
                return  # every run renews: there is no later date to tell
            when = later
            yield when

    def first_failing(self, expiry: dt.datetime, now: dt.datetime) -> dt.datetime:
        """The first renewal a token expiring at ``expiry`` cannot do."""
        usable = usable_until(expiry)
        last = max(self.first, now)
        for when in self.renewals(now):
            last = when
            if usable <= when:
                return when
        return max(last, usable)


def _interval_rule(text: str, now: dt.datetime) -> Due:
    def due(not_before: dt.datetime, not_after: dt.datetime) -> dt.datetime:
        # certbot renews once not_after < t + interval(t). The interval may
        # depend on t ("1 month", and "1 mon", which its parser reads as next
        # Monday), so the guess is checked, and searched for when it is off.
        def renews(when: dt.datetime) -> bool:
            # The moment itself counts as due: certbot renews at any run after it.
            return not_after <= shift(when, _read_interval(text, when))

        guess = shift(not_after, -_read_interval(text, now)).replace(microsecond=0)
        if renews(guess) and not renews(shift(guess, -SECOND)):
            return guess
        lo = hi = guess
        step = DAY
        while renews(lo) and lo > dt.datetime.min.replace(tzinfo=dt.timezone.utc):
            lo, step = shift(lo, -step), step * 2
        step = DAY
        while not renews(hi) and hi < dt.datetime.max.replace(tzinfo=dt.timezone.utc):
            hi, step = shift(hi, step), step * 2
        while hi - lo > SECOND:
            mid = lo + (hi - lo) / 2
            lo, hi = (lo, mid) if renews(mid) else (mid, hi)
        whole = hi.replace(microsecond=0)
        return whole if renews(whole) else shift(whole, SECOND)
    return due


def _lifetime_rule(not_before: dt.datetime, not_after: dt.datetime) -> dt.datetime:
    """certbot 4's default: when a third of the lifetime is left (half, below ten days).

    certbot 4.1+ has it as ``renewal._default_renewal_time``, which reads a PEM;
    the renewals after the next have no PEM yet, so the dates are used here, and
    a test holds this to certbot's function.
    """
    lifetime = not_after - not_before
    share = 2 if lifetime < dt.timedelta(days=10) else 3
    return not_after - lifetime / share


def _default_interval() -> str:
    from certbot._internal import constants

    defaults: Any = getattr(constants, "RENEWER_DEFAULTS", {})
    return str(defaults.get("renew_before_expiry", "30 days"))


def schedule(lineage: Lineage, version: Optional[Sequence[int]] = None,
             now: Optional[dt.datetime] = None) -> Optional[Schedule]:
    """The renewal schedule, or None when the certificate could not be read.

    certbot < 4.0 applies ``renew_before_expiry`` (default 30 days); 4.0 also its
    lifetime rule, whichever comes first; 4.1 and later one or the other: the
    setting when the lineage has one, the lifetime rule otherwise.
    ``renew_before_expiry`` is always read by certbot's own parser.
    """
    cert = lineage.certificate
    if cert is None:
        return None
    now = now or dt.datetime.now(dt.timezone.utc)
    version = tuple(version) if version is not None else certbot_version()
    setting = lineage.renew_before_expiry
    if setting is not None and not isinstance(setting, str):
        # configobj reads "1 day, 12 hours" as a list: certbot's parser fails on it.
        shown = ", ".join(map(str, setting)) if isinstance(setting, list) else "[renew_before_expiry]"
        return Schedule(cert.not_after, cert.lifetime, f"renew_before_expiry = {shown}", lambda b, a: a,
                        problem=f"renew_before_expiry = {shown} is not one value (a comma makes a list), "
                        "which certbot cannot use: `certbot renew` fails on this lineage; write it "
                        "without commas, such as 1 day 12 hours")
    text = setting if setting is not None else _default_interval() if version < (4, 1) else None
    if text is None:
        rule = ("certbot's default: when half of the lifetime is left" if cert.lifetime < dt.timedelta(days=10)
                else "certbot's default: when a third of the lifetime is left")
        return Schedule(_lifetime_rule(cert.not_before, cert.not_after), cert.lifetime, rule, _lifetime_rule)
    by_interval = _interval_rule(text, now)
    due: Due = by_interval
    rule = f"renew_before_expiry = {text}" if setting is not None else f"certbot's default: {text} before expiry"
    if (4,) <= version < (4, 1):
        def due(b: dt.datetime, a: dt.datetime) -> dt.datetime:  # certbot 4.0 applies both
            return min(by_interval(b, a), _lifetime_rule(b, a))
        rule += ", or a third of the lifetime if that comes first"
    length = _read_interval(text, now)
    return Schedule(due(cert.not_before, cert.not_after), cert.lifetime, rule, due,
                    after_expiry=length <= dt.timedelta(0) and due is by_interval,
                    every_run=length >= cert.lifetime)


def last_safe_day(schedules: Iterable[Schedule], expiry: dt.datetime, now: dt.datetime) -> dt.date:
    """The last day a token expiring at ``expiry`` can be replaced without a failed renewal.

    That is the day before the first renewal it cannot do, and never after the
    day before it expires: an expired token also fails new certificates, a
    renewal that ACME Renewal Information brings forward, and ``doctor``.
    """
    day = (shift(expiry, -DAY)).date()
    failing = [s.first_failing(expiry, now) for s in schedules]
    if failing:
        before_renewal = (shift(min(failing), -DAY)).date()
        day = min(day, before_renewal) if expiry > now else before_renewal
    return max(day, now.date())
