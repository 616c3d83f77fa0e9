"""Whole images in Lava: an image runs in the authors' overlapping tiles, all tiles in ONE Lava process graph (built
and compiled once, every process starting each tile afresh), and the merged image equals the fast simulator's with
the same tiling byte for byte (``simulate``, ``verify --tiles``)."""

import contextlib
import io
import json

import numpy as np
import pytest

from spikerain.cli import main
from spikerain.converter import ir
from spikerain.converter.artifact import save_artifact
from spikerain.converter.ir import quantized as q
from spikerain.converter.ir import size_multiple
from spikerain.imageio import write_image


def tile_graph() -> ir.Graph:
    """A small image network whose state would leak from tile to tile if it were not reset: a LIF (membrane and
    current), the mean over T (a host segment holding frames and a memoised result), a stride-2 conv and bilinear
    x2 (size multiple 2, output the input's size)."""
    w = np.random.default_rng(3).integers(-20, 21, (3, 3, 3, 3)).astype(np.int32)
    nodes = [q.QInput(name="x", frac=8), q.QRepeatT(name="e", inputs=("x",), T=4, frac=8),
             q.QConv2d(name="conv", inputs=("e",), weight_mant=w, padding=1, stride=2, shift=4),
             q.QLIF(name="lif", inputs=("conv",), vth=10, frac=0, bits=1),
             q.QMeanT(name="m", inputs=("lif",), frac=4), q.QUpsample2x(name="up", inputs=("m",), frac=4),
             q.QOutput(name="out", inputs=("up",), frac=4)]
    g = ir.validate(ir.Graph(nodes=nodes, outputs=("out",), input_shape=(1, 3, 8, 8)))
    ir.infer_shapes(g)
    return g


def patch_time_graph() -> ir.Graph:
    """VLIF-Net's longest windows in small: patch-to-time turns T = 4 frames into 16 (a time-mixing node a segment
    holds for 16 steps), a LIF runs over the 16 frames, time-to-patch turns them back into 4 (at half the size and
    4x the channels; depth-to-space restores the image). Its tile period is 16."""
    w = np.random.default_rng(5).integers(-20, 21, (3, 3, 3, 3)).astype(np.int32)
    nodes = [q.QInput(name="x", frac=8), q.QRepeatT(name="e", inputs=("x",), T=4, frac=8),
             q.QConv2d(name="conv", inputs=("e",), weight_mant=w, padding=1, shift=4),
             q.QLIF(name="lif", inputs=("conv",), vth=10, frac=0, bits=1),
             q.QPatchToTime(name="p2t", inputs=("lif",), r=2, frac=0, bits=1),
             q.QLIF(name="lif16", inputs=("p2t",), vth=0, frac=0, bits=1),
             q.QTimeToPatch(name="t2p", inputs=("lif16",), r=2, frac=0, bits=1),
             q.QMeanT(name="m", inputs=("t2p",), frac=4), q.QDepthToSpace(name="d2s", inputs=("m",), r=2, frac=4),
             q.QOutput(name="out", inputs=("d2s",), frac=4)]
    g = ir.validate(ir.Graph(nodes=nodes, outputs=("out",), input_shape=(1, 3, 8, 8)))
    ir.infer_shapes(g)
    return g


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiles")
    save_artifact(d / "tiny.h5", tile_graph())
    save_artifact(d / "p2t.h5", patch_time_graph())
    write_image(d / "in.png", np.random.default_rng(1).random((12, 20, 3)))
    return d


def cli(*argv) -> tuple[int, dict | None]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main([str(a) for a in argv])
    return rc, (json.loads(out.getvalue()) if rc == 0 else None)


def test_graph_has_a_size_multiple():
    assert size_multiple(tile_graph()) == 2


def test_tile_period_covers_every_window_and_lif_reset_interval():
    from spikerain.hardware.schedule import build_schedule, tile_period

    g = tile_graph()
    assert tile_period(g, build_schedule(g)) == 4  # T frames: the longest window
    # a LIF resetting every 3 steps: the period must keep its resets at the same offset in every tile
    nodes = [n if n.name != "lif" else q.QLIF(name="lif", inputs=("conv",), vth=10, frac=0, bits=1, reset_interval=3)
             for n in g.nodes]
    g3 = ir.validate(ir.Graph(nodes=nodes, outputs=("out",), input_shape=(1, 3, 8, 8)))
    ir.infer_shapes(g3)
    assert tile_period(g3, build_schedule(g3)) == 6


@pytest.mark.lava
def test_tiled_lava_run_equals_the_fast_simulator_byte_for_byte_with_one_build(tiny):
    common = ["--input", tiny / "in.png", "--tile", 8, "--overlap", 4, "--json", "-q"]
    rc, fast = cli("simulate", tiny / "tiny.h5", "--backend", "fast", "-o", tiny / "fast.png", *common)
    assert rc == 0
    rc, lava = cli("simulate", tiny / "tiny.h5", "--backend", "lava", "-o", tiny / "lava.png", *common)
    assert rc == 0
    # 12x20 in 8x8 tiles overlapping by 4: rows at 0, 4; columns at 0, 4, 8, 12
    assert fast["tiles"] == lava["tiles"] == 8 and lava["tile"] == 8 and lava["overlap"] == 4
    # all 8 tiles ran in one Lava process graph: built once, its runtime compiled once (counted in network.py)
    assert lava["lava"]["runs"] == 1
    assert lava["lava"]["graph_builds"] == 1 and lava["lava"]["runtime_compiles"] == 1
    # pipelined: a tile enters every period (T = 4 steps) instead of every schedule length
    from spikerain.hardware.schedule import build_schedule, tile_period

    g = tile_graph()
    sched = build_schedule(g)
    assert tile_period(g, sched) == 4 and lava["lava"]["steps_per_tile"] == sched.steps > 4
    assert lava["lava"]["steps_run"] == sched.steps + 7 * 4
    a, b = (tiny / "fast.png").read_bytes(), (tiny / "lava.png").read_bytes()
    assert a == b
    from spikerain.imageio import read_image

    img = read_image(tiny / "lava.png")
    assert img.shape == (12, 20, 3) and len(np.unique(img)) > 8  # an image, not a constant


@pytest.mark.lava
def test_verify_tiles_checks_every_tile(tiny):
    rc, r = cli("verify", tiny / "tiny.h5", "--input", tiny / "in.png", "--tiles", "--tile", 8, "--overlap", 6,
                "--json", "-q")
    assert rc == 0 and r["bit_exact"] and r["image_equal"]
    # 12x20 with a step of 2: rows at 0, 2, 4; columns at 0, 2, ..., 12
    assert len(r["tiles"]) == 3 * 7 and [t["at"] for t in r["tiles"][:2]] == [[0, 0], [0, 2]]
    assert all(t["bit_exact"] and t["energy_equal"] and t["layers_compared"] == 7 for t in r["tiles"])
    assert r["graph_builds"] == 1 and r["runtime_compiles"] == 1


@pytest.mark.lava
def test_pipelined_tiles_keep_16_frame_windows_apart(tiny):
    """Tiles enter every 16 steps while each tile's patch-to-time values span 16 frames: every tile's outputs,
    per-layer counts and energy still equal the fast simulator's, and the merged image too."""
    from spikerain.hardware.schedule import build_schedule, tile_period

    g = patch_time_graph()
    sched = build_schedule(g)
    assert max(sched.frames.values()) == 16 and tile_period(g, sched) == 16
    rc, r = cli("verify", tiny / "p2t.h5", "--input", tiny / "in.png", "--tiles", "--tile", 8, "--overlap", 4,
                "--json", "-q")
    assert rc == 0 and r["bit_exact"] and r["image_equal"] and len(r["tiles"]) == 8
    assert all(t["bit_exact"] and t["energy_equal"] for t in r["tiles"])
    assert r["lava_steps_run"] == sched.steps + 7 * 16 < 8 * sched.steps
    # and the windows carry something: both LIFs spike and the output varies (fast simulator, one tile)
    from spikerain.imageio import read_image
    from spikerain.pipeline.verify import fast_reference

    out, counts, _ = fast_reference(g, read_image(tiny / "in.png")[:8, :8].transpose(2, 0, 1))
    assert sum(counts["lif"]) > 0 and sum(counts["lif16"]) > 0 and len(counts["lif16"]) == 16
    assert len(np.unique(out)) >= 3  # spike means over T: 0, 1/2 and 1 at least


@pytest.mark.parametrize("argv, says", [
    (["simulate", "--backend", "fast", "-o", "{d}/s.png", "--tile", "7"], "--tile 7 is not a positive multiple of 2"),
    (["simulate", "--backend", "lava", "-o", "{d}/s.png", "--tile", "8", "--overlap", "8"],
     "--overlap 8 must be at least 0 and smaller than the 8 px tile"),
    (["simulate", "--backend", "fast", "-o", "{d}/s.png", "--overlap", "-1"], "--overlap -1 must be at least 0"),
    (["verify", "--tiles", "--tile", "6", "--overlap", "9"], "smaller than the 6 px tile"),
    (["verify", "--tiles", "--tile", "5"], "--tile 5 is not a positive multiple of 2"),
    (["verify", "--tiles", "--crop", "8", "8", "--crop", "10", "10"], "at most one --crop"),
])
def test_bad_tiling_is_one_line_and_exit_2(tiny, argv, says, capsys):
    """Checked before any simulator runs (no Lava needed); nothing is written."""
    argv = [a.format(d=tiny) for a in argv]
    rc = main([argv[0], str(tiny / "tiny.h5"), "--input", str(tiny / "in.png"), *argv[1:]])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and says in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tiny / "s.png").exists()
