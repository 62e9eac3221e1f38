"""``certbot-dns-gandi-pat migrate``: rewrite prefixed legacy configuration.

certbot-plugin-gandi used to be named ``certbot-plugin-gandi:dns``, and its
options ``certbot_plugin_gandi:dns_*``; certbot stopped loading such names, so
those lineages fail to renew. This command rewrites, for every lineage of this
authenticator under the configuration directory:

* its renewal configuration: ``authenticator = dns-gandi`` and every
  ``certbot_plugin_gandi:dns_X`` key in ``[renewalparams]`` as ``dns_gandi_X``;
* its credentials INI: every ``certbot_plugin_gandi:dns_X`` key as ``dns_gandi_X``.

Only those keys and that value change; every other byte stays (see
``inifile``). Each file is backed up next to itself and replaced atomically
(see ``files``), while holding certbot's lock. The plan is made in full before
anything is written: a file that cannot be migrated unambiguously (the same INI
holding an old and a current credential, an old and a current key with
different values) refuses the whole run, and nothing is changed. ``--dry-run``
prints the diff, credential values masked, and writes nothing, not even a lock
file. Running it again finds nothing to do.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from certbot_dns_gandi_pat._internal import config
from certbot_dns_gandi_pat._internal.certbot_files import files, inifile, lineages
from certbot_dns_gandi_pat._internal.commands import options, report

NAME = "migrate"
TITLE = "dns-gandi migrate"
HELP = "rewrite old certbot-plugin-gandi:dns configurations"
RENEWAL, CREDENTIALS = "renewal configuration", "credentials file"
_ASSIGNMENT = re.compile(r"^(?P<head>[ \t]*[#;]?[ \t]*(?P<key>[^=\s#;]+)[ \t]*=[ \t]*)(?P<value>.*?)(?P<end>\r?\n?)$")


# An edit renames keys in the document and in the parsed values, adds notes,
# and returns the reasons it refuses (none: go ahead).
_Edit = Callable[[inifile.Document, dict[str, Any], list[str]], list[str]]


@dataclass
class Change:
    path: str  # the real file (links resolved)
    kind: str
    snap: files.Snapshot  # the file as the plan read it
    after: bytes
    notes: list[str]

    @property
    def secret(self) -> bool:
        return self.kind == CREDENTIALS


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    legacy: list[str] = field(default_factory=list)  # lineage names in the old form
    current: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)


def make_plan(config_dir: str) -> Plan:
    """What migrating would change; reads only. Raises LineageError for an unusable directory."""
    found, broken = lineages.find(config_dir)
    plan = Plan()
    for item in broken:
        plan.warnings.append(f"{item.problem} (left alone)")
    seen: set[str] = set()
    for lineage in found:
        (plan.legacy if lineage.legacy else plan.current).append(lineage.name)
        if lineage.legacy:
            _plan_file(plan, lineage.conf, RENEWAL, _renewal_edit)
        path = lineage.credentials_path
        if path and path not in seen:
            seen.add(path)
            if os.path.exists(path):
                _plan_file(plan, path, CREDENTIALS, _credentials_edit)
            else:
                plan.warnings.append(f"{path} (the credentials of {lineage.name}) does not exist")
    return plan


def _plan_file(plan: Plan, path: str, kind: str, edit: _Edit) -> None:
    real = os.path.realpath(path)
    try:
        snap = files.snapshot(real)
        ini = inifile.loads(snap.data, real)
    except OSError as exc:
        plan.refusals.append(f"{real}: cannot be read ({exc.strerror})")
        return
    except inifile.EditError as exc:
        plan.refusals.append(str(exc))
        return
    expected = ini.values
    if kind == CREDENTIALS:
        plan.secrets += config.secret_values(expected)
    notes: list[str] = []
    refusals = edit(ini.document, expected, notes)
    if refusals:
        plan.refusals += refusals
        return
    if not notes:
        return
    try:
        ini.verify(expected)
    except inifile.EditError as exc:
        plan.refusals.append(str(exc))
        return
    if kind == CREDENTIALS:
        try:
            config.parse(expected, real)
        except config.ConfigError as exc:
            plan.warnings.append(f"after the rename, {exc}")
    plan.changes.append(Change(real, kind, snap, ini.encode(), notes))


def _rename_keys(doc: inifile.Document, section: Optional[str], values: dict[str, Any],
                 notes: list[str]) -> list[str]:
    refusals = []
    for entry in [e for e in doc.entries if e.section == section]:
        new = config.modern_key(entry.key)
        if new is None:
            continue
        if entry.key not in values:
            refusals.append(f"{doc.source}: {entry.key} is not read as configobj reads it (unusual "
                            "layout); rename it by hand")
            continue
        if new in values:
            if values[new] == values[entry.key]:
                doc.delete(entry)
                del values[entry.key]
                notes.append(f"removed {entry.key} (same value as {new})")
            else:
                refusals.append(f"{doc.source}: both {entry.key} (old name) and {new} are set, to "
                                f"different values; delete the line you do not want, then run migrate again")
            continue
        doc.rename(entry, new)
        values[new] = values.pop(entry.key)
        notes.append(f"{entry.key} -> {new}")
    return refusals


def _renewal_edit(doc: inifile.Document, expected: dict[str, Any], notes: list[str]) -> list[str]:
    params = expected.get("renewalparams")
    if not isinstance(params, dict):
        return []
    for entry in doc.find("authenticator", "renewalparams"):
        if params.get("authenticator") in lineages.LEGACY:
            notes.append(f"authenticator {params['authenticator']} -> {lineages.CURRENT}")
            doc.set_value(entry, lineages.CURRENT)
            params["authenticator"] = lineages.CURRENT
    return _rename_keys(doc, "renewalparams", params, notes)


def _credentials_edit(doc: inifile.Document, expected: dict[str, Any], notes: list[str]) -> list[str]:
    old = [k for k in expected if config.modern_key(k) in config.CREDENTIAL_KEYS]
    new = [k for k in expected if k in config.CREDENTIAL_KEYS]
    if old and new:
        return [f"{doc.source}: holds both {', '.join(old)} (old name) and {', '.join(new)}. This "
                f"plugin reads only {', '.join(new)}: check it with `certbot-dns-gandi-pat doctor "
                f"--credentials {doc.source}`, then delete the {', '.join(old)} line (or, if that "
                "credential is the one that works, put it under the current name) and run migrate again"]
    return _rename_keys(doc, None, expected, notes)


# -------------------------------------------------------------------- output

def mask(line: str) -> str:
    """A line of a credentials file as it may be printed: the key, never a value or a comment.

    A comment may hold anything, an old token pasted for safe keeping included.
    """
    body = line.rstrip("\r\n")
    end = line[len(body):]
    match = _ASSIGNMENT.match(body)
    if match is None:
        return ("***" if body.strip() else body) + end
    key, value = match.group("key"), match.group("value")
    if (config.modern_key(key) or key) in config.SHOWN and not match.group("head").lstrip().startswith(("#", ";")):
        comment = re.search(r"\s+#", value)  # a shown setting, but not its comment
        if comment is not None:
            value = value[:comment.end()] + " ***"
        return match.group("head") + value + end
    return match.group("head") + "***" + end


def diff(change: Change) -> str:
    before = change.snap.data.decode("utf-8").splitlines(keepends=True)
    after = change.after.decode("utf-8").splitlines(keepends=True)
    # A credentials file shows only the lines that change, masked.
    context = 3
    if change.secret:
        before, after, context = [mask(x) for x in before], [mask(x) for x in after], 0
    lines = difflib.unified_diff(before, after, change.path, f"{change.path} (migrated)", n=context)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.config_dir(parser)
    parser.add_argument("--dry-run", action="store_true",
                        help="print the changes (credential values masked) and write nothing")


def run(args: argparse.Namespace, out: report.Output) -> int:
    config_dir = os.path.abspath(args.config_dir)
    try:
        # Looked at first without the lock, so that a dry run, a run with nothing
        # to do, or one that is refused, leaves no trace at all (not even a lock file).
        plan = make_plan(config_dir)
        out.secret(*plan.secrets)
        found = _settled(plan, config_dir)
        if found is None and args.dry_run:
            found = _dry_run(plan, config_dir)
        if found is None:
            with files.certbot_lock(config_dir):
                found = _migrate(config_dir, out)
    except lineages.LineageError as exc:
        found = report.Report(TITLE, report.UNKNOWN, exc.headline)
    except files.FileChangeError as exc:
        found = report.Report(TITLE, report.CRITICAL, f"refused: {exc.headline}")
    return out.emit(found)


def _settled(plan: Plan, config_dir: str) -> Optional[report.Report]:
    """The report when the plan is refused or has nothing to change; None when there is work."""
    if plan.refusals:
        return report.Report(TITLE, report.CRITICAL, f"refused, nothing was changed: {len(plan.refusals)} "
                             "problem(s)", [f"[FAIL] {refusal}" for refusal in plan.refusals])
    if plan.changes:
        return None
    if not plan.current:
        return report.Report(TITLE, report.OK, f"nothing to migrate: no lineage under {config_dir} uses a "
                             "Gandi authenticator")
    return report.Report(TITLE, report.OK, f"nothing to migrate: {len(plan.current)} lineage(s) already use "
                         f"the current form ({', '.join(plan.current)})")


def _dry_run(plan: Plan, config_dir: str) -> report.Report:
    lines = []
    if files.certbot_running(config_dir):
        lines.append(f"[warn] certbot is running now (it holds {os.path.join(config_dir, files.LOCK_NAME)}): "
                     "migrate will refuse until it has finished")
    lines += [f"[warn] {warning}" for warning in plan.warnings]
    lines += [f"{change.path} ({change.kind}): {'; '.join(change.notes)}" for change in plan.changes]
    lines += [diff(change).rstrip("\n") for change in plan.changes]
    return report.Report(TITLE, report.OK, f"dry run: {len(plan.changes)} file(s) would change for "
                         f"{', '.join(plan.legacy) or 'the credentials of current lineages'}; nothing was written",
                         lines)


def _migrate(config_dir: str, out: report.Output) -> report.Report:
    plan = make_plan(config_dir)  # made again under the lock: nothing can change it now
    out.secret(*plan.secrets)
    settled = _settled(plan, config_dir)
    if settled is not None:
        return settled
    # Credentials first: a lineage left in the old form by a failure fails as it
    # did before, while a migrated lineage never points at an unmigrated INI.
    ordered = sorted(plan.changes, key=lambda c: c.kind != CREDENTIALS)
    for change in ordered:
        out.ledger.unchanged(change.path)
    done: list[str] = []
    for change in ordered:
        try:
            saved = files.rewrite(change.snap, change.after, secret=change.secret, ledger=out.ledger)
        except (OSError, files.FileChangeError) as exc:
            reason = exc.headline if isinstance(exc, files.FileChangeError) else exc.strerror
            return report.Report(TITLE, report.CRITICAL, f"stopped at {change.path}: {reason}; that file is "
                                 "unchanged", done)
        done.append(f"[ ok ] {change.path}: {'; '.join(change.notes)} (backup: {saved})")
    lines = done + [f"[warn] {warning}" for warning in plan.warnings]
    lines.append(f"Next: `certbot-dns-gandi-pat renewals --config-dir {config_dir}` shows whether each renewal "
                 "will now succeed; `certbot renew --dry-run` tries them.")
    return report.Report(TITLE, report.OK, f"rewrote {len(done)} file(s) for "
                         f"{', '.join(plan.legacy) or 'current lineages'}", lines)
