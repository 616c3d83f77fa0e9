"""The ``spikerain`` command line: ``main(argv) -> int``.

Subcommands live in ``spikerain/commands/<name>.py``; each module defines ``HELP``, ``EXAMPLE``,
``add_arguments(parser)`` and ``run(args) -> int``, and imports anything heavy (torch, Lava) inside ``run`` so
that ``--help`` stays fast. A :class:`~spikerain.errors.ToolchainError` becomes one line on stderr and its exit
code (:data:`~spikerain.errors.EXIT_CODES`, listed in ``spikerain --help``); any other exception becomes one line
too, with exit 70 and the traceback only under ``-v``; an interrupt exits 130.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys

from spikerain._version import __version__
from spikerain.console import setup_logging
from spikerain.errors import (
    EXIT_CODES,
    INTERNAL_ERROR_EXIT,
    INTERRUPTED_EXIT,
    PIPE_CLOSED_EXIT,
    OutputError,
    ToolchainError,
    UsageError,
)

COMMANDS = ["demo", "derain", "data", "train", "eval", "convert", "inspect", "simulate", "verify", "map",
            "import-netx", "export", "energy", "doctor", "import-nir"]

log = logging.getLogger("spikerain")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2 on usage errors, which matches UsageError
        # one line, like every other error: the cause, and where the usage is
        self.exit(UsageError.exit_code, f"{self.prog}: error: {message}. Fix: see `{self.prog} --help`\n")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (repeatable)")
    p.add_argument("-q", "--quiet", action="count", default=0, help="less log output; no progress bars")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout (logs stay on stderr)")


def _exit_code_epilog() -> str:
    return "exit codes:\n" + "\n".join(f"  {code:>3}  {what}" for what, code in
                                        sorted(EXIT_CODES.items(), key=lambda kv: kv[1]))


def _literal(text: str) -> str:
    """argparse %-formats help strings (``%(default)s``): a literal percent sign must be doubled."""
    return text.replace("%", "%%")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="spikerain", description="Spiking deraining networks from PyTorch to Loihi.",
                     epilog=_exit_code_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"spikerain {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        mod = importlib.import_module(f"spikerain.commands.{name.replace('-', '_')}")
        p = sub.add_parser(name, help=_literal(mod.HELP), description=mod.HELP, epilog=f"example:\n  {mod.EXAMPLE}",
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
        code = int(args._run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers, not at interpreter exit
        return code
    except ToolchainError as e:
        log.error("spikerain %s: %s", args.command, _one_line(e))
        if args.verbose:
            log.exception("details")
        return e.exit_code
    except KeyboardInterrupt:
        log.error("spikerain %s: interrupted", args.command)
        return INTERRUPTED_EXIT
    except Exception as e:  # the last resort: a user never sees a raw traceback without asking for it
        if isinstance(e, BrokenPipeError) and _stdout_closed():
            # the reader went away (``| head``): nothing is left to say to it, so end quietly, as any Unix filter
            # does; stdout goes to /dev/null so that the interpreter's own flush at exit cannot fail again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return PIPE_CLOSED_EXIT
        code, text = _unexpected(e)
        log.error("spikerain %s: %s", args.command, text)
        if args.verbose:
            log.exception("details")
        return code
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _stdout_closed() -> bool:
    """Whether standard output is a pipe nobody reads any more (poll reports an error on it), as opposed to a
    broken pipe of spikerain's own, such as a worker's."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(ev & select.POLLERR for _, ev in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll here, or stdout has no file descriptor
        return False


def _one_line(e: BaseException) -> str:
    """The message on one line (a Lava child's traceback keeps its lines: it is the cause)."""
    return str(e) if "Traceback" in str(e) or "[lava]" in str(e) else " ".join(str(e).split())


def _unexpected(e: Exception) -> tuple[int, str]:
    """Exit code and one line for an exception no check caught: a file-system error on a path we were given is
    the user's to fix; memory exhaustion too; anything else is a bug in spikerain."""
    if isinstance(e, OSError) and e.errno is not None:
        where = f" ({e.filename})" if e.filename else ""
        return OutputError.exit_code, _one_line(OutputError(f"{e.strerror or e}{where}",
                                                            fix="check the path, its permissions and free space"))
    if isinstance(e, MemoryError):
        return INTERNAL_ERROR_EXIT, "out of memory. Fix: use a smaller image, crop or --tile"
    msg = " ".join(str(e).split())[:300]
    return INTERNAL_ERROR_EXIT, (f"internal error: {type(e).__name__}: {msg}. Run with -v for the traceback, and "
                                 "report it")


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
