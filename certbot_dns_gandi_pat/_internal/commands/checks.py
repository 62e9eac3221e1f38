"""What the operator commands check the same way: a domain's zone, the write test."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Optional

from certbot_dns_gandi_pat._internal import dnscheck, livedns
from certbot_dns_gandi_pat._internal.certbot_files import files
from certbot_dns_gandi_pat._internal.commands.report import FAIL, PASS, Check
from certbot_dns_gandi_pat._internal.records import ChallengeRecords

REQUIRED_SCOPE = "domain:tech"
DISTRIBUTION = "certbot-dns-gandi-pat"


@dataclass(frozen=True)
class Reach:
    """Where a domain's challenge record goes, and that the credential may write there."""

    challenge: str  # _acme-challenge.<domain>
    target: str  # the name that holds the TXT record (CNAMEs followed)
    zone: str

    @property
    def via(self) -> str:
        return f" (delegated by CNAME to {self.target})" if self.target != self.challenge else ""


def base_domain(domain: str) -> str:
    """The name a certificate's domain is validated at: a wildcard's base."""
    return domain[2:] if domain.startswith("*.") else domain


def challenge_zone(client: livedns.LiveDNSClient, resolver: dnscheck.CnameResolver, domain: str) -> Reach:
    """Follow ``_acme-challenge.<domain>`` to its zone and prove access with a request scoped to it.

    A listing may show domains a restricted token cannot touch: only the zone's
    own route (403 when it may not) says whether the credential reaches it.
    """
    challenge = f"_acme-challenge.{livedns.normalize_name(base_domain(domain))}"
    target = resolver.target(challenge)
    zone = client.find_zone(target)
    client.zone_access(zone)
    return Reach(challenge, target, zone)


def write_test(client: livedns.LiveDNSClient, zone: str, who: str, ledger: Optional[files.Ledger] = None) -> Check:
    """Create and remove a TXT record at a name no challenge ever uses.

    The removal is the one cleanup the plugin uses, so it also happens after an
    answer that left the outcome unknown, and on Ctrl-C or SIGTERM.
    """
    fqdn = f"_certbot-dns-gandi-pat-{who}-{secrets.token_hex(4)}.{zone}"
    value = f"{who} write test {secrets.token_hex(8)}"
    label = f"write test {zone}"
    delete = f"delete TXT {fqdn} in Gandi's DNS records page"
    note = f"the write-test record TXT {fqdn} may be left: {delete}"
    if ledger is not None:
        ledger.leftovers.append(note)
    records = ChallengeRecords(client, concurrency=1)
    failure: Optional[livedns.LiveDNSError] = None
    try:
        records.add([(fqdn, value)])
    except livedns.LiveDNSError as exc:
        failure = exc
    finally:
        left = records.remove_all()
        if not left and ledger is not None:
            ledger.leftovers.remove(note)
    if left:
        return Check(label, FAIL, f"could not remove the test record: {left[0]}", delete)
    if failure is not None:
        return Check(label, FAIL, failure.headline, failure.advice or "the token needs \"Manage domain "
                     "name technical configurations\" on this zone")
    return Check(label, PASS, f"created and removed TXT {fqdn}")
