"""A vectorised ``fixed_pt`` model of Lava's stock ``Conv`` process.

Lava's own ``PyConvModelFixed`` loops in Python over every (output, input) channel pair with
``scipy.signal.convolve2d`` (torch is disabled inside Lava processes): about 4 s per step for VLIF-Net at dim 16
on a 16x16 crop. This model keeps the stock process (its ports, Vars, weight layout and true-convolution
semantics) and computes the same integers with one exact int64 einsum, skipping steps whose input is all zero.
``tests/lava`` checks it equal to ``PyConvModelFixed`` on random graded and binary inputs.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.conv.models import AbstractPyConvModel
from lava.proc.conv.process import Conv

from spikerain.hardware.kernels.fixed import wrap


def true_conv_xyc(x: np.ndarray, weight: np.ndarray, stride, padding) -> np.ndarray:
    """Lava's convolution: x ``(X, Y, Ci)``, weight ``(Co, kx, ky, Ci)`` -> ``(X', Y', Co)`` int64, exact."""
    px, py = int(padding[0]), int(padding[1])
    sx, sy = int(stride[0]), int(stride[1])
    kx, ky = weight.shape[1:3]
    xp = np.pad(np.asarray(x, np.int64), ((px, px), (py, py), (0, 0)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kx, ky), axis=(0, 1))[::sx, ::sy]
    flipped = np.asarray(weight, np.int64)[:, ::-1, ::-1, :]
    return np.einsum("xycab,oabc->xyo", win, flipped, optimize=True)


@implements(proc=Conv, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyConvModelFixedVectorised(AbstractPyConvModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    a_buf: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    weight: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=8)

    def run_spk(self) -> None:
        self.a_out.send(self.a_buf)
        s_in = self.s_in.recv()
        if not s_in.any():  # most steps: the input's value is outside its frames
            if getattr(self, "zeros", None) is None:  # one zero message, kept: send() copies it
                self.zeros = np.zeros(self.a_out.shape, np.int32)
            self.a_buf = self.zeros
            return
        if self.num_message_bits.item() == 0:
            s_in = s_in.astype(bool)
        if int(self.groups[0]) != 1 or np.any(np.asarray(self.dilation) != 1):
            raise NotImplementedError("the vectorised Conv model supports groups=1, dilation=1 only")
        acc = true_conv_xyc(s_in, self.weight, self.stride, self.padding)
        self.a_buf = wrap(acc).astype(np.int32)  # Lava's signed_clamp to 24 bits
