"""The ``moodtune`` command line. Each domain adds its subcommand with :func:`command`.

Domain errors become a one-line message on stderr and exit code 2 (a service that fails to
answer, exit code 1). The commands with a service endpoint ask the running service when there
is one (:mod:`moodtune.serving.client`; ``--service URL|local``). Every command takes
``--json`` (a command that does not print JSON itself has its output lines wrapped in one
JSON object); libraries' warnings and MLflow's coloured log lines are kept off the terminal
unless ``-v`` is given; :func:`loading` shows a spinner on a terminal while models load.

A command module imports at its top only what building the parser needs: the libraries a
command runs on (MLflow, torch, pandas, ...) are imported inside the command, so ``moodtune
--help``, ``moodtune COMMAND --help`` and a usage error start in a fraction of a second
(``tests/test_cli.py`` checks none of them is imported).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence

from moodtune.errors import MoodtuneError

# name -> (help, add_arguments(parser), run(args) -> int | None)
_COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable]] = {}


def command(name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None]):
    """Register a subcommand; the decorated function receives the parsed arguments."""

    def decorate(run: Callable):
        _COMMANDS[name] = (help, add_arguments, run)
        return run

    return decorate


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    return None


@contextlib.contextmanager
def loading(what: str) -> Iterator[None]:
    """A spinner on stderr while ``what`` runs (only on a terminal: pipes and ``--json`` stay clean)."""
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(f"{what}…", spinner="dots"):
        yield


def print_json(value) -> int:
    """``value`` as JSON on stdout (Chinese as is); returns exit code 0."""
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))
    return 0


def quiet_libraries() -> None:
    """Keep library warnings and MLflow's coloured INFO/WARNING lines off the terminal."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")  # read when mlflow configures its logger
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore")
    # libraries add their own filters when imported (some "default" or "always", ahead of the
    # one above): not showing any warning is the only way that stays quiet
    warnings.showwarning = _hide_warning
    for name in ("mlflow", "alembic", "urllib3", "numba", "matplotlib", "jieba"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _hide_warning(*args, **kwargs) -> None:
    return None


def _run_as_json(run: Callable, args: argparse.Namespace) -> int:
    """A command that prints text, run with ``--json``: its lines as one JSON object."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = int(run(args) or 0)
    print_json({"command": args.command, "lines": out.getvalue().splitlines()})
    return code


@command("taxonomy", "print the DLUT emotion space and every mapping into it", _no_arguments)
def _taxonomy(args: argparse.Namespace) -> int:
    from moodtune.emotions import taxonomy_rows

    if args.json:
        return print_json(list(taxonomy_rows()))
    for row in taxonomy_rows():
        print(
            f"{row['taxonomy']:7} {row['label']:18} -> {row['dlut_code']} "
            f"{row['dlut_chinese']}({row['dlut_english']}) {row['weight']:.2f}"
        )
    return 0


@command("settings", "print the effective settings (params.yaml + environment)", _no_arguments)
def _settings(args: argparse.Namespace) -> int:
    from moodtune.settings import get_settings

    s = get_settings()
    if args.json:
        return print_json({**s.model_dump(mode="json"), "tracking_uri": s.tracking_uri})
    print(s.model_dump_json(indent=2))
    print(f"tracking_uri: {s.tracking_uri}")
    return 0


def _load_domain_commands() -> None:
    """Import the domain modules that register commands (each is optional until it lands)."""
    import importlib

    for module in (
        "moodtune.serving.analyze_cli",
        "moodtune.serving.text_cli",
        "moodtune.policy.cli",
        "moodtune.serving.cli",
    ):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if not exc.name or not module.startswith(exc.name):
                raise


def build_parser() -> argparse.ArgumentParser:
    _load_domain_commands()
    parser = argparse.ArgumentParser(
        prog="moodtune", description="moodtune: emotion-aware music recommendation"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show the libraries' warnings and logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, add_arguments, run) in sorted(_COMMANDS.items()):
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(p)
        native = any("--json" in a.option_strings for a in p._actions)
        if not native:
            p.add_argument("--json", action="store_true", help="print the output as JSON")
        p.set_defaults(_run=run if native or name in _NATIVE_JSON else _wrapped(run))
    return parser


_NATIVE_JSON = {"taxonomy", "settings", "recommend", "feedback"}  # read args.json themselves


def _wrapped(run: Callable) -> Callable:
    def run_maybe_as_json(args: argparse.Namespace):
        return _run_as_json(run, args) if args.json else run(args)

    return run_maybe_as_json


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-v" not in argv and "--verbose" not in argv:
        quiet_libraries()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except MoodtuneError as exc:
        print(f"moodtune {args.command}: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 2)  # 2: bad input; 1: the service failed (moodtune.serving.client)


if __name__ == "__main__":
    # Run as `python -m moodtune.cli`, this file is `__main__`, a second copy of the module;
    # domain commands register into `moodtune.cli`, so dispatch through that one.
    from moodtune.cli import main as _main

    sys.exit(_main())
