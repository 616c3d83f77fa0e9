"""Every command against bad input: corrupt, truncated, empty and foreign files, impossible sizes, wrong modes,
unwritable outputs, unsafe pickles, a flipped artifact byte, concurrent writers.

Table-driven and in-process (``spikerain.cli.main``). Each case asserts the documented exit code, that stderr is
one line naming the cause (with at most a fix on the same line), that no traceback appears, and that no output,
partial or temporary, is left. Tests may run as root, where permission bits do not stop writes: unwritable
folders are made from a path under a regular file, or under /proc.
"""

from __future__ import annotations

import json
import pickle
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from spikerain.cli import main
from spikerain.converter.artifact import load_artifact, save_artifact
from spikerain.converter.interchange.netx_io import import_netx
from spikerain.errors import EXIT_CODES
from spikerain.imageio import write_image
from spikerain.models import VLIFNet
from spikerain.models.checkpoint import save_checkpoint

USAGE, INPUT, OUTPUT = EXIT_CODES["usage error"], EXIT_CODES["input error"], EXIT_CODES["output not writable"]

# --------------------------------------------------------------------------------------------------- files


def _neuron(**over):
    n = {"type": np.array([b"LOIHI"], dtype="S10"), "iDecay": 4096, "vDecay": 0, "vThMant": 10, "refDelay": 1}
    n.update(over)
    return {k: v for k, v in n.items() if v is not None}


def _conv(**over):
    c = {"type": np.array([b"conv"], dtype="S10"), "weight": np.ones((4, 3, 3, 3), np.float32),
         "stride": np.array([1, 1]), "padding": np.array([1, 1]), "neuron": _neuron()}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def good_netx_layers():
    return {"0": {"type": np.array([b"input"], dtype="S10"), "shape": np.array([3, 8, 8])}, "1": _conv()}


def write_netx(path: Path, layers: dict | None, steps: int = 4) -> Path:
    with h5py.File(path, "w") as f:
        f["simulation/Ts"], f["simulation/tSample"] = 1, steps
        if layers is None:
            return path
        root = f.create_group("layer")
        for key, spec in layers.items():
            g = root.create_group(key)
            for k, v in spec.items():
                if isinstance(v, dict):
                    ng = g.create_group(k)
                    for kk, vv in v.items():
                        ng[kk] = vv
                else:
                    g[k] = v
    return path


class Payload:
    """A pickle that would create ``marker`` when unpickled."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@dataclass
class Files:
    root: Path
    paths: dict = field(default_factory=dict)

    def __getattr__(self, name):
        try:
            return str(self.paths[name])
        except KeyError:
            raise AttributeError(name) from None


@pytest.fixture(scope="module")
def f(tmp_path_factory) -> Files:
    d = tmp_path_factory.mktemp("bad")
    p: dict = {}
    rng = np.random.default_rng(0)
    write_image(d / "img.png", rng.random((24, 24, 3)))
    write_image(d / "small.png", rng.random((8, 8, 3)))
    p["img"], p["small"] = d / "img.png", d / "small.png"
    good = (d / "img.png").read_bytes()
    for name, data in {"empty.png": b"", "trunc.png": good[: len(good) // 2], "text.png": b"hello, not an image\n",
                       "empty.bin": b"", "text.txt": b"just text\n"}.items():
        (d / name).write_bytes(data)
        p[name.replace(".", "_")] = d / name
    p["bomb"] = _png_bomb(d / "bomb.png", 10000, 9000)
    p["dir"] = d / "folder"
    p["dir"].mkdir()
    p["file"] = d / "text.txt"  # a regular file: a path below it cannot be created
    p["under_file"] = d / "text.txt" / "sub"
    p["proc"] = Path("/proc")

    # checkpoints
    torch.manual_seed(0)
    net = VLIFNet(dim=16, en_num_blocks=(1, 1, 1, 1), de_num_blocks=(1, 1, 1, 1))
    save_checkpoint(d / "tiny.pt", net)
    p["ckpt"] = d / "tiny.pt"
    payload = torch.load(d / "tiny.pt", weights_only=True)
    sd = payload["state_dict"]

    def ck(name, obj):
        torch.save(obj, d / name)
        p[name.replace(".", "_")] = d / name

    ck("bare.pt", {k: v for k, v in sd.items()})
    base = dict(payload["config"])
    # config checks come before any weight is used: one tensor (which says the width) is enough, and cheap
    few = {"patch_embed.proj.weight": sd["patch_embed.proj.weight"]}
    for name, config in {"cfg_str.pt": "vlifnet", "cfg_nomodel.pt": {k: v for k, v in base.items() if k != "model"},
                         "cfg_neg.pt": {**base, "dim": -16}, "cfg_huge.pt": {**base, "dim": 4096},
                         "cfg_strdim.pt": {**base, "dim": "16"}, "cfg_unknown.pt": {**base, "model": "resnet"},
                         "cfg_option.pt": {**base, "heads": 8}, "cfg_T.pt": {**base, "T": 8},
                         "cfg_width.pt": {**base, "dim": 32}, "cfg_blocks.pt": {**base, "en_num_blocks": "abc"},
                         "cfg_nan.pt": {**base, "dim": float("nan")}}.items():
        ck(name, {**payload, "config": config, "state_dict": few})
    nan_w = sd["patch_embed.proj.weight"].clone()
    nan_w[0, 0, 0, 0] = float("nan")
    ck("nan.pt", {**payload, "state_dict": {**few, "patch_embed.proj.weight": nan_w}})
    ck("tensor.pt", torch.zeros(3))
    ck("nontensor.pt", {"a": 1, "b": "x"})
    ck("foreign_sd.pt", {"fc.weight": torch.zeros(2, 2)})
    mis = dict(sd)
    mis[next(k for k, v in sd.items() if v.ndim == 4 and k != "patch_embed.proj.weight")] = torch.zeros(1, 1, 1, 1)
    ck("misshaped.pt", {**payload, "state_dict": mis})
    raw = (d / "tiny.pt").read_bytes()
    (d / "trunc.pt").write_bytes(raw[: len(raw) // 2])
    p["trunc_pt"] = d / "trunc.pt"
    (d / "png.pt").write_bytes(good)
    p["png_pt"] = d / "png.pt"
    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    (d / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0\0\0\0")
    p["safetensors"] = d / "model.safetensors"
    for name in ("evil_open.pt", "evil_eval.pt"):
        with open(d / name, "wb") as fh:
            if name == "evil_open.pt":
                pickle.dump(Payload(d / "PWNED"), fh)
            else:
                pickle.dump(_EvalPayload(str(d / "PWNED")), fh)
        p[name.replace(".", "_")] = d / name
    p["pwned"] = d / "PWNED"

    # a module artifact (convert --torch: the snnTorch loop of tests/converter/test_nir.py) and inputs for it
    from spikerain.pipeline.byo import convert_module
    from tests.converter.test_nir import T, build

    x = np.random.default_rng(0).random((T, 1, 6)).astype(np.float32)
    save_artifact(d / "module_art.h5", convert_module(build(), x)[1])
    p["mod_art"] = d / "module_art.h5"
    p["mod_x"], p["mod_bad_x"] = d / "mod_x.npy", d / "mod_bad_x.npy"
    np.save(p["mod_x"], x)
    np.save(p["mod_bad_x"], x[:, :, :4])

    # netx files and a netx-imported artifact
    p["netx"] = write_netx(d / "good.net", good_netx_layers())
    g = import_netx(p["netx"])
    save_artifact(d / "netx_art.h5", g)
    p["art"] = d / "netx_art.h5"
    bad_netx = {
        "nx_nolayer": None,
        "nx_empty": {},
        "nx_strkey": {**good_netx_layers(), "one": _conv()},
        "nx_notype": {**good_netx_layers(), "1": {k: v for k, v in _conv().items() if k != "type"}},
        "nx_noweight": {**good_netx_layers(), "1": _conv(weight=None)},
        "nx_noneuron": {**good_netx_layers(), "1": _conv(neuron=None)},
        "nx_novth": {**good_netx_layers(), "1": _conv(neuron=_neuron(vThMant=None))},
        "nx_first": {"0": _conv(), "1": _conv()},
        "nx_pool": {**good_netx_layers(), "1": _conv(type=np.array([b"pool"], dtype="S10"))},
        "nx_neurontype": {**good_netx_layers(), "1": _conv(neuron=_neuron(type=np.array([b"IZH"], dtype="S10")))},
        "nx_weight1d": {**good_netx_layers(), "1": _conv(weight=np.ones(5, np.float32))},
        "nx_noshape": {"0": {"type": np.array([b"input"], dtype="S10")}, "1": _conv()},
    }
    for name, layers in bad_netx.items():
        p[name] = write_netx(d / f"{name}.net", layers)
    p["nx_tsample0"] = write_netx(d / "nx_tsample0.net", good_netx_layers(), steps=0)
    nraw = p["netx"].read_bytes()
    (d / "trunc.net").write_bytes(nraw[: len(nraw) // 3])
    p["nx_trunc"] = d / "trunc.net"

    # damaged artifacts
    araw = p["art"].read_bytes()
    (d / "trunc_art.h5").write_bytes(araw[: len(araw) // 2])
    p["art_trunc"] = d / "trunc_art.h5"
    p["art_flip"] = _copy_and_edit(p["art"], d / "flip.h5", _flip_weight)
    p["art_schema"] = _copy_and_edit(p["art"], d / "schema.h5", lambda h: h.attrs.__setitem__("schema_version", 99))
    p["art_meta"] = _copy_and_edit(p["art"], d / "meta.h5", lambda h: h["meta"].attrs.__setitem__(
        "json", json.dumps({**json.loads(h["meta"].attrs["json"]), "steps": 99})))
    p["art_op"] = _copy_and_edit(p["art"], d / "op.h5", lambda h: h["graph/nodes/00000"].attrs.__setitem__(
        "op", "q_teleport"))
    p["art_node"] = _copy_and_edit(p["art"], d / "node.h5", lambda h: h["graph/nodes"].__delitem__("00002"))
    p["art_noformat"] = p["netx"]  # HDF5, but not an artifact

    # a foreign format everywhere: an ONNX model
    import onnx
    from onnx import TensorProto, helper

    x, y = (helper.make_tensor_value_info(n, TensorProto.FLOAT, [1]) for n in "xy")
    model = helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y]))
    onnx.save(model, d / "model.onnx")
    p["onnx"] = d / "model.onnx"

    # energy tables
    for name, text in {"t_list.toml": "constants = [1, 2]\n", "t_pairs.json": '{"constants": [["a", 1]]}',
                       "t_entry.json": '{"constants": {"X": 5}}', "t_bad.json": "{not json",
                       "t_value.json": '{"constants": {"E_MAC_pJ": {"value": "lots", "source": "me"}}}',
                       "t_top.json": "[1, 2, 3]", "t_kind.json": '{"models": {"m": {"kind": "magic"}}}',
                       "t_ref.json": '{"models": {"m": {"kind": "paper", "sops": "exact", "mac_layers": "analog", '
                                     '"mac_constant": "NOPE"}}}',
                       "t_badtoml.toml": "[constants\n"}.items():
        (d / name).write_text(text)
        p[name.replace(".", "_")] = d / name
    return Files(d, p)


class _EvalPayload:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({self.marker!r}, 'w')",))


def _png_bomb(path: Path, w: int, h: int) -> Path:
    """A valid greyscale PNG of w x h zero pixels, some kilobytes on disk."""
    import struct
    import zlib

    co = zlib.compressobj(9)
    rows = b"\0" * ((w + 1) * 100)
    data = b"".join(co.compress(rows) for _ in range(h // 100)) + co.flush()

    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


def _copy_and_edit(src: Path, dst: Path, edit) -> Path:
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as h:
        edit(h)
    return dst


def _flip_weight(h) -> None:
    for key in h["graph/nodes"]:
        ng = h["graph/nodes"][key]
        if "weight_mant" in ng:
            w = ng["weight_mant"][()]
            w.reshape(-1)[0] ^= 1  # one bit of one weight
            ng["weight_mant"][...] = w
            return
    raise AssertionError("no weights to flip")


# --------------------------------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    argv: str  # {name} placeholders are Files paths; {out} is a fresh folder per case
    code: int
    says: str  # a substring of the one stderr line that names the cause
    leaves: tuple[str, ...] = ()  # outputs (relative to {out}) that must not exist afterwards


def C(argv, code, says, *leaves):
    return pytest.param(Case(argv, code, says, leaves), id=argv.split()[0] + ":" + says[:40])


CASES = [
    # the parser itself
    C("frobnicate", USAGE, "invalid choice"),
    C("derain --model nonsense", USAGE, "invalid choice"),
    C("map {art} --size 1", USAGE, "expected 2 arguments"),
    C("simulate {art} --crop a b", USAGE, "invalid int value"),
    C("simulate {art} --backend quantum", USAGE, "invalid choice"),
    C("map {art} --target loihi3", USAGE, "invalid choice"),
    C("demo --model resnet", USAGE, "invalid choice"),
    # wrong modes
    C("data fetch {out}/d", USAGE, "invalid choice"),
    C("verify {art} --conv-model bogus", USAGE, "invalid choice"),
    C("eval --data {dir} --side-by-side up", USAGE, "invalid choice"),
    C("simulate {art} --input {img} --backend loihi2 -o {out}/s.png", EXIT_CODES["environment missing"],
      "lava-loihi", "s.png"),
    # derain: images
    C("derain {out}/missing.png {out}/o.png", INPUT, "does not exist", "o.png"),
    C("derain {dir} {out}/o.png", INPUT, "is a folder", "o.png"),
    C("derain {empty_png} {out}/o.png --checkpoint {ckpt}", INPUT, "empty", "o.png"),
    C("derain {trunc_png} {out}/o.png --checkpoint {ckpt}", INPUT, "truncated or corrupt", "o.png"),
    C("derain {text_png} {out}/o.png --checkpoint {ckpt}", INPUT, "not an image format", "o.png"),
    C("derain {bomb} {out}/o.png --checkpoint {ckpt}", INPUT, "decompression bomb", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {ckpt} --target {out}/nope.png", INPUT, "does not exist", "o.png"),
    C("derain {onnx} {out}/o.png --checkpoint {ckpt}", INPUT, "not an image format", "o.png"),
    # derain: outputs
    C("derain {img} {out}/o.txt --checkpoint {ckpt}", USAGE, "suffix", "o.txt"),
    C("derain {img} {out}/o --checkpoint {ckpt}", USAGE, "suffix", "o"),
    C("derain {img} {under_file}/o.png --checkpoint {ckpt}", OUTPUT, "is a file, not a folder"),
    C("derain {img} {proc}/o.png --checkpoint {ckpt}", OUTPUT, "not writable"),
    C("derain {img} {proc}/deep/er/o.png --checkpoint {ckpt}", OUTPUT, "not writable"),
    C("derain {img} {dir} --checkpoint {ckpt}", USAGE, "suffix"),
    C("derain {img} {out}/a.png -o {out}/b.png --checkpoint {ckpt}", USAGE, "two outputs", "a.png", "b.png"),
    # derain: checkpoints
    C("derain {img} {out}/o.png --checkpoint {out}/nope.pt", INPUT, "does not exist", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {empty_bin}", INPUT, "empty", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {trunc_pt}", INPUT, "corrupt or truncated", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {png_pt}", INPUT, "not a PyTorch checkpoint (a PNG image)", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {text_txt}", INPUT, "not a PyTorch checkpoint", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {art}", INPUT, "(an HDF5 file", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {safetensors}", INPUT, "safetensors file", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {evil_open_pt}", INPUT, "code execution", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {evil_eval_pt}", INPUT, "code execution", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {tensor_pt}", INPUT, "not a state dict", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {onnx}", INPUT, "possibly an ONNX model", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {nontensor_pt}", INPUT, "no state dict of tensors", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {foreign_sd_pt}", INPUT, "neither VLIF-Net nor ESDNet", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {cfg_str_pt}", INPUT, "not a mapping", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {cfg_nomodel_pt}", INPUT, "no 'model' key", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {cfg_neg_pt}", INPUT, "dim -16 is outside [16, 128]", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {cfg_huge_pt}", INPUT, "dim 4096 is outside [16, 128]", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {cfg_strdim_pt}", INPUT, "not an integer", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {cfg_nan_pt}", INPUT, "not an integer", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {cfg_unknown_pt}", INPUT, "unknown model 'resnet'", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {cfg_option_pt}", INPUT, "unknown vlifnet option", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {cfg_T_pt}", INPUT, "T 8 is outside [4, 4]", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {cfg_width_pt}", INPUT, "weights have width 16", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {cfg_blocks_pt}", INPUT, "not a list of 4", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {nan_pt}", INPUT, "NaN or infinite values", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {misshaped_pt}", INPUT, "mis-shaped", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {ckpt} --model esdnet", INPUT, "holds a vlifnet", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {bare_pt} --dim 0", USAGE, "dim 0 is outside", "o.png"),
    C("derain {img} {out}/o.png --checkpoint {bare_pt} --dim 4096", USAGE, "dim 4096 is outside", "o.png"),
    # convert
    C("convert --checkpoint {ckpt} -o {out}/m.txt", USAGE, "suffix", "m.txt"),
    C("convert --checkpoint {ckpt} -o {proc}/m.h5", OUTPUT, "not writable"),
    C("convert --checkpoint {ckpt} -o {under_file}/m.h5", OUTPUT, "is a file, not a folder"),
    C("convert --checkpoint {ckpt} -o {dir}", USAGE, "suffix"),
    C("convert --checkpoint {ckpt} -o {out}/m.h5 --onnx {out}/m.txt", USAGE, "suffix", "m.h5", "m.txt"),
    C("convert --checkpoint {ckpt} -o {out}/m.h5 --onnx {proc}/m.onnx", OUTPUT, "not writable", "m.h5"),
    C("convert --checkpoint {ckpt} -o {out}/m.h5 --calib-size 12", USAGE, "multiple of 8", "m.h5"),
    C("convert --checkpoint {ckpt} -o {out}/m.h5 --calib-size 0", USAGE, "multiple of 8", "m.h5"),
    C("convert --checkpoint {ckpt} -o {out}/m.h5 --calib {out}/nope", INPUT, "does not exist", "m.h5"),
    C("convert --checkpoint {ckpt} -o {out}/m.h5 --calib {img}", INPUT, "is not a folder", "m.h5"),
    C("convert --checkpoint {ckpt} -o {out}/m.h5 --calib {dir}", INPUT, "no calibration images", "m.h5"),
    C("convert --checkpoint {ckpt} -o {out}/m.h5 --headroom 0", USAGE, "--headroom", "m.h5"),
    C("convert --checkpoint {ckpt} -o {out}/m.h5 --headroom -1", USAGE, "--headroom", "m.h5"),
    C("convert --checkpoint {ckpt} -o {out}/m.h5 --headroom nan", USAGE, "--headroom", "m.h5"),
    C("convert --checkpoint {ckpt} -o {out}/m.h5 --payload-bits 0", USAGE, "--payload-bits 0", "m.h5"),
    C("convert --checkpoint {ckpt} -o {out}/m.h5 --payload-bits 64", USAGE, "--payload-bits 64", "m.h5"),
    C("convert --checkpoint {out}/nope.pt -o {out}/m.h5", INPUT, "does not exist", "m.h5"),
    C("convert --checkpoint {evil_open_pt} -o {out}/m.h5", INPUT, "code execution", "m.h5"),
    C("convert --checkpoint {cfg_huge_pt} -o {out}/m.h5", INPUT, "dim 4096", "m.h5"),
    C("convert --checkpoint {ckpt} --model esdnet -o {out}/m.h5", INPUT, "holds a vlifnet", "m.h5"),
    # inspect: artifacts
    C("inspect {out}/nope.h5", INPUT, "does not exist"),
    C("inspect {dir}", INPUT, "does not exist"),
    C("inspect {empty_bin}", INPUT, "not an HDF5 file"),
    C("inspect {text_txt}", INPUT, "not an HDF5 file"),
    C("inspect {img}", INPUT, "not an HDF5 file"),
    C("inspect {ckpt}", INPUT, "not an HDF5 file"),
    C("inspect {art_trunc}", INPUT, "artifact"),
    C("inspect {onnx}", INPUT, "not an HDF5 file"),
    C("inspect {art_noformat}", INPUT, "not a spikerain artifact"),
    C("inspect {art_flip}", INPUT, "fails its checksum"),
    C("inspect {art_meta}", INPUT, "fails its checksum"),
    C("inspect {art_schema}", INPUT, "schema version 99"),
    C("inspect {art_op}", INPUT, "op this version does not know"),
    C("inspect {art_node}", INPUT, "truncated"),
    C("inspect {art} --limit -1", USAGE, "--limit -1"),
    # simulate
    C("simulate {art} --input {img} --crop 0 0 -o {out}/s.png", USAGE, "at least 1", "s.png"),
    C("simulate {art} --input {img} --crop -8 -8 -o {out}/s.png", USAGE, "at least 1", "s.png"),
    C("simulate {art} --input {img} --crop 1000 1000 -o {out}/s.png --backend fast", INPUT, "does not fit",
      "s.png"),
    C("simulate {art} --input {img} -o {out}/s.h5", USAGE, "suffix", "s.h5"),
    C("simulate {art} --input {img} -o {out}/s.png --record {out}/a.png", USAGE, "suffix", "s.png", "a.png"),
    C("simulate {art} --input {img} -o {out}/s.png --record {proc}/a.h5", OUTPUT, "not writable", "s.png"),
    C("simulate {art} --input {img} -o {out}/s.png --record {under_file}/a.h5", OUTPUT, "not a folder", "s.png"),
    C("simulate {art} --input {img} -o {proc}/s.png", OUTPUT, "not writable"),
    C("simulate {art} --input {img} -o {out}/s.png --record {art}", USAGE, "same file", "s.png"),
    C("simulate {art} --input {out}/nope.png -o {out}/s.png", INPUT, "no such file", "s.png"),
    C("simulate {art} --input {trunc_png} -o {out}/s.png", INPUT, "truncated or corrupt", "s.png"),
    C("simulate {art} --input {bomb} -o {out}/s.png", INPUT, "decompression bomb", "s.png"),
    C("simulate {art} --input {img} -o {out}/s.png --timeout 0", USAGE, "--timeout", "s.png"),
    C("simulate {art_flip} --input {img} -o {out}/s.png", INPUT, "fails its checksum", "s.png"),
    C("simulate {text_txt} --input {img} -o {out}/s.png", INPUT, "not an HDF5 file", "s.png"),
    # verify
    C("verify {art} --crop 0 0", USAGE, "at least 1"),
    C("verify {art} --crop -8 -8", USAGE, "at least 1"),
    C("verify {art} --crop 16 16 --crop 0 4", USAGE, "at least 1"),
    C("verify {art} --at -1 0", USAGE, "cannot be negative"),
    C("verify {art} --timeout -5", USAGE, "--timeout"),
    C("verify {out}/nope.h5", INPUT, "does not exist"),
    C("verify {art} --input {text_png}", INPUT, "not an image format"),
    C("verify {art} --crop 8 8 --crop 4000 16", INPUT, "does not fit"),
    # map
    C("map {art} --size 0 0", USAGE, "at least 1"),
    C("map {art} --size -16 -16", USAGE, "at least 1"),
    C("map {art} --size 16 0", USAGE, "at least 1"),
    C("map {text_txt}", INPUT, "not an HDF5 file"),
    C("map {art_flip}", INPUT, "fails its checksum"),
    # import-netx
    C("import-netx {netx} -o {out}/n.h5 --steps 0", USAGE, "--steps 0", "n.h5"),
    C("import-netx {netx} -o {out}/n.h5 --steps -5", USAGE, "--steps -5", "n.h5"),
    C("import-netx {out}/nope.net -o {out}/n.h5", INPUT, "does not exist", "n.h5"),
    C("import-netx {text_txt} -o {out}/n.h5", INPUT, "not a netx HDF5 file", "n.h5"),
    C("import-netx {empty_bin} -o {out}/n.h5", INPUT, "not a netx HDF5 file", "n.h5"),
    C("import-netx {onnx} -o {out}/n.h5", INPUT, "not a netx HDF5 file", "n.h5"),
    C("import-netx {nx_trunc} -o {out}/n.h5", INPUT, "netx", "n.h5"),
    C("import-netx {art} -o {out}/n.h5", INPUT, "no 'layer' group", "n.h5"),
    C("import-netx {nx_nolayer} -o {out}/n.h5", INPUT, "no 'layer' group", "n.h5"),
    C("import-netx {nx_empty} -o {out}/n.h5", INPUT, "'layer' group is empty", "n.h5"),
    C("import-netx {nx_strkey} -o {out}/n.h5", INPUT, "not a layer number", "n.h5"),
    C("import-netx {nx_notype} -o {out}/n.h5", INPUT, "has no 'type'", "n.h5"),
    C("import-netx {nx_noweight} -o {out}/n.h5", INPUT, "has no 'weight'", "n.h5"),
    C("import-netx {nx_noneuron} -o {out}/n.h5", INPUT, "no neuron group", "n.h5"),
    C("import-netx {nx_novth} -o {out}/n.h5", INPUT, "has no 'vThMant'", "n.h5"),
    C("import-netx {nx_first} -o {out}/n.h5", INPUT, "no input layer", "n.h5"),
    C("import-netx {nx_pool} -o {out}/n.h5", INPUT, "cannot import", "n.h5"),
    C("import-netx {nx_neurontype} -o {out}/n.h5", INPUT, "netx neuron type", "n.h5"),
    C("import-netx {nx_weight1d} -o {out}/n.h5", INPUT, "layer 1 (conv) has a weight of shape (5,)", "n.h5"),
    C("import-netx {nx_noshape} -o {out}/n.h5", INPUT, "not a netx network spikerain can read", "n.h5"),
    C("import-netx {nx_tsample0} -o {out}/n.h5", INPUT, "tSample is 0", "n.h5"),
    C("import-netx {netx} -o {out}/n.txt", USAGE, "suffix", "n.txt"),
    C("import-netx {netx} -o {proc}/n.h5", OUTPUT, "not writable"),
    C("import-netx {netx} -o {under_file}/n.h5", OUTPUT, "not a folder"),
    C("import-netx {netx} -o {out}/n.h5 --input-frac 99", USAGE, "--input-frac 99", "n.h5"),
    C("import-netx {netx} -o {out}/n.h5 --reset-interval -1", USAGE, "--reset-interval -1", "n.h5"),
    C("import-netx {art} -o {art}", USAGE, "same file"),
    # export
    C("export {art} --format netx -o {out}/e.png", USAGE, "suffix", "e.png"),
    C("export {art} --format netx -o {proc}/e.net", OUTPUT, "not writable"),
    C("export {out}/nope.h5 --format netx -o {out}/e.net", INPUT, "does not exist", "e.net"),
    C("export {art_flip} --format netx -o {out}/e.net", INPUT, "fails its checksum", "e.net"),
    C("export {art} --format netx -o {art}", USAGE, "same file"),
    C("export {art} --format onnx -o {out}/e.net", USAGE, "invalid choice", "e.net"),
    C("export {art} --format nir -o {out}/e.net", USAGE, "suffix", "e.net"),
    # import-nir, convert --torch (bring your own SNN)
    C("import-nir {out}/missing.nir -o {out}/n.h5 --dt 1e-4", INPUT, "does not exist", "n.h5"),
    C("import-nir {file} -o {out}/n.h5 --dt 0", USAGE, "--dt 0", "n.h5"),
    C("import-nir {file} -o {out}/n.png --dt 1e-4", USAGE, "suffix", "n.png"),
    C("import-nir {file} -o {out}/n.h5 --dt 1e-4 --steps 0", USAGE, "--steps 0", "n.h5"),
    C("import-nir {file} -o {out}/n.h5 --dt 1e-4", INPUT, "not a readable NIR file", "n.h5"),
    C("convert --torch {file}:build --example {file} -o {out}/c.h5", INPUT, "not a Python file", "c.h5"),
    C("convert --torch {out}/nope.py:build --example {file} -o {out}/c.h5", INPUT, "does not exist", "c.h5"),
    C("convert --example {file} -o {out}/c.h5", USAGE, "go together", "c.h5"),
    C("simulate {mod_art} --input {img} -o {out}/y.npy", USAGE, "takes a tensor", "y.npy"),
    C("simulate {mod_art} --input {mod_x} -o {out}/y.npy --record {out}/r.h5", USAGE, "a module input runs whole",
      "y.npy", "r.h5"),
    C("simulate {mod_art} --input {mod_bad_x} -o {out}/y.npy", INPUT, "does not fit", "y.npy"),
    C("simulate {mod_art} --input {mod_x} -o {out}/y.npy --backend loihi2", USAGE, "fast simulator or in Lava",
      "y.npy"),
    C("verify {mod_art} --input {img}", USAGE, "not an image"),
    C("verify {mod_art} --input {mod_x} --crop 8 8", USAGE, "a module input runs whole"),
    C("verify {mod_art} --input {mod_bad_x}", INPUT, "does not fit"),
    C("convert --torch {file} --example {file} -o {out}/c.h5", USAGE, "FILE.py:FACTORY", "c.h5"),
    # energy
    C("energy --images {img} --size 7 9", USAGE, "at least 16"),
    C("energy --images {img} --size 0 0", USAGE, "at least 16"),
    C("energy --images {img} --size -16 16", USAGE, "at least 16"),
    C("energy --images {small}", USAGE, "8x8"),
    C("energy --images {out}/nope.png", INPUT, "does not exist"),
    C("energy --images {text_png}", INPUT, "not an image format"),
    C("energy --tables {out}/nope.toml", INPUT, "does not exist"),
    C("energy --tables {t_list_toml}", INPUT, "section 'constants' is a list"),
    C("energy --tables {t_pairs_json}", INPUT, "section 'constants' is a list"),
    C("energy --tables {t_entry_json}", INPUT, "entry 'X' is a int"),
    C("energy --tables {t_bad_json}", INPUT, "cannot read energy table"),
    C("energy --tables {onnx}", INPUT, "cannot read energy table"),
    C("energy --tables {t_badtoml_toml}", INPUT, "cannot read energy table"),
    C("energy --tables {t_value_json}", INPUT, "not a finite number"),
    C("energy --tables {t_top_json}", INPUT, "holds a list"),
    C("energy --tables {t_kind_json}", INPUT, "kind 'magic'"),
    C("energy --tables {t_ref_json}", INPUT, "names no constant"),
    C("energy --limit 0", USAGE, "--limit 0"),
    C("energy --tile 0", USAGE, "--tile 0 is out of range"),
    C("energy --tile 100", USAGE, "not a multiple of 8"),
    C("energy --model vlifnet --baseline vlifnet", USAGE, "the same network"),
    C("energy -o {text_txt}", OUTPUT, "is a file, not a folder"),
    C("energy -o {proc}/e", OUTPUT, "not writable"),
    C("energy --checkpoint {evil_open_pt} -o {out}/e", INPUT, "code execution", "e"),
    C("energy --baseline-checkpoint {safetensors}", INPUT, "safetensors"),
    # eval
    C("eval --data {out}/nope", INPUT, "does not exist"),
    C("eval", USAGE, "give --data"),
    C("eval --input-dir {dir}", USAGE, "go together"),
    C("eval --data {dir} --limit -1", USAGE, "--limit -1"),
    C("eval --data {img}", INPUT, "is not a folder"),
    # train
    C("train --data {dir} -o {out}/c.txt", USAGE, "suffix", "c.txt"),
    C("train --data {dir} -o {proc}/c.pt", OUTPUT, "not writable"),
    C("train --data {out}/nope -o {out}/c.pt", INPUT, "does not exist", "c.pt"),
    C("train --data {dir} -o {out}/c.pt --dim 0", USAGE, "dim 0 is outside", "c.pt"),
    C("train --data {dir} -o {out}/c.pt --dim 4096", USAGE, "dim 4096 is outside", "c.pt"),
    C("train --data {dir} -o {out}/c.pt --batch 0", USAGE, "--batch 0", "c.pt"),
    C("train --data {dir} -o {out}/c.pt --patch 12", USAGE, "at least 16", "c.pt"),
    C("train --data {dir} -o {out}/c.pt --patch 20", USAGE, "multiples of 8", "c.pt"),
    C("train --data {dir} -o {out}/c.pt --lr 0", USAGE, "--lr 0", "c.pt"),
    C("train --data {dir} -o {out}/c.pt --resume", INPUT, "does not exist", "c.pt"),
    # data
    C("data synth {out}/d --size 8", USAGE, "--size 8", "d"),
    C("data synth {out}/d --n-train -1", USAGE, "counts >= 0", "d"),
    C("data synth {under_file}/d", OUTPUT, "not a folder"),
    C("data synth {proc}/d", OUTPUT, "not writable"),
    # demo
    C("demo --crop 0 0 -o {out}/demo", USAGE, "at least 1", "demo"),
    C("demo -o {text_txt}", OUTPUT, "is a file, not a folder"),
    C("demo -o {proc}/demo", OUTPUT, "not writable"),
    C("demo --input {out}/nope.png -o {out}/demo", INPUT, "does not exist", "demo"),
    C("demo --checkpoint {safetensors} -o {out}/demo", INPUT, "safetensors", "demo"),
]


def _run(argv: list[str], capfd) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as e:  # argparse
        code = e.code
    out, err = capfd.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gives_one_line_and_its_exit_code(case: Case, f: Files, tmp_path, capfd):
    out = tmp_path / "out"
    out.mkdir()
    argv = case.argv.format(out=out, **{k: str(v) for k, v in f.paths.items()}).split()
    code, _, err = _run(argv, capfd)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == case.code, err
    assert len(lines) == 1, err
    assert case.says in lines[0], err
    assert "Traceback" not in err
    for name in case.leaves:
        assert not (out / name).exists(), f"{name} was left behind"
    assert not list(out.iterdir()), f"left in the output folder: {list(out.iterdir())}"  # nor temporary files
    assert not f.paths["pwned"].exists(), "a pickled payload ran"


def test_there_are_at_least_100_cases_over_every_command():
    from spikerain.cli import COMMANDS

    assert len(CASES) >= 100
    covered = {c.values[0].argv.split()[0] for c in CASES}
    assert set(COMMANDS) - {"doctor"} <= covered  # doctor takes no input


def test_a_refused_huge_config_allocates_nothing(f: Files, tmp_path, capfd):
    """dim 4096 (about 100 GB of weights) is refused from the config, before any network exists."""
    import resource
    import time

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    code, _, err = _run(["derain", f.img, str(tmp_path / "o.png"), "--checkpoint", f.cfg_huge_pt], capfd)
    assert code == INPUT and "outside [16, 128]" in err
    assert time.perf_counter() - t < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB: nothing big was built


def test_concurrent_writers_leave_one_valid_file(f: Files, tmp_path):
    import subprocess
    import sys

    target = tmp_path / "same.h5"
    procs = [subprocess.Popen([sys.executable, "-m", "spikerain", "import-netx", f.netx, "-o", str(target), "-q",
                               "--steps", str(steps)], stdout=subprocess.DEVNULL) for steps in (3, 5)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert [p.name for p in tmp_path.iterdir()] == ["same.h5"]  # no temporary file left
    g = load_artifact(target)  # whole and checksummed: one of the two, not a mixture
    assert g.meta["source"] == "netx" and g.meta["steps"] in (3, 5) and g.node("input.steps").T == g.meta["steps"]


def test_a_full_disk_is_one_line_and_leaves_nothing(f: Files, tmp_path):
    """A write that fails in the middle (here: the file-size limit, the same OSError path as ENOSPC) is reported
    as an unwritable output, and the partial file is removed."""
    import resource
    import signal
    import subprocess
    import sys

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    out = tmp_path / "full"
    out.mkdir()
    r = subprocess.run([sys.executable, "-m", "spikerain", "import-netx", f.netx, "-o", str(out / "n.h5")],
                       capture_output=True, text=True, timeout=120, preexec_fn=limit)
    assert r.returncode == OUTPUT, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write" in lines[0] and "Traceback" not in r.stderr, r.stderr
    assert not list(out.iterdir())
