"""Names and TXT data as LiveDNS wants them.

Rules (tests/unit/test_livedns.py):

* Names are lower-case, without a trailing dot, with internationalized labels
  converted per label (IDNA 2008, UTS 46), at most 253 characters.
* An rrset name is relative to its zone, ``@`` for the apex.
* TXT data is stored quoted; several quoted strings in one value are joined,
  as DNS does.
* A zone is a registered domain or below it: never a bare TLD, never a name
  that starts with an underscore label.
"""

from __future__ import annotations

import re

import idna

from certbot_dns_gandi_pat._internal.livedns.errors import LiveDNSError

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


def normalize_name(name: str) -> str:
    """Lower-case, drop a trailing dot, convert internationalized labels (IDNA 2008, UTS 46)."""
    text = name.strip().rstrip(".")
    try:
        # Per label: `_acme-challenge` is no IDNA label, and `straße` must stay
        # `xn--strae-oqa` rather than become `strasse` as IDNA 2003 would have it.
        labels = [label.lower() if label.isascii() else idna.encode(label, uts46=True).decode("ascii")
                  for label in text.split(".")]
    except (idna.IDNAError, UnicodeError) as exc:
        raise LiveDNSError(f"{name!r} is not a valid domain name: {exc}") from None
    ascii_name = ".".join(labels)
    if len(ascii_name) > 253 or any(not _LABEL.fullmatch(label) for label in labels):
        raise LiveDNSError(
            f"{name!r} is not a valid domain name (at most 253 characters; labels of 1 to "
            "63 letters, digits, hyphens or underscores)"
        )
    return ascii_name


def relative_name(fqdn: str, zone: str) -> str:
    """The rrset name LiveDNS expects: relative to the zone, ``@`` for the apex."""
    fqdn, zone = normalize_name(fqdn), normalize_name(zone)
    if fqdn == zone:
        return "@"
    if not fqdn.endswith("." + zone):
        raise ValueError(f"{fqdn} is not inside zone {zone}")
    return fqdn[: -len(zone) - 1]


def quote_txt(value: str) -> str:
    """LiveDNS stores TXT data in zone-file syntax: one quoted string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unquote_txt(value: str) -> str:
    """Undo zone-file quoting; several quoted strings are concatenated, as DNS does."""
    text = value.strip()
    if not text.startswith('"'):
        return text
    out: list[str] = []
    i, inside = 0, False
    while i < len(text):
        char = text[i]
        if char == '"':
            inside = not inside
        elif inside and char == "\\" and i + 1 < len(text):
            i += 1
            out.append(text[i])
        elif inside or not char.isspace():
            out.append(char)
        i += 1
    return "".join(out)


def zone_candidates(fqdn: str) -> list[str]:
    labels = fqdn.split(".")
    # A zone is a registered domain or below it: never a bare TLD, never a name
    # that starts with an underscore label (a challenge name itself).
    return [
        ".".join(labels[i:]) for i in range(len(labels) - 1)
        if not labels[i].startswith("_")
    ]


def display(name: str, zone: str) -> str:
    """The name an rrset stands for, as a person writes it."""
    return zone if name == "@" else f"{name}.{zone}"
