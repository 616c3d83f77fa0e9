"""ONNX: the float IR runs in onnxruntime (neurons as spikerain-domain local functions) and round-trips."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from spikerain.converter.frontends.torch_frontend import from_torch
from spikerain.converter.interchange.onnx_io import DOMAIN, export_onnx, import_onnx
from spikerain.converter.ir import graphs_equal
from spikerain.converter.passes.pipeline import run_passes
from spikerain.errors import InputError, UnsupportedOpError
from spikerain.models import ESDNet, VLIFNet


def _session(path):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("build", [VLIFNet, ESDNet], ids=["vlifnet", "esdnet"])
@pytest.mark.parametrize("folded", [False, True], ids=["raw", "passes"])
def test_onnxruntime_matches_pytorch_and_round_trips(tmp_path, build, folded):
    torch.manual_seed(0)
    model = build(dim=16).eval()
    g = from_torch(model, (32, 32))
    if folded:
        g = run_passes(g)
    proto = export_onnx(g, tmp_path / "m.onnx")
    funcs = {f.name for f in proto.functions}
    assert funcs and all(f.domain == DOMAIN for f in proto.functions)
    assert any(n.domain == DOMAIN for n in proto.graph.node)
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    y = _session(tmp_path / "m.onnx").run(None, {"image": x.numpy()})[0]
    with torch.no_grad():
        ref = model(x).numpy()
    assert np.abs(y - ref).max() <= 1e-4
    assert graphs_equal(g, import_onnx(tmp_path / "m.onnx"))


def test_quantized_graphs_and_foreign_files_are_refused(tmp_path):
    from onnx import TensorProto, helper

    from spikerain.pipeline.convert import convert_model

    torch.manual_seed(0)
    _, qg, _ = convert_model(ESDNet(dim=16).eval(), calib_images=[np.full((16, 16, 3), 0.5, np.float32)])
    with pytest.raises(UnsupportedOpError, match="quantized"):
        export_onnx(qg)
    node = helper.make_node("Relu", ["x"], ["y"])
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(g), str(tmp_path / "foreign.onnx"))
    with pytest.raises(InputError, match="not written by spikerain"):
        import_onnx(tmp_path / "foreign.onnx")
