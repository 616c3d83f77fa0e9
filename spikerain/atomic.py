"""Atomic file output: write to a temporary file beside the target, then rename over it.

A failed or interrupted write never leaves a partial file at the target path. A write that fails for a reason of
the file system (read-only or missing folder, no space left, file too large) raises one
:class:`~spikerain.errors.OutputError` naming the target.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from spikerain.errors import OutputError


@contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it replaces ``target``.

    ``suffix`` defaults to the target's own, so writers that pick the format from the extension still work.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                   suffix=suffix if suffix is not None else target.suffix)
    except OSError as e:
        raise _output_error(target, e) from e
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp_path, target)
    except BaseException as e:
        tmp_path.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise _output_error(target, e) from e
        raise


def _output_error(target: Path, e: OSError) -> OutputError:
    import errno

    full = e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) or "errno = 28" in str(e)  # h5py words ENOSPC
    reason = e.strerror or str(e)
    return OutputError(f"cannot write {target}: {reason}",
                       fix="free some disk space or write elsewhere" if full else "choose a writable output folder")


@contextmanager
def atomic_hdf5(target: str | os.PathLike):
    """Yield a writable ``h5py.File`` that lands at ``target`` atomically once the block succeeds.

    The file is assembled in memory and written with plain file I/O: HDF5 reports a write that fails half-way (a
    full disk) as a RuntimeError from deep in its metadata cache, and can crash at interpreter exit over the file
    it could not flush; a plain write fails with one OSError, which :func:`atomic_path` reports. Artifacts are a
    few MB, so the copy in memory costs nothing that matters.
    """
    import io

    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        yield f
    with atomic_path(target, suffix=".tmp") as tmp:
        tmp.write_bytes(buf.getvalue())


def write_text(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
