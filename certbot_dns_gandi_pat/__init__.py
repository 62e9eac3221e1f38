"""
The ``dns-gandi`` authenticator answers ACME DNS-01 challenges for domains
whose DNS is hosted on Gandi LiveDNS, by creating ``_acme-challenge`` TXT
records through the LiveDNS v5 API, waiting until Gandi's authoritative
nameservers serve them, and removing them afterwards. Wildcard certificates
need DNS-01, so this is the way to get them from Let's Encrypt for a Gandi
domain.

Named Arguments
---------------

=====================================  ==================================================
``--dns-gandi-credentials``            Gandi credentials INI file (a path). (Required)
``--dns-gandi-propagation-seconds``    The longest wait, 1 to 86400 seconds, for every
                                       authoritative nameserver to serve the records; the
                                       plugin checks about once a second and goes on as
                                       soon as they do. (Default: 300)
``--dns-gandi-nameservers``            ``HOST[:PORT],...``: DNS servers to ask instead of
                                       the zone's authoritative ones. (Default: none)
``--dns-gandi-expiry-warning-days``    Warn when the token expires within this many days,
                                       0 to 3650; 0 turns the check off. (Default: 60)
=====================================  ==================================================

Credentials
-----------

Create a Personal Access Token in Gandi's admin panel with the single
permission "Manage domain name technical configurations" (it may be limited to
the domains you need), and store it in an INI file readable only by root:

.. code-block:: ini
   :name: gandi.ini
   :caption: Example credentials file:

   # Personal Access Token, sent as "Authorization: Bearer"
   dns_gandi_token = 0123456789abcdef0123456789abcdef01234567
   # Optional: the organization that owns the domains
   # dns_gandi_sharing_id = 01234567-89ab-cdef-0123-456789abcdef

A legacy API key (``dns_gandi_api_key``) still works, with a deprecation
warning. Run ``chmod 600`` on the file: certbot warns about a file others can
read. ``certbot-dns-gandi-pat doctor --credentials FILE DOMAIN`` checks the
file, the token (expiry, permission) and each domain's zone and delegation.

Examples
--------

.. code-block:: bash
   :caption: A certificate for example.com and all its subdomains

   certbot certonly \\
     --authenticator dns-gandi \\
     --dns-gandi-credentials /etc/letsencrypt/gandi.ini \\
     -d example.com -d '*.example.com'
"""

__version__ = "0.2.0"
