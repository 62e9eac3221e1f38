"""Every rule about bytes on the wire to Gandi: built into one requests.Session.

(Filled in by the hardening work; for now only redaction lives here.)
"""

from __future__ import annotations

import re

_AUTH_VALUE = re.compile(r"(?i)\b(bearer|apikey)(\s+)[^\s\"',;]+")


def redact(text: str, *secrets: str) -> str:
    """Mask the credential and anything shaped like an Authorization value.

    Always applied to the whole text before it is shortened, so that no cut
    can leave a prefix of a secret behind.
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _AUTH_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
