"""certbot's files: the one INI reader, the one rewrite, lineages as certbot reads them."""
