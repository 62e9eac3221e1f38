"""One source for the plugin's options: what add_parser_arguments registers is what the plugin's
page (the package docstring), ``certbot --help dns-gandi`` and docs/options.md say; and certbot's
own tests for DNS plugins pass."""

from __future__ import annotations

import re
import subprocess
import sys
import unittest
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from certbot.plugins import dns_test_common

import certbot_dns_gandi_pat
from certbot_dns_gandi_pat._internal import dns_gandi, plugin_options

ROOT = Path(__file__).resolve().parents[2]


def registered() -> dict[str, dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    dns_gandi.Authenticator.add_parser_arguments(lambda name, **kw: seen.setdefault(name, kw))
    return seen


def expected() -> dict[str, tuple[str, str]]:
    """Per option, its default and its values as the docs write them, derived from the registration."""
    out = {}
    for name, kw in registered().items():
        option = plugin_options.BY_NAME[name]
        default = kw.get("default")
        values = f"{option.low}-{option.high}" if kw.get("type") is int else option.values
        out[name] = ("none" if default is None else str(default), values)
    return out


def test_every_option_is_registered_with_its_default_and_range_in_its_help() -> None:
    seen = registered()
    assert list(seen) == ["credentials", "propagation-seconds", "nameservers", "expiry-warning-days"]
    for name, (default, values) in expected().items():
        text = seen[name]["help"]
        if default != "none":
            assert text.endswith(f"(default: {default})"), (name, text)
        if seen[name].get("type") is int:
            low, high = values.split("-")
            assert f" {low} to {high}." in text, (name, text)
    assert seen["propagation-seconds"]["default"] == 300 and seen["expiry-warning-days"]["default"] == 60


def test_the_plugins_page_agrees() -> None:
    doc = certbot_dns_gandi_pat.__doc__ or ""
    table = doc.split("Named Arguments", 1)[1].split("\nCredentials\n", 1)[0]
    rows = re.split(r"\n(?=``--dns-gandi-)", table.strip().strip("=").strip())
    cells = {row.split("``")[1].removeprefix("--dns-gandi-"): " ".join(row.split("``", 2)[2].split())
             for row in rows if row.startswith("``--dns-gandi-")}
    assert set(cells) == set(registered())
    for name, (default, values) in expected().items():
        text = cells[name]
        assert f"(Default: {default})" in text or (name == "credentials" and "(Required)" in text), (name, text)
        if "-" in values and values[0].isdigit():
            low, high = values.split("-")
            assert f"{low} to {high}" in text, (name, text)


def test_the_docs_options_table_agrees() -> None:
    page = (ROOT / "docs" / "options.md").read_text()
    table = page.split("<!-- options -->", 1)[1].split("<!-- /options -->", 1)[0]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in table.strip().splitlines()[2:]]
    found = {row[0].strip("`").removeprefix("--dns-gandi-"): (row[1].strip("`"), row[2].strip("`")) for row in rows}
    assert found == expected()


def test_certbots_help_prints_what_is_registered() -> None:
    certbot = Path(sys.executable).parent / "certbot"
    text = subprocess.run([str(certbot), "--help", "dns-gandi"], capture_output=True, text=True,
                          check=True, timeout=120).stdout
    flat = " ".join(text.split())
    for name, (default, _) in expected().items():
        assert f"--dns-gandi-{name}" in flat
        if default != "none":
            assert f"(default: {default})" in flat, name
    assert "1 to 86400." in flat and "0 to 3650." in flat


@pytest.mark.parametrize("value", [0, 86401, -1])
def test_a_value_out_of_range_is_refused_by_name_before_the_order(value: int) -> None:
    conf = SimpleNamespace(dns_gandi_credentials=None, dns_gandi_propagation_seconds=value,
                           dns_gandi_nameservers=None, dns_gandi_expiry_warning_days=60)
    auth = dns_gandi.Authenticator(conf, "dns-gandi")
    with pytest.raises(dns_gandi.errors.MisconfigurationError) as err:
        auth.prepare()
    assert str(err.value) == "--dns-gandi-propagation-seconds must be a whole number of seconds from 1 to 86400"


class CertbotsOwnTests(dns_test_common.BaseAuthenticatorTest, unittest.TestCase):
    """certbot's tests for every DNS plugin (more_info, challenge preference, type=int)."""

    def setUp(self) -> None:
        conf = SimpleNamespace(dns_gandi_credentials=None, dns_gandi_propagation_seconds=300,
                               dns_gandi_nameservers=None, dns_gandi_expiry_warning_days=60)
        self.auth = dns_gandi.Authenticator(conf, "dns-gandi")
