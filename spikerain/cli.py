"""The ``spikerain`` command line: ``main(argv) -> int``.

Subcommands live in ``spikerain/commands/<name>.py``; each module defines ``HELP``, ``EXAMPLE``,
``add_arguments(parser)`` and ``run(args) -> int``, and imports anything heavy (torch, Lava) inside ``run`` so
that ``--help`` stays fast. A :class:`~spikerain.errors.ToolchainError` becomes one line on stderr and its exit
code: 0 ok, 1 verification mismatch, 2 usage error, 3 input error.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys

from spikerain._version import __version__
from spikerain.console import setup_logging
from spikerain.errors import ToolchainError, UsageError

COMMANDS = ["demo", "derain", "data", "train", "eval", "convert", "inspect", "simulate", "verify", "map",
            "import-netx", "export", "energy", "doctor", "import-nir"]

log = logging.getLogger("spikerain")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2 on usage errors, which matches UsageError
        self.print_usage(sys.stderr)
        self.exit(UsageError.exit_code, f"spikerain: error: {message}\n")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (repeatable)")
    p.add_argument("-q", "--quiet", action="count", default=0, help="less log output; no progress bars")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout (logs stay on stderr)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="spikerain", description="Spiking deraining networks from PyTorch to Loihi.",
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"spikerain {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        mod = importlib.import_module(f"spikerain.commands.{name.replace('-', '_')}")
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP, epilog=f"example:\n  {mod.EXAMPLE}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        _common(p)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return UsageError.exit_code
    setup_logging(args.verbose - args.quiet)
    previous = _terminate_as_interrupt()
    try:
        return int(args._run(args) or 0)
    except ToolchainError as e:
        log.error("spikerain %s: %s", args.command, e)
        if args.verbose:
            log.exception("details")
        return e.exit_code
    except KeyboardInterrupt:
        log.error("spikerain %s: interrupted", args.command)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _terminate_as_interrupt():
    """SIGTERM becomes KeyboardInterrupt, so cleanup runs (a Lava child's process group is ended, partial outputs
    are removed) instead of the interpreter dying on the spot. Only from the main thread."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, handler)


if __name__ == "__main__":
    sys.exit(main())
