"""What the operator commands check the same way: the credential, the token, a domain's zone,
the write test. Each command phrases the outcome its own way; the facts are found here once.

Rules (tests/integration/test_doctor.py, test_rotate.py, test_renewals.py):

* A credential LiveDNS refuses is rejected; one it cannot be asked about is
  unknown, never rejected. A credential that may not list domains is accepted.
* A zone counts as reachable only when a request scoped to it is allowed.
* The write test removes its record through the plugin's own cleanup, on
  failure, on an unknown outcome and on Ctrl-C or SIGTERM; a record that
  cannot be removed is named in the output and in the ledger.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Optional

from certbot_dns_gandi_pat._internal import dnscheck, livedns, tokens
from certbot_dns_gandi_pat._internal.certbot_files import files
from certbot_dns_gandi_pat._internal.commands.report import FAIL, PASS, Check
from certbot_dns_gandi_pat._internal.records import ChallengeRecords

REQUIRED_SCOPE = "domain:tech"
DISTRIBUTION = "certbot-dns-gandi-pat"


@dataclass(frozen=True)
class Acceptance:
    """What LiveDNS said of a credential: accepted (with the domains it lists), rejected, or unknown."""

    accepted: Optional[bool]  # None: could not be asked
    domains: Optional[int] = None  # None: it may not list domains
    error: Optional[livedns.LiveDNSError] = None


def acceptance(client: livedns.LiveDNSClient) -> Acceptance:
    try:
        count = len(client.list_domains())
    except livedns.ForbiddenError:
        return Acceptance(True)
    except livedns.LiveDNSError as exc:
        return Acceptance(False if exc.refused else None, error=exc)
    return Acceptance(True, count)


@dataclass(frozen=True)
class Token:
    """A Personal Access Token as /tokeninfo describes it, judged once."""

    info: tokens.TokenInfo
    now: dt.datetime

    @property
    def name(self) -> str:
        """`` "name"`` for messages, or nothing."""
        return f' "{self.info.name}"' if self.info.name else ""

    @property
    def expired(self) -> bool:
        return self.info.expires_at is not None and self.info.expires_at <= self.now

    @property
    def lacks_scope(self) -> bool:
        """Whether /tokeninfo shows the permissions and the one needed is not among them."""
        return self.info.scopes is not None and REQUIRED_SCOPE not in self.info.scopes

    @property
    def scopes(self) -> str:
        return ", ".join(self.info.scopes or ()) or "none"


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
