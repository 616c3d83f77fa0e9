"""Check the Lava process graph against the fast simulator: same artifact, same crop, every output integer and
every layer's non-zero count per timestep must be equal (needs torch for the fast simulator)."""

from __future__ import annotations

import time

import numpy as np

from spikerain.converter import ir


def center_crop(img_hwc: np.ndarray, size, at: tuple[int, int] | None = None) -> np.ndarray:
    """A crop of ``size`` (an int for a square, or (h, w)), centred unless ``at`` = (y, x), as float
    ``[C, H, W]``."""
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    H, W = img_hwc.shape[:2]
    y, x = at if at is not None else ((H - h) // 2, (W - w) // 2)
    if h > H or w > W or y < 0 or x < 0 or y + h > H or x + w > W:
        from spikerain.errors import InputError

        raise InputError(f"a {h}x{w} crop at ({y}, {x}) does not fit a {H}x{W} image",
                         fix="use a smaller --crop or another --at")
    return np.ascontiguousarray(img_hwc[y:y + h, x:x + w].transpose(2, 0, 1)).astype(np.float64)


def first_difference(fast_counts: dict, lava_counts: dict, layers: list[str]) -> dict | None:
    """The first layer (in ``layers`` order) and timestep whose non-zero counts differ."""
    for name in layers:
        a, b = fast_counts.get(name), lava_counts.get(name)
        if a == b:
            continue
        if a is None or b is None or len(a) != len(b):
            return {"layer": name, "timestep": None, "fast": a, "lava": b}
        t = next(i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y)
        return {"layer": name, "timestep": t, "fast": a[t], "lava": b[t]}
    return None


def fast_reference(graph: ir.Graph, image_chw: np.ndarray) -> tuple[np.ndarray, dict[str, list[int]], float]:
    from spikerain.hardware.fastsim.simulate import Activity, simulate

    g = graph.with_nodes(graph.nodes, input_shape=(1, *image_chw.shape))
    ir.infer_shapes(g)
    act = Activity()
    t0 = time.perf_counter()
    out = simulate(g, image_chw[None].astype(np.float32), activity=act)
    return out[g.outputs[0]][:, 0].numpy().astype(np.int64), act.nonzero, time.perf_counter() - t0


def compare(fast_out: np.ndarray, fast_counts: dict, lava_out: np.ndarray, lava_counts: dict,
            order: list[str] | None = None) -> dict:
    """``order``: the graph's node names, so that the first mismatch is the earliest layer."""
    same_shape = fast_out.shape == lava_out.shape
    diff = np.abs(fast_out - lava_out) if same_shape else None
    names = set(fast_counts) | set(lava_counts)
    layers = [n for n in (order or []) if n in names] + sorted(names - set(order or []))
    bad = [k for k in layers if fast_counts.get(k) != lava_counts.get(k)]
    return {
        "output_equal": bool(same_shape and not diff.any()),
        "output_values": int(fast_out.size),
        "output_mismatches": int(np.count_nonzero(diff)) if same_shape else int(fast_out.size),
        "output_max_abs_diff": int(diff.max()) if same_shape and diff.size else None,
        "layers_compared": len(layers),
        "layer_mismatches": bad,
        "first_mismatch": first_difference(fast_counts, lava_counts, layers),
        "bit_exact": bool(same_shape and not diff.any() and not bad),
    }


def verify_crop(artifact: str, graph: ir.Graph, image_chw: np.ndarray, *, conv_model: str = "vectorised",
                timeout: float = 1800.0, progress=None, lower_relu: bool = True,
                lower_upsample: bool = True, custom_by_program: bool = True) -> dict:
    from spikerain.hardware.backend import run_lava

    fast_out, fast_counts, fast_s = fast_reference(graph, image_chw)
    t0 = time.perf_counter()
    lava = run_lava(artifact, image_chw, conv_model=conv_model, timeout=timeout, progress=progress,
                    lower_relu=lower_relu, lower_upsample=lower_upsample, custom_by_program=custom_by_program)
    wall = time.perf_counter() - t0
    res = compare(fast_out, fast_counts, lava.output, lava.counts, [n.name for n in graph.nodes])
    from spikerain.energy.sources import collect_fast

    fast_energy, _ = collect_fast(graph, image_chw)
    res["energy_equal"] = fast_energy == lava.meta.get("energy")
    res["bit_exact"] = res["bit_exact"] and res["energy_equal"]
    res.update({"size": [int(v) for v in image_chw.shape[1:]], "fast_seconds": round(fast_s, 3),
                "lava_wall_seconds": round(wall, 2),
                "lava_seconds": {k: round(v, 3) for k, v in lava.meta["seconds"].items()},
                "lava_processes": lava.meta["processes"], "lava_steps": lava.meta["steps"],
                "schedule": lava.meta["schedule"], "realisation": lava.meta["realisation"],
                "conv_model": conv_model})
    return res


def verify_tiles(artifact: str, graph: ir.Graph, img_hwc: np.ndarray, *, tile: int, overlap: int,
                 conv_model: str = "vectorised", timeout: float = 1800.0, progress=None,
                 lower_upsample: bool = True) -> dict:
    """An image in the authors' tiles (``spikerain.models.tile_grid``) through Lava (all tiles in one process graph,
    built once) and through the fast simulator, tile by tile: every tile's output integers, per-layer counts per
    timestep and energy counts, and the blended images."""
    from spikerain.energy.sources import collect_fast
    from spikerain.hardware.backend import run_lava
    from spikerain.models.tile_grid import blend, pad_to, tile_boxes

    H, W = img_hwc.shape[:2]
    work = pad_to(np.asarray(img_hwc, np.float64), tile, tile)
    boxes = tile_boxes(H, W, tile, overlap)
    stack = np.stack([work[y:y + tile, x:x + tile].transpose(2, 0, 1) for y, x in boxes])
    t0 = time.perf_counter()
    lava = run_lava(artifact, stack, conv_model=conv_model, timeout=timeout, progress=progress, tiles=True,
                    lower_upsample=lower_upsample)
    wall = time.perf_counter() - t0
    order = [n.name for n in graph.nodes]
    rows, fast_outs, fast_s = [], [], 0.0
    for k, ((y, x), chw) in enumerate(zip(boxes, stack, strict=True)):
        fast_out, fast_counts, s = fast_reference(graph, chw)
        fast_s += s
        fast_outs.append(fast_out)
        done = lava.meta["tiles"][k]
        res = compare(fast_out, fast_counts, lava.output[k], done["counts"], order)
        res["energy_equal"] = collect_fast(graph, chw)[0] == done["energy"]
        res["bit_exact"] = res["bit_exact"] and res["energy_equal"]
        res.update({"tile": k + 1, "at": [int(y), int(x)]})
        rows.append(res)
    scale = 2.0 ** -graph.node(graph.outputs[0]).frac
    images = [blend([o[0] * scale for o in outs], boxes, work.shape[:2], tile)
              for outs in (fast_outs, list(lava.output))]
    image_equal = bool(np.array_equal(images[0], images[1]))
    return {"size": [int(H), int(W)], "tile": tile, "overlap": overlap, "tiles": rows,
            "image_equal": image_equal, "bit_exact": image_equal and all(r["bit_exact"] for r in rows),
            "fast_seconds": round(fast_s, 3), "lava_wall_seconds": round(wall, 2),
            "lava_seconds": {k: round(v, 3) for k, v in lava.meta["seconds"].items()},
            "lava_processes": lava.meta["processes"], "lava_steps_per_tile": lava.meta["steps"],
            "lava_steps_run": lava.meta["steps_run"],
            "graph_builds": lava.meta["graph_builds"], "runtime_compiles": lava.meta["runtime_compiles"],
            "realisation": lava.meta["realisation"], "conv_model": conv_model}
