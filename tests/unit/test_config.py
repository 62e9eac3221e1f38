"""The credentials INI: every mistake named with its file and key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from certbot_dns_gandi_pat._internal import config
from tests.helpers import FAKE_API_KEY, FAKE_TOKEN

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


def test_both_credentials_use_the_token_and_say_the_key_line_can_go() -> None:
    # certbot-plugin-gandi 1.5 and certbot-dns-gandi 1.6 accepted such files.
    cfg = parse(dns_gandi_token=FAKE_TOKEN, dns_gandi_api_key=FAKE_API_KEY)
    assert cfg.is_pat and cfg.auth_header == f"Bearer {FAKE_TOKEN}"
    assert cfg.warnings == (f"{SRC}: dns_gandi_api_key is not used because dns_gandi_token is set; "
                            "remove the dns_gandi_api_key line",)
    assert FAKE_API_KEY not in " ".join(cfg.warnings)


def test_no_credential_is_an_error_that_says_how_to_make_one() -> None:
    with pytest.raises(config.ConfigError, match="no credential found") as err:
        parse(dns_gandi_sharing_id="01234567-89ab-cdef-0123-456789abcdef")
    assert SRC in str(err.value) and "Manage domain name technical configurations" in str(err.value)


def test_a_misspelt_only_key_gets_the_close_match_and_no_value() -> None:
    with pytest.raises(config.ConfigError) as err:
        parse(dns_gandi_tokn=FAKE_TOKEN)
    assert str(err.value) == f"{SRC}: no credential found; dns_gandi_tokn looks like a misspelling of dns_gandi_token"


@pytest.mark.parametrize("key,modern", [("certbot_plugin_gandi:dns_api_key", "dns_gandi_api_key"),
                                        ("certbot_plugin_gandi:dns_token", "dns_gandi_token")])
def test_a_prefixed_legacy_credential_names_the_key_and_migrate(key: str, modern: str) -> None:
    with pytest.raises(config.ConfigError) as err:
        config.parse({key: FAKE_API_KEY}, SRC)
    text = str(err.value)
    assert key in text and modern in text and "certbot-dns-gandi-pat migrate" in text
    assert FAKE_API_KEY not in text


def test_a_prefixed_key_beside_a_current_credential_is_a_warning() -> None:
    cfg = config.parse({"dns_gandi_token": FAKE_TOKEN, "certbot_plugin_gandi:dns_sharing_id": "x"}, SRC)
    assert cfg.warnings == (f"{SRC}: certbot_plugin_gandi:dns_sharing_id is an old prefixed name that is "
                            "ignored; run `certbot-dns-gandi-pat migrate` to rewrite the old names",)


def test_modern_key() -> None:
    assert config.modern_key("certbot_plugin_gandi:dns_credentials") == "dns_gandi_credentials"
    assert config.modern_key("dns_gandi_token") is None


@pytest.mark.parametrize("key,value", [
    ("dns_gandi_sharing_id", FAKE_TOKEN), ("dns_gandi_api_url", f"ftp://u:{FAKE_TOKEN}@h"),
    ("dns_gandi_api_url", f"ftp://h/{FAKE_TOKEN}"), ("dns_gandi_api_url", f"http://example.net/{FAKE_TOKEN}"),
    ("dns_gandi_tokeninfo_url", f"https://{FAKE_TOKEN}@id.gandi.net"), ("dns_gandi_api_url", f"https://h:{FAKE_TOKEN}/"),
])
def test_a_credential_under_the_wrong_key_is_never_printed(key: str, value: str) -> None:
    with pytest.raises(config.ConfigError) as err:
        config.parse({"dns_gandi_token": "FAKE-other-token", key: value}, SRC)
    assert key in str(err.value) and FAKE_TOKEN not in str(err.value)


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
    with pytest.raises(config.ConfigError, match="no such credentials file; create it with your token") as err:
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


@pytest.mark.parametrize("text", [
    f"[gandi]\ndns_gandi_token = {FAKE_TOKEN}\n",
    f"dns_gandi_sharing_id = 01234567-89ab-cdef-0123-456789abcdef\n[gandi]\ndns_gandi_token = {FAKE_TOKEN}\n",
])
def test_a_section_header_is_named_instead_of_no_credential(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(config.ConfigError) as err:
        config.read_file(path)
    assert str(err.value) == (f"{path}: has a [gandi] section header, which hides the keys below it; "
                              "credentials files have no sections: delete the [gandi] line")


def test_world_readable_file_gets_certbots_warning_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, f"dns_gandi_token = {FAKE_TOKEN}\n", mode=0o644)
    config.read_file(path)
    assert sum("Unsafe permissions" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("line", ["dns_gandi_token = abc#def", "dns_gandi_token=#abc", "dns_gandi_api_key = abc#"])
def test_a_credential_cut_by_a_hash_is_refused(tmp_path: Path, line: str) -> None:
    path = write(tmp_path, line + "\n")
    with pytest.raises(config.ConfigError, match="contains '#', which starts a comment") as err:
        config.read_file(path)
    assert path in str(err.value) and "abc" not in str(err.value).split("'#'")[0].replace(path, "")


def test_a_real_inline_comment_is_fine(tmp_path: Path) -> None:
    path = write(tmp_path, f"dns_gandi_token = {FAKE_TOKEN}   # renewals token\n# a comment line\n")
    assert config.read_file(path).secret.reveal() == FAKE_TOKEN


def test_a_quoted_value_may_hold_a_hash(tmp_path: Path) -> None:
    path = write(tmp_path, 'dns_gandi_token = "abc#def"\n')
    assert config.read_file(path).secret.reveal() == "abc#def"


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
