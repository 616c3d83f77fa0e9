"""Scale-out: independent work units (images, tiles) on Ray, or in this process when nothing is asked for.

``--workers N`` starts a private local Ray instance (no dashboard, no usage statistics, logs in a temporary
folder, ``num_cpus=N``); ``--cluster ADDRESS`` joins a running Ray cluster (``ray://host:10001`` or ``auto``).
A Ray session that is already initialised in this process (a notebook, a test) is reused and left running.

What the commands rely on (docs/scale-out.md):

* The shared input (an artifact graph, a model, tables) goes into Ray's object store once (``ray.put``); each
  worker process deserialises it once and caches it, so tasks carry only their own unit.
* Results stream back as they finish (``ray.wait``) and go to ``on_result`` in the driver, which writes each
  output atomically; the caller builds the summary from the returned list, which is in unit order, so any worker
  count gives the same bytes.
* A task whose worker dies is retried by Ray (:data:`MAX_RETRIES`); a task that raises is not retried (the same
  input fails the same way) and, after every other unit has run, the first failure is raised as one line naming
  its unit, with the original error and its exit code.
* Ctrl-C (or SIGTERM) cancels the running tasks, which raises KeyboardInterrupt inside them so that a Lava child
  process group is ended and its ``/dev/shm`` segments unlinked (:func:`spikerain.lava_env.run_lava_module`);
  then the local Ray instance is shut down.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from spikerain.errors import EnvironmentMissingError, ToolchainError, UnitError, UsageError, one_line

log = logging.getLogger("spikerain")

#: Ray re-runs a task this many times when its worker process dies (killed, out of memory, node lost)
MAX_RETRIES = 3
#: seconds that cancelled tasks get to clean up (end Lava children) before Ray is shut down
CANCEL_GRACE_S = 15.0
FIX_RAY = "install Ray with `make .venv` or `pip install 'spikerain[scaleout]'` (ray[client]==2.60.0)"


def add_arguments(p) -> None:
    """``--workers N`` and ``--cluster ADDRESS`` for a command whose work splits into images or tiles."""
    g = p.add_argument_group("scale-out (Ray; docs/scale-out.md)")
    g.add_argument("--workers", type=int, metavar="N",
                   help="run the images/tiles on N local Ray workers (default: in this process)")
    g.add_argument("--cluster", metavar="ADDRESS",
                   help="run on an existing Ray cluster: ray://HOST:10001 or auto")


@dataclass(frozen=True)
class Unit:
    """One independent piece of work: ``name`` names it in errors and progress, ``payload`` goes to the task."""

    name: str
    payload: Any


class Engine:
    """A Ray session: ``ray`` is the module, ``started`` whether this process started it (and stops it)."""

    def __init__(self, ray, started: bool, temp_dir: str | None = None):
        self.ray = ray
        self.started = started
        self.temp_dir = temp_dir

    @property
    def cpus(self) -> int:
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))


@contextmanager
def engine(args) -> Iterator[Engine | None]:
    """The Ray session that ``--workers``/``--cluster`` ask for, or None (run in this process)."""
    workers, cluster = getattr(args, "workers", None), getattr(args, "cluster", None)
    if workers is None and not cluster:
        yield None
        return
    if workers is not None and cluster:
        raise UsageError("--workers and --cluster exclude each other",
                         fix="use --workers N on one machine, or --cluster ADDRESS (its size is the cluster's)")
    if workers is not None and workers < 1:
        raise UsageError(f"--workers {workers} is not a positive number", fix="use --workers 1 or more")
    try:
        import ray
    except ImportError as e:
        raise EnvironmentMissingError("--workers/--cluster need Ray, which is not installed", fix=FIX_RAY) from e
    if ray.is_initialized():
        log.info("using the Ray session already running in this process")
        with _ray_messages_to_log():
            yield Engine(ray, started=False)
        return
    temp_dir = None
    try:
        if cluster:
            log.info("joining the Ray cluster at %s", cluster)
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            with warnings.catch_warnings():  # Ray Client warns before it raises; the error says it all
                warnings.simplefilter("ignore", UserWarning)
                ray.init(address=cluster, **_QUIET)
        else:
            temp_dir = start_local(workers)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = f"the Ray cluster at {cluster}" if cluster else "a local Ray instance"
        raise EnvironmentMissingError(f"cannot start or reach {where}: {one_line(e)}",
                                      fix="start the cluster with `ray start --head` and pass its address, "
                                          "or use --workers N" if cluster else "check `ray` in .venv") from e
    eng = Engine(ray, started=True, temp_dir=temp_dir)
    try:
        with _ray_messages_to_log():
            yield eng
    finally:
        ray.shutdown()
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)


class _LogStream(io.TextIOBase):
    """A stdout stand-in that turns Ray's messages into log lines: the driver's error listener prints raylet
    messages (e.g. "A worker died ...", before Ray retries the task) to ``sys.stdout``, where they would corrupt
    ``--json`` output. The first line of each message is a warning, the rest debug detail."""

    def __init__(self):
        self._buf = ""

    def write(self, text: str) -> int:
        self._buf += text
        *lines, self._buf = self._buf.split("\n")
        for line in lines:
            line = re.sub(r"\x1b\[[0-9;]*m", "", line).rstrip()
            if line.startswith("(raylet)"):
                log.warning("ray: %s", line)
            elif line:
                log.debug("ray: %s", line)
        return len(text)


@contextmanager
def _ray_messages_to_log():
    """While Ray runs, ``sys.stdout`` is a :class:`_LogStream` (the commands print their results afterwards)."""
    with contextlib.redirect_stdout(_LogStream()):
        yield


# Ray's own messages stay out of the command's output: workers' logs go to files, only errors reach stderr.
_QUIET = {"log_to_driver": False, "configure_logging": True, "logging_level": logging.ERROR}


def start_local(workers: int) -> str:
    """Start a private local Ray instance with ``workers`` CPUs; returns its temporary folder (logs, sockets),
    which the caller removes after ``ray.shutdown()``."""
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home
    temp_dir = tempfile.mkdtemp(prefix="spikerain-ray-")  # short: Ray's unix sockets live under it (<= 107 chars)
    log.info("starting a local Ray instance with %d workers (logs in %s)", workers, temp_dir)
    try:
        ray.init(num_cpus=workers, include_dashboard=False, _temp_dir=temp_dir, **_QUIET)
    except BaseException:
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    return temp_dir


# Per worker process: the shared input, deserialised once per object (keyed by its ObjectRef id).
_SHARED: dict[str, Any] = {}


def _call(fn: Callable, shared_box: list, payload, threads: int | None = None):
    """The Ray task: ``shared_box`` holds the ObjectRef unresolved, so that it is fetched once per worker.
    ``threads``: the driver's torch intra-op thread count. Ray starts workers with one thread, and a float
    convolution summed over another number of threads rounds differently, so a unit runs with the driver's
    count: any worker count then gives the in-process bytes."""
    import ray

    if threads:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)

    ref = shared_box[0]
    key = ref.hex()
    if key not in _SHARED:
        _SHARED.clear()  # a new run: drop the previous run's model
        _SHARED[key] = ray.get(ref)
    return fn(_SHARED[key], payload)


def run_units(eng: Engine | None, fn: Callable[[Any, Any], Any], shared: Any, units: Sequence[Unit], *,
              on_result: Callable[[int, Any], None] | None = None,
              progress: Callable[[int, int, str], None] | None = None) -> list:
    """``fn(shared, unit.payload)`` for every unit, in this process (``eng`` None) or as Ray tasks.

    ``on_result(index, result)`` runs in this process as each result arrives; the return value is the list of
    results in unit order. A unit that raises does not stop the others; once all have run, the first failure
    (in unit order) is raised as :class:`UnitError`. ``fn`` must be a module-level function (Ray ships it by
    reference: the workers import spikerain).
    """
    results: list = [None] * len(units)
    failures: dict[int, BaseException] = {}
    done = 0

    def finished(i: int, ok: bool, value) -> None:
        nonlocal done
        if ok:
            results[i] = value
            if on_result is not None:
                on_result(i, value)
        else:
            failures[i] = value
            log.debug("%s failed: %s", units[i].name, value)
        done += 1
        if progress is not None:
            progress(done, len(units), units[i].name)

    if eng is None:
        for i, u in enumerate(units):
            try:
                value = fn(shared, u.payload)
            except ToolchainError as e:
                finished(i, False, e)
            else:
                finished(i, True, value)
    else:
        _run_ray(eng, fn, shared, units, finished)
    if failures:
        order = sorted(failures)
        first = failures[order[0]]
        raise UnitError(units[order[0]].name, first, [units[i].name for i in order[1:]]) from first
    return results


def _run_ray(eng: Engine, fn, shared, units: Sequence[Unit], finished) -> None:
    ray = eng.ray
    from ray.exceptions import RayTaskError

    task = ray.remote(_call).options(max_retries=MAX_RETRIES, retry_exceptions=False, num_cpus=1,
                                     name=f"spikerain:{getattr(fn, '__name__', 'unit')}")
    box = [ray.put(shared)]  # once; every task gets the reference, not a copy
    torch = sys.modules.get("torch")  # a run that never imported torch (Lava tiles) sets nothing
    threads = torch.get_num_threads() if torch is not None else None
    window = 2 * eng.cpus  # tasks in flight: enough to keep every CPU busy, few enough to bound memory
    pending: dict = {}
    nxt = 0
    try:
        while nxt < len(units) or pending:
            while nxt < len(units) and len(pending) < window:
                pending[task.remote(fn, box, units[nxt].payload, threads)] = nxt
                nxt += 1
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i = pending.pop(ref)
                try:
                    value = ray.get(ref)
                except RayTaskError as e:  # the task raised: report its own exception
                    cause = e.cause if isinstance(getattr(e, "cause", None), BaseException) else e
                    finished(i, False, cause)
                except ray.exceptions.RayError as e:  # the worker died MAX_RETRIES + 1 times
                    finished(i, False, e)
                else:
                    finished(i, True, value)
    except BaseException:
        _cancel(ray, list(pending))
        raise


def _cancel(ray, refs: list) -> None:
    """Cancel running tasks gently (KeyboardInterrupt inside them, so Lava children are ended) and wait a while."""
    if not refs:
        return
    log.warning("stopping %d running tasks", len(refs))
    for ref in refs:
        try:
            ray.cancel(ref, force=False)
        except Exception as e:  # noqa: BLE001 (best effort: shutdown follows)
            log.debug("cancel: %s", e)
    try:
        ray.wait(refs, num_returns=len(refs), timeout=CANCEL_GRACE_S)
    except Exception as e:  # noqa: BLE001
        log.debug("wait after cancel: %s", e)
