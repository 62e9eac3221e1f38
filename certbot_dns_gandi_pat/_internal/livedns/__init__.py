"""The Gandi LiveDNS v5 client and the transport it sends through.

``connect`` builds a client; its errors and the name rules are re-exported here
so that callers import one module.
"""

from certbot_dns_gandi_pat._internal.livedns.client import TTL, LiveDNSClient, connect
from certbot_dns_gandi_pat._internal.livedns.errors import (
    AuthError,
    ForbiddenError,
    LiveDNSError,
    UnreadableAnswer,
    ZoneNotFoundError,
)
from certbot_dns_gandi_pat._internal.livedns.names import normalize_name, quote_txt, relative_name, unquote_txt

__all__ = [
    "TTL", "AuthError", "ForbiddenError", "LiveDNSClient", "LiveDNSError", "UnreadableAnswer",
    "ZoneNotFoundError", "connect", "normalize_name", "quote_txt", "relative_name", "unquote_txt",
]
