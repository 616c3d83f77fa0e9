"""Every error spikerain raises on purpose.

All derive from :class:`ToolchainError`. Each carries the cause and the fix in its message, and the CLI turns
it into one line on stderr and a distinct exit code (see :data:`EXIT_CODES`).
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


EXIT_CODES = {
    "ok": 0,
    "verification mismatch": VerificationError.exit_code,
    "usage error": UsageError.exit_code,
    "input error": InputError.exit_code,
    "environment missing": EnvironmentMissingError.exit_code,
    "training diverged": TrainingError.exit_code,
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
