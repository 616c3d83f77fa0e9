"""Finding and driving the Lava interpreter (``.venv-lava``, Python 3.10), torch-free.

lava-nc 0.10.0 only imports on Python 3.10 and the torch side runs on 3.11, so spikerain reaches Lava in one of
two ways: in-process when ``import lava`` works, otherwise by running a torch-free module of spikerain in the
Lava interpreter as a child process, exchanging files.

Child-process hygiene (``docs/sources.md`` §3.3: lava-nc/lava#231): the child starts in its own session (process group);
on timeout, error or Ctrl-C the whole group gets SIGTERM (which lets Lava's resource tracker unlink its
``/dev/shm`` segments), then SIGKILL as a last resort. If the parent itself is killed outright (SIGKILL), the
child gets SIGTERM from the kernel (Linux ``PR_SET_PDEATHSIG``) and a watchdog process
(:mod:`spikerain.watchdog`) ends the rest of the group the same way.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from spikerain.errors import EnvironmentMissingError, LavaRunError

REPO_ROOT = Path(__file__).resolve().parent.parent
LAVA_VENV = REPO_ROOT / ".venv-lava"
FIX_LAVA = "run `make .venv-lava` in the spikerain checkout (Python 3.10 with lava-nc 0.10.0)"


def lava_in_process() -> bool:
    """True when lava-nc imports in this interpreter (only on Python 3.10)."""
    if sys.version_info[:2] != (3, 10) or importlib.util.find_spec("lava") is None:
        return False
    return importlib.util.find_spec("lava.magma.core.run_configs") is not None


def find_lava_python() -> Path | None:
    """The Lava interpreter: ``$SPIKERAIN_LAVA_PYTHON``, else the checkout's ``.venv-lava``, else this one."""
    env = os.environ.get("SPIKERAIN_LAVA_PYTHON")
    if env:
        return Path(env)
    candidate = LAVA_VENV / "bin" / "python"
    if candidate.exists():
        return candidate
    if lava_in_process():
        return Path(sys.executable)
    return None


def require_lava_python() -> Path:
    py = find_lava_python()
    if py is None:
        raise EnvironmentMissingError("no Python interpreter with lava-nc was found", fix=FIX_LAVA)
    return py


@dataclass(frozen=True)
class ChildResult:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def _kill_group(pgid: int, grace: float = 5.0) -> None:
    """SIGTERM the whole group, wait up to ``grace`` seconds, then SIGKILL what is left."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not group_alive(pgid):
            return
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process belongs to process group ``pgid``."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def actor_traceback(lines: list[str], limit: int = 25) -> str:
    """The last Python traceback in a child's stderr lines (progress lines left out), or ''."""
    lines = [ln.rstrip("\n") for ln in lines if not ln.startswith("[lava] step ")]
    starts = [i for i, ln in enumerate(lines) if ln.startswith("[lava] process")]  # spikerain's own header
    starts = starts or [i for i, ln in enumerate(lines) if ln.startswith("Traceback")]
    if not starts:
        return ""
    return "\n".join(lines[starts[-1]:][:limit])


def _die_with_parent(parent: int):
    """A ``preexec_fn`` asking Linux to send the child SIGTERM when this process dies (prctl PR_SET_PDEATHSIG);
    None elsewhere. Runs in the forked child before exec; the setting survives the exec."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here: no dynamic loading after the fork
    except (OSError, AttributeError):
        return None
    PR_SET_PDEATHSIG = 1

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)

    return arm


def _start_watchdog(pgid: int):
    """The watchdog of ``pgid`` (:mod:`spikerain.watchdog`), in its own session; None if it cannot start."""
    try:
        return subprocess.Popen([sys.executable, "-m", "spikerain.watchdog", str(os.getpid()), str(pgid)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    except OSError:
        return None


def _stop(proc) -> None:
    if proc is None:
        return
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def run_lava_module(module: str, args: list[str], *, timeout: float = 600.0, python: Path | None = None,
                    stream_stderr=None) -> ChildResult:
    """Run ``python -m module *args`` in the Lava interpreter, in its own session, with a timeout.

    Whatever happens, no process of the child's group outlives this call. ``stream_stderr``, if given, is
    called with every stderr line as it arrives (progress reporting); the full stderr is returned too.
    A non-zero exit raises :class:`LavaRunError` with the child's traceback.
    """
    py = python or require_lava_python()
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    start = time.monotonic()
    proc = subprocess.Popen([str(py), "-m", module, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, start_new_session=True, env=env,
                            preexec_fn=_die_with_parent(os.getpid()))
    pgid = proc.pid
    watchdog = _start_watchdog(pgid)
    err_lines: list[str] = []
    out_chunks: list[str] = []

    def pump_err():
        for line in proc.stderr:
            err_lines.append(line)
            if stream_stderr is not None:
                stream_stderr(line.rstrip("\n"))

    readers = [threading.Thread(target=pump_err, daemon=True),
               threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True)]
    try:
        for t in readers:
            t.start()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired as e:
            failed = actor_traceback(err_lines)
            if failed:  # Lava's run() deadlocks when a process it waits on raised (lava-nc#231): say why
                raise LavaRunError(f"the Lava run `{module}` stopped after {timeout:.0f} s: a Lava process failed "
                                   f"and the runtime waited on it forever:\n{failed}",
                                   fix="see the process's traceback above") from e
            raise LavaRunError(f"the Lava run `{module}` timed out after {timeout:.0f} s and was stopped",
                               fix="use a smaller crop or raise the timeout") from e
    except BaseException:
        _kill_group(pgid)
        proc.wait()
        raise
    finally:
        # Lava's resource tracker and runtime services live in the same group: end them too.
        _kill_group(pgid, grace=2.0)
        _stop(watchdog)
        for t in readers:
            t.join(timeout=5)
    out = "".join(out_chunks)
    stderr = "".join(err_lines)
    result = ChildResult(proc.returncode, out, stderr, time.monotonic() - start)
    if proc.returncode != 0:
        tail = "\n".join(stderr.strip().splitlines()[-25:])
        raise LavaRunError(f"the Lava run `{module}` failed (exit {proc.returncode}):\n{tail}",
                           fix=None if "Fix:" in tail else "see the traceback above")
    return result


def describe_lava(python: Path | None = None) -> dict:
    """Probe the Lava interpreter: versions, whether lava-loihi (Loihi2HwCfg) is usable."""
    py = python or find_lava_python()
    info: dict = {"python": str(py) if py else None, "ok": False}
    if py is None:
        info["error"] = "not found"
        return info
    probe = (
        "import json, sys, importlib.util as u\n"
        "d = {'version': sys.version.split()[0]}\n"
        "try:\n"
        "    import importlib.metadata as m\n"
        "    d['lava_nc'] = m.version('lava-nc')\n"
        "    d['numpy'] = m.version('numpy')\n"
        "    d['h5py'] = m.version('h5py')\n"
        "    from lava.magma.core.run_configs import Loihi2SimCfg, Loihi2HwCfg\n"
        "    from lava.utils import loihi\n"
        "    d['lava_loihi'] = bool(loihi.is_installed())\n"
        "    d['torch'] = u.find_spec('torch') is not None\n"
        "    d['spikerain'] = u.find_spec('spikerain.hardware') is not None\n"
        "except Exception as e:\n"
        "    d['error'] = f'{type(e).__name__}: {e}'\n"
        "print(json.dumps(d))\n"
    )
    try:
        out = subprocess.run([str(py), "-c", probe], capture_output=True, text=True, timeout=120,
                             start_new_session=True)
    except (OSError, subprocess.TimeoutExpired) as e:
        info["error"] = str(e)
        return info
    import json

    try:
        info.update(json.loads(out.stdout.strip().splitlines()[-1]))
    except (IndexError, ValueError):
        info["error"] = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return info
    info["ok"] = "error" not in info
    return info

