"""The credentials INI: every mistake named with its file and key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from certbot_dns_gandi_pat import config
from tests.conftest import FAKE_API_KEY, FAKE_TOKEN

SRC = "/etc/letsencrypt/gandi.ini"


def parse(**values: object) -> config.GandiConfig:
    return config.parse(values, SRC)


def test_token_is_sent_as_bearer() -> None:
    cfg = parse(dns_gandi_token=FAKE_TOKEN)
    assert cfg.is_pat and cfg.auth_header == f"Bearer {FAKE_TOKEN}"
    assert cfg.api_url == config.DEFAULT_API_URL
    assert cfg.tokeninfo_url == config.DEFAULT_TOKENINFO_URL
    assert cfg.warnings == ()


def test_legacy_key_is_sent_as_apikey_with_a_deprecation_warning() -> None:
    cfg = parse(dns_gandi_api_key=FAKE_API_KEY)
    assert not cfg.is_pat and cfg.auth_header == f"Apikey {FAKE_API_KEY}"
    assert len(cfg.warnings) == 1
    assert "deprecated" in cfg.warnings[0] and "Personal Access Token" in cfg.warnings[0]
    assert "Manage domain name technical configurations" in cfg.warnings[0]


def test_a_pat_under_the_legacy_key_gets_a_hint() -> None:
    cfg = parse(dns_gandi_api_key=FAKE_TOKEN)
    assert any("rename the key to dns_gandi_token" in w for w in cfg.warnings)


def test_surrounding_whitespace_is_trimmed() -> None:
    assert parse(dns_gandi_token=f"  {FAKE_TOKEN}\t").secret.reveal() == FAKE_TOKEN


@pytest.mark.parametrize("bad", ["abc def", 'abc"def', "abc'def", "abc\x00def", "tökén"])
def test_inner_whitespace_quotes_or_control_characters_are_rejected(bad: str) -> None:
    with pytest.raises(config.ConfigError) as err:
        parse(dns_gandi_token=bad)
    assert SRC in str(err.value) and "dns_gandi_token" in str(err.value)
    assert bad not in str(err.value)


def test_both_credentials_is_an_error_naming_the_file() -> None:
    with pytest.raises(config.ConfigError, match="both dns_gandi_token and dns_gandi_api_key") as err:
        parse(dns_gandi_token=FAKE_TOKEN, dns_gandi_api_key=FAKE_API_KEY)
    assert SRC in str(err.value)


def test_no_credential_is_an_error_that_says_how_to_make_one() -> None:
    with pytest.raises(config.ConfigError, match="no credential found") as err:
        parse(dns_gandi_sharing_id="01234567-89ab-cdef-0123-456789abcdef")
    assert SRC in str(err.value) and "Manage domain name technical configurations" in str(err.value)


@pytest.mark.parametrize("key", ["dns_gandi_token", "dns_gandi_sharing_id", "dns_gandi_api_url"])
def test_empty_values_are_errors(key: str) -> None:
    values = {"dns_gandi_token": FAKE_TOKEN, key: "  "}
    with pytest.raises(config.ConfigError, match=f"{key} is empty"):
        config.parse(values, SRC)


def test_list_values_are_errors() -> None:
    with pytest.raises(config.ConfigError, match="single value"):
        parse(dns_gandi_token=["a", "b"])


def test_unknown_key_warns_with_the_close_match() -> None:
    cfg = parse(dns_gandi_token=FAKE_TOKEN, dns_gandi_tokn="x")
    assert cfg.warnings == (f"{SRC}: unknown key dns_gandi_tokn is ignored; did you mean dns_gandi_token?",)


def test_unrelated_unknown_key_lists_the_known_keys() -> None:
    (warning,) = parse(dns_gandi_token=FAKE_TOKEN, colour="blue").warnings
    assert "unknown key colour" in warning and "dns_gandi_sharing_id" in warning


def test_sharing_id_is_normalised() -> None:
    cfg = parse(dns_gandi_token=FAKE_TOKEN, dns_gandi_sharing_id="0123456789ABCDEF0123456789ABCDEF")
    assert cfg.sharing_id == "01234567-89ab-cdef-0123-456789abcdef"


def test_sharing_id_that_is_not_a_uuid_explains_where_to_find_it() -> None:
    with pytest.raises(config.ConfigError, match="is not an organization id") as err:
        parse(dns_gandi_token=FAKE_TOKEN, dns_gandi_sharing_id="my-org")
    assert "dns_gandi_sharing_id" in str(err.value) and "/PLTS/" in str(err.value)


@pytest.mark.parametrize("url", [
    "https://api.sandbox.gandi.net/v5/livedns/", "http://127.0.0.1:8080/v5/livedns",
    "http://localhost/x", "http://[::1]:9/x",
])
def test_accepted_api_urls(url: str) -> None:
    assert parse(dns_gandi_token=FAKE_TOKEN, dns_gandi_api_url=url).api_url == url.rstrip("/")


@pytest.mark.parametrize("url,needle", [
    ("http://api.gandi.net/v5/livedns", "plain http"),
    ("ftp://api.gandi.net", "not an http(s) URL"),
    ("api.gandi.net/v5", "not an http(s) URL"),
    ("https://user:pw@api.gandi.net", "user name or password"),
])
def test_refused_api_urls(url: str, needle: str) -> None:
    with pytest.raises(config.ConfigError, match="dns_gandi_api_url") as err:
        parse(dns_gandi_token=FAKE_TOKEN, dns_gandi_api_url=url)
    assert needle in str(err.value)


def test_tokeninfo_url_is_validated_too() -> None:
    with pytest.raises(config.ConfigError, match="dns_gandi_tokeninfo_url"):
        parse(dns_gandi_token=FAKE_TOKEN, dns_gandi_tokeninfo_url="http://id.gandi.net/tokeninfo")


def test_secret_never_shows_in_repr() -> None:
    cfg = parse(dns_gandi_token=FAKE_TOKEN)
    assert FAKE_TOKEN not in repr(cfg) and FAKE_TOKEN not in str(cfg.secret)
    assert cfg.secret == config.Secret(FAKE_TOKEN) and hash(cfg.secret) == hash(config.Secret(FAKE_TOKEN))


# ------------------------------------------------------------------ files

def write(tmp_path: Path, text: str, mode: int = 0o600) -> str:
    path = tmp_path / "gandi.ini"
    path.write_text(text)
    path.chmod(mode)
    return str(path)


def test_read_file(tmp_path: Path) -> None:
    path = write(tmp_path, f"dns_gandi_token = {FAKE_TOKEN}\n")
    cfg = config.read_file(path)
    assert cfg.secret.reveal() == FAKE_TOKEN and cfg.source == path


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="not found|does not exist") as err:
        config.read_file(str(tmp_path / "nope.ini"))
    assert "nope.ini" in str(err.value)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="directory|not a file") as err:
        config.read_file(str(tmp_path))
    assert str(tmp_path) in str(err.value)


def test_unparsable_file_does_not_quote_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, f"[section\ndns_gandi_token {FAKE_TOKEN}\n")
    with pytest.raises(config.ConfigError, match="cannot be parsed as an INI file") as err:
        config.read_file(path)
    assert path in str(err.value) and FAKE_TOKEN not in str(err.value)


def test_world_readable_file_gets_certbots_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, f"dns_gandi_token = {FAKE_TOKEN}\n", mode=0o644)
    config.read_file(path)
    assert any("Unsafe permissions" in r.getMessage() for r in caplog.records)


def test_unreadable_bytes(tmp_path: Path) -> None:
    path = tmp_path / "gandi.ini"
    path.write_bytes(b"dns_gandi_token = \xff\xfe\n")
    path.chmod(0o600)
    with pytest.raises(config.ConfigError) as err:
        config.read_file(str(path))
    assert str(path) in str(err.value)


@pytest.mark.parametrize("host,expected", [
    ("localhost", True), ("127.0.0.1", True), ("::1", True), ("10.0.0.1", False), ("gandi.net", False)])
def test_is_loopback(host: str, expected: bool) -> None:
    assert config.is_loopback(host) is expected


def test_relative_path_is_read_from_the_working_directory(tmp_path: Path) -> None:
    write(tmp_path, f"dns_gandi_token = {FAKE_TOKEN}\n")
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        assert config.read_file("gandi.ini").is_pat
    finally:
        os.chdir(cwd)
