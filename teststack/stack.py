"""Pebble + pebble-challtestsrv + the LiveDNS stand-in on 127.0.0.1, free ports.

Used by the end-to-end tests, ``make demo`` and ``make bench``. Everything it
starts is stopped by ``close()`` (or leaving the ``with`` block).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from teststack.standin import StandIn

PEBBLE = os.environ.get("PEBBLE", "pebble")
CHALLTESTSRV = os.environ.get("PEBBLE_CHALLTESTSRV", "pebble-challtestsrv")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_udp_tcp_port() -> int:
    """A port free for both UDP and TCP (challtestsrv's DNS listens on both)."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            try:
                u.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port")


def ensure_pebble() -> None:
    """Install Debian's pebble package when the binaries are missing."""
    if shutil.which(PEBBLE) and shutil.which(CHALLTESTSRV):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError("pebble is not installed; run: apt-get install pebble")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", "pebble"], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def _write_tls(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pebble test stack")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "pebble.pem", directory / "pebble.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start listening on port {port}")


class Stack:
    """The whole local ACME + DNS + LiveDNS set-up."""

    def __init__(self, *, dns_delay: float = 0.0, pebble: bool = True, workdir: Optional[str] = None) -> None:
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="gandi-stack-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.dns_port = free_udp_tcp_port()
        self.mgmt_port = free_port()
        self.with_pebble = pebble
        self.acme_port = free_port()
        self.pebble_mgmt_port = free_port()
        self.ca_bundle: Optional[Path] = None
        self.standin = StandIn(challtestsrv=f"http://127.0.0.1:{self.mgmt_port}", dns_delay=dns_delay)

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.dns_port}"

    @property
    def directory_url(self) -> str:
        return f"https://127.0.0.1:{self.acme_port}/dir"

    def start(self) -> Stack:
        ensure_pebble()
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        logs = open(self.dir / "challtestsrv.log", "wb")  # noqa: SIM115 - lives with the process
        srv = subprocess.Popen(
            [CHALLTESTSRV, "-dns01", f"127.0.0.1:{self.dns_port}", "-management",
             f"127.0.0.1:{self.mgmt_port}", "-http01", "", "-https01", "", "-tlsalpn01", "",
             "-defaultIPv6", "", "-defaultIPv4", "127.0.0.1"],
            stdout=logs, stderr=subprocess.STDOUT,
        )
        self.procs.append(srv)
        _wait_port(self.mgmt_port, srv, "pebble-challtestsrv")
        if self.with_pebble:
            cert, key = _write_tls(self.dir)
            self.ca_bundle = cert
            conf = {"pebble": {
                "listenAddress": f"127.0.0.1:{self.acme_port}",
                "managementListenAddress": f"127.0.0.1:{self.pebble_mgmt_port}",
                "certificate": str(cert), "privateKey": str(key),
                "httpPort": 5002, "tlsPort": 5001, "ocspResponderURL": "",
                "externalAccountBindingRequired": False,
            }}
            (self.dir / "pebble.json").write_text(json.dumps(conf))
            env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0",
                       PEBBLE_AUTHZREUSE="0", PEBBLE_VA_ALWAYS_VALID="0")
            plog = open(self.dir / "pebble.log", "wb")  # noqa: SIM115
            peb = subprocess.Popen(
                [PEBBLE, "-config", str(self.dir / "pebble.json"), "-dnsserver",
                 f"127.0.0.1:{self.dns_port}"], stdout=plog, stderr=subprocess.STDOUT, env=env,
            )
            self.procs.append(peb)
            _wait_port(self.acme_port, peb, "pebble")
        self.standin.start()

    def close(self) -> None:
        try:
            self.standin.stop()
        except Exception:  # noqa: S110 - best effort on the way out
            pass
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------- certbot runs

    def credentials(self, name: str, **values: str) -> Path:
        path = self.dir / name
        lines = [f"dns_gandi_api_url = {self.standin.api_url}",
                 f"dns_gandi_tokeninfo_url = {self.standin.tokeninfo_url}"]
        lines += [f"{k} = {v}" for k, v in values.items()]
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
        return path

    def certbot_args(self, config_dir: Path, *extra: str) -> list[str]:
        return [
            str(Path(sys.executable).parent / "certbot"), *extra,
            "--server", self.directory_url, "--non-interactive", "--agree-tos",
            "--register-unsafely-without-email", "--no-random-sleep-on-renew",
            "--config-dir", str(config_dir / "config"), "--work-dir", str(config_dir / "work"),
            "--logs-dir", str(config_dir / "logs"),
        ]

    def certbot_env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ, **extra)
        if self.ca_bundle:
            env["REQUESTS_CA_BUNDLE"] = str(self.ca_bundle)
        return env

    def run_certbot(self, config_dir: Path, *args: str, timeout: float = 180,
                    **popen: Any) -> subprocess.CompletedProcess[str]:
        config_dir.mkdir(parents=True, exist_ok=True)
        return subprocess.run(self.certbot_args(config_dir, *args), env=self.certbot_env(),
                              capture_output=True, text=True, timeout=timeout, check=False,
                              cwd=str(config_dir), **popen)
