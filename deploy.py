#!/usr/bin/env python3
"""Roll the generated templates out with CloudFormation StackSets, manage the edge config, publish the site.

Subcommands are registered by the packages that implement them; this file only dispatches.
Exit status: 0 success, 1 a failed check or operation, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys

from edgeconfig import cli as edge_config_cli
from rollout import cli as rollout_cli
from sitepublish import cli as site_cli


def build_parser() -> argparse.ArgumentParser:
    """The deploy.py command line: one subcommand per operation."""
    parser = argparse.ArgumentParser(
        prog="deploy.py",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    edge_config_cli.register(commands)
    rollout_cli.register(commands)
    site_cli.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
