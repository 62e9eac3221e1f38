"""The root of every error this package raises on purpose.

An error carries a headline (what failed, naming the file, key, domain or HTTP
status involved) and advice (what to do next). ``str()`` gives both, on two
lines, which is how certbot and the commands print them; code that needs one
part asks for it by name instead of splitting text.
"""

from __future__ import annotations


class GandiPatError(Exception):
    """A problem this package recognised, said in words a person can act on."""

    def __init__(self, headline: str, advice: str = "") -> None:
        super().__init__(headline + (f"\n{advice}" if advice else ""))
        self.headline, self.advice = headline, advice
