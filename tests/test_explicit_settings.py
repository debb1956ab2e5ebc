"""Library code receives its settings (issue 30): under moodtune/, only a process's own entry
point (a CLI command, a ``python -m`` block, the MLflow UI app factory, a pyfunc's
``load_context``) reads the process-wide settings with ``get_settings()`` / ``load_settings()``;
every other function takes ``settings`` (or its section) from its caller. An AST scan of every
module of every package, imports inside functions and calls inside nested functions and lambdas
included (those count for the function around them).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "moodtune"
READERS = {"get_settings", "load_settings"}

# module (relative to the root) -> function (qualified name, or "<module>" / "__main__") -> why
# it may read the settings itself
ENTRY_POINTS: dict[str, dict[str, str]] = {
    "moodtune/settings.py": {"get_settings": "the process-wide settings themselves"},
    "moodtune/cli.py": {"_settings": "`moodtune settings`"},
    "moodtune/serving/cli.py": {
        "_recommend": "`moodtune recommend`",
        "_catalog": "`moodtune catalog`",
        "_feedback": "`moodtune feedback`",
    },
    "moodtune/serving/analyze_cli.py": {
        "analyze_audio": "`moodtune analyze-audio`",
        "analyze_image": "`moodtune analyze-image`",
        "analyze_hrv": "`moodtune analyze-hrv`",
    },
    "moodtune/serving/text_cli.py": {"recommend_text": "`moodtune recommend-text`"},
    "moodtune/serving/catalog.py": {"__main__": "`python -m moodtune.serving.catalog` (make up)"},
    "moodtune/serving/requests.py": {
        "<module>": "the request models' bounds are types, built at import from the process's settings "
        "(the service's own declaration reads the same cached object)"
    },
    "moodtune/registry/ui.py": {"create_app": "the MLflow UI's app factory (`mlflow ui --app-name`)"},
    "moodtune/registry/packaging.py": {
        "PackagedModel.load_context": "every model's MLflow pyfunc, a served model of its own"
    },
}


def _is_main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


def settings_reads(source: str) -> Iterator[tuple[str, int]]:
    """``(owner, line)`` of each call of a settings reader in ``source``: the owner is the
    outermost function around it (``Class.method`` for a method), ``__main__`` inside an
    ``if __name__ == "__main__":`` block, ``<module>`` at import time."""
    tree = ast.parse(source)
    names = set(READERS)
    for node in ast.walk(tree):  # `from moodtune.settings import get_settings as gs`
        if isinstance(node, ast.ImportFrom):
            names |= {a.asname for a in node.names if a.name in READERS and a.asname}

    def reads(call: ast.Call) -> bool:
        f = call.func
        return (isinstance(f, ast.Name) and f.id in names) or (
            isinstance(f, ast.Attribute) and f.attr in READERS
        )

    def visit(node: ast.AST, owner: str | None, path: tuple[str, ...]) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = (*path, child.name)
                yield from visit(child, owner or ".".join(inner), inner)
                continue
            if isinstance(child, ast.ClassDef):
                yield from visit(child, owner, (*path, child.name))
                continue
            if owner is None and isinstance(child, ast.If) and _is_main_guard(child.test):
                yield from visit(child, "__main__", path)
                continue
            if isinstance(child, ast.Call) and reads(child):
                yield owner or "<module>", child.lineno
            yield from visit(child, owner, path)

    yield from visit(tree, None, ())


def groups() -> list[str]:
    """``moodtune`` (the top-level modules) and each of its packages."""
    return ["moodtune"] + sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))


def modules(group: str) -> list[Path]:
    return sorted(PACKAGE.glob("*.py")) if group == "moodtune" else sorted((PACKAGE / group).rglob("*.py"))


def fallbacks(group: str) -> list[str]:
    found = []
    for path in modules(group):
        rel = path.relative_to(ROOT).as_posix()
        allowed = ENTRY_POINTS.get(rel, {})
        for owner, line in settings_reads(path.read_text(encoding="utf-8")):
            if owner not in allowed:
                found.append(f"{rel}:{line} in {owner}")
    return found


@pytest.mark.parametrize("group", groups())
def test_library_code_receives_its_settings(group):
    found = fallbacks(group)
    assert not found, (
        "these read the process's settings themselves; take `settings` (or its section) from the "
        "caller, or list a real entry point in ENTRY_POINTS: " + ", ".join(found)
    )


def test_every_listed_entry_point_reads_the_settings():
    """No stale entry: each one listed exists and still reads the settings."""
    for rel, allowed in ENTRY_POINTS.items():
        owners = {owner for owner, _ in settings_reads((ROOT / rel).read_text(encoding="utf-8"))}
        assert set(allowed) <= owners, f"{rel}: {sorted(set(allowed) - owners)} read no settings"


def test_the_scan_finds_a_fallback_wherever_it_hides():
    source = """
from moodtune.settings import get_settings as process_settings


LIMIT = process_settings().service.max_k


def load(name, settings=None):
    settings = settings or process_settings()


class Store:
    def __init__(self, url=None, settings=None):
        def later():
            from moodtune import settings as s

            return s.load_settings()

        self.read = lambda: later()


def explicit(settings):
    return settings.service


if __name__ == "__main__":
    print(load("x", process_settings()))
"""
    assert sorted(settings_reads(source)) == [
        ("<module>", 5),
        ("Store.__init__", 17),
        ("__main__", 27),
        ("load", 9),
    ]
