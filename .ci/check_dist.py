"""Build the wheel and sdist, run twine check, and inspect the wheel's content."""

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

with tempfile.TemporaryDirectory() as out:
    subprocess.run([sys.executable, "-m", "build", "-q", "--outdir", out, "."], check=True,
                   stdout=subprocess.DEVNULL)
    files = sorted(Path(out).iterdir())
    subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, files)], check=True)
    wheel = next(f for f in files if f.suffix == ".whl")
    names = zipfile.ZipFile(wheel).namelist()
    problems = []
    if "certbot_dns_gandi_pat/py.typed" not in names:
        problems.append("py.typed is missing from the wheel")
    stray = [n for n in names if n.split("/")[0] in ("tests", "teststack", "benchmarks")]
    if stray:
        problems.append(f"test tooling in the wheel: {stray[:5]}")
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    if "dns-gandi = certbot_dns_gandi_pat.dns_gandi:Authenticator" not in text:
        problems.append("the certbot.plugins entry point is missing")
    if problems:
        sys.exit("dist check failed: " + "; ".join(problems))
    print(f"dist check: {', '.join(f.name for f in files)} OK ({len(names)} files in the wheel)")
