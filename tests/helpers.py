"""What several test modules share: fake credentials, lineages as certbot lays them out,
certbot's own lock held from another process, ACL helpers. Servers live in ``teststack``."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Optional

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_ACCOUNT_KEY = ec.generate_private_key(ec.SECP256R1())


def dns01(domain: str) -> Any:
    """certbot's own DNS-01 challenge for ``domain`` (a fresh token), as certbot hands it to the plugin."""
    import os

    import josepy
    from acme import challenges, messages
    from certbot import achallenges
    from certbot.tests import acme_util

    challb = acme_util.chall_to_challb(challenges.DNS01(token=os.urandom(32)), messages.STATUS_PENDING)
    key = josepy.JWKEC(key=_ACCOUNT_KEY)
    try:
        return achallenges.KeyAuthorizationAnnotatedChallenge(
            challb=challb, account_key=key,
            identifier=messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=domain))
    except TypeError:  # certbot < 3: the challenge names its domain
        return achallenges.KeyAuthorizationAnnotatedChallenge(challb=challb, account_key=key, domain=domain)


def challenge_value(achall: Any) -> str:
    """The TXT value certbot expects for a challenge."""
    return str(achall.validation(achall.account_key))


# Recognisable fake secrets: a test fails if they ever show up in output.
FAKE_TOKEN = "FAKE-PAT-0000-do-not-leak-7f3a9c"
FAKE_API_KEY = "fakelegacykey0000000000a"  # 24 lowercase alphanumerics, like a real one

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
_KEY = ec.generate_private_key(ec.SECP256R1())


def write_cert(path: Path, names: tuple[str, ...], not_before: dt.datetime, not_after: dt.datetime) -> None:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(_KEY.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(_KEY, hashes.SHA256())
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def write_lineage(
    config_dir: Path,
    name: str,
    credentials: Optional[Path],
    *,
    names: Optional[tuple[str, ...]] = None,
    not_before: Optional[dt.datetime] = None,
    days: int = 90,
    legacy: bool = False,
    authenticator: Optional[str] = None,
    renew_before_expiry: Optional[str] = None,
    extra: str = "",
) -> Path:
    """A lineage as certbot writes it; ``legacy`` uses certbot-plugin-gandi's prefixed names."""
    not_before = not_before or NOW - dt.timedelta(days=1)
    live = config_dir / "live" / name
    write_cert(live / "cert.pem", names or (name,), not_before, not_before + dt.timedelta(days=days))
    prefix = "certbot_plugin_gandi:dns_" if legacy else "dns_gandi_"
    auth = authenticator or ("certbot-plugin-gandi:dns" if legacy else "dns-gandi")
    top = f"renew_before_expiry = {renew_before_expiry}\n" if renew_before_expiry else ""
    cred = f"{prefix}credentials = {credentials}\n" if credentials else ""
    conf = config_dir / "renewal" / f"{name}.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(
        f"# renew_before_expiry = 30 days\n{top}version = 1.21.0\n"
        f"archive_dir = {config_dir}/archive/{name}\ncert = {live}/cert.pem\n"
        f"privkey = {live}/privkey.pem\nchain = {live}/chain.pem\nfullchain = {live}/fullchain.pem\n\n"
        "# Options used in the renewal process\n[renewalparams]\n"
        "account = 0123456789abcdef0123456789abcdef\nserver = https://acme.example/dir\n"
        f"authenticator = {auth}\n{prefix}propagation_seconds = 10\n{cred}key_type = ecdsa\n{extra}"
    )
    return conf


HOLD = textwrap.dedent("""
    import sys
    from certbot._internal import lock
    held = lock.lock_dir(sys.argv[1])
    print("locked", flush=True)
    sys.stdin.read()
""")


def hold_certbot_lock(directory: Path) -> subprocess.Popen[str]:
    """certbot's own lock code, holding the lock in another process until stdin closes."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(directory)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    return proc


def release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(10)



def acl(path: Path) -> str:
    """``getfacl`` of a file, without its header: the entries that decide who reads it."""
    out = subprocess.run(["getfacl", "--omit-header", "--absolute-names", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return out


def setfacl(*args: str) -> None:
    if shutil.which("setfacl") is None:
        pytest.fail("setfacl is missing: `make test` installs Debian's acl package")
    subprocess.run(["setfacl", *args], check=True)


# ------------------------------------------------------------- clients

_BOUND_NAMES = {"connect_seconds": "connect", "attempt_seconds": "attempt", "request_seconds": "request",
                "max_body": "max_body", "retries": "retries", "backoff": "backoff"}


def bounds(**kw: Any) -> Any:
    """Transport bounds from keyword arguments (``attempt_seconds=1.0``...), the rest as in production."""
    from certbot_dns_gandi_pat._internal.livedns import transport

    return transport.Bounds(**{_BOUND_NAMES[k]: v for k, v in kw.items()})


# Short enough that a test waiting out every retry takes well under a second.
FAST = {"attempt_seconds": 1.0, "request_seconds": 2.0, "backoff": 0.01}


def client_for(target: Any, *, token: Optional[str] = None, pool_size: int = 4, **kw: Any) -> Any:
    """A LiveDNS client with a fake token, for the stand-in or a URL."""
    from certbot_dns_gandi_pat._internal import config, livedns

    url = target if isinstance(target, str) else target.api_url
    cfg = config.parse({"dns_gandi_token": token or FAKE_TOKEN, "dns_gandi_api_url": url}, "/etc/gandi.ini")
    return livedns.connect(cfg, pool_size=pool_size, bounds=bounds(**kw))


def make_transport(pool_size: int = 4, **kw: Any) -> Any:
    from certbot_dns_gandi_pat._internal.livedns import transport

    return transport.Transport(f"Bearer {FAKE_TOKEN}", loopback=True, user_agent="test", bounds=bounds(**kw),
                               pool_size=pool_size, secrets=(FAKE_TOKEN,))


def credentials_file(path: Path, standin: Any, mode: int = 0o600, **values: str) -> Path:
    """A credentials INI that points at the stand-in, with these keys."""
    lines = [f"dns_gandi_api_url = {standin.api_url}", f"dns_gandi_tokeninfo_url = {standin.tokeninfo_url}"]
    path.write_text("\n".join(lines + [f"{k} = {v}" for k, v in values.items()]) + "\n")
    path.chmod(mode)
    return path


def command(*argv: str, stdin: Optional[str] = None, monkeypatch: Optional[pytest.MonkeyPatch] = None) -> tuple[int, str]:
    """Run ``certbot-dns-gandi-pat ARGV`` in this process; its exit code and standard output."""
    import io

    from certbot_dns_gandi_pat._internal.commands import cli

    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    out = io.StringIO()
    code = cli.main(list(argv), out=out)
    return code, out.getvalue()


# ------------------------------------------------------------- certbot

def certonly(stack: Any, tmp: Path, creds: Path, *names: str, extra: tuple[str, ...] = (),
             propagation: int = 30) -> subprocess.CompletedProcess[str]:
    """``certbot certonly --authenticator dns-gandi`` against the e2e stack."""
    args = ["certonly", "--authenticator", "dns-gandi", "--dns-gandi-credentials", str(creds),
            "--dns-gandi-nameservers", stack.nameserver,
            "--dns-gandi-propagation-seconds", str(propagation), *extra]
    for name in names:
        args += ["-d", name]
    return stack.run_certbot(tmp, *args)


def cert_names(tmp: Path, lineage: str) -> set[str]:
    from cryptography.x509.oid import ExtensionOID

    pem = (tmp / "config" / "live" / lineage / "fullchain.pem").read_bytes()
    cert = x509.load_pem_x509_certificate(pem)
    san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    return set(san.get_values_for_type(x509.DNSName))


def ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
