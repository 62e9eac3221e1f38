"""Every rule about bytes on the wire to Gandi, built into one requests.Session.

The rules, each one tested (tests/integration/test_transport.py, tests/integration/test_transport_bounds.py,
tests/e2e/test_faults.py):

* Time. One attempt (connect, headers and body together) ends within
  ``Bounds.attempt`` however slowly the peer drips bytes, because every socket
  read waits at most for what is left of the attempt. No new attempt starts
  when it could not end within ``Bounds.request`` of the first one, so a whole
  request, retries and backoff included, ends within ``Bounds.request``.
* Size. At most ``Bounds.max_body`` bytes of an answer's body are read, after
  decompression, whatever Content-Length says, and MAX_HEADERS of its headers:
  these routes answer in kilobytes.
* Retries. Connection errors, errors while reading the status and headers, and
  HTTP 429/500/502/503/504 are retried with exponential backoff, for every
  method: the client's writes are idempotent. Retry-After is honoured when it
  is a usable number of seconds or an HTTP date (at most ``MAX_RETRY_AFTER``);
  any other value falls back to the backoff. Each retry is logged in words.
* Credentials. The Authorization header built from the credentials file is the
  only credential sent: ``~/.netrc`` is never read, and a loopback URL (plain
  http is allowed only there) never goes through a proxy from the environment.
* Redaction. Text that comes from an answer is shown only through ``redact``.
* Breaker. Once a request failed even after its retries, the transport refuses
  further requests until ``reset_breaker``: every one would wait out the same
  bounds.
"""

from __future__ import annotations

import email.utils
import http.client
import io
import json as jsonlib
import logging
import math
import socket
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import connection as u3connection
from urllib3 import connectionpool
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from certbot_dns_gandi_pat._internal import redact
from certbot_dns_gandi_pat._internal.errors import GandiPatError

logger = logging.getLogger(__name__)

CONNECT_SECONDS = 5.0
ATTEMPT_SECONDS = 15.0  # LiveDNS answers in well under a second when healthy
REQUEST_SECONDS = 60.0
MAX_RETRY_AFTER = 10.0  # a server must not park a cron run for an hour
MAX_BODY = 1 << 20
MAX_HEADERS = 64 << 10  # LiveDNS sends about 1 KiB
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def digits(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts "²", which int() refuses."""
    return text.isascii() and text.isdigit()


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # {"rrset_values": [theirs], "rrset_values": [ours]} must not read as "ours only".
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a JSON object repeats a key")
    return dict(pairs)


class TransportError(GandiPatError):
    """No usable answer: the message says why, in words, without any secret."""


@dataclass(frozen=True)
class Answer:
    """An HTTP answer read within the bounds."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The decoded JSON body; ValueError when there is none."""
        try:
            return jsonlib.loads(self.body.decode("utf-8"), object_pairs_hook=_unique_keys)
        except RecursionError:
            # "[[[[..." nested deeper than the parser's stack, well under the size cap
            raise ValueError("JSON nested too deeply") from None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


# ------------------------------------------------------------- deadlines

class _DeadlineReader(io.RawIOBase):
    """A socket reader whose every read waits at most for what is left of the attempt."""

    def __init__(self, inner: Any, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._inner, self._sock, self._deadline = inner, sock, deadline
        self.header_bytes: Optional[int] = 0  # counted until the headers are parsed

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> Optional[int]:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("attempt deadline reached")
        before = self._sock.gettimeout()
        self._sock.settimeout(left if before is None else min(before, left))
        try:
            read: Optional[int] = self._inner.readinto(buffer)
        finally:
            self._sock.settimeout(before)
        if self.header_bytes is not None and read:
            self.header_bytes += read
            if self.header_bytes > MAX_HEADERS:
                # http.client alone allows 100 lines of 64 KiB each.
                raise OSError("answer headers too large")
        return read

    def close(self) -> None:
        self._inner.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: Any, deadline: float, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        # detach(): dropping the original reader must not close the socket's stream.
        self._reader = _DeadlineReader(self.fp.detach(), sock, deadline)
        self.fp = io.BufferedReader(self._reader)

    def begin(self) -> None:
        super().begin()
        self._reader.header_bytes = None  # the body has its own cap


class _DeadlineMixin:
    attempt_seconds = ATTEMPT_SECONDS
    _deadline = math.inf
    _connect_started: Optional[float] = None

    def connect(self) -> None:
        # urllib3 connects (and does the TLS handshake of) a new HTTPS connection
        # before request(): that time counts against the attempt too, and so
        # does a proxy's answer to CONNECT, read here.
        self._connect_started = time.monotonic()
        self._deadline = self._connect_started + self.attempt_seconds
        super().connect()  # type: ignore[misc]

    def request(self, *args: Any, **kwargs: Any) -> Any:
        # One call per attempt: urllib3 sends each retry through request() again.
        started = self._connect_started if self._connect_started is not None else time.monotonic()
        self._deadline = started + self.attempt_seconds
        try:
            return super().request(*args, **kwargs)  # type: ignore[misc]
        finally:
            self._connect_started = None  # a kept-alive connection's next attempt starts afresh

    @property
    def response_class(self) -> Callable[..., http.client.HTTPResponse]:
        deadline = self._deadline

        def make(sock: socket.socket, *args: Any, **kwargs: Any) -> http.client.HTTPResponse:
            return _DeadlineResponse(sock, *args, deadline=deadline, **kwargs)

        return make


def _pool_classes(attempt_seconds: float) -> dict[str, type]:
    http_conn = type("DeadlineHTTPConnection", (_DeadlineMixin, u3connection.HTTPConnection),
                     {"attempt_seconds": attempt_seconds})
    https_conn = type("DeadlineHTTPSConnection", (_DeadlineMixin, u3connection.HTTPSConnection),
                      {"attempt_seconds": attempt_seconds})
    return {
        "http": type("DeadlineHTTPPool", (connectionpool.HTTPConnectionPool,), {"ConnectionCls": http_conn}),
        "https": type("DeadlineHTTPSPool", (connectionpool.HTTPSConnectionPool,), {"ConnectionCls": https_conn}),
    }


class _Adapter(HTTPAdapter):
    def __init__(self, attempt_seconds: float, **kwargs: Any) -> None:
        self._classes = _pool_classes(attempt_seconds)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._classes

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = self._classes
        return manager


# --------------------------------------------------------------- retries

class _Retry(Retry):
    """urllib3's Retry with a whole-request budget, tolerant Retry-After, plain words."""

    def __init__(self, *args: Any, started: Optional[float] = None,
                 budget: float = REQUEST_SECONDS, attempt_seconds: float = ATTEMPT_SECONDS,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.started, self.budget, self.attempt_seconds = started, budget, attempt_seconds

    def new(self, **kw: Any) -> _Retry:
        kw.setdefault("started", self.started)
        kw.setdefault("budget", self.budget)
        kw.setdefault("attempt_seconds", self.attempt_seconds)
        return super().new(**kw)

    def get_retry_after(self, response: Any) -> Optional[float]:
        # urllib3 raises on "1.5", "soon" or "-5"; a bad header must only mean
        # "use the backoff".
        value = parse_retry_after(response.headers.get("Retry-After"))
        return None if value is None else min(value, MAX_RETRY_AFTER)

    def increment(self, method: Optional[str] = None, url: Optional[str] = None,
                  response: Any = None, error: Optional[Exception] = None,
                  _pool: Any = None, _stacktrace: Any = None) -> _Retry:
        started = self.started if self.started is not None else _started()
        nxt: _Retry = super().increment(method, url, response, error, _pool, _stacktrace)
        nxt.started = started
        wait = nxt.get_backoff_time()
        if response is not None and self.respect_retry_after_header:
            wait = nxt.get_retry_after(response) or wait
        reason = _retry_reason(error, response)
        if time.monotonic() - started + wait + self.attempt_seconds > self.budget:
            cause = error or ResponseError(reason)
            raise MaxRetryError(_pool, url or "", cause) from cause
        logger.warning("Gandi LiveDNS: %s %s %s; trying again %s (attempt %d)",
                       method, urlsplit(url or "").path, reason,
                       f"in {wait:.1f} s" if wait >= 0.05 else "now", len(nxt.history) + 1)
        return nxt


_request = threading.local()


def _started() -> float:
    # Set by Transport.request for the calling thread: the budget counts from
    # the first attempt's start, not from its failure.
    return float(getattr(_request, "started", time.monotonic()))


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """Seconds to wait from a Retry-After value, or None when it is not usable."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = when.timestamp() - time.time()
        return max(0.0, seconds)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def _retry_reason(error: Optional[Exception], response: Any) -> str:
    if response is not None and getattr(response, "status", None):
        return f"answered HTTP {response.status}"
    return f"failed ({describe(error)})" if error is not None else "failed"


class _QuietUrllib3Retries(logging.Filter):
    # urllib3 logs its own retry line, naming internal classes; ours says it in
    # words. Only lines about this module's retries are dropped: certbot's own
    # requests keep theirs.
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (args and isinstance(args[0], _Retry))


logging.getLogger("urllib3.connectionpool").addFilter(_QuietUrllib3Retries())


class _WithheldHeaderDump(logging.Filter):
    """urllib3 logs the raw text of headers it cannot parse, with a traceback:
    a server echoing the request would put the credential in certbot's log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Failed to parse headers"):
            record.msg, record.args = "An answer had malformed headers (their text is not logged)", ()
            record.exc_info, record.exc_text = None, None
        return True


# urllib3 2 logs it from urllib3.connection, urllib3 1.26 from urllib3.connectionpool.
for _name in ("urllib3.connection", "urllib3.connectionpool"):
    logging.getLogger(_name).addFilter(_WithheldHeaderDump())


@dataclass(frozen=True)
class Bounds:
    """How long one request may take, retries included, and how much of an answer is read."""

    connect: float = CONNECT_SECONDS
    attempt: float = ATTEMPT_SECONDS
    request: float = REQUEST_SECONDS
    max_body: int = MAX_BODY
    backoff: float = 0.5  # seconds before the first retry, doubling after each
    retries: bool = True


DEFAULT_BOUNDS = Bounds()


def default_retry(bounds: Bounds = DEFAULT_BOUNDS) -> Retry:
    if not bounds.retries:
        return Retry(total=0, raise_on_status=False, raise_on_redirect=False)
    return _Retry(
        total=4, connect=3, read=2, status=4, other=0, backoff_factor=bounds.backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"}),
        respect_retry_after_header=True, raise_on_status=False, raise_on_redirect=False,
        budget=bounds.request, attempt_seconds=bounds.attempt,
    )


# -------------------------------------------------------------- transport

_REASONS = (
    ("ConnectTimeout", "could not connect within the time limit"),
    ("ReadTimeout", "no complete answer within the time limit"),
    ("Read timed out", "no complete answer within the time limit"),
    ("attempt deadline", "no complete answer within the time limit"),
    ("answer headers too large", f"the answer's headers were larger than {MAX_HEADERS // 1024} KiB"),
    ("Connection refused", "connection refused"),
    ("Name or service not known", "the host name could not be resolved"),
    ("Temporary failure in name resolution", "the host name could not be resolved"),
    ("NameResolutionError", "the host name could not be resolved"),
    ("CERTIFICATE_VERIFY_FAILED", "the server's TLS certificate is not trusted"),
    ("ProxyError", "the proxy refused or failed the connection"),
    ("reset by peer", "the connection was reset"),
    ("RemoteDisconnected", "the server closed the connection without answering"),
    ("IncompleteRead", "the answer was cut off"),
    ("ProtocolError", "the connection broke"),
    ("timed out", "timed out"),
)


def describe(exc: Optional[BaseException]) -> str:
    """A transport failure in words; never the exception's text, which may carry headers."""
    text = f"{type(exc).__name__} {exc}"
    for needle, reason in _REASONS:
        if needle in text:
            return reason
    return f"network error ({type(exc).__name__})"


class _HeaderAuth(requests.auth.AuthBase):
    # Passing auth= is what keeps requests from reading ~/.netrc, whose
    # credentials would otherwise replace this header.
    def __init__(self, value: str) -> None:
        self._value = value

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._value
        return request


class Transport:
    """A bounded, retrying, credential-safe HTTP client for one base URL's host."""

    def __init__(
        self,
        authorization: str,
        *,
        loopback: bool,
        user_agent: str,
        bounds: Bounds = DEFAULT_BOUNDS,
        pool_size: int = 4,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.bounds = bounds
        self._auth = _HeaderAuth(authorization)
        self._secrets = secrets
        self._session = requests.Session()
        # A proxy taken from the environment must not see a loopback request,
        # which may be plain http; no other environment setting matters there.
        self._session.trust_env = not loopback
        adapter = _Adapter(bounds.attempt, max_retries=default_retry(bounds), pool_connections=2,
                           pool_maxsize=max(pool_size, 1))
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers["User-Agent"] = user_agent
        self._session.headers["Accept"] = "application/json"
        self._session.headers["Accept-Encoding"] = "gzip, deflate"
        self._broken: Optional[str] = None
        self._lock = threading.Lock()
        self.requests_sent = 0

    def close(self) -> None:
        self._session.close()

    def reset_breaker(self) -> None:
        self._broken = None

    @property
    def broken(self) -> Optional[str]:
        return self._broken

    def shown(self, text: str, limit: int = redact.MAX_SHOWN) -> str:
        return redact.shown(text, *self._secrets, limit=limit)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Optional[Mapping[str, str]] = None,
        json: Any = None,
    ) -> Answer:
        """Send one request within the bounds; TransportError when no answer was read."""
        if self._broken:
            raise TransportError(f"not attempted, because {self._broken}")
        with self._lock:
            self.requests_sent += 1
        failure = ""
        _request.started = time.monotonic()
        try:
            resp = self._session.request(
                method, url, params=params, json=json, auth=self._auth, stream=True,
                allow_redirects=False, timeout=(min(self.bounds.connect, self.bounds.attempt), self.bounds.attempt),
            )
            with resp:
                body = self._read(resp)
        except _TooLarge:
            failure = f"the answer was larger than {self.bounds.max_body // 1024} KiB"
        except (requests.RequestException, Urllib3Error, http.client.HTTPException, OSError) as exc:
            failure = describe(exc)
        if failure:
            self._broken = f"an earlier request failed ({failure})"
            # Raised outside the handler, so that not even __context__ refers to
            # the original: requests' exceptions carry the request, headers included.
            raise TransportError(failure)
        if resp.status_code in RETRY_STATUSES:
            self._broken = f"an earlier request failed with HTTP {resp.status_code}"
        return Answer(resp.status_code, resp.headers, body)

    def _read(self, resp: requests.Response) -> bytes:
        length = resp.headers.get("Content-Length", "")
        limit = self.bounds.max_body
        if digits(length) and int(length) > limit:
            raise _TooLarge
        encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("identity", "", "gzip", "x-gzip", "deflate"):
            raise TransportError(f"the answer used an unsupported Content-Encoding ({self.shown(encoding, 20)})")
        # Decompressed here, never more than the cap: urllib3 would inflate a
        # whole chunk at once, and a few KiB of gzip can hold gigabytes.
        inflate = None if encoding in ("identity", "") else zlib.decompressobj(zlib.MAX_WBITS | 32)
        chunks, size = [], 0
        for raw in resp.raw.stream(64 * 1024, decode_content=False):
            pieces = [raw] if inflate is None else _inflate(inflate, raw, limit - size + 1)
            for chunk in pieces:
                size += len(chunk)
                if size > limit:
                    raise _TooLarge
                chunks.append(chunk)
        return b"".join(chunks)


class _TooLarge(Exception):
    pass


def _inflate(inflate: Any, data: bytes, limit: int) -> list[bytes]:
    out = []
    try:
        while data and limit > 0:
            chunk = inflate.decompress(data, limit)
            out.append(chunk)
            limit -= len(chunk)
            data = inflate.unconsumed_tail
    except zlib.error:
        raise TransportError("the answer's compressed body is corrupt") from None
    if data:
        out.append(b"x")  # more than the limit remains: let the caller refuse it
    return out
