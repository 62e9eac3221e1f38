"""Reading certbot's lineages and working out their renewal dates."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Optional

import pytest

from certbot_dns_gandi_pat._internal.certbot_files import lineages
from tests.helpers import write_lineage

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


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


def _lineage(tmp_path: Path, days: int, before: Optional[str] = None) -> lineages.Lineage:
    write_lineage(tmp_path, "s.example.com", tmp_path / "g.ini", not_before=NOW, days=days,
                  renew_before_expiry=before)
    return lineages.find(str(tmp_path))[0][0]


def test_schedule_follows_the_installed_certbot(tmp_path: Path) -> None:
    lineage = _lineage(tmp_path, 90)
    new = lineages.schedule(lineage, (4, 1, 0))
    assert new is not None and new.first == NOW + dt.timedelta(days=60) and "third" in new.rule
    assert list(itertools.islice(new.renewals(NOW), 3)) == [NOW + dt.timedelta(days=d) for d in (60, 120, 180)]
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
    assert plan is not None and plan.first == NOW + dt.timedelta(days=76)
    assert list(itertools.islice(plan.renewals(NOW), 2)) == [NOW + dt.timedelta(days=76), NOW + dt.timedelta(days=152)]
    assert plan.rule == "renew_before_expiry = 2 weeks"


def every(days: int) -> lineages.Due:
    """A rule that renews ``days`` after the certificate's start."""
    return lambda not_before, not_after: not_before + dt.timedelta(days=days)


def test_renewals_and_the_last_safe_day() -> None:
    plan = lineages.Schedule(NOW + dt.timedelta(days=30), dt.timedelta(days=90), "test", every(60))
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
    other = lineages.Schedule(NOW + dt.timedelta(days=5), dt.timedelta(days=90), "other", every(60))
    # a renewal due within two days of the expiry comes first
    assert lineages.last_safe_day([plan, other], NOW + dt.timedelta(days=186), NOW) == (NOW + dt.timedelta(days=184)).date()
    # already expired: what is left to save is the next renewal; never a day in the past
    assert lineages.last_safe_day([plan], NOW - dt.timedelta(days=5), NOW) == (NOW + dt.timedelta(days=29)).date()
    assert lineages.last_safe_day([plan], NOW + dt.timedelta(hours=12), NOW) == NOW.date()
    # overdue renewals happen at the next run
    due = lineages.Schedule(NOW - dt.timedelta(days=3), dt.timedelta(days=90), "due", every(60))
    assert next(due.renewals(NOW)) == NOW
    assert lineages.last_safe_day([due], NOW + dt.timedelta(days=1), NOW) == NOW.date()
    assert lineages.last_safe_day([], NOW + dt.timedelta(days=10), NOW) == (NOW + dt.timedelta(days=9)).date()


def test_how_an_expiry_stands_to_a_renewal() -> None:
    due = NOW + dt.timedelta(days=30)
    assert lineages.against(due - dt.timedelta(seconds=1), due) == "before"
    assert lineages.against(due + dt.timedelta(days=1), due) == "less than two days after"




# ------------------------------------------- certbot's own reading of intervals

def certbot_renews(not_after: dt.datetime, text: str, at: dt.datetime) -> bool:
    """certbot's own test, as its renewal code makes it (renew_before_expiry set)."""
    from certbot._internal import storage

    return not_after < storage.add_time_interval(at, text)


@pytest.mark.parametrize("text", [
    "30 days", "30", "2 weeks 3 days", "1 month", "3 months", "1 year", "36 hours", "1 m",
    "1 mon",  # certbot's parser reads "mon" as Monday: about six days, not a month
    "10d", "1 w",
])
def test_the_due_date_is_where_certbots_own_test_turns(tmp_path: Path, text: str) -> None:
    lineage = _lineage(tmp_path, 200, text)
    plan = lineages.schedule(lineage, (5, 0), NOW)
    assert plan is not None and lineage.certificate is not None
    not_after = lineage.certificate.not_after
    assert not plan.after_expiry and plan.rule == f"renew_before_expiry = {text}"
    assert certbot_renews(not_after, text, plan.first + dt.timedelta(seconds=1))
    assert not certbot_renews(not_after, text, plan.first - dt.timedelta(minutes=1))


def test_mon_is_six_days_as_certbot_reads_it(tmp_path: Path) -> None:
    lineage = _lineage(tmp_path, 90, "1 mon")
    plan = lineages.schedule(lineage, (5, 0), NOW)
    assert plan is not None and lineage.certificate is not None
    assert lineage.certificate.not_after - plan.first < dt.timedelta(days=8)


@pytest.mark.parametrize("text", ["soon", "99999999 days", "1e3 days", "0", "-5 days", "5 days ago"])
def test_what_certbot_reads_as_nothing_renews_only_after_expiry(tmp_path: Path, text: str) -> None:
    lineage = _lineage(tmp_path, 90, text)
    plan = lineages.schedule(lineage, (5, 0), NOW)
    assert plan is not None and lineage.certificate is not None
    assert plan.after_expiry and plan.first >= lineage.certificate.not_after
    assert not certbot_renews(lineage.certificate.not_after, text, NOW + dt.timedelta(days=89))
    # certbot 4.0 also applies its lifetime rule: that one still renews in time
    old = lineages.schedule(lineage, (4, 0, 0), NOW)
    assert old is not None and not old.after_expiry and old.first == NOW + dt.timedelta(days=60)


def test_a_comma_makes_a_list_certbot_cannot_read(tmp_path: Path) -> None:
    plan = lineages.schedule(_lineage(tmp_path, 90, "1 day, 12 hours"), (5, 0), NOW)
    assert plan is not None and plan.problem is not None and "a comma makes a list" in plan.problem


def test_longer_than_the_lifetime_renews_at_every_run(tmp_path: Path) -> None:
    plan = lineages.schedule(_lineage(tmp_path, 45, "60 days"), (5, 0), NOW)
    assert plan is not None and plan.every_run and plan.first <= NOW
    assert list(plan.renewals(NOW)) == [NOW]


def test_certbot_4_0_applies_both_rules_whichever_comes_first(tmp_path: Path) -> None:
    lineage = _lineage(tmp_path, 45)  # 30 days before expiry is day 15; a third left is day 30
    assert lineages.schedule(lineage, (4, 0, 0), NOW).first == NOW + dt.timedelta(days=15)  # type: ignore[union-attr]
    assert lineages.schedule(lineage, (4, 1, 0), NOW).first == NOW + dt.timedelta(days=30)  # type: ignore[union-attr]
    assert lineages.schedule(lineage, (1, 21, 0), NOW).first == NOW + dt.timedelta(days=15)  # type: ignore[union-attr]


@pytest.mark.parametrize("days", [6, 45, 90])
def test_the_lifetime_rule_is_certbots_own(tmp_path: Path, days: int) -> None:
    renewal = pytest.importorskip("certbot._internal.renewal")
    if not hasattr(renewal, "_default_renewal_time"):
        pytest.skip("this certbot (before 4.1) has no default renewal time")
    lineage = _lineage(tmp_path, days)
    assert lineage.certificate is not None
    pem = (tmp_path / "live" / "s.example.com" / "cert.pem").read_bytes()
    plan = lineages.schedule(lineage, (5, 0), NOW)
    assert plan is not None and plan.first == renewal._default_renewal_time(pem)


def test_extreme_dates_do_not_overflow(tmp_path: Path) -> None:
    write_lineage(tmp_path, "far.example.com", tmp_path / "g.ini", not_before=NOW,
                  days=(dt.datetime(9999, 12, 31, tzinfo=dt.timezone.utc) - NOW).days)
    (lineage,), _ = lineages.find(str(tmp_path))
    plan = lineages.schedule(lineage, (5, 0), NOW)
    assert plan is not None
    later = list(itertools.islice(plan.renewals(NOW), 5))
    assert later[0] > NOW and all(b >= a for a, b in zip(later, later[1:]))
    assert plan.first_failing(NOW + dt.timedelta(days=30), NOW) == later[0]
    assert lineages.last_safe_day([plan], NOW + dt.timedelta(days=30), NOW) == (NOW + dt.timedelta(days=29)).date()
