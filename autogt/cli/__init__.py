"""The ``autogt`` command line: a thin layer over the public API.

Each command lives in its own module ``autogt/cli/_<command>.py`` exposing
``add_parser(subparsers) -> argparse.ArgumentParser`` and ``run(args) -> int``.
Bad input exits with code 2 and a one-line reason on stderr; ``--json`` prints exactly
one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from autogt.cli._common import CLIError, fail

__all__ = ["main", "COMMANDS"]

# command name -> module; modules that are not there yet are skipped
COMMANDS = {
    "train": "autogt.cli._train",
    "search": "autogt.cli._search",
    "report": "autogt.cli._report",
    "worker": "autogt.cli._worker",
    "bank": "autogt.cli._bank",
    "prune": "autogt.cli._prune",
    "extract": "autogt.cli._extract",
    "export": "autogt.cli._export",
    "profile": "autogt.cli._profile",
    "cost": "autogt.cli._cost",
}


def build_parser() -> argparse.ArgumentParser:
    from autogt import __version__

    parser = argparse.ArgumentParser(prog="autogt", description="Find, compress and ship graph transformers and GNNs.")
    parser.add_argument("--version", action="version", version=f"autogt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMANDS.values():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        p = module.add_parser(sub)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args._run(args) or 0)
    except CLIError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
