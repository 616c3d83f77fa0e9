"""An inference copy of VLIF-Net / ESDNet: same weights and outputs, less time and memory.

:func:`prepare_for_inference` returns a deep copy of a trained network (the original, its training modules and
its state dict are untouched) with any subset of these levers (``docs/benchmarks.md`` measures each):

* ``fold_bn``: every conv -> tdBN pair becomes one conv with a bias (the BN affine folded into the weights, in
  float64, then rounded to float32). Same function up to float rounding.
* ``lean``: bit-identical rewrites of the forwards: in-place elementwise chains, intermediates dropped at their
  last use, neurons with fewer passes over memory, and the time loop only where a neuron needs it: the input
  is the same image at every step, so the patch embedding runs once and stays a stride-0 view over T; any
  block whose input is such a view computes its shortcut conv once.
* ``vlif_commute``: in VLIF, the bias-free 1x1 conv runs before the bilinear resize instead of after it (both
  are linear and act on different axes), on a quarter of the pixels. Same function up to float rounding.
* ``channels_last``: NHWC convolutions (measured; it does not pay on this CPU, so it is off by default).
* ``by_step``: (with ``lean``) a chain of LIFs, convolutions, folded BNs and x2 upsamplings (an SRB's residual
  and shortcut branches, the down- and upsamplings; the first half of VLIF-Net's SDEM too, but only with
  ``LeanSDEM.by_step`` set, since it did not pay) runs one time step at a time where its input holds at least
  ``STEP_BYTES``: its intermediates (spike maps, the upsampled map) exist for one step only, and each
  convolution's internal copy of its input is one step's. The LIF keeps its state across the steps with the
  same operations as ``LeanLIF``; a convolution of one step equals that step of the batched one up to float
  rounding order.

With ``lean`` the blocks that own their sum (SRB, SDEM, SMU) also apply their attention in place, an SRB with a
stepped shortcut adds each step of it straight into the sum, and (``RELEASE``) each such block with a large
input first hands the heap's freed pages back (``spikerain.heap``); all bit-identical.

Every plain LIF of the copy (``LeanLIF``, the stepped chains, VLIF-Net's upsamplings) runs ``StepLIF``: no
``masked_fill`` (10-15x the time of an elementwise op on this CPU build), the reset as ``min(h, 1/s - 1)``.
VLIF-Net's upsamplings (``LeanVLIFUp``, with ``by_step``) run their bilinear x2 and LIF one step at a time and
their conv on all steps as before; its SMUs drop their input once their first SDEM has read it (``Owned``) and
read ``patch_to_time`` as views; its two LIFs on the skip concatenations write their spikes over it. All
bit-identical (``tests/models/test_step_lif.py``; ``docs/benchmarks.md``, fifth pass).
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from spikerain.heap import SlackRelease, release_freed_memory
from spikerain.models.esdnet import ESDNet, SpikingResidualBlock, UpSampling
from spikerain.models.layers import MultiDimensionalAttention, SeqConv2d, SeqUpsample2x, _fold_time, _unfold_time
from spikerain.models.neurons import LIF, NILIF
from spikerain.models.vlifnet import (
    PATCH,
    SDEM,
    SMU,
    VLIF,
    VLIFDown,
    VLIFNet,
    VLIFUp,
    patch_to_time,
    time_to_patch_channels,
)

#: conv -> BN pairs outside ``nn.Sequential`` (module class: (conv attribute, BN attribute) pairs), as called in
#: the forwards of ``vlifnet.py``: ``bn(conv(.))`` with nothing in between.
_NAMED_PAIRS = {
    SDEM: (("conv1", "bn1"), ("conv2", "bn2")),
    SMU: (("conv_1", "bn_1"), ("conv_2", "bn_2")),
    VLIFDown: (("conv", "bn"),),
    VLIFUp: (("conv", "bn"),),
    VLIFNet: (("reduce_conv_level2", "reduce_bn_level2"), ("reduce_conv_level1", "reduce_bn_level1")),
}


def fused_conv(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> SeqConv2d:
    """One conv computing ``bn(conv(x))`` in eval mode: w' = w * g / sqrt(var + eps), b' = beta + (b - mean) * g /
    sqrt(var + eps), folded in float64. The folded weights are written over ``conv``'s own (``conv`` is consumed:
    ``fold_batchnorm`` runs on a copy): a new weight buffer per conv would leave the old ones as freed holes in
    the heap that malloc keeps resident (about 40 MB at dim 48, ``docs/benchmarks.md``)."""
    out = SeqConv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        groups=conv.groups,
        bias=True,
        device="meta",  # no storage: the parameters are set below
    )
    with torch.no_grad():
        scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
        b = conv.bias.double() if conv.bias is not None else torch.zeros_like(scale)
        bias = (bn.bias.double() + (b - bn.running_mean.double()) * scale).float()
        weight = conv.weight
        weight.copy_((weight.double() * scale.view(-1, 1, 1, 1)).float())
    out.weight = weight
    out.bias = nn.Parameter(bias, requires_grad=weight.requires_grad)
    return out


def fold_batchnorm(model: nn.Module) -> int:
    """Fold every conv -> BN pair of ``model`` in place (BN becomes Identity); returns how many were folded."""
    folded = 0
    for mod in list(model.modules()):
        if isinstance(mod, nn.Sequential):
            names = list(mod._modules)
            for a, b in zip(names, names[1:], strict=False):
                conv, bn = mod._modules[a], mod._modules[b]
                if type(conv) in (SeqConv2d, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                    mod._modules[a], mod._modules[b] = fused_conv(conv, bn), nn.Identity()
                    folded += 1
        for cls, pairs in _NAMED_PAIRS.items():
            if isinstance(mod, cls):
                for a, b in pairs:
                    if isinstance(getattr(mod, b), nn.BatchNorm2d):
                        setattr(mod, a, fused_conv(getattr(mod, a), getattr(mod, b)))
                        setattr(mod, b, nn.Identity())
                        folded += 1
    return folded


# ---- lean, bit-identical forwards -------------------------------------------------------------------------------


def _invariant(x: torch.Tensor) -> bool:
    """True if ``x`` [T, ...] is one frame viewed T times (stride 0 over time): then per-step work runs once."""
    return x.dim() == 5 and x.shape[0] > 1 and x.stride(0) == 0


def _per_frame(fn, x: torch.Tensor) -> torch.Tensor:
    """``fn`` (a per-step op) on ``x``, once if ``x`` is time-invariant."""
    return fn(x[:1]).expand(x.shape[0], *([-1] * (x.dim() - 1))) if _invariant(x) else fn(x)


def _decompose(x: torch.Tensor, s: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a*s + b*(x - s) + x*s, op for op as in ``SDEM.forward``, with two buffers instead of five."""
    out = a * s
    tmp = torch.sub(x, s)
    out.add_(tmp.mul_(b))
    return out.add_(torch.mul(x, s, out=tmp))


class LeanLIF(LIF):
    """LIF inference, bit-identical with ``_lif_inference``: no copy of the first frame, no reset after the
    last step, the spike written straight into the output."""

    @staticmethod
    def plain(p) -> bool:
        """The parameters this class (and ``_by_step``) computes with fewer passes."""
        return p.tau == 2.0 and p.v_reset == 0.0 and not p.decay_input

    owns_input = False  # set by ``_lif_`` for one call: the spikes go over the input (``forward_``)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        p = self.params
        if torch.is_grad_enabled() or not self.plain(p):
            return super().forward(x_seq)
        if self.owns_input:
            return self.forward_(x_seq)
        return self._spikes(x_seq)

    def _spikes(self, x_seq: torch.Tensor) -> torch.Tensor:
        p = self.params
        T = x_seq.shape[0]
        out = torch.empty(x_seq.shape, dtype=x_seq.dtype, device=x_seq.device)
        lif = StepLIF(p.v_threshold)
        for t in range(T):
            lif.step(x_seq[t], t + 1 == T, out=out[t])
        return out

    def forward_(self, x_seq: torch.Tensor) -> torch.Tensor:
        """``forward`` on an ``x_seq`` the caller owns and drops: the spikes of step t are written over its
        input once the membrane has read it, so no second buffer of x's size exists."""
        if torch.is_grad_enabled() or not self.plain(self.params):
            return LIF.forward(self, x_seq)
        if not x_seq.is_contiguous():  # a view (a stride-0 time axis): not ours to write over
            return self._spikes(x_seq)
        T = x_seq.shape[0]
        lif = StepLIF(self.params.v_threshold)
        for t in range(T):
            lif.step(x_seq[t], t + 1 == T, out=x_seq[t])
        return x_seq


def _lif_(lif: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``lif(x)`` on an ``x`` the caller owns: in place for the lean LIF (the ReLU twin's is a ReLU). Called
    through the module, so its hooks see it as before."""
    if not isinstance(lif, LeanLIF):
        return lif(x)
    lif.owns_input = True
    try:
        return lif(x)
    finally:
        lif.owns_input = False


class Owned:
    """A block's input handed over with no reference left in the caller (``box = Owned(v); del v``): the block
    takes it and can drop it once read."""

    __slots__ = ("value",)

    def __init__(self, value: torch.Tensor):
        self.value = value

    def take(self) -> torch.Tensor:
        v, self.value = self.value, None
        return v


class _PatchFrames:
    """``patch_to_time(y)`` as strided views of ``y``, one per step, without its copy: what ``LeanNILIF`` reads
    (``shape``, ``dtype``, ``device``, ``[t]``). Elementwise work on a view gives the same bits as on a copy."""

    def __init__(self, y: torch.Tensor, r: int = PATCH):
        T, B, C, H, W = y.shape
        self.r = r
        self.view = y.reshape(T, B, C, H // r, r, W // r, r).permute(0, 4, 6, 1, 2, 3, 5)  # t dy dx b c i j
        self.shape = torch.Size((T * r * r, B, C, H // r, W // r))
        self.dtype, self.device = y.dtype, y.device

    def __getitem__(self, tau: int) -> torch.Tensor:  # tau = r*r*t + r*dy + dx, as patch_to_time
        r = self.r
        return self.view[tau // (r * r), (tau % (r * r)) // r, tau % r]


class LeanNILIF(NILIF):
    """NI-LIF inference, bit-identical with ``_nilif_inference``: (u - s) * beta + x as one fused add (beta is a
    power of two, so beta * d is exact and the sum rounds once either way)."""

    def fast(self) -> bool:
        """Whether :meth:`forward` takes its own path (else NILIF's, which needs a tensor)."""
        beta = self.params.decay
        return not torch.is_grad_enabled() and beta > 0 and math.frexp(beta)[0] == 0.5

    def forward(self, x_seq: torch.Tensor | _PatchFrames) -> torch.Tensor:
        p = self.params
        beta = p.decay
        if not self.fast():
            return super().forward(x_seq)
        out = torch.empty(x_seq.shape, dtype=x_seq.dtype, device=x_seq.device)
        u = x_seq[0]
        for t in range(x_seq.shape[0]):
            if t:
                u = torch.add(x_seq[t], torch.sub(u, out[t - 1]), alpha=beta)
            torch.clamp(u, 0, p.levels, out=out[t])
            out[t].round_().div_(p.levels)
        return out


#: a step chain runs one time step at a time where its input holds at least this many bytes (below it, the
#: T-fold more calls cost more time than the step-sized buffers save)
STEP_BYTES = 8 << 20

#: (with ``lean``) before each block whose input holds at least STEP_BYTES, hand the heap's freed pages back
#: (``spikerain.heap``): glibc keeps the pages of freed activations below 32 MiB resident, so at 128x128 the
#: heap otherwise holds more freed pages than live values at the peak. Set it False to leave malloc alone.
RELEASE = True


#: with RELEASE: None hands the pages back before every such block; a number of bytes only when the freed pages
#: kept resident grew by more than that since the forward began or the last release (``heap.SlackRelease``)
RELEASE_SLACK: int | None = None

_watch: list[SlackRelease] = []  # the running forward's, set by _start_forward


def _start_forward() -> None:
    """At the top of a network's forward: a fresh limit for the slack policy (what is idle now is the base)."""
    _watch.clear()
    if RELEASE and RELEASE_SLACK is not None and not torch.is_grad_enabled():
        _watch.append(SlackRelease(RELEASE_SLACK))
        _watch[0].check()


def _release_before(x: torch.Tensor) -> None:
    if RELEASE and x.nbytes >= STEP_BYTES and not torch.is_grad_enabled():
        if RELEASE_SLACK is None:
            release_freed_memory()
        elif _watch:
            _watch[0].check()


_STEP_MODULES = (LIF, nn.Conv2d, nn.Identity, nn.BatchNorm2d, SeqUpsample2x)


def _steppable(mods) -> bool:
    return all(isinstance(m, _STEP_MODULES) and (not isinstance(m, LIF) or LeanLIF.plain(m.params)) for m in mods)


def _lif_step(x_t: torch.Tensor, v: torch.Tensor | None, v_th: float, last: bool):
    """One step of ``LeanLIF`` (the same operations): the spikes and the membrane after the reset (None after
    the last step, whose reset is never read)."""
    h = x_t if v is None else torch.add(x_t, v, alpha=0.5)
    fired = h >= v_th
    s = fired.to(h.dtype)
    if last:
        return s, None
    return s, (h.masked_fill(fired, 0.0) if v is None else h.masked_fill_(fired, 0.0))


class StepLIF:
    """One plain LIF (``LeanLIF.plain``) fed one step at a time, with no ``masked_fill``: on this CPU build
    torch's ``masked_fill_`` (and ``where``) take 10-15x the time of an elementwise op (8.5 ms against 0.6 ms
    on a 12 MiB map), which made the reset most of a LIF's cost. Per step, the same values as ``LeanLIF``:

    * the membrane ``h = x + v/2`` (the same ``add``), in place in the membrane buffer;
    * the spikes ``s = h >= v_th`` written straight as 0.0 / 1.0 (``ge`` into a float buffer);
    * the reset ``v = min(h, 1/s - 1)``: ``1/s - 1`` is +0 where the neuron fired and +inf where it did not,
      so ``v`` is +0 where it fired (h >= v_th > 0, +inf included) and ``h`` bit for bit elsewhere (NaN
      included: ``minimum`` returns it; its payload may differ, which nothing reads), which is what
      ``masked_fill(fired, 0.0)`` gives.

    Only the membrane lives from step to step; the spike map (unless ``out`` is given) and ``1/s - 1`` are
    allocated per step and dropped by their readers, so a chain of several LIFs holds no more than before."""

    def __init__(self, v_th: float):
        self.v_th = v_th
        self.v: torch.Tensor | None = None  # the membrane after the last reset

    def step(self, x_t: torch.Tensor, last: bool, out: torch.Tensor | None = None) -> torch.Tensor:
        """The spikes of one step (into ``out`` if given)."""
        first = self.v is None  # from rest: h = x_t, read in place
        if not first:
            h = torch.add(x_t, self.v, alpha=0.5, out=self.v)
        elif out is not None and not last and out.data_ptr() == x_t.data_ptr():
            h = x_t.clone()  # the spikes go over x_t (``LeanLIF.forward_``): the membrane needs its own copy
        else:
            h = x_t
        if out is None:
            out = torch.empty(h.shape, dtype=h.dtype, device=h.device)
        torch.ge(h, self.v_th, out=out)
        if last:
            self.v = None  # its reset is never read
            return out
        m = torch.reciprocal(out).sub_(1.0)
        self.v = torch.minimum(h, m) if h is x_t else torch.minimum(h, m, out=h)
        return out


def _by_step(mods, x: torch.Tensor) -> torch.Tensor:
    """``mods`` (LIF / conv / BN / x2 upsampling, in order) on ``x`` [T, B, ...] one step at a time; each LIF
    keeps its membrane across steps with ``LeanLIF``'s operations (``StepLIF``: so its spikes are the same
    bits)."""
    T = x.shape[0]
    lifs = {i: StepLIF(m.params.v_threshold) for i, m in enumerate(mods) if isinstance(m, LIF)}
    out = None
    for t in range(T):
        h = x[t]
        for i, m in enumerate(mods):
            if i in lifs:
                h = lifs[i].step(h, t + 1 == T)
            elif isinstance(m, SeqUpsample2x):
                h = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
            else:
                h = m(h)
        if out is None:
            out = torch.empty((T, *h.shape), dtype=h.dtype)
        out[t] = h
        del h
        if _watch:  # the slack policy: between steps too
            _watch[0].check()
    return out


class StepSequential(nn.Sequential):
    """A LIF / conv / BN chain that runs one step at a time on large inputs (``by_step``)."""

    @staticmethod
    def steps(x: torch.Tensor) -> bool:
        """Whether ``x`` is large enough to run one step at a time."""
        return not torch.is_grad_enabled() and x.dim() == 5 and x.shape[0] >= 2 and x.nbytes >= STEP_BYTES

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.steps(x):
            return super().forward(x)
        return _by_step(list(self), x)


class LeanUpSampling(UpSampling):
    """Upsampling and its LIF -> conv -> BN one step at a time (``by_step``): the upsampled map of one step."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() or x.shape[0] < 2 or 4 * x.nbytes < STEP_BYTES:
            return super().forward(x)
        return _by_step([self.upsample, *self.up], x)


class LeanVLIFUp(VLIFUp):
    """VLIF-Net's upsampling (bilinear x2 -> LIF -> conv -> BN) with the upsampling and the LIF one step at a
    time (``by_step``): the upsampled map exists for one step only, the spikes are written straight into one
    whole-T buffer, and the conv runs on all steps at once as before (so every bit is the same: the bilinear
    x2 and the LIF work pixel by pixel within a step)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lif = self.lif
        if torch.is_grad_enabled() or x.shape[0] < 2 or 4 * x.nbytes < STEP_BYTES \
                or not (isinstance(lif, LIF) and LeanLIF.plain(lif.params)):
            return super().forward(x)
        T = x.shape[0]
        spikes, step = None, StepLIF(lif.params.v_threshold)
        for t in range(T):
            up = F.interpolate(x[t], scale_factor=2, mode="bilinear", align_corners=False)
            if spikes is None:
                spikes = torch.empty((T, *up.shape), dtype=up.dtype)
            step.step(up, t + 1 == T, out=spikes[t])
            del up
        return self.bn(self.conv(spikes))


class LeanMAU(MultiDimensionalAttention):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(0, 1)
        out = self.ta(x) * x
        del x
        out.mul_(self.ca(out))
        out.mul_(self.sa(out))
        return out.relu_().transpose(0, 1)

    def forward_(self, x: torch.Tensor) -> torch.Tensor:
        """``forward`` in place on an ``x`` the caller owns (a block's own sum): no second buffer of x's size.
        The gates are computed before each product, and ``x * g`` is ``g * x`` bit for bit."""
        if torch.is_grad_enabled():
            return self(x)
        xt = x.transpose(0, 1)
        xt.mul_(self.ta(xt))
        xt.mul_(self.ca(xt))
        xt.mul_(self.sa(xt))
        return x.relu_()


def _attn_(attn: nn.Module, y: torch.Tensor) -> torch.Tensor:
    """``attn(y)`` on a ``y`` the caller owns: in place for the lean attention (the ReLU twin's is a ReLU)."""
    return attn.forward_(y) if isinstance(attn, LeanMAU) else attn(y)


class LeanVLIF(VLIF):
    commute = False  # set by prepare_for_inference(vlif_commute=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, B, C, H, W = x.shape
        q = time_to_patch_channels(self.lif_node(patch_to_time(x)))
        if self.commute:
            q = _fold_time(self.channel_adjust(q))
            return _unfold_time(F.interpolate(q, size=(H, W), mode="bilinear", align_corners=False), T)
        q = F.interpolate(_fold_time(q), size=(H, W), mode="bilinear", align_corners=False)
        return self.channel_adjust(q.unflatten(0, (T, B)))


class LeanSDEM(SDEM):
    # Off by default: measured once at 128x128, VLIF-Net's peak rose (482 -> 533 MB, bench/levers.py) and at
    # 256x256 it did not fall; set it on the class to run the first half one step at a time.
    by_step = False

    def _first_half(self, x: torch.Tensor) -> torch.Tensor:
        """bn1(conv1(decompose(x, lif_1(x)))); with ``by_step`` on large inputs one step at a time (lif_2 is a
        VLIF, which mixes patches into time, so the second half stays whole)."""
        a, b = self.high_freq_scale_1, self.low_freq_scale_1
        T = x.shape[0]
        lif = self.lif_1  # a ReLU in the ReLU twin of bench/models.py
        steps = self.by_step and T > 1 and x.nbytes >= STEP_BYTES
        if not (steps and isinstance(lif, LIF) and LeanLIF.plain(lif.params)):
            return self.bn1(self.conv1(_decompose(x, self.lif_1(x), a, b)))
        out, v = None, None
        for t in range(T):
            s, v = _lif_step(x[t], v, lif.params.v_threshold, t + 1 == T)
            y = self.bn1(self.conv1(_decompose(x[t], s, a, b)))
            if out is None:
                out = torch.empty((T, *y.shape), dtype=y.dtype)
            out[t] = y
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _release_before(x)
        y1 = self._first_half(x)
        z = _decompose(y1, self.lif_2(y1), self.high_freq_scale_2, self.low_freq_scale_2)
        del y1
        y = self.bn2(self.conv2(z))
        del z
        y.add_(_per_frame(self.shortcut, x))
        return _attn_(self.attn, y).add_(x)


class LeanSMU(SMU):
    def forward(self, x: torch.Tensor | Owned) -> torch.Tensor:
        """``x`` as ``Owned``: the input is dropped once the opening SDEM has read it, not held while the rest
        of the block runs (12 MiB at 128x128)."""
        return self.tail(self.head(x.take() if isinstance(x, Owned) else x))

    def head(self, x: torch.Tensor) -> torch.Tensor:
        _release_before(x)
        return self.initial_residual(x)

    def tail(self, y: torch.Tensor) -> torch.Tensor:
        nilif = self.lif_node
        frames = _PatchFrames(y) if isinstance(nilif, LeanNILIF) and nilif.fast() and y.is_contiguous() \
            else patch_to_time(y)  # the ReLU twin's is a ReLU
        s = nilif(frames).transpose(0, 1)  # [B, 16, C, h, w]
        del frames
        s.mul_(self.time_attention(s))
        st = s.transpose(1, 2).contiguous()  # the copy Conv3d made of its input, with s dropped before it runs
        del s
        z = self.temporal_compress(st).permute(2, 0, 1, 3, 4)
        del st
        z = _attn_(self.attn_1, self.bn_1(self.conv_1(self.lif_1(z))))
        z = _attn_(self.attn_2, self.bn_2(self.conv_2(self.lif_2(z))))
        up = self.upsample(z)
        del z
        return _attn_(self.final_attn, up.add_(y))


class LeanSRB(SpikingResidualBlock):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _release_before(x)
        y = self.residual(x)
        sc = self.shortcut
        if isinstance(sc, StepSequential) and sc.steps(x) and not any(isinstance(m, LIF) for m in sc) \
                and not _invariant(x):
            for t in range(x.shape[0]):  # each step's shortcut straight into the sum: no whole-T buffer for it
                y[t].add_(sc(x[t]))
        else:
            y.add_(_per_frame(sc, x))
        return _attn_(self.attn, y).add_(x)


class LeanVLIFNet(VLIFNet):
    def forward(self, inp_img: torch.Tensor) -> torch.Tensor:
        _start_forward()
        x = self.patch_embed(inp_img.unsqueeze(0)).expand(self.T, -1, -1, -1, -1)
        e1 = self.encoder_level1(x)
        del x
        e2 = self.encoder_level2(self.down1_2(e1))
        d3 = self.decoder_level3(self.encoder_level3(self.down2_3(e2)))
        c2 = torch.cat([self.up3_2(d3), e2], dim=2)
        del d3, e2
        d2 = self.decoder_level2(self.reduce_bn_level2(self.reduce_conv_level2(_lif_(self.lif_level2, c2))))
        del c2
        c1 = torch.cat([self.up2_1(d2), e1], dim=2)
        del d2, e1
        d1 = self.reduce_bn_level1(self.reduce_conv_level1(_lif_(self.lif_level1, c1)))
        del c1
        for smu in (self.decoder_level1, self.additional_sunet_level1):
            box = Owned(d1)  # the block drops its input once its first SDEM has read it
            del d1
            d1 = smu(box)
        if self.refinement_blocks is not None:
            d1 = self.refinement_blocks(d1)
        return self.output(d1.mean(0)) + inp_img


class LeanESDNet(ESDNet):
    def forward(self, inp_img: torch.Tensor) -> torch.Tensor:
        _start_forward()
        x = self.patch_embed(inp_img.unsqueeze(0)).expand(self.T, -1, -1, -1, -1)
        e1 = self.encoder_level1(x)
        del x
        e2 = self.encoder_level2(self.down1_2(e1))
        d3 = self.decoder_level3(self.encoder_level3(self.down2_3(e2)))
        d2 = self.reduce_chan_level2(torch.cat([self.up3_2(d3), e2], dim=2))
        del d3, e2
        d2 = self.decoder_level2(d2)
        d1 = self.decoder_level1(torch.cat([self.up2_1(d2), e1], dim=2))
        del d2, e1
        y = self.refinement(d1.mean(0))
        return self.output(y) + inp_img


_LEAN = {
    LIF: LeanLIF,
    NILIF: LeanNILIF,
    MultiDimensionalAttention: LeanMAU,
    VLIF: LeanVLIF,
    SDEM: LeanSDEM,
    SMU: LeanSMU,  # (missing before this pass: the SMUs ran the training forward)
    SpikingResidualBlock: LeanSRB,
    VLIFNet: LeanVLIFNet,
    ESDNet: LeanESDNet,
}


def _use_steps(m: nn.Module) -> int:
    """``by_step``: every LIF / conv / BN ``nn.Sequential`` and ESDNet's upsamplings; returns how many."""
    n = 0
    for mod in m.modules():
        if type(mod) is nn.Sequential and any(isinstance(c, nn.Conv2d) for c in mod) and _steppable(mod):
            mod.__class__ = StepSequential
            n += 1
        elif type(mod) is UpSampling and _steppable([mod.upsample, *mod.up]):
            mod.__class__ = LeanUpSampling
            n += 1
        elif type(mod) is VLIFUp:
            mod.__class__ = LeanVLIFUp
            n += 1
    return n


def prepare_for_inference(
    model: nn.Module, *, fold_bn: bool = True, lean: bool = True, vlif_commute: bool = True,
    channels_last: bool = False, by_step: bool = True,
) -> nn.Module:
    """An eval-mode copy of ``model`` with the chosen levers (module docstring); ``model`` is left unchanged."""
    m = copy.deepcopy(model).eval()
    if fold_bn:
        fold_batchnorm(m)
    if by_step and lean:
        _use_steps(m)
    if lean or vlif_commute:
        for mod in m.modules():
            lean_cls = _LEAN.get(type(mod))
            if lean_cls is not None and (lean or lean_cls is LeanVLIF):
                mod.__class__ = lean_cls
            if isinstance(mod, LeanVLIF):
                mod.commute = vlif_commute
    if channels_last:
        for mod in m.modules():
            if isinstance(mod, nn.Conv2d):
                mod.to(memory_format=torch.channels_last)
    return m
