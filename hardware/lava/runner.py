"""Child entry point: ``python -m spikerain.hardware.lava.runner JOB.json`` in the Lava interpreter.

JOB.json: ``{"artifact": path, "image": path to a float [C, H, W] .npy in [0, 1] (or a sequence [T, C, H, W]),
"out": path to the result .npz, "conv_model": "vectorised" | "stock", "hardware": false, "record": false}``, and
for benchmarks ``"recheck_s"`` (how often idle models recheck their command port, ``wakeup.py``; 0: Lava's own
wait). The result holds the output frames
(``output``, int64 [T, C, H, W]), and a JSON string ``meta`` with per-layer non-zero counts per timestep, the
schedule summary, the process count and timings. It is written atomically; a failed run writes nothing.

With ``"tiles": true`` the image is a stack of tiles ``[N, C, h, w]``, all run pipelined in one process graph
built and compiled once (:func:`~spikerain.hardware.lava.network.run_tiles`); ``output`` is then
``[N, T, C, h, w]`` and ``meta["tiles"]`` holds each tile's counts, energy and timings; ``[lava] tile k/N``
lines report progress.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile


def run_job(job: dict) -> dict:
    import lava.magma.core.run_configs  # noqa: F401  (import Lava first: it sets the multiprocessing start method)
    import numpy as np

    from spikerain.converter import ir
    from spikerain.converter.artifact import load_artifact
    from spikerain.hardware.kernels.reference import reference_kernel
    from spikerain.hardware.lava.network import COUNTERS, build_network, run_tiles, split_concat_counts
    from spikerain.hardware.realisation import classify
    from spikerain.hardware.schedule import build_schedule

    print(f"[lava] pgid {os.getpgid(0)}", file=sys.stderr, flush=True)
    image = np.load(job["image"])
    tiles = bool(job.get("tiles", False))
    stack = image if tiles else None
    if tiles:
        image = stack[0]
    g = load_artifact(job["artifact"])
    if g.nodes[0].op == "q_tensor_input":  # a module's input: the traced shape is the graph's, T frames
        if tuple(image.shape) != tuple(g.input_shape):
            raise ValueError(f"input of shape {image.shape} for a graph traced at {g.input_shape}")
    else:
        g = g.with_nodes(g.nodes, input_shape=(1, *image.shape[-3:]))
    if image.ndim == 4 and g.nodes[0].op != "q_tensor_input":  # a time-varying input: one step per frame
        from spikerain.hardware.sequence import with_steps

        g = with_steps(g, image.shape[0])
    ir.infer_shapes(g)
    schedule = build_schedule(g, lower_relu=bool(job.get("lower_relu", True)),
                              lower_upsample=bool(job.get("lower_upsample", True)),
                              custom_by_program=bool(job.get("custom_by_program", True)))
    print(f"[lava] {len(schedule.units)} processes, {schedule.steps} steps", file=sys.stderr, flush=True)
    from spikerain.counting.plan import EnergyPlan

    inputs = None
    if tiles:  # every tile quantized as the source would quantize it
        first = g.nodes[0]
        inputs = [reference_kernel(first.op)(first, np.asarray(t, np.float64)[None])[0, 0] for t in stack]
    net = build_network(g, image, conv_model=job.get("conv_model", "vectorised"), schedule=schedule,
                        fail_at=int(job.get("fail_at", 0)), energy=EnergyPlan.build(g),
                        record=bool(job.get("record", False)), tiles=inputs)
    if net.tiles:
        print(f"[lava] {len(net.tiles)} tiles pipelined, one every {net.period} steps: "
              f"{schedule.steps + (len(net.tiles) - 1) * net.period} steps", file=sys.stderr, flush=True)
    recheck = job.get("recheck_s")  # benchmarks only (bench/lava_wakeup.py): 0 is Lava's own command wait
    results = run_tiles(net, hardware=bool(job.get("hardware", False)),
                        recheck_s=None if recheck is None else float(recheck),
                        progress=lambda done, total: print(f"[lava] step {done}/{total}", file=sys.stderr,
                                                           flush=True),
                        on_tile=lambda k, n: print(f"[lava] tile {k}/{n}", file=sys.stderr, flush=True))
    res = results[0]
    meta = {"counts": split_concat_counts(g, schedule, res.counts), "seconds": res.seconds,
            "processes": res.processes, "steps": res.steps, "steps_run": res.steps_run,
            "schedule": schedule.summary(), "energy": res.energy,
            "realisation": classify(g, schedule),
            "conv_model": job.get("conv_model", "vectorised"), "models_rechecking": list(res.rechecking), **COUNTERS}
    if res.profile is not None:
        meta["profile"] = res.profile
    if tiles:
        meta["tiles"] = [{"counts": split_concat_counts(g, schedule, r.counts), "energy": r.energy,
                          "seconds": r.seconds} for r in results]
        res.output = np.stack([r.output for r in results])
        meta["seconds"] = {k: sum(r.seconds.get(k, 0.0) for r in results) for k in ("compile", "run", "readback",
                                                                                    "stop")}
    out = job["out"]
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(out)), suffix=".npz")
    os.close(fd)
    try:
        recorded = {f"record/{name}/{k}": a for name, arrays in res.record.items() for k, a in arrays.items()}
        np.savez(tmp, output=res.output, meta=np.array(json.dumps(meta)), **recorded)
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise
    return meta


def main(argv: list[str]) -> int:
    with open(argv[0], encoding="utf-8") as f:
        job = json.load(f)
    meta = run_job(job)
    print(json.dumps({"processes": meta["processes"], "steps": meta["steps"], "seconds": meta["seconds"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
