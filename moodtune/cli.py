"""The ``moodtune`` command line. Each domain adds its subcommand with :func:`command`.

Domain errors become a one-line message on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

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


@command("taxonomy", "print the DLUT emotion space and every mapping into it", _no_arguments)
def _taxonomy(args: argparse.Namespace) -> int:
    from moodtune.emotions import taxonomy_rows

    for row in taxonomy_rows():
        print(f"{row['taxonomy']:7} {row['label']:18} -> {row['dlut_code']} "
              f"{row['dlut_chinese']}({row['dlut_english']}) {row['weight']:.2f}")
    return 0


@command("settings", "print the effective settings (params.yaml + environment)", _no_arguments)
def _settings(args: argparse.Namespace) -> int:
    from moodtune.settings import get_settings

    s = get_settings()
    print(s.model_dump_json(indent=2))
    print(f"tracking_uri: {s.tracking_uri}")
    return 0


def _load_domain_commands() -> None:
    """Import the domain modules that register commands (each is optional until it lands)."""
    import importlib

    for module in ("moodtune.audio.cli", "moodtune.hrv.cli", "moodtune.text.cli",
                   "moodtune.image.cli", "moodtune.policy.cli"):
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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, add_arguments, run) in sorted(_COMMANDS.items()):
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(p)
        p.set_defaults(_run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except MoodtuneError as exc:
        print(f"moodtune {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    # Run as `python -m moodtune.cli`, this file is `__main__`, a second copy of the module;
    # domain commands register into `moodtune.cli`, so dispatch through that one.
    from moodtune.cli import main as _main

    sys.exit(_main())
