"""Every error spikerain raises on purpose.

All derive from :class:`ToolchainError`. Each carries the cause and the fix in its message, and the CLI turns
it into one line on stderr and a distinct exit code (see :data:`EXIT_CODES`): subclasses share the code of their
family (a :class:`CheckpointError` is an :class:`InputError`, exit 3). Two codes belong to no class: 70 for an
unexpected exception (a bug: the CLI prints one line and, with ``-v``, the traceback), 130 for an interrupt
(Ctrl-C or SIGTERM) and 141 when whatever read standard output stopped reading (``| head``).
"""

from __future__ import annotations


class ToolchainError(Exception):
    """Base class. ``exit_code`` is what the CLI returns for it."""

    exit_code = 3

    def __init__(self, message: str, *, fix: str | None = None):
        self.fix = fix
        super().__init__(message if fix is None else f"{message}. Fix: {fix}")


class UsageError(ToolchainError):
    """The command line or an API call asked for something inconsistent."""

    exit_code = 2


class ConfigError(UsageError):
    """A model or run configuration that the architecture cannot realise (e.g. T != 4)."""


class InputError(ToolchainError):
    """A file given by the user cannot be used."""

    exit_code = 3


class ImageReadError(InputError):
    """An image file is missing, unreadable, truncated or empty."""

    def __init__(self, path, reason: str, *, fix: str | None = None):
        self.path = str(path)
        self.reason = reason
        super().__init__(
            f"cannot read image {self.path!s}: {reason}",
            fix=fix or "pass a readable PNG or JPEG file with at least one pixel",
        )


class CheckpointError(InputError):
    """A checkpoint is corrupt, unsafe to load, or does not fit the model."""


class DatasetError(InputError):
    """A dataset folder has missing partners, size mismatches or no images."""


class EnvironmentMissingError(ToolchainError):
    """A required interpreter or package is not installed."""

    exit_code = 4


class VerificationError(ToolchainError):
    """Two implementations that must agree bit for bit do not."""

    exit_code = 1


class TrainingError(ToolchainError):
    """Training diverged (e.g. NaN loss)."""

    exit_code = 5


class LavaRunError(ToolchainError):
    """The Lava child process failed, timed out or was interrupted; carries its stderr tail."""

    exit_code = 6


class OutputError(ToolchainError):
    """An output path cannot be written: read-only or missing folder, no space left, a file in the way."""

    exit_code = 7


class QuantizationError(ToolchainError):
    """``--strict`` and a layer clipped, wrapped or saturated on the calibration images."""

    exit_code = 3


class MappingError(ToolchainError):
    """A layer does not fit a core."""

    exit_code = 3

    def __init__(self, layer: str, limit: str, needed, available, fix: str):
        self.layer, self.limit, self.needed, self.available = layer, limit, needed, available
        super().__init__(f"layer {layer} needs {needed} {limit} per core, a core has {available}", fix=fix)


class NetxError(InputError):
    """A netx file (or an IR graph to export) uses something the other side cannot express."""


#: exit code of an unexpected exception (sysexits.h EX_SOFTWARE), of an interrupt (128 + SIGINT), and of a
#: standard output whose reader went away (128 + SIGPIPE: what a shell reports for any filter cut off by ``| head``)
INTERNAL_ERROR_EXIT = 70
INTERRUPTED_EXIT = 130
PIPE_CLOSED_EXIT = 141

EXIT_CODES = {
    "ok": 0,
    "verification mismatch": VerificationError.exit_code,
    "usage error": UsageError.exit_code,
    "input error": InputError.exit_code,
    "environment missing": EnvironmentMissingError.exit_code,
    "training diverged": TrainingError.exit_code,
    "Lava run failed": LavaRunError.exit_code,
    "output not writable": OutputError.exit_code,
    "internal error (a bug)": INTERNAL_ERROR_EXIT,
    "interrupted": INTERRUPTED_EXIT,
    "stdout closed by its reader": PIPE_CLOSED_EXIT,
}


class UnsupportedOpError(UsageError):
    """A module or op has no converter/kernel in a registry."""

    def __init__(self, message: str, *, supported: list[str] | None = None, path: str | None = None):
        self.path = path
        self.supported = supported or []
        fix = f"supported: {', '.join(self.supported)}" if self.supported else None
        super().__init__(message, fix=fix)


class GraphError(ToolchainError):
    """An IR graph is malformed (dangling edge, cycle, shape mismatch)."""

    exit_code = 3


class ArtifactError(InputError):
    """A deployment artifact is unreadable, of another schema version, or fails its checksum."""


class UnitError(ToolchainError):
    """A unit of a scale-out run (:mod:`spikerain.scaleout`) failed; it carries the exit code of the original
    error (3 for anything that is not spikerain's)."""

    def __init__(self, unit: str, cause: BaseException, others: tuple[str, ...] | list[str] = ()):
        self.unit = unit
        self.cause = cause
        self.exit_code = cause.exit_code if isinstance(cause, ToolchainError) else 3
        text = one_line(cause)
        more = f" ({len(others)} more failed: {', '.join(others[:5])}{', ...' if len(others) > 5 else ''})"
        super().__init__(f"{unit}: {text}{more if others else ''}")


def one_line(e: BaseException) -> str:
    """An error as one line: its first line, and the last one when it spans several (a child's traceback)."""
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    prefix = "" if isinstance(e, ToolchainError) else f"{type(e).__name__}: "
    if not lines:
        return prefix.rstrip(": ") or type(e).__name__
    return prefix + (lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}")
