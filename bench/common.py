"""Shared benchmark helpers: isolated worker processes (for honest peak memory), timing, result files."""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"


def machine() -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "python": platform.python_version()}


def peak_rss_mb() -> float:
    # VmHWM belongs to this process's address space; ru_maxrss survives exec, so a worker started by a large
    # parent would report the parent's peak.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def peak_rss_during(fn) -> float:
    """Peak RSS (MB) of this process while ``fn()`` runs: the kernel's high-water mark is reset first
    (``/proc/self/clear_refs``), so it covers what was resident before plus what ``fn`` added; the process-wide
    peak where the reset is not available."""
    import gc

    gc.collect()
    try:  # hand freed heap pages back first, so an earlier pass's leftovers do not count
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    fn()
    return peak_rss_mb()


def run_worker(module: str, spec: dict, timeout: float = 1800) -> dict:
    """Run ``python -m module '<json spec>'`` in a fresh process; it prints one JSON line as its result."""
    r = subprocess.run([sys.executable, "-m", module, json.dumps(spec)], capture_output=True, text=True,
                       timeout=timeout, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError(f"benchmark worker failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_per_network(module: str, spec: dict, nets=("vlifnet", "esdnet")) -> list[dict]:
    """One fresh worker process per network; prints and returns each result row."""
    rows = []
    for net in nets:
        row = run_worker(module, {"net": net, **spec})
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def machine_line(m: dict) -> str:
    return f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} ({m['threads']} threads)."


def cores_line() -> str:
    """The machine line of the Lava benchmarks (no torch runs in their measured processes)."""
    m = machine()
    return f"Machine: {m['cpu']}, {m['cores']} cores."


def entry(worker, main) -> int:
    """``python -m bench.X '<json spec>'`` runs one worker and prints its JSON row; otherwise ``main()``."""
    if len(sys.argv) == 2 and sys.argv[1].startswith("{"):
        print(json.dumps(worker(json.loads(sys.argv[1]))))
        return 0
    return main()


def median_time(fn, repeats: int, warmup: int = 1) -> tuple[float, list[float]]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2], times


def write_results(name: str, payload: dict, table_md: str, doc: Path = DOC) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    _update_doc(name, table_md, doc)
    return out


def _update_doc(name: str, table_md: str, doc: Path = DOC) -> None:
    """Replace the section between ``<!-- bench:NAME -->`` markers in ``doc`` (docs/benchmarks.md)."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{table_md.rstrip()}\n{end}"
    if start in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _m: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.write_text(text)


@cache  # once per process and commit: a stage's registry may be created once under one name
def int_kernels_at(commit: str) -> dict:
    """The fast simulator's integer kernels as they were at ``commit`` (read from git into a module of their own,
    under a registry name of their own): the "before" of a lever benchmark, run in the same process as today's."""
    import importlib.util
    import tempfile

    src = subprocess.run(["git", "show", f"{commit}:hardware/fastsim/int_kernels.py"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    src = src.replace('OpRegistry("fast simulator (integer)"', f'OpRegistry("fast simulator (integer, {commit})"')
    path = Path(tempfile.mkdtemp()) / f"int_kernels_{commit}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(f"int_kernels_{commit}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return dict(mod.INT_KERNELS.items())
