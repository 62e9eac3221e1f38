"""The crash journal: written before the writes, stale only when nobody holds its lock,
acted on only when everything in it is something the plugin writes."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from certbot_dns_gandi_pat._internal import journal, records
from certbot_dns_gandi_pat._internal.records import ChallengeRecords
from tests.helpers import client_for
from teststack.standin import StandIn

# Values shaped as ACME writes them (43 characters of base64url), and names that are not.
V1, V2, V3 = "A" * 43, "b" * 42 + "_", "-" * 43
CREDS = "/etc/g.ini"




def record(zone: str, name: str, *values: str, validation: str = "") -> dict[str, Any]:
    fqdn = zone if name == "@" else f"{name}.{zone}"
    return {"zone": zone, "name": name, "values": list(values), "validations": [validation or fqdn]}


def write_journal(directory: Path, name: str, api_url: str, records_: list[dict[str, Any]], **extra: Any) -> Path:
    """A journal as a run that is gone left it: no lock held."""
    directory.mkdir(mode=0o700, exist_ok=True)
    data = {"version": 2, "pid": 4242, "host": "elsewhere", "credentials": CREDS, "api_url": api_url,
            "created": "2026-11-01T03:00:00+00:00", "records": records_, **extra}
    path = directory / name
    path.write_text(json.dumps(data))
    return path


def recover(standin: StandIn, directory: Path, **kw: Any) -> None:
    records.recover(client_for(standin), str(directory), CREDS, **kw)


# ------------------------------------------------------------------ writing

def test_the_journal_holds_the_values_before_the_write_and_goes_when_they_are_gone(
        standin: StandIn, tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    seen: list[dict[str, Any]] = []
    original = standin.handle

    def spy(method: str, *args: Any) -> Any:
        if method == "POST":
            (path,) = list(directory.glob("*.json"))
            seen.append(json.loads(path.read_text()))
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        return original(method, *args)

    standin.handle = spy  # type: ignore[method-assign]
    recs = ChallengeRecords(client_for(standin), journal=journal.Journal(str(directory), CREDS, standin.api_url))
    recs.add([("_acme-challenge.example.com", V1), ("_acme-challenge.example.com", V2)])
    assert seen and seen[0]["records"] == [record("example.com", "_acme-challenge", V1, V2)]
    assert seen[0]["pid"] == os.getpid() and seen[0]["credentials"] == CREDS and seen[0]["version"] == 2
    assert recs.remove_all() == []
    assert list(directory.iterdir()) == []  # journal and lock both gone


def test_a_cname_target_is_journalled_with_the_name_that_led_there(standin: StandIn, tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    target = {"_acme-challenge.example.org": "_acme-challenge.example.com"}
    recs = ChallengeRecords(client_for(standin), resolve_target=lambda n: target.get(n, n),
                            journal=journal.Journal(str(directory), CREDS, standin.api_url))
    recs.add([("_acme-challenge.example.org", V1)])
    (path,) = directory.glob("*.json")
    assert json.loads(path.read_text())["records"] == [
        record("example.com", "_acme-challenge", V1, validation="_acme-challenge.example.org")]
    recs.remove_all()


def test_values_that_could_not_be_removed_stay_in_the_journal(standin: StandIn, tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    recs = ChallengeRecords(client_for(standin), journal=journal.Journal(str(directory), CREDS, standin.api_url))
    recs.add([("_acme-challenge.a.example.com", V1), ("_acme-challenge.b.example.com", V2)])
    standin.add_fault(method="PATCH", path=r".*_acme-challenge\.b/TXT", status=403, times=-1)
    assert len(recs.remove_all()) == 1
    (path,) = directory.glob("*.json")
    assert json.loads(path.read_text())["records"] == [record("example.com", "_acme-challenge.b", V2)]


def test_a_loose_directory_of_ours_is_tightened(standin: StandIn, tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    directory.mkdir()
    directory.chmod(0o777)
    recs = ChallengeRecords(client_for(standin), journal=journal.Journal(str(directory), CREDS, standin.api_url))
    recs.add([("_acme-challenge.example.com", V1)])
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    recs.remove_all()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user takes root")
def test_a_directory_of_another_user_is_not_used(standin: StandIn, tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    directory = tmp_path / "journal"
    directory.mkdir(mode=0o777)
    os.chown(directory, 4321, 4321)
    recs = ChallengeRecords(client_for(standin), journal=journal.Journal(str(directory), CREDS, standin.api_url))
    recs.add([("_acme-challenge.example.com", V1)])
    assert list(directory.iterdir()) == []
    assert any(f"{directory} belongs to uid 4321, not to this user: not used for crash journals" in m
               for m in caplog.messages)
    assert recs.remove_all() == [] and standin.challenge_records() == {}
    stale, problems = journal.find_stale(str(directory))
    assert stale == [] and problems == [f"{directory} belongs to uid 4321, not to this user: not used for crash "
                                        "journals; remove it, or run certbot as its owner"]


# ----------------------------------------------------------------- recovery

def test_a_dead_runs_values_are_removed_and_nothing_else(standin: StandIn, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    directory = tmp_path / "journal"
    standin.set_txt("example.com", "_acme-challenge", ["google-site-verification=abc", V1, V2])
    standin.set_txt("example.org", "_acme-challenge.www", [V3])
    path = write_journal(directory, "1-aa.json", standin.api_url, [
        record("example.com", "_acme-challenge", V1, V2), record("example.org", "_acme-challenge.www", V3)])
    recover(standin, directory)
    assert standin.challenge_records() == {"_acme-challenge.example.com": ["google-site-verification=abc"]}
    assert not path.exists()
    removed = [m for m in caplog.messages if "left by an interrupted run" in m]
    assert len(removed) == 2 and "Removed 2 TXT value(s) at _acme-challenge.example.com" in removed[0]


HOLD = """
import sys, time
sys.path.insert(0, sys.argv[2])
from certbot_dns_gandi_pat._internal import journal
j = journal.Journal(sys.argv[1], "/etc/g.ini", "http://x")
j.save([journal.Entry("example.com", "_acme-challenge", ("A" * 43,), ("_acme-challenge.example.com",))])
print("saved", flush=True)
time.sleep(600)
"""


def test_the_lock_tells_a_live_run_from_a_dead_one(tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(directory), str(Path(__file__).parents[2])],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "saved\n"
    try:
        assert journal.find_stale(str(directory)) == ([], [])  # alive, whatever its pid or host
    finally:
        proc.kill()
        proc.wait()
    (stale,), problems = journal.find_stale(str(directory))
    assert problems == [] and stale.pid == proc.pid
    journal.release(stale)
    # this process's own journal, of an earlier lineage of `certbot renew`, is alive too
    own = journal.Journal(str(directory), CREDS, "http://x")
    own.save([journal.Entry("example.org", "_acme-challenge", (V1,), ("_acme-challenge.example.org",))])
    assert [s.pid for s in journal.find_stale(str(directory))[0]] == [proc.pid]
    own.close()


def test_a_lock_on_descriptor_0_is_held_and_let_go_like_any_other(tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    write_journal(directory, "1-forged.json", "http://x", [record("example.com", "@", "v=spf1 -all")])
    write_journal(directory, "2-dead.json", "http://x", [record("example.com", "_acme-challenge", V1)])
    locks = [directory / "1-forged.lock", directory / "2-dead.lock"]
    for lock in locks:
        lock.write_text("")
    # As a daemon may start us, with standard input closed: the next file opened gets descriptor 0.
    saved = os.dup(0)
    os.close(0)
    try:
        found, problems = journal.find_stale(str(directory))
        holder = os.readlink("/proc/self/fd/0")
        for stale in found:
            journal.release(stale)
        free = []  # looked at before descriptor 0 is restored, which would close whatever it holds
        for lock in locks:
            fd = os.open(lock, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                free.append(lock)
            except OSError:
                pass
            finally:
                os.close(fd)
    finally:
        os.dup2(saved, 0)
        os.close(saved)
    assert [s.path for s in found] == [str(directory / "2-dead.json")] and len(problems) == 1
    # the refused journal's lock went back, so the dead run's was taken on descriptor 0 ...
    assert holder == str(locks[1])
    # ... and releasing it let it go: both locks are free again
    assert free == locks


FORGED = [
    ("the zone's SPF at the apex", record("example.com", "@", "v=spf1 include:_mailcust.gandi.net ~all")),
    ("a DKIM key", record("example.com", "gm1._domainkey", "v=DKIM1; k=rsa; p=MIGfMA0")),
    ("an ACME-shaped value at the apex", record("example.com", "@", V1)),
    ("an ACME-shaped value at another name", record("example.com", "www", V1)),
    ("a 'delegation' from a name that is no challenge", record("example.com", "@", V1, validation="www.example.org")),
]


@pytest.mark.parametrize("what,entry", FORGED, ids=[w for w, _ in FORGED])
def test_a_forged_journal_never_touches_the_zone(standin: StandIn, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                 what: str, entry: dict[str, Any]) -> None:
    directory = tmp_path / "journal"
    standin.set_txt("example.com", "@", ["v=spf1 include:_mailcust.gandi.net ~all", V1])
    standin.set_txt("example.com", "gm1._domainkey", ["v=DKIM1; k=rsa; p=MIGfMA0"])
    standin.set_txt("example.com", "www", [V1])
    standin.set_txt("example.com", "_acme-challenge", [V2])
    path = write_journal(directory, "1-forged.json", standin.api_url,
                         [record("example.com", "_acme-challenge", V2), entry])
    before = path.read_bytes()
    log = len(standin.log)
    recover(standin, directory)
    assert [m for m, _, _ in standin.log[log:] if m != "GET"] == []  # no write of any kind
    assert standin.txt("example.com", "_acme-challenge") == [V2]  # not even the entry that looked right
    assert path.read_bytes() == before
    (problem,) = [m for m in caplog.messages if "Journal of an earlier run" in m]
    assert problem.startswith(f"Journal of an earlier run {path}: ") and problem.endswith(
        "; left alone, nothing in the zone was touched")


def test_a_delegation_is_believed_only_while_dns_says_so(standin: StandIn, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    directory = tmp_path / "journal"
    standin.set_txt("example.com", "acme", [V1])
    rec = [record("example.com", "acme", V1, validation="_acme-challenge.example.org")]
    path = write_journal(directory, "1-cname.json", standin.api_url, rec)
    recover(standin, directory)  # no DNS answer: the CNAME cannot be confirmed
    assert standin.txt("example.com", "acme") == [V1] and path.exists()
    assert any("_acme-challenge.example.org no longer points to acme.example.com by CNAME" in m
               for m in caplog.messages)
    recover(standin, directory, resolve_target={"_acme-challenge.example.org": "acme.example.com"}.get)
    assert standin.txt("example.com", "acme") is None and not path.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user takes root")
def test_a_journal_of_another_user_is_ignored(standin: StandIn, tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    directory = tmp_path / "journal"
    standin.set_txt("example.com", "_acme-challenge", [V1])
    path = write_journal(directory, "1-theirs.json", standin.api_url, [record("example.com", "_acme-challenge", V1)])
    os.chown(path, 4321, 4321)
    recover(standin, directory)
    assert standin.txt("example.com", "_acme-challenge") == [V1] and path.exists()
    assert any("belongs to uid 4321, not to this user" in m for m in caplog.messages)


def test_journals_that_are_not_a_dead_runs_of_these_credentials_are_left_alone(
        standin: StandIn, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    directory = tmp_path / "journal"
    standin.set_txt("example.com", "_acme-challenge", [V1])
    rec = [record("example.com", "_acme-challenge", V1)]
    others = write_journal(directory, "2-bb.json", standin.api_url, rec, credentials="/etc/other.ini")
    broken = directory / "4-dd.json"
    broken.write_text('{"version": 2, "pid": 12')
    partial = write_journal(directory, "5-ee.json", standin.api_url, [rec[0], {"zone": "example.com"}])
    old = write_journal(directory, "6-v1.json", standin.api_url, [{"zone": "example.com", "name": "_acme-challenge",
                                                                   "values": [V1]}], version=1)
    odd_types = write_journal(directory, "7-types.json", standin.api_url, [{**rec[0], "values": V1}])
    # pids that name no single process (0 and negatives are process groups to kill()), or none at all
    odd = [write_journal(directory, f"8-{i}.json", standin.api_url, rec, pid=pid)
           for i, pid in enumerate((2**70, 0, -1, True))]
    deep = directory / "9-deep.json"
    deep.write_text("[" * 100000 + "]" * 100000)
    fifo = directory / "9-fifo.json"
    os.mkfifo(fifo)  # must not hang the run
    link = directory / "9-link.json"
    link.symlink_to(others)
    before = {p: p.read_bytes() for p in (others, broken, partial, old, odd_types, *odd, deep)}
    recover(standin, directory)
    assert standin.txt("example.com", "_acme-challenge") == [V1]
    assert {p: p.read_bytes() for p in before} == before
    problems = [m for m in caplog.messages if "Journal of an earlier run" in m]
    assert len(problems) == 11, problems
    assert all(any(str(path) in m for m in problems) for path in (broken, partial, old, odd_types, *odd, deep,
                                                                    fifo, link))
    assert any(f"{old}: written by another version of the plugin (format 1)" in m for m in problems)


def test_a_run_killed_moments_ago_is_looked_at_again_before_its_journal_goes(standin: StandIn,
                                                                              tmp_path: Path) -> None:
    """Nothing there yet may mean a write still landing: the journal waits for a write's time bound."""
    directory = tmp_path / "journal"
    rec = [record("example.com", "_acme-challenge.late", V1)]
    path = write_journal(directory, "1-late.json", standin.api_url, rec)
    recover(standin, directory)
    assert path.exists()
    standin.set_txt("example.com", "_acme-challenge.late", [V1])  # the write landed after all
    recover(standin, directory)
    assert not path.exists() and standin.challenge_records() == {}
    path = write_journal(directory, "2-old.json", standin.api_url, rec)
    os.utime(path, (0, 0))  # written long ago: nothing there means nothing left
    recover(standin, directory)
    assert not path.exists()


def test_a_partly_recovered_journal_keeps_exactly_what_is_left(standin: StandIn, tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    standin.set_txt("example.com", "_acme-challenge", [V1])
    standin.set_txt("example.org", "_acme-challenge", [V2])
    path = write_journal(directory, "3-part.json", standin.api_url, [
        record("example.com", "_acme-challenge", V1), record("example.org", "_acme-challenge", V2)])
    standin.add_fault(method="PATCH", path=r"/domains/example\.org/.*", status=403, times=-1)
    recover(standin, directory)
    assert standin.txt("example.com", "_acme-challenge") is None
    assert standin.txt("example.org", "_acme-challenge") == [V2]
    assert json.loads(path.read_text())["records"] == [record("example.org", "_acme-challenge", V2)]
    standin.faults.clear()
    recover(standin, directory)
    assert not path.exists() and standin.challenge_records() == {}


def test_recovery_failures_keep_the_journal(standin: StandIn, tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    standin.set_txt("example.com", "_acme-challenge", [V1])
    path = write_journal(directory, "7-gg.json", standin.api_url, [record("example.com", "_acme-challenge", V1)])
    before = path.read_bytes()
    standin.add_fault(method="PATCH", status=403, times=-1)
    recover(standin, directory)
    assert path.read_bytes() == before and standin.txt("example.com", "_acme-challenge") == [V1]


def test_a_journal_that_cannot_be_written_does_not_stop_the_run(standin: StandIn, tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    log = journal.Journal(str(blocker / "j"), CREDS, standin.api_url)
    recs = ChallengeRecords(client_for(standin), journal=log)
    recs.add([("_acme-challenge.example.com", V1)])
    assert recs.remove_all() == [] and standin.challenge_records() == {}
    (said,) = [m for m in caplog.messages if "Cannot write the journal" in m]
    assert said == (f"Cannot write the journal {log.path} (Not a directory); a crash now would leave the "
                    "challenge values in the zone")


@pytest.fixture(autouse=True)
def _info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)


# ---------------------------------------- what the mutation tests found unpinned

def test_the_journal_says_who_wrote_it_and_when(standin: StandIn, tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    recs = ChallengeRecords(client_for(standin), journal=journal.Journal(str(directory), CREDS, standin.api_url))
    recs.add([("_acme-challenge.example.com", V1)])
    (path,) = directory.glob("*.json")
    (lock,) = directory.glob("*.lock")
    head = json.loads(path.read_text())
    assert (head["version"], head["pid"], head["host"]) == (2, os.getpid(), socket.gethostname())
    assert head["credentials"] == CREDS and head["api_url"] == standin.api_url
    assert head["created"].endswith("+00:00") and dt.datetime.fromisoformat(head["created"]) <= dt.datetime.now(
        dt.timezone.utc)
    assert lock.name == path.name.replace(".json", ".lock") and stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert recs.remove_all() == [] and list(directory.iterdir()) == []


def test_closing_twice_and_with_the_files_already_gone(tmp_path: Path) -> None:
    own = journal.Journal(str(tmp_path / "j"), CREDS, "http://x")
    own.save([journal.Entry("example.com", "_acme-challenge", (V1,), ("_acme-challenge.example.com",))])
    for name in (tmp_path / "j").iterdir():
        name.unlink()
    own.close()
    own.close()
    assert list((tmp_path / "j").iterdir()) == []


def test_a_lock_that_cannot_take_its_name_leaves_no_file_and_says_why(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(src: str, dst: str) -> None:
        raise PermissionError(13, "refused by the test", dst)

    unlink = os.unlink

    def unlink_then_fail(path: str) -> None:
        unlink(path)
        raise FileNotFoundError(2, "already gone", path)

    monkeypatch.setattr(os, "rename", refused)
    monkeypatch.setattr(os, "unlink", unlink_then_fail)
    with pytest.raises(PermissionError, match="refused by the test"):
        journal._new_lock(str(tmp_path / "run.lock"))
    assert list(tmp_path.iterdir()) == []


def test_recovery_creates_no_directory(tmp_path: Path) -> None:
    assert journal.find_stale(str(tmp_path / "none")) == ([], []) and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", [0o750, 0o705, 0o770, 0o670])
def test_a_loose_directory_is_tightened_by_recovery_too(tmp_path: Path, mode: int) -> None:
    directory = tmp_path / "journal"
    directory.mkdir()
    directory.chmod(mode)
    assert journal.find_stale(str(directory)) == ([], [])
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_a_link_in_place_of_the_directory_is_not_used(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "journal").symlink_to(tmp_path / "elsewhere")
    assert journal.find_stale(str(tmp_path / "journal")) == ([], [
        f"{tmp_path / 'journal'} is a link or a file, not a directory: not used for crash journals; remove it"])


def test_a_journal_whose_run_ends_while_recovery_looks_is_skipped(standin: StandIn, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "journal"
    standin.set_txt("example.com", "_acme-challenge", [V1])
    first = write_journal(directory, "1-ends.json", standin.api_url, [record("example.com", "_acme-challenge", V2)])
    (directory / "1-ends.lock").write_text("")
    second = write_journal(directory, "2-dead.json", standin.api_url, [record("example.com", "_acme-challenge", V1)])
    real_load = journal._load

    def ends(path: str) -> journal.Stale:
        if path == str(first):
            first.unlink()  # the run removed its journal after we took its (free) lock
        return real_load(path)

    monkeypatch.setattr(journal, "_load", ends)
    stale, problems = journal.find_stale(str(directory))
    assert [s.path for s in stale] == [str(second)] and problems == []
    journal.release(stale[0])
    # and the lock of the journal that went was let go: a live run may take it again
    fd = os.open(directory / "1-ends.lock", os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)


@pytest.mark.parametrize("pid,acted", [(1, True), (2**31 - 1, True), (2**31, False), (0, False)])
def test_the_pid_range(standin: StandIn, tmp_path: Path, pid: int, acted: bool) -> None:
    write_journal(tmp_path / "journal", "1-p.json", standin.api_url, [record("example.com", "_acme-challenge", V1)],
                  pid=pid)
    stale, problems = journal.find_stale(str(tmp_path / "journal"))
    assert (len(stale), len(problems)) == ((1, 0) if acted else (0, 1))
    for run in stale:
        journal.release(run)


GOOD = record("example.com", "_acme-challenge", V1)


@pytest.mark.parametrize("entry", [
    {**GOOD, "zone": 7}, {**GOOD, "name": ["x"]}, {**GOOD, "values": []}, {**GOOD, "values": [1]},
    {**GOOD, "values": V1}, {**GOOD, "validations": []}, {**GOOD, "validations": "_acme-challenge.example.com"},
    {**GOOD, "zone": "Example.COM"}, {**GOOD, "zone": "exa mple.com"}, {**GOOD, "name": "_acme-challenge."},
    {k: v for k, v in GOOD.items() if k != "validations"},
], ids=lambda e: str(e)[:60])
def test_an_entry_of_another_shape_makes_the_journal_unreadable(standin: StandIn, tmp_path: Path,
                                                               entry: dict[str, Any]) -> None:
    path = write_journal(tmp_path / "journal", "1-shape.json", standin.api_url, [GOOD, entry])
    assert journal.find_stale(str(tmp_path / "journal")) == ([], [
        f"{path}: cannot be read ({'KeyError' if 'validations' not in entry else 'TypeError'}); left alone: "
        "check the _acme-challenge TXT records it names by hand, then delete it"])


@pytest.mark.parametrize("head", [{"credentials": 1}, {"api_url": None}, {"created": 5}, {"records": {}}])
def test_a_head_of_another_shape_makes_the_journal_unreadable(standin: StandIn, tmp_path: Path,
                                                             head: dict[str, Any]) -> None:
    path = write_journal(tmp_path / "journal", "1-head.json", standin.api_url, [GOOD])
    path.write_text(json.dumps({**json.loads(path.read_text()), **head}))
    (problem,) = journal.find_stale(str(tmp_path / "journal"))[1]
    assert problem.startswith(f"{path}: cannot be read (TypeError); left alone")


@pytest.mark.parametrize("entry,why", [
    (record("example.com", "www", V1), "names www.example.com, which is no _acme-challenge name: check it, "
                                       "then delete it"),
    (record("_acme-challenge.example.com", "@", V1),  # a "zone" named like a challenge: its apex is no rrset of ours
     "names TXT _acme-challenge.example.com, which is no _acme-challenge name: check it, then delete it"),
    (record("example.com", "_acme-challenge", "v=spf1 -all"),
     "names TXT values at _acme-challenge.example.com that are not ACME challenge values, which is all the plugin "
     "writes: check it, then delete it"),
    (record("example.com", "acme", V1, validation="_acme-challenge.exa mple.org"),
     "names _acme-challenge.exa mple.org, which is no _acme-challenge name: check it, then delete it"),
    (record("example.com", "acme", V1, validation="www.example.org"),
     "names www.example.org, which is no _acme-challenge name: check it, then delete it"),
])
def test_what_a_forged_journal_is_told_by(standin: StandIn, tmp_path: Path, entry: dict[str, Any], why: str) -> None:
    path = write_journal(tmp_path / "journal", "1-forged.json", standin.api_url, [entry])
    assert journal.find_stale(str(tmp_path / "journal")) == ([], [
        f"{path}: {why}; left alone, nothing in the zone was touched"])


def test_the_messages_for_another_version_and_another_owner(standin: StandIn, tmp_path: Path) -> None:
    old = write_journal(tmp_path / "journal", "1-old.json", standin.api_url, [GOOD], version=1)
    listed = write_journal(tmp_path / "journal", "2-list.json", standin.api_url, [GOOD])
    listed.write_text("[1, 2]")
    assert journal.find_stale(str(tmp_path / "journal"))[1] == [
        f"{old}: written by another version of the plugin (format 1): check the _acme-challenge TXT records it "
        "names by hand, then delete it; left alone, nothing in the zone was touched",
        f"{listed}: written by another version of the plugin (format None): check the _acme-challenge TXT records "
        "it names by hand, then delete it; left alone, nothing in the zone was touched"]
    if os.geteuid() == 0:
        os.chown(old, 4321, 4321)
        assert journal.find_stale(str(tmp_path / "journal"))[1][0] == (
            f"{old}: belongs to uid 4321, not to this user (a journal is acted on only when this user wrote it); "
            "left alone, nothing in the zone was touched")


def test_recovery_says_which_run_left_the_values(standin: StandIn, tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    standin.set_txt("example.com", "_acme-challenge", [V1])
    write_journal(tmp_path / "journal", "1-said.json", standin.api_url, [GOOD])
    recover(standin, tmp_path / "journal")
    assert ("Removed 1 TXT value(s) at _acme-challenge.example.com left by an interrupted run (pid 4242, "
            "2026-11-01T03:00:00+00:00)") in caplog.messages


def test_a_journal_rewritten_after_a_partial_recovery_stays_owner_only(standin: StandIn, tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    standin.set_txt("example.org", "_acme-challenge", [V2])
    path = write_journal(directory, "3-mode.json", standin.api_url, [
        record("example.com", "_acme-challenge", V1), record("example.org", "_acme-challenge", V2)])
    path.chmod(0o644)
    os.utime(path, (0, 0))  # long ago: what is not there any more is not kept
    standin.add_fault(method="PATCH", path=r"/domains/example\.org/.*", status=403, times=-1)
    recover(standin, directory)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(json.loads(path.read_text())["records"]) == 1


def test_discarding_a_journal_someone_already_removed(tmp_path: Path) -> None:
    path = write_journal(tmp_path / "journal", "1-gone.json", "http://x", [GOOD])
    (stale,), _ = journal.find_stale(str(tmp_path / "journal"))
    path.unlink()
    journal.discard(stale, [])
    assert list((tmp_path / "journal").iterdir()) == []


def test_one_journal_left_alone_does_not_stop_the_others(standin: StandIn, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    directory = tmp_path / "journal"
    standin.set_txt("example.com", "_acme-challenge", [V1])
    standin.set_txt("example.org", "_acme-challenge", [V2])
    theirs = write_journal(directory, "1-other.json", standin.api_url, [GOOD], credentials="/etc/other.ini")
    moved = write_journal(directory, "2-moved.json", standin.api_url,
                          [record("example.net", "acme", V3, validation="_acme-challenge.example.org")])
    ours = write_journal(directory, "3-ours.json", standin.api_url, [record("example.org", "_acme-challenge", V2)])
    os.utime(ours, (0, 0))
    recover(standin, directory)
    assert standin.txt("example.org", "_acme-challenge") is None and not ours.exists()
    assert theirs.exists() and moved.exists() and standin.txt("example.com", "_acme-challenge") == [V1]
    assert f"Journal {theirs} belongs to other credentials; left for a run that uses them" in caplog.messages
    assert (f"Journal of an earlier run {moved}: _acme-challenge.example.org no longer points to acme.example.net "
            "by CNAME; left alone, nothing in the zone was touched: check that TXT record by hand, then delete the "
            "journal") in caplog.messages


def test_what_recovery_says_when_nothing_is_there_yet_or_it_cannot_remove(
        standin: StandIn, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    directory = tmp_path / "journal"
    standin.set_txt("example.org", "_acme-challenge", [V2])
    write_journal(directory, "1-said.json", standin.api_url, [
        record("example.com", "_acme-challenge.late", V1), record("example.org", "_acme-challenge", V2)])
    standin.add_fault(method="PATCH", path=r"/domains/example\.org/.*", status=403, times=-1)
    recover(standin, directory)
    assert ("No TXT values yet at _acme-challenge.late.example.com from an interrupted run (pid 4242); looking "
            "again at the next run") in caplog.messages
    (failed,) = [m for m in caplog.messages if m.startswith("Could not yet remove")]
    assert failed.startswith("Could not yet remove TXT values at _acme-challenge.example.org left by an interrupted "
                             "run (pid 4242): removing from TXT _acme-challenge.example.org: HTTP 403")
    assert "\n" not in failed  # the headline, not the advice


def test_a_planted_link_never_becomes_the_lock(standin: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """Another user's link at the name the lock is created under, or in place of a lock: never followed."""
    directory = tmp_path / "journal"
    directory.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    monkeypatch.setattr(journal.secrets, "token_hex", lambda n: "beef")
    (directory / f"{os.getpid()}-beef.lock.beef.tmp").symlink_to(victim)
    recs = ChallengeRecords(client_for(standin), journal=journal.Journal(str(directory), CREDS, standin.api_url))
    recs.add([("_acme-challenge.example.com", V1)])
    assert victim.read_text() == "keep me" and sum("Cannot write the journal" in m for m in caplog.messages) == 1
    assert recs.remove_all() == []
    # a journal whose lock is a link is left alone, and recovery goes on
    standin.set_txt("example.com", "_acme-challenge", [V1])
    write_journal(directory, "7-linked.json", standin.api_url, [GOOD])
    (directory / "7-linked.lock").symlink_to(victim)
    assert journal.find_stale(str(directory)) == ([], [])
    recover(standin, directory)
    assert standin.txt("example.com", "_acme-challenge") == [V1]


def test_a_lock_that_cannot_be_put_in_place_leaves_nothing_behind(standin: StandIn, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    directory = tmp_path / "journal"

    def no_rename(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal.os, "rename", no_rename)
    recs = ChallengeRecords(client_for(standin), journal=journal.Journal(str(directory), CREDS, standin.api_url))
    recs.add([("_acme-challenge.example.com", V1)])
    assert list(directory.iterdir()) == []
    assert any("Cannot write the journal" in m and "No space left on device" in m for m in caplog.messages)
    assert recs.remove_all() == [] and standin.challenge_records() == {}


def test_discarding_after_someone_removed_the_lock_file_too(tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    write_journal(directory, "1-both.json", "http://x", [GOOD])
    (directory / "1-both.lock").write_text("")
    (stale,), _ = journal.find_stale(str(directory))
    (directory / "1-both.lock").unlink()
    journal.discard(stale, [])
    assert list(directory.iterdir()) == []
