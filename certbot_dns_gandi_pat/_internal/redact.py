"""Making text safe to print: the one place secrets are masked.

Rules (tests/unit/test_redact.py):

* Every credential given, and anything shaped like an Authorization value
  (``Bearer x``, ``Apikey x``), is masked.
* Text that comes from an answer is redacted before it is shortened or shown,
  so that no cut leaves a prefix of a secret behind; it is made one printable
  line, lone surrogates included.
"""

from __future__ import annotations

import re

MAX_SHOWN = 200  # characters of a server's message quoted in an error

_AUTH_VALUE = re.compile(r"(?i)\b(bearer|apikey)(\s+)[^\s\"',;}\]]+")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def redact(text: str, *secrets: str) -> str:
    """Mask the credentials and anything shaped like an Authorization value."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _AUTH_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


def shown(text: str, *secrets: str, limit: int = MAX_SHOWN) -> str:
    """A server's text made safe to print: redacted first, then one line, then cut."""
    # Lone surrogates ("\ud800" in JSON) cannot be printed or logged: replaced.
    text = redact(text, *secrets).encode("utf-8", "replace").decode("utf-8")
    clean = " ".join(_UNPRINTABLE.sub(" ", text).split())
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"
