"""What the rechecking command wait costs (``hardware/lava/wakeup.py``): the same Lava crop with every model's
command wait rechecked every ``RECHECK_S`` (as spikerain runs it) and with Lava's own wait (``recheck_s=0``, which
can hang: see docs/lava.md), alternating in one session, fresh Lava children each run.

The shipped networks (dim 16) on the 16x16 centre crop of the shipped sample image; every run is checked bit-exact
against the fast simulator. The ratio is the median run phase with rechecks over the median without.

    python -m bench.lava_wakeup [--rounds N]   # writes bench/results/lava_wakeup.json and its docs/benchmarks.md table
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.common import cores_line, machine, write_results

SIZE = 16


def _run(artifact: Path, crop: np.ndarray, tmp: Path, recheck_s: float | None) -> dict:
    """One Lava run through the runner, as ``hardware.backend.run_lava`` makes it, with ``recheck_s`` in the job."""
    from spikerain.lava_env import run_lava_module

    np.save(tmp / "image.npy", np.asarray(crop, np.float64))
    job = {"artifact": str(artifact), "image": str(tmp / "image.npy"), "out": str(tmp / "out.npz")}
    if recheck_s is not None:
        job["recheck_s"] = recheck_s
    (tmp / "job.json").write_text(json.dumps(job))
    run_lava_module("spikerain.hardware.lava.runner", [str(tmp / "job.json")], timeout=1800)
    with np.load(tmp / "out.npz") as r:
        meta = json.loads(str(r["meta"]))
        return {"output": r["output"].astype(np.int64), "counts": meta["counts"], "seconds": meta["seconds"],
                "processes": meta["processes"], "steps": meta["steps"]}


def main(argv=None) -> int:
    from spikerain.converter.artifact import save_artifact
    from spikerain.imageio import read_image
    from spikerain.models.checkpoint import load_default_or
    from spikerain.models.samples import sample_pair
    from spikerain.pipeline.convert import convert_model
    from spikerain.pipeline.verify import center_crop, compare, fast_reference

    argv = sys.argv[1:] if argv is None else argv
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 3
    crop = center_crop(read_image(sample_pair()[0]), SIZE)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for net in ("esdnet", "vlifnet"):
            _, g, _ = convert_model(load_default_or(None, net), report_images=1)
            path = t / f"{net}.h5"
            save_artifact(path, g)
            fast_out, fast_counts, _ = fast_reference(g, crop)
            runs: dict[str, list[float]] = {"rechecking": [], "lava": []}
            exact, shape = True, {}
            for r in range(rounds):  # alternate which goes first, so drift in the machine's speed hits both
                for kind in (("rechecking", "lava") if r % 2 == 0 else ("lava", "rechecking")):
                    res = _run(path, crop, t, None if kind == "rechecking" else 0)
                    exact &= compare(fast_out, fast_counts, res["output"], res["counts"])["bit_exact"]
                    runs[kind].append(res["seconds"]["run"])
                    shape = {"processes": res["processes"], "steps": res["steps"]}
                    print(net, kind, f"{res['seconds']['run']:.2f} s", flush=True)
            med = {k: statistics.median(v) for k, v in runs.items()}
            rows.append({"net": net, "size": SIZE, "rounds": rounds, **shape, "run_s": runs,
                         "median_run_s": med, "ratio": med["rechecking"] / med["lava"], "bit_exact": exact})
    write_results("lava_wakeup", {"machine": machine(), "rows": rows}, table(rows))
    return 0


def table(rows: list[dict]) -> str:
    out = ["## The rechecking command wait against Lava's own (`bench/lava_wakeup.py`)", "",
           f"Shipped networks (dim 16), {SIZE}x{SIZE} centre crop; the Lava run phase with every model's command wait "
           "rechecked every 0.1 s (`hardware/lava/wakeup.py`, as spikerain runs) and with Lava's own wait, "
           "alternating in one session. Ratio: median with rechecks / median without.", "",
           "| network | processes | steps | rounds | run, rechecking (median) | run, Lava's wait (median) | ratio "
           "| exact |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        m = r["median_run_s"]
        out.append(f"| {r['net']} | {r['processes']} | {r['steps']} | {r['rounds']} | {m['rechecking']:.1f} s | "
                   f"{m['lava']:.1f} s | {r['ratio']:.2f}x | {r['bit_exact']} |")
    out += ["", cores_line()]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
