"""A LiveDNS v5 stand-in for tests, the demo and the benchmark (not shipped).

It follows docs/livedns-api.md: envelope A errors for 401/403/404/409,
envelope B for validation errors, quoted TXT values, TTL bounds, PATCH
add/remove as an atomic server-side merge, POST 409, PUT replace, DELETE,
``/nameservers``, ``sharing_id`` and ``/tokeninfo``. Where Gandi's behaviour is
not documented ([?] in that file) the answer is a switch in ``Modes``, so that
tests can run the client against every plausible one.

Every TXT/CNAME change is pushed into pebble-challtestsrv (after an optional
delay), so DNS lags the API as real propagation does.

Run in-process (``StandIn().start()``) or as ``python -m teststack.standin``.
"""

from __future__ import annotations

import heapq
import json
import re
import socket
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qs, unquote, urlsplit

API_PREFIX = "/v5/livedns"
MIN_TTL, MAX_TTL, DEFAULT_TTL = 300, 2592000, 10800
SCOPE_TECH, SCOPE_VIEW = "domain:tech", "domain:view"


@dataclass
class Token:
    """A credential known to the stand-in."""

    kind: str = "pat"  # "pat" (Bearer) or "apikey" (Apikey)
    name: str = "test token"
    expires_in: int = 300 * 86400
    scopes: tuple[str, ...] = (SCOPE_TECH, SCOPE_VIEW)
    domains: Optional[tuple[str, ...]] = None  # None: every domain of the organization
    organization: str = "00000000-0000-4000-8000-000000000001"


@dataclass
class Modes:
    """Answers to the undocumented cases; defaults are the most likely ones."""

    patch_missing: str = "404"  # "404" or "create"
    empty_rrset: str = "delete"  # PATCH removing the last value: "delete", "keep", "reject"
    delete_missing: str = "404"  # "404" or "204"
    # "ok" (what the token may touch), "all" (every domain of the organization,
    # whatever the token's restriction: Gandi does not say which) or "forbidden"
    list_domains: str = "ok"
    tokeninfo: str = "ok"  # "ok", "404", "garbage", "body" (tokeninfo_body sent as it is)
    tokeninfo_body: str = ""  # raw JSON text, e.g. '{"expires_in": NaN}'


@dataclass
class Fault:
    """One injected fault; ``times`` < 0 means for ever."""

    method: str = "*"
    path: str = ".*"  # regex on the path below the API prefix
    status: int = 503
    times: int = 1
    retry_after: Optional[str] = None
    body: Optional[str] = None
    # status, drop, reset, hang, apply_then_drop, truncate; delay (answer normally
    # after hang_seconds); apply_later (drop the connection now, apply the
    # request hang_seconds later: a write that lands after the client gave up)
    action: str = "status"
    hang_seconds: float = 30.0
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return self.times != 0 and self.method in ("*", method) and re.fullmatch(self.path, path) is not None


@dataclass
class Zone:
    fqdn: str
    organization: str = "00000000-0000-4000-8000-000000000001"
    nameservers: tuple[str, ...] = ("ns-1-a.gandi.net", "ns-2-b.gandi.net", "ns-3-c.gandi.net")
    records: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


class _Done(Exception):
    pass


class _Raw(str):
    """A body sent exactly as written (JSON that json.dumps would not produce)."""


class StandIn:
    """The server, its state and its knobs; thread-safe."""

    def __init__(
        self,
        *,
        challtestsrv: Optional[str] = None,  # management URL, e.g. http://127.0.0.1:8055
        dns_delay: float = 0.0,
        latency: float = 0.0,
        modes: Optional[Modes] = None,
    ) -> None:
        self.lock = threading.RLock()
        self.zones: dict[str, Zone] = {}
        self.tokens: dict[str, Token] = {}
        self.faults: list[Fault] = []
        self.modes = modes or Modes()
        self.challtestsrv = challtestsrv
        self.dns_delay = dns_delay
        self.latency = latency
        self.log: list[tuple[str, str, int]] = []  # (method, path, status)
        self.headers_seen: list[dict[str, str]] = []
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []  # (path, query, headers)
        self._server: Optional[ThreadingHTTPServer] = None
        self._queue: list[tuple[float, int, str, str, list[str]]] = []
        self._seq = 0
        self._cv = threading.Condition()
        self._stopping = threading.Event()

    # ------------------------------------------------------------- set-up API

    def reset(self, *zones: str) -> None:
        """Back to a fresh server for the next test: these zones, no token, fault, log or lag."""
        with self.lock:
            self.zones.clear()
            self.tokens.clear()
            self.faults.clear()
            self.log.clear()
            self.modes = Modes()
            self.dns_delay = 0.0
            self.latency = 0.0
        for zone in zones:
            self.add_zone(zone)

    def add_zone(self, fqdn: str, organization: Optional[str] = None, **kw: Any) -> Zone:
        zone = Zone(fqdn, organization or Token().organization, **kw)
        with self.lock:
            self.zones[fqdn] = zone
        return zone

    def add_token(self, secret: str, **kw: Any) -> Token:
        token = Token(**kw)
        with self.lock:
            self.tokens[secret] = token
        return token

    def set_txt(self, zone: str, name: str, values: list[str], ttl: int = DEFAULT_TTL) -> None:
        with self.lock:
            self.zones[zone].records[(name, "TXT")] = {
                "ttl": ttl, "values": [_quote(v) for v in values]}
        self._publish(zone, name, "TXT")

    def set_cname(self, zone: str, name: str, target: str) -> None:
        with self.lock:
            self.zones[zone].records[(name, "CNAME")] = {"ttl": DEFAULT_TTL, "values": [target + "."]}
        self._publish(zone, name, "CNAME")

    def txt(self, zone: str, name: str) -> Optional[list[str]]:
        with self.lock:
            rec = self.zones[zone].records.get((name, "TXT"))
            return None if rec is None else [_unquote(v) for v in rec["values"]]

    def challenge_records(self) -> dict[str, list[str]]:
        """Every TXT rrset whose name starts with _acme-challenge, by fqdn."""
        with self.lock:
            return {
                _fqdn(name, zone.fqdn): [_unquote(v) for v in rec["values"]]
                for zone in self.zones.values() for (name, kind), rec in zone.records.items()
                if kind == "TXT" and name.split(".")[0] == "_acme-challenge"
            }

    def add_fault(self, **kw: Any) -> Fault:
        fault = Fault(**kw)
        with self.lock:
            self.faults.append(fault)
        return fault

    def count(self, method: Optional[str] = None) -> int:
        with self.lock:
            return sum(1 for m, _, _ in self.log if method in (None, m))

    # -------------------------------------------------------------- lifecycle

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def tokeninfo_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tokeninfo"

    def start(self, port: int = 0) -> StandIn:
        handler = type("Handler", (_Handler,), {"standin": self})
        server_class = type("Server", (ThreadingHTTPServer,), {"request_queue_size": 128})
        self._server = server_class(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        threading.Thread(target=self._publisher, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._cv:
            self._cv.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------- DNS publication

    def _publish(self, zone: str, name: str, kind: str) -> None:
        if not self.challtestsrv:
            return
        with self.lock:
            rec = self.zones[zone].records.get((name, kind))
            values = [] if rec is None else [_unquote(v) for v in rec["values"]]
        with self._cv:
            self._seq += 1
            heapq.heappush(self._queue, (time.monotonic() + self.dns_delay, self._seq,
                                         _fqdn(name, zone), kind, values))
            self._cv.notify()

    def _publisher(self) -> None:
        while not self._stopping.is_set():
            with self._cv:
                while not self._queue and not self._stopping.is_set():
                    self._cv.wait(0.5)
                if self._stopping.is_set():
                    return
                due = self._queue[0][0]
                if due > time.monotonic():
                    self._cv.wait(due - time.monotonic())
                    continue
                _, _, fqdn, kind, values = heapq.heappop(self._queue)
            self._push(fqdn, kind, values)

    def _push(self, fqdn: str, kind: str, values: list[str]) -> None:
        host = fqdn + "."
        if kind == "TXT":
            self._mgmt("/clear-txt", {"host": host})
            for value in values:
                self._mgmt("/set-txt", {"host": host, "value": value})
        elif kind == "CNAME":
            self._mgmt("/clear-cname", {"host": host})
            if values:
                self._mgmt("/set-cname", {"host": host, "target": values[0]})

    def _mgmt(self, path: str, body: dict[str, str]) -> None:
        assert self.challtestsrv
        req = urllib.request.Request(self.challtestsrv + path, data=json.dumps(body).encode(),
                                     method="POST")
        with urllib.request.urlopen(req, timeout=5) as resp:
            resp.read()

    # --------------------------------------------------------------- routing

    def handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
               body: Optional[bytes]) -> tuple[int, Any, dict[str, str]]:
        if path == "/tokeninfo":
            return self._tokeninfo(headers)
        if not path.startswith(API_PREFIX + "/"):
            return _err(404, "HTTPNotFound", "The resource could not be found.")
        path = path[len(API_PREFIX):]
        token, error = self._auth(headers)
        if error:
            return error
        assert token is not None
        org = query.get("sharing_id")
        if org and org != token.organization:
            return _err(403, "HTTPForbidden", "Access was denied to this resource.")
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts == ["domains"] and method == "GET":
            return self._list(token, query)
        if len(parts) < 2 or parts[0] != "domains":
            return _err(404, "HTTPNotFound", "The resource could not be found.")
        zone = self.zones.get(parts[1].lower())
        if zone is None or zone.organization != token.organization:
            return _err(404, "LocalizedHTTPNotFound", "Unknown domain")
        if token.domains is not None and zone.fqdn not in token.domains:
            return _err(403, "HTTPForbidden", "Access was denied to this resource.")
        if method != "GET" and SCOPE_TECH not in token.scopes:
            return _err(403, "HTTPForbidden", "Access was denied to this resource.")
        if len(parts) == 2 and method == "GET":
            return 200, {"fqdn": zone.fqdn, "automatic_snapshots": True,
                         "domain_records_href": f"{API_PREFIX}/domains/{zone.fqdn}/records"}, {}
        if parts[2:] == ["nameservers"] and method == "GET":
            return 200, list(zone.nameservers), {}
        if parts[2:3] == ["records"] and len(parts) == 5:
            return self._rrset(method, zone, parts[3], parts[4].upper(), body)
        if parts[2:] == ["records"] and method == "GET":
            kind = query.get("rrset_type")
            return 200, [self._rrset_body(zone, n, k, r) for (n, k), r in sorted(zone.records.items())
                         if kind in (None, k)], {}
        return _err(404, "HTTPNotFound", "The resource could not be found.")

    def _auth(self, headers: dict[str, str]) -> tuple[Optional[Token], Optional[tuple[int, Any, dict[str, str]]]]:
        scheme, _, secret = headers.get("authorization", "").partition(" ")
        token = self.tokens.get(secret)
        if token is None or {"pat": "Bearer", "apikey": "Apikey"}[token.kind] != scheme:
            return None, _err(401, "HTTPUnauthorized", "The server could not verify that you are authorized.")
        if token.kind == "pat" and token.expires_in <= 0:
            return None, _err(401, "HTTPUnauthorized", "The server could not verify that you are authorized.")
        return token, None

    def _tokeninfo(self, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if self.modes.tokeninfo == "404":
            return 404, {"message": "Not Found"}, {}
        if self.modes.tokeninfo == "garbage":
            return 200, "<html>maintenance</html>", {}
        if self.modes.tokeninfo == "body":
            return 200, _Raw(self.modes.tokeninfo_body), {}
        scheme, _, secret = headers.get("authorization", "").partition(" ")
        token = self.tokens.get(secret)
        if token is None or token.kind != "pat" or scheme != "Bearer" or token.expires_in <= 0:
            return 401, {"message": "Unauthorized"}, {}
        return 200, {"pat_name": token.name, "expires_in": token.expires_in,
                     "scope": list(token.scopes), "entities": [token.organization]}, {}

    def _list(self, token: Token, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if self.modes.list_domains == "forbidden":
            return _err(403, "HTTPForbidden", "Access was denied to this resource.")
        names = sorted(z.fqdn for z in self.zones.values()
                       if z.organization == token.organization
                       and (token.domains is None or z.fqdn in token.domains or self.modes.list_domains == "all"))
        page, per_page = int(query.get("page", "1")), int(query.get("per_page", "100"))
        chunk = names[(page - 1) * per_page: page * per_page]
        items = [{"fqdn": n, "domain_href": f"{API_PREFIX}/domains/{n}"} for n in chunk]
        return 200, items, {"Total-Count": str(len(names))}

    def _rrset_body(self, zone: Zone, name: str, kind: str, rec: dict[str, Any]) -> dict[str, Any]:
        return {"rrset_name": name, "rrset_type": kind, "rrset_ttl": rec["ttl"],
                "rrset_values": list(rec["values"]),
                "rrset_href": f"{API_PREFIX}/domains/{zone.fqdn}/records/{name}/{kind}"}

    def _rrset(self, method: str, zone: Zone, name: str, kind: str,
               raw: Optional[bytes]) -> tuple[int, Any, dict[str, str]]:
        if name.endswith("."):
            return _invalid("rrset_name", f"Absolute rrset_name must end with .{zone.fqdn}.")
        key = (name, kind)
        missing = _err(404, "dns-record", f"Can't find the DNS record {name}/{kind}")
        with self.lock:
            rec = zone.records.get(key)
            if method == "GET":
                return (200, self._rrset_body(zone, name, kind, rec), {}) if rec else missing
            if method == "DELETE":
                if rec is None:
                    return missing if self.modes.delete_missing == "404" else (204, None, {})
                del zone.records[key]
                self._publish(zone.fqdn, name, kind)
                return 204, None, {}
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return 400, {"code": 400, "message": "Invalid JSON", "object": "HTTPBadRequest",
                             "cause": "Bad Request"}, {}
            if not isinstance(body, dict):
                return _invalid("body", "must be an object")
            problem = _validate(body)
            if problem:
                return problem
            ttl = body.get("rrset_ttl")
            if method in ("POST", "PUT"):
                values = [_store(v) for v in body.get("rrset_values", [])]
                if not values:
                    return _invalid("rrset_values", "Shorter than minimum length 1")
                if method == "POST" and rec is not None:
                    return _err(409, "HTTPConflict", "Duplicate Entry", cause="Duplicate Entry")
                zone.records[key] = {"ttl": ttl or DEFAULT_TTL, "values": _dedupe(values)}
                self._publish(zone.fqdn, name, kind)
                return 201, {"message": "DNS Record Created"}, {}
            if method == "PATCH":
                add = [_store(v) for v in body.get("add_rrset_values", [])]
                remove = {_unquote(_store(v)) for v in body.get("remove_rrset_values", [])}
                if rec is None:
                    if self.modes.patch_missing == "404" or not add:
                        return missing
                    rec = {"ttl": ttl or DEFAULT_TTL, "values": []}
                values = [v for v in rec["values"] if _unquote(v) not in remove]
                values = _dedupe(values + add)
                if not values:
                    if self.modes.empty_rrset == "reject":
                        return _invalid("rrset_values", "Shorter than minimum length 1")
                    if self.modes.empty_rrset == "delete":
                        zone.records.pop(key, None)
                        self._publish(zone.fqdn, name, kind)
                        return 200, {"rrset_name": name, "rrset_type": kind, "rrset_values": []}, {}
                zone.records[key] = {"ttl": ttl or rec["ttl"], "values": values}
                self._publish(zone.fqdn, name, kind)
                return 200, self._rrset_body(zone, name, kind, zone.records[key]), {}
        return _err(405, "HTTPMethodNotAllowed", "The method is not allowed for this resource.")


class _Handler(BaseHTTPRequestHandler):
    standin: StandIn
    protocol_version = "HTTP/1.1"
    # One write per answer and no Nagle delay: otherwise delayed ACKs add ~40 ms
    # to every request and the benchmark measures the stand-in, not the client.
    disable_nagle_algorithm = True
    wbufsize = 1 << 16

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        pass

    def _serve(self) -> None:
        s = self.standin
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        length = int(headers.get("content-length", "0") or 0)
        body = self.rfile.read(length) if length else None
        if s.latency:
            time.sleep(s.latency)
        with s.lock:
            s.headers_seen.append(headers)
            s.requests.append((url.path, query, headers))
            fault = next((f for f in s.faults if f.matches(self.command, url.path[len(API_PREFIX):])), None)
            if fault is not None:
                fault.times -= 1 if fault.times > 0 else 0
                fault.hits += 1
        try:
            if fault is not None and fault.action == "delay":
                s._stopping.wait(fault.hang_seconds)
                fault = None
            elif fault is not None and fault.action == "apply_later":
                args = (self.command, url.path, query, headers, body)
                threading.Timer(fault.hang_seconds, lambda: s.handle(*args)).start()
                self._fault(fault)
                return
            if fault is not None and fault.action != "apply_then_drop":
                self._fault(fault)
                return
            status, payload, extra = s.handle(self.command, url.path, query, headers, body)
            if fault is not None:  # apply_then_drop: the change happened, the answer is lost
                self._fault(fault)
                return
        except _Done:
            return
        with s.lock:
            s.log.append((self.command, url.path, status))
        raw = isinstance(payload, _Raw)
        data = b"" if payload is None else (payload if isinstance(payload, str) else json.dumps(payload)).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "text/html" if isinstance(payload, str) and not raw
                             else "application/json")
        for k, v in extra.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _fault(self, fault: Fault) -> None:
        s = self.standin
        with s.lock:
            s.log.append((self.command, urlsplit(self.path).path, -1 if fault.action != "status" else fault.status))
        if fault.action in ("drop", "apply_then_drop", "apply_later"):
            self._abort()
        elif fault.action == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self._abort()
        elif fault.action == "hang":
            s._stopping.wait(fault.hang_seconds)
            self._abort()
        elif fault.action == "truncate":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "200")
            self.end_headers()
            self.wfile.write(b'{"rrset_values": ["')
            self.wfile.flush()
            self._abort()
        else:
            data = (fault.body if fault.body is not None else json.dumps(
                {"code": fault.status, "message": "injected fault", "object": "HTTPError",
                 "cause": "Injected"})).encode()
            self.send_response(fault.status)
            if fault.retry_after is not None:
                self.send_header("Retry-After", fault.retry_after)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def _abort(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise _Done

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


def _err(status: int, obj: str, message: str, cause: Optional[str] = None) -> tuple[int, Any, dict[str, str]]:
    causes = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed"}
    return status, {"code": status, "message": message, "object": obj,
                    "cause": cause or causes.get(status, "Error")}, {}


def _invalid(name: str, description: str) -> tuple[int, Any, dict[str, str]]:
    return 400, {"status": "error", "errors": [{"location": "body", "name": name,
                                                 "description": description}]}, {}


def _validate(body: dict[str, Any]) -> Optional[tuple[int, Any, dict[str, str]]]:
    ttl = body.get("rrset_ttl")
    if ttl is not None and (not isinstance(ttl, int) or not MIN_TTL <= ttl <= MAX_TTL):
        return _invalid("rrset_ttl", f"{ttl} is less than minimum value {MIN_TTL}"
                        if isinstance(ttl, int) and ttl < MIN_TTL else f"{ttl} is not a valid TTL")
    for key in ("rrset_values", "add_rrset_values", "remove_rrset_values"):
        values = body.get(key, [])
        if not isinstance(values, list):
            return _invalid(key, "Not a valid list.")
        for v in values:
            if not isinstance(v, str) or not v or len(v) > 16384 or not v.isascii() or not v.isprintable():
                return _invalid(key, f"{str(v)[:40]!r} is not a valid value")
    return None


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _store(value: str) -> str:
    # LiveDNS keeps TXT data in zone-file syntax: an unquoted value gets quoted.
    return value if value.startswith('"') else _quote(value)


def _dedupe(values: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for v in values:
        seen.setdefault(_unquote(v), v)
    return list(seen.values())


def _fqdn(name: str, zone: str) -> str:
    return zone if name == "@" else f"{name}.{zone}"


def main() -> None:  # pragma: no cover - manual use
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--zone", action="append", default=[])
    parser.add_argument("--token", action="append", default=[])
    parser.add_argument("--challtestsrv")
    args = parser.parse_args()
    s = StandIn(challtestsrv=args.challtestsrv)
    for z in args.zone:
        s.add_zone(z)
    for t in args.token:
        s.add_token(t)
    s.start(args.port)
    print(f"LiveDNS stand-in at {s.api_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        s.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
