"""Output helpers shared by the CLI commands: JSON on stdout, logs on stderr, progress bars on a terminal."""

from __future__ import annotations

import json
import logging
import sys
from contextlib import contextmanager

from spikerain.jsonsafe import finite_json  # noqa: F401  (re-exported for the commands)

log = logging.getLogger("spikerain")


def setup_logging(verbosity: int) -> None:
    """-q -> WARNING only, default INFO, -v DEBUG. Logs always go to stderr."""
    level = logging.INFO - 10 * verbosity
    level = min(max(level, logging.DEBUG), logging.ERROR)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname).1s %(message)s" if verbosity > 0 else "%(message)s"))
    root = logging.getLogger("spikerain")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def stdout_console():
    """A rich console on stdout whose broken pipe (``| head``) reaches the CLI's own handler, exit 141; rich's
    default ends the process with exit 1, which spikerain's exit codes give to a verification mismatch."""
    import errno

    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError(errno.EPIPE, "standard output closed by its reader")

    return _Console()


def print_json(obj) -> None:
    json.dump(finite_json(obj), sys.stdout, indent=2, default=_json_default, allow_nan=False)
    sys.stdout.write("\n")
    sys.stdout.flush()


def _json_default(o):
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(o)


def progress_enabled(quiet: bool = False) -> bool:
    return not quiet and sys.stderr.isatty()


@contextmanager
def progress(description: str, total: int, *, enabled: bool = True):
    """Yield ``advance(n_done, n_total)``; draws a rich progress bar on stderr only when ``enabled``."""
    if not enabled:
        yield lambda done, tot=None, info="": None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  TextColumn("{task.fields[info]}"), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total, info="")

        def advance(done: int, tot: int | None = None, info: str = "") -> None:
            bar.update(task, completed=done, total=tot if tot is not None else total, info=info)

        yield advance
