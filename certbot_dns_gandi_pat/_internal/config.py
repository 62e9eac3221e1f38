"""Credentials INI: parsing and validation, independent of certbot.

Every mistake is reported here, before any network call, naming the file and
the key, so that a cron run fails in milliseconds with a message a person can
act on instead of a 401 from the API.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import urlsplit

from certbot_dns_gandi_pat._internal import plugin_options
from certbot_dns_gandi_pat._internal.certbot_files import inifile
from certbot_dns_gandi_pat._internal.errors import GandiPatError

DEFAULT_API_URL = "https://api.gandi.net/v5/livedns"
DEFAULT_TOKENINFO_URL = "https://id.gandi.net/tokeninfo"

PREFIX = plugin_options.PREFIX
TOKEN = PREFIX + "token"
API_KEY = PREFIX + "api_key"
SHARING_ID = PREFIX + "sharing_id"
API_URL = PREFIX + "api_url"
TOKENINFO_URL = PREFIX + "tokeninfo_url"
KNOWN_KEYS = (TOKEN, API_KEY, SHARING_ID, API_URL, TOKENINFO_URL)
CREDENTIAL_KEYS = (TOKEN, API_KEY)

LEGACY_PREFIX = plugin_options.LEGACY_PREFIX
MIGRATE_HINT = "run `certbot-dns-gandi-pat migrate` to rewrite the old names"

# Legacy keys are documented as 24 lowercase alphanumerics; anything else in
# that slot is most likely a PAT pasted under the wrong key.
_LEGACY_KEY = re.compile(r"[a-z0-9]{24}")
_SAFE_SECRET = re.compile(r"[\x21-\x7e]+")

# Settings whose values may be shown; any other value of a credentials file may
# be a credential (under a misspelt or old key, too) and is never shown.
SHOWN = frozenset({API_URL, TOKENINFO_URL, SHARING_ID, PREFIX + "credentials", PREFIX + "propagation_seconds",
                   PREFIX + "nameservers", PREFIX + "expiry_warning_days"})
_SHORTEST_SECRET = 8  # shorter values ("10", "yes") are settings; masking them would garble output

PAT_HOWTO = (
    "Create a Personal Access Token in Gandi's admin panel (Organizations > your "
    "organization > Sharing > Create a token, or Account settings > Personal Access "
    "Tokens) with the permission \"Manage domain name technical configurations\", and "
    "put it in the credentials file as: dns_gandi_token = <token>"
)


class ConfigError(GandiPatError):
    """A credentials file that cannot be used; the message names file and key."""


class Secret:
    """A credential that never shows itself in repr, str or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class GandiConfig:
    """Validated credentials and endpoints, as read from one INI file."""

    secret: Secret
    is_pat: bool
    source: str = "<credentials>"
    sharing_id: Optional[str] = None
    api_url: str = DEFAULT_API_URL
    tokeninfo_url: str = DEFAULT_TOKENINFO_URL
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def auth_header(self) -> str:
        scheme = "Bearer" if self.is_pat else "Apikey"
        return f"{scheme} {self.secret.reveal()}"

    @property
    def credential_key(self) -> str:
        return TOKEN if self.is_pat else API_KEY


def secret_values(values: Mapping[str, Any]) -> list[str]:
    """The values of a credentials file that must never be printed."""
    return [v for k, v in values.items() if isinstance(v, str) and len(v.strip()) >= _SHORTEST_SECRET
            and (modern_key(k) or k) not in SHOWN]


def modern_key(key: str) -> Optional[str]:
    """The current name of a prefixed legacy key, or None for any other key."""
    return PREFIX + key[len(LEGACY_PREFIX):] if key.startswith(LEGACY_PREFIX) else None


def parse(values: Mapping[str, object], source: str) -> GandiConfig:
    """Validate the key/value pairs of a credentials file.

    Values are never quoted back in a message, whichever key holds them: a
    token pasted under the wrong key must not end up in a log.
    """
    legacy = [key for key in values if modern_key(key)]
    unknown = [key for key in values if key not in KNOWN_KEYS and key not in legacy]
    warnings = [_unknown_key_warning(key, source) for key in unknown]
    warnings += [f"{source}: {key} is an old prefixed name that is ignored; {MIGRATE_HINT}"
                 for key in legacy]

    token = _secret(values, TOKEN, source)
    api_key = _secret(values, API_KEY, source)
    if not token and not api_key:
        raise ConfigError(_no_credential(source, legacy, unknown))
    if token and api_key:
        # certbot-plugin-gandi 1.5 preferred the token and certbot-dns-gandi 1.6
        # ignored the key: files that grew a token line keep working.
        warnings.append(f"{source}: {API_KEY} is not used because {TOKEN} is set; "
                        f"remove the {API_KEY} line")
        api_key = None
    if api_key:
        warnings.append(
            f"{source}: {API_KEY} is a legacy Gandi API key, which Gandi has deprecated. "
            f"{PAT_HOWTO}, then remove {API_KEY}."
        )
        if not _LEGACY_KEY.fullmatch(api_key):
            warnings.append(
                f"{source}: the value of {API_KEY} does not look like a legacy API key "
                f"(24 lowercase letters and digits). If it is a Personal Access Token, "
                f"rename the key to {TOKEN}: tokens are sent differently."
            )

    return GandiConfig(
        secret=Secret(token or api_key or ""),
        is_pat=bool(token),
        source=source,
        sharing_id=_sharing_id(values, source),
        api_url=_url(values, API_URL, DEFAULT_API_URL, source),
        tokeninfo_url=_url(values, TOKENINFO_URL, DEFAULT_TOKENINFO_URL, source),
        warnings=tuple(warnings),
    )


_permissions_checked: set[str] = set()


def load(path: str) -> inifile.Ini:
    """Read a credentials file as every command and the plugin read it (``inifile``).

    certbot's own check runs first, so that a missing file or one others can
    read is reported in certbot's words (once) by the plugin and ``doctor`` alike.
    """
    from certbot import errors
    from certbot.plugins import dns_common

    if not os.path.exists(path):
        raise ConfigError(f"{path}: no such credentials file; create it with your token "
                          "(docs/credentials.md: Credentials file) or correct the path")
    if path not in _permissions_checked:
        try:
            dns_common.validate_file_permissions(path)
        except errors.PluginError as exc:
            raise ConfigError(str(exc)) from None
        # `certbot renew` reads the file once per lineage: certbot's warning once is enough.
        _permissions_checked.add(path)
    try:
        # Read here rather than by certbot, whose parse error quotes (and
        # logs) the offending line, which may be the one holding the token.
        return inifile.read(path)
    except inifile.Unparsable as exc:
        raise ConfigError(f"{exc}; each line must read key = value, for example: "
                          "dns_gandi_token = <token>") from None
    except inifile.EditError as exc:
        raise ConfigError(str(exc)) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None


def check_layout(ini: inifile.Ini) -> None:
    """Refuse what would make certbot's reading of the file differ from what it seems to say."""
    sections = [name for name, value in ini.values.items() if isinstance(value, dict)]
    if sections:
        # A "[gandi]" header hides every key under it from certbot, which reads
        # only the top level: the file would look empty.
        raise ConfigError(f"{ini.source}: has a [{sections[0]}] section header, which hides the keys "
                          f"below it; credentials files have no sections: delete the [{sections[0]}] line")
    for key in CREDENTIAL_KEYS:
        if ini.values.get(key) is not None and any(_cut_by_comment(e) for e in ini.document.find(key)):
            raise ConfigError(
                f"{ini.source}: the value of {key} contains '#', which starts a comment in an INI "
                "file, so only its first part was read. Gandi credentials are letters and "
                "digits: paste the value again, whole"
            )


def from_ini(ini: inifile.Ini) -> GandiConfig:
    check_layout(ini)
    return parse(ini.values, ini.source)


def read_file(path: str) -> GandiConfig:
    """Read and validate a credentials file."""
    return from_ini(load(path))


def _cut_by_comment(entry: inifile.Entry) -> bool:
    # configobj reads `key = abc#def` as "abc" plus a comment. A comment after
    # whitespace is a real one (a credential never holds spaces); a '#' glued to
    # the value means the credential itself was cut.
    value = entry.value.strip()
    return "#" in value and not value.startswith(('"', "'"))


def _close_key(key: str) -> Optional[str]:
    close = difflib.get_close_matches(key, KNOWN_KEYS, n=1, cutoff=0.75)
    return close[0] if close else None


def _unknown_key_warning(key: str, source: str) -> str:
    close = _close_key(key)
    hint = f"; did you mean {close}?" if close else f"; known keys: {', '.join(KNOWN_KEYS)}"
    return f"{source}: unknown key {key} is ignored{hint}"


def _no_credential(source: str, legacy: Sequence[str], unknown: Sequence[str]) -> str:
    old = [key for key in legacy if modern_key(key) in CREDENTIAL_KEYS]
    if old:
        return (f"{source}: {old[0]} is the old prefixed name of {modern_key(old[0])}, which "
                f"this certbot no longer reads; {MIGRATE_HINT} (or rename the key by hand)")
    for key in unknown:
        close = _close_key(key)
        if close in CREDENTIAL_KEYS:
            return f"{source}: no credential found; {key} looks like a misspelling of {close}"
    return f"{source}: no credential found; set {TOKEN} = <token>. {PAT_HOWTO}"


def _text(values: Mapping[str, object], key: str, source: str) -> Optional[str]:
    if key not in values:
        return None
    raw = values[key]
    if not isinstance(raw, str):
        # configobj turns "a, b" into a list; a credential never contains a comma.
        raise ConfigError(f"{source}: {key} must be a single value, not a list (remove the commas)")
    value = raw.strip()
    if not value:
        raise ConfigError(f"{source}: {key} is empty; give it a value or remove the line")
    return value


def _secret(values: Mapping[str, object], key: str, source: str) -> Optional[str]:
    value = _text(values, key, source)
    if value is not None and (not _SAFE_SECRET.fullmatch(value) or '"' in value or "'" in value):
        raise ConfigError(
            f"{source}: {key} contains spaces, quotes or control characters; "
            "paste the credential exactly as Gandi displayed it, on one line, without quotes"
        )
    return value


def _sharing_id(values: Mapping[str, object], source: str) -> Optional[str]:
    value = _text(values, SHARING_ID, source)
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ConfigError(
            f"{source}: {SHARING_ID} is not an organization id (a UUID such as "
            "01234567-89ab-cdef-0123-456789abcdef). It is the id after /PLTS/ in the address "
            "of your organization's page in Gandi's admin panel; remove the key if you "
            "belong to a single organization."
        ) from None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url(values: Mapping[str, object], key: str, default: str, source: str) -> str:
    value = _text(values, key, source)
    if value is None:
        return default
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ConfigError(f"{source}: {key} is not a valid URL") from None
    # Only the scheme and host are ever shown: the rest may be a pasted secret.
    if parts.username or parts.password or "@" in parts.netloc:
        raise ConfigError(f"{source}: {key} must not contain a user name or password")
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigError(f"{source}: {key} is not an http(s) URL; it must look like "
                          f"{DEFAULT_API_URL if key == API_URL else DEFAULT_TOKENINFO_URL}")
    if parts.scheme == "http" and not is_loopback(host):
        raise ConfigError(
            f"{source}: {key} uses plain http to {host}, which would send the credential "
            "unencrypted; use https (plain http is accepted only for 127.0.0.1/localhost)"
        )
    return value.rstrip("/")
