"""Property-based checks: name splitting and TXT quoting round trips."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from certbot_dns_gandi_pat._internal import livedns

label = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
names = st.lists(label, min_size=1, max_size=5)
printable = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=300)


@given(zone=st.lists(label, min_size=2, max_size=4), below=st.lists(label, max_size=4))
def test_zone_and_relative_name_rebuild_the_name(zone: list[str], below: list[str]) -> None:
    zone_name = ".".join(zone)
    fqdn = ".".join([*below, zone_name]) if below else zone_name
    rel = livedns.relative_name(fqdn.upper() + ".", zone_name)
    rebuilt = zone_name if rel == "@" else f"{rel}.{zone_name}"
    assert rebuilt == fqdn
    assert (rel == "@") == (not below)


@given(value=printable)
def test_quote_unquote_round_trip(value: str) -> None:
    quoted = livedns.quote_txt(value)
    assert quoted.startswith('"') and quoted.endswith('"')
    assert livedns.unquote_txt(quoted) == value


@given(parts=st.lists(printable, min_size=1, max_size=4))
def test_several_strings_are_concatenated(parts: list[str]) -> None:
    assert livedns.unquote_txt(" ".join(livedns.quote_txt(p) for p in parts)) == "".join(parts)


@given(value=st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True))
def test_unquoted_values_pass_through(value: str) -> None:
    assert livedns.unquote_txt(value) == value


@given(name=names)
def test_normalize_is_idempotent(name: list[str]) -> None:
    once = livedns.normalize_name(".".join(name).upper() + ".")
    assert livedns.normalize_name(once) == once == ".".join(name)
