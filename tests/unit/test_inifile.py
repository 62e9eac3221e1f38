"""One reader for every configobj file: the plugin, doctor, renewals, rotate and migrate agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from certbot_dns_gandi_pat._internal.certbot_files import inifile, lineages
from tests.helpers import write_lineage

ORG = "01234567-89ab-cdef-0123-456789abcdef"
TOKEN = "FAKE-one-reader-token-31"


def test_edits_touch_only_the_key_or_the_value() -> None:
    data = (b"# a comment\r\n[renewalparams]\r\nauthenticator=certbot-plugin-gandi:dns   # old\r\n"
            b"  certbot_plugin_gandi:dns_credentials  =  /etc/x.ini\r\nother = 1\r\n")
    ini = inifile.loads(data, "t.conf")
    (auth,) = ini.document.find("authenticator", "renewalparams")
    (cred,) = ini.document.find("certbot_plugin_gandi:dns_credentials", "renewalparams")
    ini.document.set_value(auth, "dns-gandi")
    ini.document.rename(cred, "dns_gandi_credentials")
    assert ini.encode() == (b"# a comment\r\n[renewalparams]\r\nauthenticator=dns-gandi   # old\r\n"
                            b"  dns_gandi_credentials  =  /etc/x.ini\r\nother = 1\r\n")
    ini.verify({"renewalparams": {"authenticator": "dns-gandi", "dns_gandi_credentials": "/etc/x.ini",
                                  "other": "1"}})
    with pytest.raises(inifile.EditError, match="would not give the intended result"):
        ini.verify({"renewalparams": {"authenticator": "x"}})


def test_a_value_cut_by_a_hash_is_replaced_whole() -> None:
    ini = inifile.loads(b"dns_gandi_token = abc#def  # note\nlast = 1", "g.ini")
    (entry,) = ini.document.find("dns_gandi_token")
    ini.document.set_value(entry, "NEW", key="dns_gandi_token")
    assert ini.encode() == b"dns_gandi_token = NEW  # note\nlast = 1"
    assert ini.document.keys() == ["dns_gandi_token", "last"]


def test_a_byte_order_mark_is_read_past_and_kept() -> None:
    ini = inifile.loads(b"\xef\xbb\xbfa = 1\nb = 2\n", "bom.ini")
    assert ini.values == {"a": "1", "b": "2"} and ini.document.keys() == ["a", "b"]
    (b,) = ini.document.find("b")
    ini.document.set_value(b, "3")
    assert ini.encode() == b"\xef\xbb\xbfa = 1\nb = 3\n"


@pytest.mark.parametrize("data,line,what", [
    (b"a = 1\rb = 2\r", 1, "a carriage return without a line feed (old Mac line ends)"),
    (b"a = 1\nb = 2\x0cc = 3\n", 2, "a form feed"),
    ("a = 1\u2028b = 2\n".encode(), 1, "a line separator U+2028"),
    ("a = 1\x85b = 2\n".encode(), 1, "a line separator U+0085"),
])
def test_line_breaks_readers_disagree_about_are_refused(data: bytes, line: int, what: str) -> None:
    with pytest.raises(inifile.EditError) as err:
        inifile.loads(data, "odd.ini")
    assert str(err.value) == (f"odd.ini: line {line} holds {what}, which INI readers disagree about; "
                              "save the file with plain LF (or CRLF) line ends")


def test_not_utf8_and_unparseable() -> None:
    with pytest.raises(inifile.EditError, match="not UTF-8"):
        inifile.loads(b"k = \xff\n", "x.ini")
    with pytest.raises(inifile.Unparsable, match=r"x.ini: cannot be parsed as an INI file \(line 2\)"):
        inifile.loads(b"a = 1\na = 2\n", "x.ini")


def test_renewal_configurations_use_the_same_reader(tmp_path: Path) -> None:
    conf = write_lineage(tmp_path, "example.com", tmp_path / "gandi.ini")
    conf.write_bytes(conf.read_bytes().replace(b"\n", b"\r"))
    found, broken = lineages.find(str(tmp_path))
    assert found == [] and len(broken) == 1
    assert "line 1 holds a carriage return without a line feed" in broken[0].problem
    assert broken[0].problem.endswith("certbot cannot renew it either")
