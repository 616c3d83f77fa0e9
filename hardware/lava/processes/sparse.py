"""A ``fixed_pt`` model of Lava's stock ``Sparse`` process that skips the synapses of silent inputs.

Lava's ``PySparseModelBitAcc`` multiplies the whole weight matrix by the input every step. A ``Sparse`` that
upsamples (``hardware/lava/network.py: _upsample_sparse``) hears its value only during the value's frames (4 of
VLIF-Net's 694 steps per tile; a quarter of the steps when tiles are pipelined) and otherwise only its constant-1
input. This model keeps the stock process (ports, Vars, weights clipped and truncated as Lava's model does them)
and computes the same integers from the columns of the non-zero inputs only. ``tests/lava`` checks it equal to
``PySparseModelBitAcc``.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.sparse.models import AbstractPySparseModelBitAcc
from lava.proc.sparse.process import Sparse
from lava.utils.weightutils import SignMode, clip_weights, determine_sign_mode, truncate_weights


@implements(proc=Sparse, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySparseModelFixedActive(AbstractPySparseModelBitAcc):
    def run_spk(self) -> None:
        weight_exp = int(self.proc_params.get("weight_exp", 0))
        if not self.weights_set:  # as PySparseModelBitAcc does it, then by columns for the active inputs
            sign_mode: SignMode = self.proc_params.get("sign_mode") or determine_sign_mode(self.weights)
            w = clip_weights(self.weights, sign_mode, num_bits=8)
            w = truncate_weights(w, sign_mode, self.proc_params.get("num_weight_bits", 8))
            self.weights = w
            self.columns = w.tocsc()
            self.single = {}  # (input, value) -> the output when that input alone is non-zero
            self.weights_set = True
        self.a_out.send(self.a_buff)
        s_in = self.s_in.recv()
        if self.num_message_bits.item() == 0:
            s_in = s_in.astype(bool)
        active = np.flatnonzero(s_in)
        key = (int(active[0]), int(s_in[active[0]])) if len(active) == 1 else None
        if key is not None and key in self.single:  # one input alone (an upsampling's constant 1 between frames)
            self.a_buff = self.single[key]
            return
        acc = self.columns[:, active] @ np.asarray(s_in[active], np.int64)
        acc = np.asarray(acc, np.int64).reshape(-1)
        self.a_buff = (acc << weight_exp if weight_exp > 0 else acc >> -weight_exp).astype(np.int32)
        if key is not None and len(self.single) < 4:  # the send copies a_buff: keeping it for reuse is safe
            self.single[key] = self.a_buff
