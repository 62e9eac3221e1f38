"""`make demo`: a real wildcard + apex certificate from a local ACME server.

Starts Pebble, pebble-challtestsrv and the LiveDNS stand-in on 127.0.0.1,
runs `certbot certonly --authenticator dns-gandi`, tells what the plugin did,
prints the certificate's names and location, and stops everything.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from teststack.stack import Stack

DEMO_TOKEN = "FAKE-demo-token-not-a-real-secret"
OUT = Path("demo-output")


def main() -> int:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()
    print("Starting a local ACME server (Pebble), a DNS server (pebble-challtestsrv) and a "
          "Gandi LiveDNS stand-in, all on 127.0.0.1 ...")
    with Stack(workdir=str(OUT.resolve() / "stack"), dns_delay=2.0) as stack:
        api = stack.standin
        api.add_zone("example.com")
        api.add_token(DEMO_TOKEN, name="demo")
        api.set_txt("example.com", "@", ["v=spf1 -all"])
        creds = stack.credentials("gandi.ini", dns_gandi_token=DEMO_TOKEN)
        print(f"  LiveDNS stand-in: {api.api_url} (zone example.com; DNS answers lag the API by 2 s)")
        print(f"  ACME directory:   {stack.directory_url}")
        print(f"  credentials:      {creds} (mode 600, a fake token)\n")
        cmd = ["certonly", "--authenticator", "dns-gandi", "--dns-gandi-credentials", str(creds),
               "--dns-gandi-nameservers", stack.nameserver, "-d", "example.com", "-d", "*.example.com"]
        print("$ certbot " + " ".join(a if "*" not in a else f"'{a}'" for a in cmd) + "\n")
        start = time.monotonic()
        result = stack.run_certbot(OUT.resolve() / "certbot", *cmd)
        elapsed = time.monotonic() - start
        print(result.stdout.rstrip())
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
            print("\nThe demo failed; logs are in demo-output/.", file=sys.stderr)
            return 1
        print(f"\nWhat the plugin did at Gandi LiveDNS ({len(api.log)} API requests; "
              f"certbot ran {elapsed:.1f} s):")
        for method, path, status in api.log:
            print(f"  {_explain(method, path, status)}")
        left = api.challenge_records()
        print(f"  Challenge records left in the zone: {left or 'none'}; "
              f"other records untouched: apex TXT = {api.txt('example.com', '@')}")
        live = OUT.resolve() / "certbot" / "config" / "live" / "example.com"
        cert = x509.load_pem_x509_certificate((live / "fullchain.pem").read_bytes())
        names = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        print("\nCertificate issued by the local test CA (not trusted by browsers):")
        print(f"  names:   {', '.join(names.get_values_for_type(x509.DNSName))}")
        expires = getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after
        print(f"  expires: {expires:%Y-%m-%d}")
        print(f"  files:   {live}/fullchain.pem and privkey.pem")
    print("\nEverything the demo started has been stopped.")
    return 0


def _explain(method: str, path: str, status: int) -> str:
    path = path.replace("/v5/livedns", "")
    what = {
        ("GET", "/tokeninfo"): "checked the token's expiry date",
        ("GET", "/domains"): "listed the domains, to find the zone of each name",
    }.get((method, path))
    if what is None and "/records/" in path:
        name = path.split("/records/")[1].rsplit("/", 1)[0]
        zone = path.split("/domains/")[1].split("/")[0]
        what = {
            "POST": f"created TXT {name}.{zone} holding both challenge values (apex and wildcard share it)",
            "PATCH": f"removed exactly its own values from TXT {name}.{zone}",
            "GET": f"looked whether LiveDNS dropped the emptied TXT {name}.{zone}",
            "DELETE": f"deleted the emptied TXT {name}.{zone}",
        }.get(method, f"{method} {path}")
    return f"{method:6} {path:55} HTTP {status}  -> {what or method + ' ' + path}"


if __name__ == "__main__":
    sys.exit(main())
