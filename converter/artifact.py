"""The deployment artifact: one versioned, checksummed HDF5 file holding an IR graph. Torch-free.

Layout (see ``docs/artifact.md``)::

    /                  attrs: format="spikerain-artifact", schema_version, spikerain_version, checksum (sha256)
    /meta              attrs: json (model config, calibration info, quantization report, provenance)
    /graph             attrs: outputs (json), input_shape (json), n_nodes
    /graph/nodes/NNNNN attrs: name, op, placement, inputs (json), params (json); one dataset per array field

The checksum is a sha256 over the canonical JSON of every node's op, name, inputs and scalar parameters, the
bytes, dtypes and shapes of its arrays, the graph's outputs and input shape, and the meta JSON. Loading
recomputes it, so a corrupted or edited file is refused. Writes are atomic.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import h5py
import numpy as np

from spikerain._version import __version__
from spikerain.atomic import atomic_hdf5
from spikerain.converter import ir
from spikerain.errors import ArtifactError, UnsupportedOpError

FORMAT = "spikerain-artifact"
SCHEMA_VERSION = 2  # 2: checksum leaves out fields at their default; netx ops


def _jsonable(v):
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_jsonable).encode()


def _is_default(node: ir.Node, name: str, value) -> bool:
    f = next(f for f in dataclasses.fields(node) if f.name == name)
    if f.default is not dataclasses.MISSING:
        return not isinstance(value, np.ndarray) and value == f.default
    if f.default_factory is not dataclasses.MISSING:
        d = f.default_factory()
        return isinstance(d, np.ndarray) and isinstance(value, np.ndarray) and d.size == 0 and value.size == 0
    return False


def checksum(graph: ir.Graph, meta: dict) -> str:
    """SHA-256 over the graph. Fields at their default value are left out, so adding a defaulted field to an op
    keeps earlier artifacts valid (the default reproduces the earlier behaviour)."""
    h = hashlib.sha256()
    h.update(_canonical({"outputs": list(graph.outputs), "input_shape": list(graph.input_shape), "meta": meta}))
    for n in graph.nodes:
        params = {k: _jsonable(v) for k, v in n.params().items() if not _is_default(n, k, v)}
        h.update(_canonical({"op": n.op, "name": n.name, "inputs": list(n.inputs), "params": params}))
        for k, a in sorted(n.arrays().items()):
            if _is_default(n, k, a):
                continue
            h.update(_canonical({"array": k, "dtype": str(a.dtype), "shape": list(a.shape)}))
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def save_artifact(path: str | os.PathLike, graph: ir.Graph, meta: dict | None = None) -> str:
    """Validate and write ``graph`` atomically; returns the checksum."""
    ir.validate(graph)
    meta = dict(graph.meta if meta is None else meta)
    digest = checksum(graph, meta)
    with atomic_hdf5(path) as f:
        f.attrs["format"] = FORMAT
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["spikerain_version"] = __version__
        f.attrs["checksum"] = digest
        f.create_group("meta").attrs["json"] = json.dumps(meta, default=_jsonable)
        gg = f.create_group("graph")
        gg.attrs["outputs"] = json.dumps(list(graph.outputs))
        gg.attrs["input_shape"] = json.dumps(list(graph.input_shape))
        gg.attrs["n_nodes"] = len(graph.nodes)
        nodes = gg.create_group("nodes")
        for i, n in enumerate(graph.nodes):
            ng = nodes.create_group(f"{i:05d}")
            ng.attrs["name"] = n.name
            ng.attrs["op"] = n.op
            ng.attrs["placement"] = n.placement
            ng.attrs["inputs"] = json.dumps(list(n.inputs))
            ng.attrs["params"] = json.dumps({k: _jsonable(v) for k, v in n.params().items()})
            for k, a in n.arrays().items():
                ng.create_dataset(k, data=a)
    return digest


def _restore_params(cls, params: dict) -> dict:
    import dataclasses

    types = {f.name: f.type for f in dataclasses.fields(cls)}
    out = {}
    for k, v in params.items():
        out[k] = tuple(v) if isinstance(v, list) and "tuple" in str(types.get(k, "")) else v
    return out


def load_artifact(path: str | os.PathLike) -> ir.Graph:
    """Read, check and return the graph (with ``meta``). Any defect raises :class:`ArtifactError`."""
    p = Path(path)
    if not p.is_file():
        raise ArtifactError(f"artifact {p} does not exist", fix="pass a model.h5 written by `spikerain convert`")
    if not h5py.is_hdf5(p):
        raise ArtifactError(f"{p} is not an HDF5 file", fix="pass a model.h5 written by `spikerain convert`")
    try:
        with h5py.File(p, "r") as f:
            fmt = f.attrs.get("format")
            if fmt != FORMAT:
                raise ArtifactError(f"{p} is an HDF5 file but not a spikerain artifact (format {fmt!r})",
                                    fix="convert the model with `spikerain convert`")
            version = int(f.attrs.get("schema_version", -1))
            if version != SCHEMA_VERSION:
                raise ArtifactError(
                    f"{p} has artifact schema version {version}, this spikerain ({__version__}) reads version "
                    f"{SCHEMA_VERSION}", fix="re-run `spikerain convert` with this version")
            meta = json.loads(f["meta"].attrs["json"])
            gg = f["graph"]
            outputs = tuple(json.loads(gg.attrs["outputs"]))
            input_shape = tuple(json.loads(gg.attrs["input_shape"]))
            nodes = []
            for key in sorted(gg["nodes"].keys()):
                ng = gg["nodes"][key]
                cls = ir.op_class(str(ng.attrs["op"]))
                params = _restore_params(cls, json.loads(ng.attrs["params"]))
                arrays = {k: ng[k][()] for k in ng.keys()}
                nodes.append(cls(name=str(ng.attrs["name"]), inputs=tuple(json.loads(ng.attrs["inputs"])),
                                 **params, **arrays))
            if len(nodes) != int(gg.attrs["n_nodes"]):
                raise ArtifactError(f"{p} is truncated: {len(nodes)} of {int(gg.attrs['n_nodes'])} nodes",
                                    fix="write the artifact again")
            stored = str(f.attrs["checksum"])
    except ArtifactError:
        raise
    except UnsupportedOpError as e:
        raise ArtifactError(f"{p} uses an op this version does not know ({e.args[0]})",
                            fix="use the spikerain version that wrote it") from e
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise ArtifactError(f"{p} is truncated or corrupt ({type(e).__name__}: {e})",
                            fix="write the artifact again") from e
    graph = ir.Graph(nodes=nodes, outputs=outputs, input_shape=input_shape, meta=meta)
    actual = checksum(graph, meta)
    if actual != stored:
        raise ArtifactError(f"{p} fails its checksum (stored {stored[:12]}..., content {actual[:12]}...): it was "
                            "modified or damaged after it was written", fix="write the artifact again")
    return ir.validate(graph)
