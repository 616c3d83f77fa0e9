"""Spiking neurons as pure step functions with typed parameters, plus thin ``nn.Module`` wrappers.

Two neuron models appear in VLIF-Net and ESDNet (``docs/sources.md`` §1.1 and §1.4):

* **Binary LIF** (SpikingJelly ``LIFNode(v_threshold=0.15, decay_input=False)``, tau 2, hard reset to 0)::

      H_t = V_{t-1} - (V_{t-1} - V_reset) / tau + X_t
      S_t = H_t >= V_th
      V_t = H_t * (1 - S_t) + V_reset * S_t

  trained with SpikingJelly's sigmoid surrogate, dS/dH = alpha * sig(alpha x) * (1 - sig(alpha x)), x = H - V_th.
  The reset is not detached, so gradients flow through it.

* **NI-LIF** (VLIF's ``mem_update`` with ``MultiSpike4``), a normalised integer LIF with D levels::

      u_0 = x_0;   u_t = beta * (u_{t-1} - sg(s_{t-1})) + x_t
      s_t = round(clamp(u_t, 0, D)) / D          (round half to even, as torch.round)

  with a straight-through gradient 1/D on [0, D]. The reset subtracts the normalised s, not the level k = D*s.

The converter reads :class:`LIFParameters` and :class:`NILIFParameters` straight off the modules. Neuron state
never outlives one call: every multi-step call starts from V = 0, which is how both networks reset their neurons
after each batch and each tile.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True, kw_only=True)
class LIFParameters:
    """Binary LIF parameters (defaults are the networks' values).

    tau: membrane time constant in steps; the leak is V -> V - (V - V_reset) / tau.
    v_threshold: firing threshold, compared with ``>=``.
    v_reset: hard-reset potential.
    decay_input: if True the input is divided by tau (SpikingJelly's option); both networks use False.
    detach_reset: if True no gradient flows through the reset; both networks use False.
    surrogate_alpha: steepness of the sigmoid surrogate gradient.
    """

    tau: float = 2.0
    v_threshold: float = 0.15
    v_reset: float = 0.0
    decay_input: bool = False
    detach_reset: bool = False
    surrogate_alpha: float = 4.0


@dataclass(frozen=True, kw_only=True)
class NILIFParameters:
    """NI-LIF parameters. decay: beta, the leak factor; levels: D, the number of non-zero levels."""

    decay: float = 0.25
    levels: int = 4


class _SigmoidSurrogateSpike(torch.autograd.Function):
    """Heaviside forward (x >= 0 fires), SpikingJelly ``surrogate.Sigmoid`` backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: float) -> torch.Tensor:
        if x.requires_grad:
            ctx.save_for_backward(x)
            ctx.alpha = alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (x,) = ctx.saved_tensors
        sg = torch.sigmoid(ctx.alpha * x)
        return grad_output * (1.0 - sg) * sg * ctx.alpha, None


class _QuantizeLevels(torch.autograd.Function):
    """round(clamp(u, 0, D)) / D with the straight-through gradient 1/D on [0, D]."""

    @staticmethod
    def forward(ctx, u: torch.Tensor, levels: int) -> torch.Tensor:
        if u.requires_grad:
            ctx.save_for_backward(u)
            ctx.levels = levels
        return torch.round(torch.clamp(u, 0, levels)) / levels

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (u,) = ctx.saved_tensors
        inside = (u >= 0) & (u <= ctx.levels)
        return grad_output * inside.to(grad_output.dtype) / ctx.levels, None


def lif_step(
    x: torch.Tensor, v: torch.Tensor | None, p: LIFParameters
) -> tuple[torch.Tensor, torch.Tensor]:
    """One LIF step. ``v=None`` means the resting state. Returns (spike, new membrane potential)."""
    if v is None:
        v = torch.full_like(x, p.v_reset) if p.v_reset != 0.0 else torch.zeros_like(x)
    if p.decay_input:
        h = v + (x - (v - p.v_reset)) / p.tau
    else:
        h = v - (v - p.v_reset) / p.tau + x
    spike = _SigmoidSurrogateSpike.apply(h - p.v_threshold, p.surrogate_alpha)
    s_reset = spike.detach() if p.detach_reset else spike
    v_new = (1.0 - s_reset) * h + s_reset * p.v_reset
    return spike, v_new


def _needs_autograd(x: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and x.requires_grad


def _lif_inference(x_seq: torch.Tensor, p: LIFParameters) -> torch.Tensor:
    """Inference-only LIF for V_reset = 0 and undecayed input: fewer passes over memory, same bits.

    V - (V - 0)/tau + X equals X + V*(1 - 1/tau) exactly when tau = 2 (V/2 is exact and V - V/2 = V/2), so
    this path is only taken for tau = 2; the reset writes 0 where the neuron fired.
    """
    out = torch.empty_like(x_seq)
    fired = torch.empty(x_seq.shape[1:], dtype=torch.bool, device=x_seq.device)
    v = None
    for t in range(x_seq.shape[0]):
        h = x_seq[t].clone() if v is None else torch.add(x_seq[t], v, alpha=0.5)
        torch.ge(h, p.v_threshold, out=fired)
        out[t].copy_(fired)
        v = h.masked_fill_(fired, 0.0)
    return out


def lif_multistep(x_seq: torch.Tensor, p: LIFParameters) -> torch.Tensor:
    """Run :func:`lif_step` over the leading time axis of ``x_seq`` from rest; returns the spike train."""
    if not _needs_autograd(x_seq) and p.tau == 2.0 and p.v_reset == 0.0 and not p.decay_input:
        return _lif_inference(x_seq, p)
    v = None
    spikes = []
    for x in x_seq.unbind(0):
        s, v = lif_step(x, v, p)
        spikes.append(s)
    return torch.stack(spikes)


def nilif_step(
    x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None, p: NILIFParameters
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """One NI-LIF step. ``state`` is (u_prev, s_prev), or None at the first step. Returns (s, (u, s))."""
    if state is None:
        u = x
    else:
        u_prev, s_prev = state
        u = (u_prev - s_prev.detach()) * p.decay + x
    s = _QuantizeLevels.apply(u, p.levels)
    return s, (u, s)


def _nilif_inference(x_seq: torch.Tensor, p: NILIFParameters) -> torch.Tensor:
    """Inference-only NI-LIF, op for op the same arithmetic as :func:`nilif_step`, with fewer temporaries."""
    out = torch.empty_like(x_seq)
    u = None
    for t in range(x_seq.shape[0]):
        if u is None:
            u = x_seq[t].clone()
        else:
            u = (u - out[t - 1]).mul_(p.decay).add_(x_seq[t])
        torch.clamp(u, 0, p.levels, out=out[t])
        out[t].round_().div_(p.levels)
    return out


def nilif_multistep(x_seq: torch.Tensor, p: NILIFParameters) -> torch.Tensor:
    """Run :func:`nilif_step` over the leading time axis from rest; returns the normalised levels."""
    if not _needs_autograd(x_seq):
        return _nilif_inference(x_seq, p)
    state = None
    out = []
    for x in x_seq.unbind(0):
        s, state = nilif_step(x, state, p)
        out.append(s)
    return torch.stack(out)


class LIF(nn.Module):
    """Multi-step binary LIF on ``[T, ...]`` tensors. Parameterless, so it adds no state-dict keys."""

    def __init__(self, params: LIFParameters | None = None):
        super().__init__()
        self.params = params or LIFParameters()

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return lif_multistep(x_seq, self.params)

    def extra_repr(self) -> str:
        p = self.params
        return f"tau={p.tau}, v_threshold={p.v_threshold}, v_reset={p.v_reset}"


class NILIF(nn.Module):
    """Multi-step NI-LIF (VLIF's ``mem_update``) on ``[L, ...]`` tensors."""

    def __init__(self, params: NILIFParameters | None = None):
        super().__init__()
        self.params = params or NILIFParameters()

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return nilif_multistep(x_seq, self.params)

    def extra_repr(self) -> str:
        return f"decay={self.params.decay}, levels={self.params.levels}"


SPIKING_NEURONS = (LIF, NILIF)
