"""Activity records on disk (HDF5): per node, non-zero counts per timestep and the elements per step.

The energy estimator reads this one format whatever produced it (fast simulator, Lava run).
"""

from __future__ import annotations

import json

import h5py
import numpy as np

from spikerain.atomic import atomic_hdf5

FORMAT = "spikerain-activity"
VERSION = 1


def write_activity(path, graph, activity, stats: dict | None = None) -> None:
    with atomic_hdf5(path) as f:
        f.attrs["format"] = FORMAT
        f.attrs["version"] = VERSION
        for i, n in enumerate(graph.nodes):
            if n.name not in activity.nonzero:
                continue
            g = f.create_group(f"nodes/{i:05d}")
            g.attrs["name"] = n.name
            g.attrs["op"] = n.op
            g.attrs["placement"] = n.placement
            g.attrs["elements_per_step"] = activity.per_step[n.name]
            g.attrs["events"] = json.dumps((stats or {}).get(n.name, {}))
            g["nonzero_per_step"] = np.asarray(activity.nonzero[n.name], dtype=np.int64)


def read_activity(path) -> dict[str, dict]:
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != FORMAT:
            raise ValueError(f"{path} is not a spikerain activity record")
        return {str(g.attrs["name"]): {"op": str(g.attrs["op"]), "placement": str(g.attrs["placement"]),
                                       "elements_per_step": int(g.attrs["elements_per_step"]),
                                       "nonzero_per_step": g["nonzero_per_step"][()].tolist()}
                for g in (f["nodes"][k] for k in sorted(f["nodes"]))}
