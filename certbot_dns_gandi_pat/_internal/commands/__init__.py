"""The operator toolkit: ``certbot-dns-gandi-pat doctor | renewals | migrate | rotate``."""
