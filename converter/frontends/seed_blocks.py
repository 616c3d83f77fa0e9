"""spikerain's own blocks (VLIF-Net's and ESDNet's) as leaf converters of the generic torch.fx frontend.

Each entry of :data:`spikerain.converter.frontends.torch_frontend.CONVERTERS` that is not a plain ``torch.nn``
type is registered in :data:`~spikerain.converter.frontends.fx_frontend.MODULES`: the fx tracer keeps the block
as a leaf and the block's own converter emits its IR into the fx graph under construction, so a user's network
built from SDEMs, SMUs, SRBs, the attention blocks or the neurons converts like any other module (and the seed
networks themselves trace through ``from_module`` to the same IR as ``from_torch``, up to node names; see
``tests/converter/test_seed_fx.py``). Plain ``torch.nn`` modules keep the fx frontend's own converters.
"""

from __future__ import annotations

from torch import nn

from spikerain.converter.frontends import torch_frontend as tf
from spikerain.converter.frontends.fx_frontend import MODULES, Build, Value, _refuse
from spikerain.models.esdnet import FeatureRefinementBlock


class _Into(tf.Builder):
    """A :class:`~torch_frontend.Builder` whose nodes go into the fx frontend's graph (its names, its shapes)."""

    def __init__(self, build: Build) -> None:
        super().__init__()
        self.build = build

    def add(self, cls, name: str, inputs: list[str], **fields) -> str:
        return self.build.add(cls, name, inputs, **fields)


def _seed_block(b: Build, m: nn.Module, path: str, x: Value) -> Value:
    # the time-series blocks take [T, B, C, H, W]; the FRB head runs on the time mean, [B, C, H, W]
    lead = "S" if isinstance(m, FeatureRefinementBlock) else "TB"
    if x.lead != lead or x.step is not None or len(x.feat) != 3:
        want = "[B, C, H, W]" if lead == "S" else "[T, B, C, H, W] (the whole series)"
        raise _refuse(type(m).__name__, path, f"input layout {x.lead} with features {x.feat}, expected {want}")
    into = _Into(b)
    out = into.convert(m, [x.name], path)
    # the block's converter reads its weights itself: it must have visited every module that has any
    skipped = [f"{path}.{n}" if n else path for n, mod in m.named_modules() if id(mod) not in into.visited
               and (any(True for _ in mod.parameters(recurse=False)) or any(True for _ in mod.buffers(recurse=False)))]
    if skipped:
        raise _refuse(type(m).__name__, path, f"its converter did not use {skipped[:5]}")
    b.ctx.used.update(id(t) for t in list(m.parameters()) + list(m.buffers()))
    return Value(out, x.lead, b.shapes[out][1:], None)


SEED_TYPES = tuple(t for t in tf.CONVERTERS if not t.__module__.startswith("torch."))
for _t in SEED_TYPES:
    MODULES[_t] = _seed_block
