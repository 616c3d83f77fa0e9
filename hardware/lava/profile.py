"""Opt-in profile of a Lava run: where the CPU time of every Lava process goes.

Set ``SPIKERAIN_LAVA_PROFILE=DIR`` (read when a run starts) and every Lava process of the graph,
stock or spikerain's, runs a subclass of the ProcessModel Lava would pick for it whose ``run_spk`` is timed:
per process its kind, steps, the CPU time its main thread spends in ``run_spk`` (the model's own work), the part of
that spent in its ports' ``recv``/``send`` (Lava's channels: copies into and out of shared memory, semaphores,
queues; the rest is compute), and the CPU time of the whole OS process over
the run (Lava's command loop and the helper threads every channel port runs, besides ``run_spk``). Each process
writes ``DIR/<pid>.json`` when the runtime stops it. The runner also records the CPU time of Lava's other
processes (the runtime service that drives every step) and of its own. :func:`summary` sums it all per process
kind. Unset, nothing here runs: the models are Lava's and spikerain's as they are.
"""

from __future__ import annotations

import functools
import json
import os
import time

ENV = "SPIKERAIN_LAVA_PROFILE"


def profile_dir() -> str | None:
    return os.environ.get(ENV) or None


@functools.cache
def timed(model: type) -> type:
    """A subclass of ProcessModel ``model`` that times ``run_spk`` and writes its totals when stopped."""

    def __init__(self, proc_params=None):
        model.__init__(self, proc_params)
        self._prof = {"steps": 0, "spk_cpu": 0.0, "spk_wall": 0.0, "cpu0": None}

    def run_spk(self):
        p = self._prof
        if p["cpu0"] is None:
            p["cpu0"] = time.process_time()
            p["io_cpu"] = 0.0
            for port in self.py_ports:  # time the port operations of this instance apart from the compute
                for meth in ("recv", "send"):
                    if hasattr(port, meth):
                        setattr(port, meth, _io_timer(getattr(port, meth), p))
        c, w = time.thread_time(), time.perf_counter()
        model.run_spk(self)
        p["spk_cpu"] += time.thread_time() - c
        p["spk_wall"] += time.perf_counter() - w
        p["steps"] += 1

    def _stop(self):
        p = self._prof
        out = profile_dir()
        if out and p["cpu0"] is not None:
            name = getattr(model, "wrapped_model", model).__name__  # Lava's or spikerain's model, not the wrapper
            rec = {"pid": os.getpid(), "name": getattr(self, "_prof_name", ""), "model": name,
                   "steps": p["steps"], "spk_cpu_s": p["spk_cpu"], "spk_wall_s": p["spk_wall"],
                   "port_io_cpu_s": p["io_cpu"],
                   "process_cpu_s": time.process_time() - p["cpu0"]}
            path = os.path.join(out, f"{os.getpid()}.json")
            with open(path + ".tmp", "w", encoding="utf-8") as f:
                json.dump(rec, f)
            os.replace(path + ".tmp", path)
        model._stop(self)

    return type(f"Timed{model.__name__}", (model,), {"__init__": __init__, "run_spk": run_spk, "_stop": _stop})


def _io_timer(method, p: dict):
    def timed_io(*args):
        c = time.thread_time()
        try:
            return method(*args)
        finally:
            p["io_cpu"] += time.thread_time() - c

    return timed_io


def instrument(procs: dict, model_map: dict, cfg) -> dict:
    """Every process of ``procs`` (unit name -> Lava process) gets the timed subclass of the model ``cfg`` selects
    for it (spikerain's own from ``model_map``, else Lava's choice). Returns the new exception map."""
    from lava.magma.compiler.compiler_graphs import ProcGroupDiGraphs

    out = {}
    for name, proc in procs.items():
        chosen = model_map.get(proc) or cfg.select(proc, ProcGroupDiGraphs._find_proc_models(proc))
        cls = timed(chosen)
        # the unit's name travels to the child through a class of its own
        out[proc] = type(f"{cls.__name__}_{len(out)}", (cls,), {"_prof_name": name})
    return out


def _children_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of every live child of ``pid``, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", encoding="utf-8") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # fields[1] is the ppid (fields count from the state, after the name)
            out[int(d)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def snapshot() -> dict:
    """This process's CPU time and its children's (taken before the run and before the stop)."""
    return {"self": time.process_time(), "children": _children_cpu(os.getpid())}


def summary(out_dir: str, before: dict, after: dict, wall: dict, steps: int) -> dict:
    """Per process kind: processes, CPU in ``run_spk`` and CPU of the whole process over the run, with Lava's
    runtime service (children that wrote no record) and the runner itself, against the phases' wall times."""
    recs = []
    for f in os.listdir(out_dir):
        if f.endswith(".json"):
            with open(os.path.join(out_dir, f), encoding="utf-8") as fh:
                recs.append(json.load(fh))
    kinds: dict[str, dict] = {}
    for r in recs:
        k = kinds.setdefault(r["model"], {"processes": 0, "spk_cpu_s": 0.0, "port_io_cpu_s": 0.0,
                                          "process_cpu_s": 0.0})
        k["processes"] += 1
        for f in ("spk_cpu_s", "port_io_cpu_s", "process_cpu_s"):
            k[f] += r[f]
    models = {r["pid"] for r in recs}
    others = sum(c - before["children"].get(p, 0.0) for p, c in after["children"].items() if p not in models)
    spk = sum(k["spk_cpu_s"] for k in kinds.values())
    io = sum(k["port_io_cpu_s"] for k in kinds.values())
    proc = sum(k["process_cpu_s"] for k in kinds.values())
    return {"steps": steps, "wall_s": wall, "processes_profiled": len(recs),
            "run_spk_cpu_s": spk, "port_io_cpu_s": io, "compute_cpu_s": spk - io,
            "model_processes_cpu_s": proc, "lava_loop_and_channels_cpu_s": proc - spk,
            "runtime_service_and_other_children_cpu_s": others, "runner_cpu_s": after["self"] - before["self"],
            "by_model": dict(sorted(kinds.items(), key=lambda kv: -kv[1]["process_cpu_s"])),
            "per_process": sorted(recs, key=lambda r: -r["process_cpu_s"])}
