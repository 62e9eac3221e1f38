"""``python -m certbot_dns_gandi_pat doctor ...``"""

import sys

from certbot_dns_gandi_pat._internal.commands.cli import main

if __name__ == "__main__":
    sys.exit(main())
