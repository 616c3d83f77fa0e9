"""The named fixed-point constants (``spikerain.converter.ir.loihi``) are the ones Lava's own bit-accurate models
use: read from a live ``PyLifModelBitAcc`` and Lava's Conv wrap in the Lava interpreter."""

import json
import subprocess

import pytest

from spikerain.converter.ir import loihi
from spikerain.lava_env import find_lava_python

pytestmark = pytest.mark.lava

PROBE = """
import json
from lava.proc.conv import utils
from lava.proc.lif.models import PyLifModelBitAcc
m = PyLifModelBitAcc({"shape": (1,)})
print(json.dumps({k: int(getattr(m, k)) for k in ("ds_offset", "dm_offset", "uv_bitwidth", "max_uv_val",
                                                 "decay_shift", "decay_unity", "vth_shift", "act_shift")}
                 | {"conv_wrap": int(utils.signed_clamp(2**23, bits=loihi_bits))}))
"""


def test_constants_equal_lavas_bit_accurate_models():
    py = find_lava_python()
    if py is None:
        pytest.fail("no Lava interpreter: run `make .venv-lava`")
    code = PROBE.replace("loihi_bits", str(loihi.CONV_ACC_BITS))
    lava = json.loads(subprocess.run([py, "-c", code], capture_output=True, text=True, check=True, timeout=120).stdout)
    assert lava == {"ds_offset": loihi.DS_OFFSET, "dm_offset": loihi.DM_OFFSET, "uv_bitwidth": loihi.STATE_BITS,
                    "max_uv_val": loihi.STATE_HALF, "decay_shift": loihi.DECAY_SHIFT,
                    "decay_unity": loihi.DECAY_UNITY, "vth_shift": loihi.VTH_SHIFT, "act_shift": loihi.ACT_SHIFT,
                    "conv_wrap": -loihi.STATE_HALF}


def test_every_op_the_schedule_gives_a_neuron_unit_has_a_stock_lava_builder():
    from spikerain.hardware.schedule import LAVA

    py = find_lava_python()
    code = ("import json; from spikerain.hardware.lava.network import NEURON_BUILDERS; "
            "print(json.dumps(sorted(c.op for c in NEURON_BUILDERS)))")
    built = json.loads(subprocess.run([py, "-c", code], capture_output=True, text=True, check=True, timeout=120).stdout)
    assert built == sorted(op for op, form in LAVA.items() if form.kind == "neuron")
