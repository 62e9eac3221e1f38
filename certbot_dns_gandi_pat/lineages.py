"""certbot's lineages, as ``certbot renew`` will see them: read, never written here.

A lineage is one ``<config-dir>/renewal/<name>.conf`` (parsed with configobj, as
certbot parses it) and the certificate it points to. Only lineages of this
authenticator are of interest: ``dns-gandi``, or the prefixed form
``certbot-plugin-gandi:dns`` that certbot-plugin-gandi used before certbot 1.7
and that today's certbot cannot load.

When the next renewal happens is worked out as the installed certbot decides
it: the lineage's ``renew_before_expiry`` when set; otherwise, since certbot
4.0, when a third of the lifetime is left (half, below ten days), and before
4.0, 30 days before expiry. After a renewal the new certificate has the same
lifetime, so the renewals after it follow at the same interval.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from certbot_dns_gandi_pat import config, inifile
from certbot_dns_gandi_pat.errors import GandiPatError

CURRENT = "dns-gandi"
LEGACY = ("certbot-plugin-gandi:dns", "certbot_plugin_gandi:dns")
CREDENTIALS = config.PREFIX + "credentials"
LEGACY_CREDENTIALS = config.LEGACY_PREFIX + "credentials"
DEFAULT_BEFORE_EXPIRY = dt.timedelta(days=30)
DAY = dt.timedelta(days=1)


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
    renew_before_expiry: Optional[str]
    autorenew: bool
    certificate: Optional[Certificate]
    certificate_problem: Optional[str] = None
    certificate_denied: bool = False  # unreadable for this user only (certbot runs as root)

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
    legacy_keys = tuple(k for k in params if k.startswith(config.LEGACY_PREFIX))
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
    return Lineage(name, path, authenticator, legacy_keys, credentials, key,
                   str(renew_before) if renew_before is not None else None, autorenew, cert, problem, denied)


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

_UNITS = {
    "s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
    "d": 86400, "day": 86400, "w": 7 * 86400, "week": 7 * 86400,
    "month": 30 * 86400, "mon": 30 * 86400, "y": 365 * 86400, "year": 365 * 86400,
}
_PART = re.compile(r"\s*(\d+)\s*([a-z]*)\s*,?", re.IGNORECASE)


def parse_interval(text: str) -> Optional[dt.timedelta]:
    """certbot's ``renew_before_expiry`` ("30 days", "2 weeks 3 days", "10"); None if not understood.

    certbot reads a bare number as days. Months count 30 days and years 365,
    close enough to place a renewal date.
    """
    pos, seconds = 0, 0
    text = text.strip()
    if not text:
        return None
    while pos < len(text):
        match = _PART.match(text, pos)
        if match is None or match.end() == pos:
            return None
        unit = match.group(2).lower()
        unit = unit[:-1] if unit.endswith("s") and unit[:-1] in _UNITS else unit
        if unit and unit not in _UNITS:
            return None
        seconds += int(match.group(1)) * _UNITS.get(unit, 86400)
        pos = match.end()
    return dt.timedelta(seconds=seconds)


# certbot renews at its first run after a renewal is due: twice a day from cron
# or Debian's timer, which adds up to 12 hours of random delay. A token counts
# as doing a renewal only if it is still valid two days after it is due.
RUN_SLACK = dt.timedelta(days=2)


def usable_until(expiry: dt.datetime) -> dt.datetime:
    """The last moment a renewal can be due and still be done with a token expiring at ``expiry``."""
    return expiry - RUN_SLACK


def against(expiry: dt.datetime, due: dt.datetime) -> str:
    """How a token's expiry stands to a renewal it cannot do, for messages."""
    return "before" if expiry <= due else "less than two days after"


@dataclass(frozen=True)
class Schedule:
    """When certbot will renew this lineage: ``first`` and then every ``period``."""

    first: dt.datetime
    period: dt.timedelta
    rule: str

    def renewals(self, now: dt.datetime) -> Iterator[dt.datetime]:
        """The renewal dates from now on (a renewal already due happens at the next run)."""
        when = max(self.first, now)
        while True:
            yield when
            if self.period <= dt.timedelta(0):
                return
            when += self.period

    def first_failing(self, expiry: dt.datetime, now: dt.datetime) -> dt.datetime:
        """The first renewal a token expiring at ``expiry`` cannot do."""
        expiry = usable_until(expiry)
        start = max(self.first, now)
        if expiry <= start or self.period <= dt.timedelta(0):
            return max(start, expiry)
        steps = -(-(expiry - start) // self.period)  # ceiling division
        return start + steps * self.period


def certbot_version() -> tuple[int, ...]:
    import certbot

    return tuple(int(p) for p in re.findall(r"\d+", certbot.__version__)[:3])


def schedule(lineage: Lineage, version: Optional[Sequence[int]] = None) -> Optional[Schedule]:
    """The renewal schedule, or None when the certificate could not be read."""
    cert = lineage.certificate
    if cert is None:
        return None
    interval = parse_interval(lineage.renew_before_expiry) if lineage.renew_before_expiry else None
    if interval is not None:
        rule = f"renew_before_expiry = {lineage.renew_before_expiry}"
        return Schedule(cert.not_after - interval, cert.lifetime - interval, rule)
    version = tuple(version) if version is not None else certbot_version()
    if version >= (4,):
        share = 2 if cert.lifetime < dt.timedelta(days=10) else 3
        rule = "certbot's default: when a third of the lifetime is left" if share == 3 else \
            "certbot's default: when half of the lifetime is left"
        return Schedule(cert.not_after - cert.lifetime / share, cert.lifetime - cert.lifetime / share, rule)
    rule = "certbot's default: 30 days before expiry"
    return Schedule(cert.not_after - DEFAULT_BEFORE_EXPIRY, cert.lifetime - DEFAULT_BEFORE_EXPIRY, rule)


def last_safe_day(schedules: Iterable[Schedule], expiry: dt.datetime, now: dt.datetime) -> dt.date:
    """The last day a token expiring at ``expiry`` can be replaced without a failed renewal.

    That is the day before the first renewal it cannot do, and never after the
    day before it expires: an expired token also fails new certificates, a
    renewal that ACME Renewal Information brings forward, and ``doctor``.
    """
    day = (expiry - DAY).date()
    failing = [s.first_failing(expiry, now) for s in schedules]
    if failing:
        before_renewal = (min(failing) - DAY).date()
        day = min(day, before_renewal) if expiry > now else before_renewal
    return max(day, now.date())
