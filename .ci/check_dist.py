"""Build the wheel and sdist, run twine check, and inspect the wheel's content.

`make dist-check` builds into a temporary directory; `make dist` passes
``--outdir dist`` to keep the checked files (older builds of this package there
are removed first, so ``dist/certbot_dns_gandi_pat-*.whl`` names one file).
"""

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PREFIXES = ("certbot_dns_gandi_pat-", "certbot-dns-gandi-pat-")


def build_and_check(out: Path) -> list[Path]:
    for old in out.iterdir():
        if old.is_file() and old.name.startswith(PREFIXES):
            old.unlink()
    subprocess.run([sys.executable, "-m", "build", "-q", "--outdir", str(out), "."], check=True,  # noqa: S603 - fixed argv
                   stdout=subprocess.DEVNULL)
    files = sorted(f for f in out.iterdir() if f.is_file() and f.name.startswith(PREFIXES))
    subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, files)], check=True)  # noqa: S603 - fixed argv
    wheel = next(f for f in files if f.suffix == ".whl")
    names = zipfile.ZipFile(wheel).namelist()
    problems = []
    if "certbot_dns_gandi_pat/py.typed" not in names:
        problems.append("py.typed is missing from the wheel")
    # Subpackages are easy to leave out of `packages`: every module of the tree must ship.
    root = Path(__file__).resolve().parent.parent
    modules = {p.relative_to(root).as_posix() for p in (root / "certbot_dns_gandi_pat").rglob("*.py")}
    missing = sorted(modules - set(names))
    if missing:
        problems.append(f"modules missing from the wheel: {missing[:5]}")
    stray = [n for n in names if n.split("/")[0] in ("tests", "teststack", "benchmarks", "debian", "snap")]
    if stray:
        problems.append(f"test or packaging tooling in the wheel: {stray[:5]}")
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    if "dns-gandi = certbot_dns_gandi_pat._internal.dns_gandi:Authenticator" not in text:
        problems.append("the certbot.plugins entry point is missing")
    if "certbot-dns-gandi-pat = certbot_dns_gandi_pat._internal.commands.cli:main" not in text:
        problems.append("the certbot-dns-gandi-pat console script is missing")
    if problems:
        sys.exit("dist check failed: " + "; ".join(problems))
    print(f"dist check: {', '.join(f.name for f in files)} OK ({len(names)} files in the wheel)")
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--outdir", type=Path, help="keep the sdist and wheel here (default: a temporary directory)")
    args = parser.parse_args()
    if args.outdir:
        args.outdir.mkdir(parents=True, exist_ok=True)
        build_and_check(args.outdir)
    else:
        with tempfile.TemporaryDirectory() as out:
            build_and_check(Path(out))


if __name__ == "__main__":
    main()
