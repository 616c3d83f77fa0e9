"""Loihi's fixed-point constants, named once with their source (torch-free, lava-free).

They live beside the quantized IR because they are part of its integer semantics: the IR is the one module every
stage already imports, so no stage has to import another to agree on them.

The reference kernels, the fast simulator, the quantizer and spikerain's Lava models all read these names, so the
integer semantics cannot drift apart. Line numbers are those of lava-nc 0.10.0 (``docs/sources.md`` §4).
"""

from __future__ import annotations

#: a_in is MSB-aligned to the 24-bit current: u += a_in << 6 (``lava/proc/lif/models.py`` l.108 ``act_shift``)
ACT_SHIFT = 6
#: the threshold mantissa is MSB-aligned the same way: effective vth = vth << 6 (l.107 ``vth_shift``)
VTH_SHIFT = 6
#: decays are 12-bit fractions of unity 4096 = 2**12 (l.104-105 ``decay_shift``, ``decay_unity``)
DECAY_SHIFT = 12
DECAY_UNITY = 1 << DECAY_SHIFT
#: the largest decay register value; du = DU_MAX clears the current every step
DU_MAX = DECAY_UNITY - 1
#: the current decays by (unity - (du + 1)), the voltage by (unity - dv) (l.94-95 ``ds_offset``, ``dm_offset``)
DS_OFFSET = 1
DM_OFFSET = 0
#: u and v are 24-bit (l.101-102 ``uv_bitwidth``); u wraps above 2**23, v saturates at +-(2**23 - 1) (l.159-186)
STATE_BITS = 24
STATE_HALF = 1 << (STATE_BITS - 1)
V_LIMIT = STATE_HALF - 1
#: Conv outputs wrap to signed 24 bit (``lava/proc/conv/models.py`` l.79 ``signed_clamp(x, bits=24)``)
CONV_ACC_BITS = 24
#: threshold mantissa: 17-bit unsigned (``PyLifModelBitAcc.vth``, precision 17)
VTH_MANT_BITS = 17
VTH_MANT_MAX = (1 << VTH_MANT_BITS) - 1
#: bias: 13-bit signed mantissa, 3-bit exponent; bias_mant << bias_exp is added to v unshifted (l.85, l.115-120)
BIAS_MANT_BITS = 13
BIAS_EXP_BITS = 3
#: synaptic weights: 8-bit mantissas with a shared exponent (``lava/utils/weightutils.py``)
WEIGHT_BITS = 8
#: the longest synaptic delay (6 bits); lava-dl's netx reader clamps longer ones
MAX_DELAY = 62


def wrap_state(x):
    """Lava's current wrap-around: values above 2**23 lose 2**24, values at or below -2**23 gain 2**24
    (``lava/proc/lif/models.py`` l.159-170). Works on numpy arrays and torch tensors alike."""
    return x - (x > STATE_HALF) * (2 * STATE_HALF) + (x <= -STATE_HALF) * (2 * STATE_HALF)
#: graded spikes between Lava's fixed-point Conv/Dense and neurons carry up to 24-bit payloads
#: (``num_message_bits``; ``lava/proc/dense/process.py``, ``lava/proc/conv/process.py``)
MESSAGE_BITS = 24
#: lava-dl's netx reader builds every CUBA neuron with bias_exp 6 and every sigma-delta neuron with state_exp 6
#: (lava-dl v0.6.0 ``netx/hdf5.py``, ``Network.get_neuron_params``)
NETX_BIAS_EXP = 6
NETX_STATE_EXP = 6
