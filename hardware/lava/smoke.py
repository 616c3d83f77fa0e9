"""Smoke test of the Lava environment: a stock RingBuffer -> Conv -> LIF -> RingBuffer network.

Run as ``python -m spikerain.hardware.lava.smoke OUT.json`` in the Lava interpreter. It runs the network in
Lava's CPU simulator (``Loihi2SimCfg(select_tag='fixed_pt')`` as ``wakeup.RecheckingSimCfg``) and writes the sink's
spike raster and the network parameters to OUT.json. The caller checks the raster against a hand-computed
expectation.
``python -m spikerain.hardware.lava.smoke upsample IN.npy OUT.npy`` sends integer frames through the stock
``Sparse`` that realises bilinear x2 upsampling (``sparse_upsample``).

Network: a 4x4x1 input whose pixel (x=1, y=1) spikes at every step; a 3x3 conv (padding 1) with weight 20 at
the centre tap and 10 elsewhere; LIF with du=4095 (the current holds only this step's input), dv=0 (no leak),
vth=25 (effective 25 << 6 = 1600).
"""

from __future__ import annotations

import json
import sys

import numpy as np

from spikerain.converter.ir import loihi

NUM_STEPS = 8
SHAPE = (4, 4, 1)
SOURCE_PIXEL = (1, 1)
WEIGHT_CENTRE, WEIGHT_OTHER = 20, 10
VTH = 25


def build_and_run(num_steps: int = NUM_STEPS) -> np.ndarray:
    from lava.magma.core.run_conditions import RunSteps
    from lava.proc.conv.process import Conv
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIF

    from spikerain.hardware.lava.wakeup import RecheckingSimCfg

    data = np.zeros(SHAPE + (num_steps,), dtype=np.int32)
    data[SOURCE_PIXEL[0], SOURCE_PIXEL[1], 0, :] = 1
    weight = np.full((1, 3, 3, 1), WEIGHT_OTHER, dtype=np.int32)
    weight[0, 1, 1, 0] = WEIGHT_CENTRE

    src = Source(data=data)
    conv = Conv(weight=weight, input_shape=SHAPE, padding=1)
    lif = LIF(shape=SHAPE, du=loihi.DU_MAX, dv=0, vth=VTH, bias_mant=0, bias_exp=0)
    sink = Sink(shape=SHAPE, buffer=num_steps)
    src.s_out.connect(conv.s_in)
    conv.a_out.connect(lif.a_in)
    lif.s_out.connect(sink.a_in)

    ran = False
    try:
        lif.run(condition=RunSteps(num_steps=num_steps), run_cfg=RecheckingSimCfg(select_tag="fixed_pt"))
        ran = True
        return np.asarray(sink.data.get(), dtype=np.int64)
    finally:
        # stop() after a failed run() hangs (spec §8); the parent kills the process group instead.
        if ran:
            lif.stop()


def hold() -> None:
    """Start the network running continuously and wait to be killed: the parent-death test needs a Lava run that
    is under way (processes up, shared memory mapped) when its parent dies."""
    import os
    import time

    from lava.magma.core.run_conditions import RunContinuous
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIF

    from spikerain.hardware.lava.wakeup import RecheckingSimCfg

    src = Source(data=np.ones(SHAPE + (NUM_STEPS,), dtype=np.int32))
    lif = LIF(shape=SHAPE, du=4095, dv=0, vth=VTH, bias_mant=0, bias_exp=0)
    src.s_out.connect(lif.a_in)
    lif.run(condition=RunContinuous(), run_cfg=RecheckingSimCfg(select_tag="fixed_pt"))
    print(f"[lava] running, pgid {os.getpgid(0)}", file=sys.stderr, flush=True)
    time.sleep(3600)


def sparse_upsample(x: np.ndarray, model: str = "stock") -> np.ndarray:
    """Frames ``x`` ``[T, C, H, W]`` (integers) through the stock ``Sparse`` that realises ``q_upsample2x``
    (``hardware/lava/network.py: _upsample_sparse``), fed by a RingBuffer with the constant-1 element appended
    as a segment appends it; returns what the Sparse sent for each frame, ``[T, C, 2H, 2W]``. ``model``: Lava's
    own ``PySparseModelBitAcc`` (``stock``) or spikerain's ``PySparseModelFixedActive`` (``active``)."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    from spikerain.hardware.lava.network import _upsample_sparse
    from spikerain.hardware.lava.wakeup import RecheckingSimCfg

    T, C, H, W = x.shape
    flat = np.asarray(x).transpose(0, 3, 2, 1).reshape(T, -1)  # Lava's (X, Y, C) order
    data = np.concatenate([flat, np.ones((T, 1), flat.dtype)], axis=1).T.astype(np.int32)  # (N + 1, T)
    src = Source(data=data)
    sparse = _upsample_sparse((T, C, H, W), "upsample")
    sink = Sink(shape=(4 * C * H * W,), buffer=T + 1)
    src.s_out.connect(sparse.s_in)
    sparse.a_out.connect(sink.a_in)
    ran = False
    try:
        # the source sends frame t at step t + 1; the Sparse sends its result one step later
        from spikerain.hardware.lava.processes.sparse import PySparseModelFixedActive

        models = {sparse: PySparseModelFixedActive} if model == "active" else {}
        sink.run(condition=RunSteps(num_steps=T + 1),
                 run_cfg=RecheckingSimCfg(select_tag="fixed_pt", exception_proc_model_map=models))
        ran = True
        out = np.asarray(sink.data.get(), np.int64)[:, 1:].T  # (T, N_out)
    finally:
        if ran:
            sink.stop()
    return out.reshape(T, 2 * W, 2 * H, C).transpose(0, 3, 2, 1)


def main(argv: list[str]) -> int:
    if argv[1:2] == ["hold"]:
        hold()
        return 0
    if argv[:1] == ["upsample"]:  # upsample IN.npy OUT.npy [stock|active]
        np.save(argv[2], sparse_upsample(np.load(argv[1]), *argv[3:4]))
        return 0
    raster = build_and_run()
    result = {"shape": list(SHAPE), "num_steps": NUM_STEPS, "spikes": raster.tolist()}
    with open(argv[0], "w", encoding="utf-8") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
