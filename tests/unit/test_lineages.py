"""Reading certbot's lineages, renewal dates, line-preserving INI edits, safe file changes.

``write_lineage`` (used by the renewals, migrate and rotate tests too) lays out a
lineage as certbot does: ``renewal/NAME.conf`` in certbot's format and a
certificate under ``live/NAME/``.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Optional

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certbot_dns_gandi_pat import files, inifile, lineages

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
_KEY = ec.generate_private_key(ec.SECP256R1())


def write_cert(path: Path, names: tuple[str, ...], not_before: dt.datetime, not_after: dt.datetime) -> None:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(_KEY.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(_KEY, hashes.SHA256())
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def write_lineage(
    config_dir: Path,
    name: str,
    credentials: Optional[Path],
    *,
    names: Optional[tuple[str, ...]] = None,
    not_before: Optional[dt.datetime] = None,
    days: int = 90,
    legacy: bool = False,
    authenticator: Optional[str] = None,
    renew_before_expiry: Optional[str] = None,
    extra: str = "",
) -> Path:
    """A lineage as certbot writes it; ``legacy`` uses certbot-plugin-gandi's prefixed names."""
    not_before = not_before or NOW - dt.timedelta(days=1)
    live = config_dir / "live" / name
    write_cert(live / "cert.pem", names or (name,), not_before, not_before + dt.timedelta(days=days))
    prefix = "certbot_plugin_gandi:dns_" if legacy else "dns_gandi_"
    auth = authenticator or ("certbot-plugin-gandi:dns" if legacy else "dns-gandi")
    top = f"renew_before_expiry = {renew_before_expiry}\n" if renew_before_expiry else ""
    cred = f"{prefix}credentials = {credentials}\n" if credentials else ""
    conf = config_dir / "renewal" / f"{name}.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(
        f"# renew_before_expiry = 30 days\n{top}version = 1.21.0\n"
        f"archive_dir = {config_dir}/archive/{name}\ncert = {live}/cert.pem\n"
        f"privkey = {live}/privkey.pem\nchain = {live}/chain.pem\nfullchain = {live}/fullchain.pem\n\n"
        "# Options used in the renewal process\n[renewalparams]\n"
        "account = 0123456789abcdef0123456789abcdef\nserver = https://acme.example/dir\n"
        f"authenticator = {auth}\n{prefix}propagation_seconds = 10\n{cred}key_type = ecdsa\n{extra}"
    )
    return conf


# ------------------------------------------------------------------ lineages

def test_find_reads_both_forms_and_ignores_the_rest(tmp_path: Path) -> None:
    ini = tmp_path / "gandi.ini"
    write_lineage(tmp_path, "new.example.com", ini, names=("new.example.com", "*.new.example.com"))
    write_lineage(tmp_path, "old.example.com", ini, legacy=True, renew_before_expiry="20 days")
    write_lineage(tmp_path, "web.example.com", None, authenticator="webroot")
    conf = tmp_path / "renewal" / "new.example.com.conf"
    (tmp_path / "renewal" / "new.example.com.conf.bak-20250101T000000Z").write_bytes(conf.read_bytes())
    found, broken = lineages.find(str(tmp_path))
    assert [x.name for x in found] == ["new.example.com", "old.example.com"] and broken == []
    new, old = found
    assert new.domains == ("new.example.com", "*.new.example.com") and not new.legacy
    assert new.credentials == str(ini) and new.credentials_key == "dns_gandi_credentials"
    assert old.legacy and old.authenticator == "certbot-plugin-gandi:dns"
    assert old.credentials_key == "certbot_plugin_gandi:dns_credentials"
    assert set(old.legacy_keys) == {"certbot_plugin_gandi:dns_credentials", "certbot_plugin_gandi:dns_propagation_seconds"}
    assert old.renew_before_expiry == "20 days" and new.renew_before_expiry is None
    assert new.certificate is not None and new.certificate.lifetime == dt.timedelta(days=90)
    assert new.autorenew


def test_broken_files_are_reported_only_when_they_are_gandi_ones(tmp_path: Path) -> None:
    (tmp_path / "renewal").mkdir()
    (tmp_path / "renewal" / "a.conf").write_text("[renewalparams\nauthenticator = dns-gandi\n")
    (tmp_path / "renewal" / "b.conf").write_text("[renewalparams\nauthenticator = webroot\n")
    found, broken = lineages.find(str(tmp_path))
    assert found == [] and [b.conf for b in broken] == [str(tmp_path / "renewal" / "a.conf")]
    assert "cannot be parsed" in broken[0].problem


def test_missing_directory_and_missing_certificate(tmp_path: Path) -> None:
    with pytest.raises(lineages.LineageError, match="does not exist.*--config-dir"):
        lineages.find(str(tmp_path / "nope"))
    write_lineage(tmp_path, "x.example.com", tmp_path / "g.ini")
    (tmp_path / "live" / "x.example.com" / "cert.pem").unlink()
    (lineage,), _ = lineages.find(str(tmp_path))
    assert lineage.certificate is None and "cert.pem cannot be read" in (lineage.certificate_problem or "")


def test_autorenew_off_and_linked_credentials(tmp_path: Path) -> None:
    real = tmp_path / "real.ini"
    real.write_text("dns_gandi_token = x\n")
    link = tmp_path / "link.ini"
    link.symlink_to(real)
    write_lineage(tmp_path, "a.example.com", link, extra="autorenew = False\n")
    found, _ = lineages.find(str(tmp_path))
    assert not found[0].autorenew
    assert lineages.using(found, str(real)) == found and lineages.using(found, str(tmp_path / "other")) == []


@pytest.mark.parametrize("text,days", [
    ("30 days", 30), ("30", 30), ("2 weeks", 14), ("1 week 2 days", 9), ("1 month", 30),
    ("36 hours", 1.5), ("1 day, 12 hours", 1.5), ("1 year", 365),
])
def test_parse_interval(text: str, days: float) -> None:
    assert lineages.parse_interval(text) == dt.timedelta(days=days)


@pytest.mark.parametrize("text", ["", "soon", "30 fortnights", "days 30", "-3 days"])
def test_parse_interval_refuses(text: str) -> None:
    assert lineages.parse_interval(text) is None


def _lineage(tmp_path: Path, days: int, before: Optional[str] = None) -> lineages.Lineage:
    write_lineage(tmp_path, "s.example.com", tmp_path / "g.ini", not_before=NOW, days=days,
                  renew_before_expiry=before)
    return lineages.find(str(tmp_path))[0][0]


def test_schedule_follows_the_installed_certbot(tmp_path: Path) -> None:
    lineage = _lineage(tmp_path, 90)
    new = lineages.schedule(lineage, (4, 0, 0))
    assert new is not None and new.first == NOW + dt.timedelta(days=60) and new.period == dt.timedelta(days=60)
    old = lineages.schedule(lineage, (1, 21, 0))
    assert old is not None and old.first == NOW + dt.timedelta(days=60) and "30 days" in old.rule
    assert lineages.schedule(lineage) is not None


def test_schedule_for_a_45_day_and_a_6_day_certificate(tmp_path: Path) -> None:
    plan = lineages.schedule(_lineage(tmp_path / "a", 45), (5, 0))
    assert plan is not None and plan.first == NOW + dt.timedelta(days=30)
    old = lineages.schedule(_lineage(tmp_path / "a", 45), (2, 0))
    assert old is not None and old.first == NOW + dt.timedelta(days=15)
    short = lineages.schedule(_lineage(tmp_path / "b", 6), (5, 0))
    assert short is not None and short.first == NOW + dt.timedelta(days=3) and "half" in short.rule


def test_renew_before_expiry_wins(tmp_path: Path) -> None:
    plan = lineages.schedule(_lineage(tmp_path, 90, "2 weeks"), (5, 0))
    assert plan is not None and plan.first == NOW + dt.timedelta(days=76) and plan.period == dt.timedelta(days=76)
    assert plan.rule == "renew_before_expiry = 2 weeks"


def test_renewals_and_the_last_safe_day() -> None:
    plan = lineages.Schedule(NOW + dt.timedelta(days=30), dt.timedelta(days=60), "test")
    renewals = plan.renewals(NOW)
    assert [next(renewals) for _ in range(3)] == [NOW + dt.timedelta(days=d) for d in (30, 90, 150)]
    # a token expiring on day 100 breaks the renewal of day 150, but must be replaced before it expires
    assert plan.first_failing(NOW + dt.timedelta(days=100), NOW) == NOW + dt.timedelta(days=150)
    assert lineages.last_safe_day([plan], NOW + dt.timedelta(days=100), NOW) == (NOW + dt.timedelta(days=99)).date()
    # certbot renews at its first run after the due time: a token must outlast it by two days
    assert plan.first_failing(NOW + dt.timedelta(days=91), NOW) == NOW + dt.timedelta(days=90)
    assert lineages.last_safe_day([plan], NOW + dt.timedelta(days=91), NOW) == (NOW + dt.timedelta(days=89)).date()
    assert plan.first_failing(NOW + dt.timedelta(days=92, seconds=1), NOW) == NOW + dt.timedelta(days=150)
    # expiring before the next renewal: the day before it expires
    assert lineages.last_safe_day([plan], NOW + dt.timedelta(days=10), NOW) == (NOW + dt.timedelta(days=9)).date()
    other = lineages.Schedule(NOW + dt.timedelta(days=5), dt.timedelta(days=60), "other")
    # a renewal due within two days of the expiry comes first
    assert lineages.last_safe_day([plan, other], NOW + dt.timedelta(days=186), NOW) == (NOW + dt.timedelta(days=184)).date()
    # already expired: what is left to save is the next renewal; never a day in the past
    assert lineages.last_safe_day([plan], NOW - dt.timedelta(days=5), NOW) == (NOW + dt.timedelta(days=29)).date()
    assert lineages.last_safe_day([plan], NOW + dt.timedelta(hours=12), NOW) == NOW.date()
    # overdue renewals happen at the next run
    due = lineages.Schedule(NOW - dt.timedelta(days=3), dt.timedelta(days=60), "due")
    assert next(due.renewals(NOW)) == NOW
    assert lineages.last_safe_day([due], NOW + dt.timedelta(days=1), NOW) == NOW.date()
    assert lineages.last_safe_day([], NOW + dt.timedelta(days=10), NOW) == (NOW + dt.timedelta(days=9)).date()


def test_how_an_expiry_stands_to_a_renewal() -> None:
    due = NOW + dt.timedelta(days=30)
    assert lineages.against(due - dt.timedelta(seconds=1), due) == "before"
    assert lineages.against(due + dt.timedelta(days=1), due) == "less than two days after"


# ------------------------------------------------------------------ inifile

def test_edits_touch_only_the_key_or_the_value() -> None:
    text = ("# a comment\r\n[renewalparams]\r\nauthenticator=certbot-plugin-gandi:dns   # old\r\n"
            "  certbot_plugin_gandi:dns_credentials  =  /etc/x.ini\r\nother = 1\r\n")
    doc = inifile.Document(text, "t.conf")
    (auth,) = doc.find("authenticator", "renewalparams")
    (cred,) = doc.find("certbot_plugin_gandi:dns_credentials", "renewalparams")
    doc.set_value(auth, "dns-gandi")
    doc.rename(cred, "dns_gandi_credentials")
    assert doc.text() == ("# a comment\r\n[renewalparams]\r\nauthenticator=dns-gandi   # old\r\n"
                          "  dns_gandi_credentials  =  /etc/x.ini\r\nother = 1\r\n")
    inifile.verify(doc.text(), "t.conf", {"renewalparams": {
        "authenticator": "dns-gandi", "dns_gandi_credentials": "/etc/x.ini", "other": "1"}})
    with pytest.raises(inifile.EditError, match="would not give the intended result"):
        inifile.verify(doc.text(), "t.conf", {"renewalparams": {"authenticator": "x"}})


def test_a_value_cut_by_a_hash_is_replaced_whole() -> None:
    doc = inifile.Document("dns_gandi_token = abc#def  # note\nlast = 1", "g.ini")
    (entry,) = doc.find("dns_gandi_token")
    doc.set_value(entry, "NEW", key="dns_gandi_token")
    assert doc.text() == "dns_gandi_token = NEW  # note\nlast = 1"
    assert doc.keys() == ["dns_gandi_token", "last"]


def test_not_utf8_and_unparseable() -> None:
    with pytest.raises(inifile.EditError, match="not UTF-8"):
        inifile.Document.from_bytes(b"k = \xff\n", "x.ini")
    with pytest.raises(inifile.EditError, match="cannot be parsed"):
        inifile.parse("a = 1\na = 2\n", "x.ini")


# -------------------------------------------------------------------- files

def test_atomic_write_keeps_mode_and_owner(tmp_path: Path) -> None:
    path = tmp_path / "g.ini"
    path.write_text("old\n")
    path.chmod(0o640)
    if os.geteuid() == 0:
        os.chown(path, 1234, 5678)
    files.atomic_write(str(path), b"new\n")
    info = path.stat()
    assert path.read_text() == "new\n" and stat.S_IMODE(info.st_mode) == 0o640
    if os.geteuid() == 0:
        assert (info.st_uid, info.st_gid) == (1234, 5678)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.ini"]


def test_a_crash_before_the_rename_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "g.ini"
    path.write_text("old\n")

    def crash(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", crash)
    with pytest.raises(OSError):
        files.atomic_write(str(path), b"new\n")
    assert path.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["g.ini"]


def test_a_link_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real.ini"
    real.write_text("old\n")
    link = tmp_path / "link.ini"
    link.symlink_to(real)
    saved = files.backup(str(link), secret=True)
    files.atomic_write(str(link), b"new\n")
    assert link.is_symlink() and real.read_text() == "new\n"
    assert saved.startswith(str(real) + ".bak-") and Path(saved).read_text() == "old\n"


def test_backups_are_never_wider_than_the_original(tmp_path: Path) -> None:
    path = tmp_path / "x.conf"
    path.write_bytes(b"\x00a\r\nb")
    path.chmod(0o644)
    when = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    first = files.backup(str(path), secret=False, now=when)
    second = files.backup(str(path), secret=True, now=when)
    assert first == f"{path}.bak-20250102T030405Z" and second == f"{first}-2"
    assert Path(first).read_bytes() == b"\x00a\r\nb"
    assert stat.S_IMODE(Path(first).stat().st_mode) == 0o644
    assert stat.S_IMODE(Path(second).stat().st_mode) == 0o600
    path.chmod(0o400)
    assert stat.S_IMODE(Path(files.backup(str(path), secret=True)).stat().st_mode) == 0o400


HOLD = textwrap.dedent("""
    import sys
    from certbot._internal import lock
    held = lock.lock_dir(sys.argv[1])
    print("locked", flush=True)
    sys.stdin.read()
""")


def hold_certbot_lock(directory: Path) -> subprocess.Popen[str]:
    """certbot's own lock code, holding the lock in another process until stdin closes."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(directory)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    return proc


def release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(10)


def test_certbot_lock_is_refused_while_certbot_holds_it(tmp_path: Path) -> None:
    proc = hold_certbot_lock(tmp_path)
    try:
        assert files.certbot_running(str(tmp_path))
        with pytest.raises(files.CertbotRunning, match="certbot is running"), files.certbot_lock(str(tmp_path)):
            pass
    finally:
        release(proc)
    assert not files.certbot_running(str(tmp_path))
    with files.certbot_lock(str(tmp_path)):
        assert (tmp_path / ".certbot.lock").exists()
    assert not (tmp_path / ".certbot.lock").exists()


def test_certbot_waits_for_our_lock(tmp_path: Path) -> None:
    with files.certbot_lock(str(tmp_path)):
        probe = subprocess.run(
            [sys.executable, "-c", "import sys\nfrom certbot._internal import lock\nfrom certbot import errors\n"
             "try:\n    lock.lock_dir(sys.argv[1])\nexcept errors.LockError as e:\n    print(e)\n", str(tmp_path)],
            capture_output=True, text=True, check=True, timeout=30)
    assert "Another instance of Certbot is already running" in probe.stdout


def test_probing_changes_nothing(tmp_path: Path) -> None:
    before = tmp_path.stat().st_mtime_ns
    assert not files.certbot_running(str(tmp_path))
    assert list(tmp_path.iterdir()) == [] and tmp_path.stat().st_mtime_ns == before
    with files.certbot_lock(str(tmp_path / "missing")):
        pass
