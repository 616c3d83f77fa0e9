"""Data-movement, elementwise, pooling and nonlinear ops, plus the graph's input and output."""

from __future__ import annotations

from dataclasses import dataclass

from spikerain.converter.ir.node import Node, Shape, register_op


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class Input(Node):
    """The image, ``[1, C, H, W]`` (one step; :class:`RepeatT` makes the direct encoding)."""

    channels: int = 3
    op = "input"
    role = "routing"
    arity = 0

    def out_shape(self, *ins: Shape) -> Shape:
        raise ValueError("the input shape is given, not inferred")


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class Output(Node):
    op = "output"
    role = "routing"


def _broadcast(*shapes: Shape) -> Shape:
    out = []
    for dims in zip(*shapes, strict=True):
        big = {d for d in dims if d != 1}
        if len(big) > 1:
            raise ValueError(f"shapes {shapes} do not broadcast")
        out.append(big.pop() if big else 1)
    return tuple(out)


@dataclass(frozen=True, kw_only=True, eq=False)
class _Elementwise(Node):
    arity = 2

    def out_shape(self, *ins: Shape) -> Shape:
        return _broadcast(*ins)


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class Add(_Elementwise):
    op = "add"
    role = "elementwise"


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class Sub(_Elementwise):
    op = "sub"
    role = "elementwise"


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class Mul(_Elementwise):
    """Elementwise product (broadcasting): attention gates and SDEM's x * s. Not a synaptic op."""

    op = "mul"
    role = "elementwise"
    placement = "host"


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class Scale(Node):
    """Multiply by a scalar."""

    factor: float = 1.0
    op = "scale"
    role = "elementwise"


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class Concat(Node):
    """Channel concatenation (on Loihi: several synapse groups summing into one neuron input)."""

    op = "concat"
    role = "routing"
    arity = None

    def out_shape(self, *ins: Shape) -> Shape:
        T, _, H, W = ins[0]
        if any((s[0], s[2], s[3]) != (T, H, W) for s in ins):
            raise ValueError(f"concat of mismatched shapes {ins}")
        return (T, sum(s[1] for s in ins), H, W)


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class PatchToTime(Node):
    """``[T, C, H, W]`` -> ``[T*r*r, C, H/r, W/r]``; new step tau = r*r*t + (r*dy + dx)."""

    r: int = 2
    op = "patch_to_time"
    role = "routing"
    time_mixing = True

    def out_shape(self, x: Shape) -> Shape:
        T, C, H, W = x
        if H % self.r or W % self.r:
            raise ValueError(f"patch_to_time r={self.r} needs H, W divisible by {self.r}, got {x}")
        return (T * self.r * self.r, C, H // self.r, W // self.r)

    def frames_needed(self, j: int, t_in: int) -> int:
        return j // (self.r * self.r) + 1


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class TimeToPatch(Node):
    """``[T*r*r, C, h, w]`` -> ``[T, C*r*r, h, w]`` in pixel-unshuffle channel order r*r*c + p."""

    r: int = 2
    op = "time_to_patch"
    role = "routing"
    time_mixing = True

    def out_shape(self, x: Shape) -> Shape:
        L, C, h, w = x
        return (L // (self.r * self.r), C * self.r * self.r, h, w)

    def frames_needed(self, j: int, t_in: int) -> int:
        return (j + 1) * self.r * self.r


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class Reduce(Node):
    """Mean or max over the given axes, kept as size 1 (global average/max pooling)."""

    mode: str = "mean"
    axes: tuple[int, ...] = (2, 3)
    op = "reduce"
    role = "host"
    placement = "host"

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "axes", tuple(self.axes))
        if self.mode not in ("mean", "max"):
            raise ValueError(f"reduce mode {self.mode!r}")

    def out_shape(self, x: Shape) -> Shape:
        return tuple(1 if i in self.axes else d for i, d in enumerate(x))

    def mixes_time(self) -> bool:
        return 0 in self.axes


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class Sigmoid(Node):
    op = "sigmoid"
    role = "host"
    placement = "host"


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class ReLU(Node):
    op = "relu"
    role = "elementwise"


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class MeanT(Node):
    """Mean over the time axis (the decoder's readout)."""

    op = "mean_t"
    role = "host"
    time_mixing = True
    placement = "host"

    def out_shape(self, x: Shape) -> Shape:
        return (1, *x[1:])


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class RepeatT(Node):
    """Repeat a one-step tensor T times (direct encoding)."""

    T: int = 4
    op = "repeat_t"
    role = "routing"
    time_mixing = True

    def out_shape(self, x: Shape) -> Shape:
        if x[0] != 1:
            raise ValueError(f"repeat_t expects one step, got {x}")
        return (self.T, *x[1:])

    def frames_needed(self, j: int, t_in: int) -> int:
        return 1

@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class TensorInput(Node):
    """A module's input tensor, already in the IR's ``[T, C, H, W]`` layout (T = 1 for a static input; vectors
    as ``[T, N, 1, 1]``); the graph's ``meta["io"]`` says how the module's own layout maps onto it."""

    channels: int = 1
    op = "tensor_input"
    role = "routing"
    arity = 0

    def out_shape(self, *ins: Shape) -> Shape:
        raise ValueError("the input shape is given, not inferred")


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class MaxPool2d(Node):
    """Per-step max pooling, ``kernel`` x ``kernel`` windows, ``stride``, zero ``padding`` (never chosen: pads
    are -inf as in torch)."""

    kernel: int = 2
    stride: int = 2
    padding: int = 0
    op = "maxpool2d"
    role = "host"  # a max over a window: comparisons, which neurocores do not do
    placement = "host"

    def fan_in(self) -> int:
        return self.kernel * self.kernel

    def out_shape(self, x: Shape) -> Shape:
        T, C, H, W = x
        k, s, p = self.kernel, self.stride, self.padding
        return (T, C, (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1)


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class Reshape(Node):
    """Per-step reshape of ``[C, H, W]`` to ``shape`` (flatten before a dense head, and back); T is untouched."""

    shape: tuple[int, int, int] = (1, 1, 1)
    op = "reshape"
    role = "routing"

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))

    def out_shape(self, x: Shape) -> Shape:
        if x[1] * x[2] * x[3] != self.shape[0] * self.shape[1] * self.shape[2]:
            raise ValueError(f"cannot reshape {x[1:]} to {self.shape}")
        return (x[0], *self.shape)


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class Upsample(Node):
    """Nearest-neighbour upsampling by an integer ``factor`` (bilinear x2 is :class:`Upsample2x`)."""

    factor: int = 2
    op = "upsample_nearest"
    role = "routing"  # every value sent to factor**2 places: fan-out, no arithmetic

    def out_shape(self, x: Shape) -> Shape:
        T, C, H, W = x
        return (T, C, H * self.factor, W * self.factor)


@register_op
@dataclass(frozen=True, kw_only=True, eq=False)
class DepthToSpace(Node):
    """Per-step pixel shuffle: out[c, r*h + i, r*w + j] = in[c*r*r + i*r + j, h, w] (torch's order). With a 1x1
    conv in front it is a kernel == stride transposed conv."""

    r: int = 2
    op = "depth_to_space"
    role = "routing"

    def out_shape(self, x: Shape) -> Shape:
        T, C, H, W = x
        if C % (self.r * self.r):
            raise ValueError(f"depth_to_space r={self.r} needs channels divisible by {self.r ** 2}, got {C}")
        return (T, C // (self.r * self.r), H * self.r, W * self.r)
