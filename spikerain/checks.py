"""Argument checks every command runs before it starts work, torch-free.

A command first checks what it was given (files present and of the right kind, sizes positive and within the
graph's limits, output paths writable with the right suffix), so that a mistake costs a second, not the minutes
of a conversion, and never leaves one output written and the next refused. Each check raises one
:class:`~spikerain.errors.ToolchainError` whose message names the argument, what is wrong and the fix.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from spikerain.errors import InputError, OutputError, UsageError
from spikerain.imageio import IMAGE_SUFFIXES

__all__ = ["IMAGE_SUFFIXES", "HDF5_SUFFIXES", "CHECKPOINT_SUFFIXES", "input_file", "input_dir", "output_file",
           "output_dir", "distinct_outputs", "positive", "size_pair"]
HDF5_SUFFIXES = (".h5", ".hdf5")
CHECKPOINT_SUFFIXES = (".pt", ".pth")


def input_file(path, flag: str) -> Path:
    """``path`` exists and is a regular file (not a folder)."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{flag} {p} is a folder, not a file", fix="pass a file")
    if not p.is_file():
        raise InputError(f"{flag} {p} does not exist", fix="check the path")
    return p


def input_dir(path, flag: str) -> Path:
    p = Path(path)
    if not p.is_dir():
        raise InputError(f"{flag} {p} is not a folder" if p.exists() else f"{flag} {p} does not exist",
                         fix="pass an existing folder")
    return p


def _writable_dir(d: Path, what: str) -> None:
    """Whether a file can be created in ``d`` (or in the folder ``d`` would be created in): probed by creating
    and removing a temporary file, because permission bits say nothing to root and nothing about read-only
    mounts or /proc."""
    probe = d
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"cannot write {what}: {probe} is a file, not a folder",
                          fix="choose an output path in a folder")
    try:
        fd, tmp = tempfile.mkstemp(dir=probe, prefix=".spikerain-probe-")
    except OSError as e:
        raise OutputError(f"cannot write {what}: folder {probe} is not writable ({_reason(e)})",
                          fix="choose a writable output folder") from e
    os.close(fd)
    os.unlink(tmp)


def _reason(e: OSError) -> str:
    return e.strerror or errno.errorcode.get(e.errno or 0, type(e).__name__)


def output_file(path, flag: str, suffixes: tuple[str, ...] | None = None) -> Path:
    """``path`` has one of ``suffixes`` and can be written (its folder exists or can be created)."""
    p = Path(path)
    if suffixes and p.suffix.lower() not in suffixes:
        raise UsageError(f"{flag} {p} has suffix {p.suffix or '(none)'!r}, not one of {', '.join(suffixes)}",
                         fix=f"name it e.g. {p.with_suffix(suffixes[0]).name}")
    if p.is_dir():
        raise OutputError(f"cannot write {flag} {p}: it is a folder", fix="give a file name")
    _writable_dir(p.parent, f"{flag} {p}")
    return p


def output_dir(path, flag: str) -> Path:
    """``path`` is a folder (or can be created as one) in which files can be written."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"cannot write into {flag} {p}: it is a file, not a folder", fix="give a folder path")
    _writable_dir(p, f"into {flag} {p}")
    return p


def distinct_outputs(*pairs: tuple[str, object]) -> None:
    """No two outputs of one command are the same file (the second would overwrite the first)."""
    seen: dict[Path, str] = {}
    for flag, path in pairs:
        if path is None:
            continue
        key = Path(path).resolve()
        if key in seen:
            raise UsageError(f"{seen[key]} and {flag} are the same file {path}", fix="give them different names")
        seen[key] = flag


def positive(value, flag: str, *, minimum: int = 1, maximum: int | None = None):
    """``value`` (an int or float) is at least ``minimum`` (and at most ``maximum``)."""
    if value is None:
        return value
    if value != value or value < minimum or (maximum is not None and value > maximum):
        rng = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise UsageError(f"{flag} {value} is out of range: it must be {rng}", fix=f"pass {flag} {minimum} or more"
                         if maximum is None else f"pass a value in [{minimum}, {maximum}]")
    return value


def size_pair(size, flag: str, *, minimum: int = 1, multiple: int = 1, maximum: int | None = None):
    """An ``H W`` pair: both sides at least ``minimum`` (and at most ``maximum``), multiples of ``multiple``."""
    if size is None:
        return None
    h, w = (int(v) for v in size)
    if h < minimum or w < minimum:
        raise UsageError(f"{flag} {h} {w}: both sides must be at least {minimum}",
                         fix=f"e.g. {flag} {max(minimum, 16)} {max(minimum, 16)}")
    if maximum is not None and (h > maximum or w > maximum):
        raise UsageError(f"{flag} {h} {w}: sides above {maximum} are not supported", fix=f"use at most {maximum}")
    if h % multiple or w % multiple:
        raise UsageError(f"{flag} {h} {w}: both sides must be multiples of {multiple}, which this graph needs",
                         fix=f"e.g. {flag} {-(-h // multiple) * multiple} {-(-w // multiple) * multiple}")
    return h, w
