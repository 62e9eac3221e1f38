"""`make bench`: API requests and wall time of perform + cleanup, batched vs sequential.

Drives the plugin's Authenticator.perform and cleanup (not certbot's ACME part)
against the LiveDNS stand-in with a fixed latency per request, for N names over
Z zones, excluding the propagation wait (replaced by a no-op) and the token
expiry check (one request to id.gandi.net, not LiveDNS). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
import tracemalloc
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from certbot_dns_gandi_pat._internal import dns_gandi, dnscheck
from certbot_dns_gandi_pat._internal.livedns import transport
from tests.helpers import dns01
from teststack.standin import StandIn

TOKEN = "FAKE-bench-token"


class _NoWait:
    def __init__(self, **kw: Any) -> None:
        pass

    def wait(self, expected: Any, servers: Any, timeout: float, labels: Any = None) -> dnscheck.WaitResult:
        return dnscheck.WaitResult(0.0, tuple(expected), ())


def _serve(conn: Any, zone_names: list[str], latency: float) -> None:
    api = StandIn(latency=latency)
    for zone in zone_names:
        api.add_zone(zone)
    api.add_token(TOKEN)
    with api:
        conn.send(api.api_url)
        conn.recv()  # the run is over
        conn.send((api.count(), api.challenge_records() == {}))


def run(names: int, zones: int, latency: float, concurrency: int, workdir: Path) -> tuple[int, float, bool]:
    """One perform + cleanup; the stand-in runs in its own process, as a remote API would."""
    zone_names = [f"zone{z}.example" for z in range(zones)]
    parent, child = multiprocessing.get_context("fork").Pipe()
    server = multiprocessing.get_context("fork").Process(target=_serve, args=(child, zone_names, latency))
    server.start()
    try:
        api_url = parent.recv()
        creds = workdir / "bench.ini"
        creds.write_text(f"dns_gandi_token = {TOKEN}\ndns_gandi_api_url = {api_url}\n")
        creds.chmod(0o600)
        conf = SimpleNamespace(dns_gandi_credentials=str(creds), dns_gandi_propagation_seconds=60,
                               dns_gandi_nameservers="127.0.0.1:53", dns_gandi_expiry_warning_days=0)
        auth = dns_gandi.Authenticator(conf, "dns-gandi")
        auth.concurrency = concurrency
        auth.prepare()
        # certbot's own challenge objects, made before the clock starts
        achalls = [dns01(f"host{i}.{zone_names[i % zones]}") for i in range(names)]
        start = time.perf_counter()
        auth.perform(achalls)
        auth.cleanup(achalls)
        elapsed = time.perf_counter() - start
        parent.send("done")
        count, clean = parent.recv()
    finally:
        server.join(10)
    return int(count), elapsed, bool(clean)


def bounds() -> None:
    """The default time and memory bounds against answers that never end (slow: about a minute)."""
    from teststack.rawserver import RawServer, drip

    def headers(conn: Any, request: bytes) -> None:
        drip(conn, b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10000, 1.0, server.stopping)

    def body(conn: Any, request: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n")
        drip(conn, b"x" * 10000, 1.0, server.stopping)

    def huge(conn: Any, request: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        chunk = b"x" * 65536
        for _ in range(6400):  # 400 MiB without a length
            conn.sendall(chunk)

    print("\nbounds with the default settings (one byte per second; 400 MiB without Content-Length)")
    for label, script in (("drip-fed headers", headers), ("drip-fed body", body), ("400 MiB body", huge)):
        with RawServer(script) as server:
            http = transport.Transport("Bearer x", loopback=True, user_agent="bench")
            tracemalloc.start()
            start = time.perf_counter()
            try:
                http.request("GET", server.url + "/x")
                outcome = "answered?!"
            except transport.TransportError as exc:
                outcome = str(exc)
            elapsed = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        print(f"  {label:17} {elapsed:6.1f} s  peak {peak:5.1f} MiB  attempts {len(server.requests)}: {outcome}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=50.0, help="added to every request (default 50)")
    parser.add_argument("--sizes", default="1,10,100", help="numbers of names (default 1,10,100)")
    parser.add_argument("--zones", default="1,3", help="numbers of zones (default 1,3)")
    parser.add_argument("--no-bounds", action="store_true", help="skip the slow time and memory bounds")
    args = parser.parse_args()
    dns_gandi.Authenticator.waiter_factory = _NoWait  # type: ignore[assignment]
    dnscheck.CnameResolver.target = lambda self, name: name  # type: ignore[method-assign]
    workdir = Path("/tmp") / f"gandi-bench-{time.time_ns()}"
    workdir.mkdir()
    latency = args.latency_ms / 1000
    print(f"perform + cleanup, {args.latency_ms:.0f} ms per LiveDNS request, propagation wait excluded")
    print(f"{'names':>5} {'zones':>5} | {'requests':>8} {'budget':>6} {'seconds':>8} | "
          f"{'seq req':>7} {'seq s':>7} | {'speed-up':>8} | {'peak MiB':>8}")
    for zones in map(int, args.zones.split(",")):
        for names in map(int, args.sizes.split(",")):
            if zones > names:
                continue
            reqs, secs, clean = run(names, zones, latency, dns_gandi.Authenticator.concurrency, workdir)
            # Memory of the plugin's process, in a separate pass: tracemalloc is slow.
            tracemalloc.start()
            run(names, zones, 0.0, dns_gandi.Authenticator.concurrency, workdir)
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            sreqs, ssecs, sclean = run(names, zones, latency, 1, workdir)
            budget = 2 * names + 2 * zones
            flag = "" if clean and sclean else "  LEFTOVERS!"
            print(f"{names:>5} {zones:>5} | {reqs:>8} {budget:>6} {secs:>8.2f} | {sreqs:>7} {ssecs:>7.2f} | "
                  f"{ssecs / secs:>7.1f}x | {peak:>8.1f}{flag}")
    print("requests = 1 domain listing + 1 POST and 1 PATCH per validation name + 1 GET per run "
          "(learning whether LiveDNS drops emptied rrsets); budget = 2N + 2Z")
    if not args.no_bounds:
        bounds()


if __name__ == "__main__":
    main()
