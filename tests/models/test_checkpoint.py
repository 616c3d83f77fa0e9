import pickle

import pytest
import torch

from spikerain.errors import CheckpointError
from spikerain.models import ESDNet, VLIFNet
from spikerain.models.checkpoint import load_model, read_checkpoint, save_checkpoint


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return VLIFNet(dim=16).eval()


def test_bare_wrapped_and_prefixed_state_dicts_load(tmp_path, net):
    sd = net.state_dict()
    torch.save(sd, tmp_path / "bare.pth")
    torch.save({"epoch": 3, "state_dict": sd, "optimizer": {}}, tmp_path / "wrapped.pth")
    torch.save({f"module.{k}": v for k, v in sd.items()}, tmp_path / "ddp.pth")
    for f in ("bare", "wrapped", "ddp"):
        m = load_model(tmp_path / f"{f}.pth")
        assert isinstance(m, VLIFNet) and m.config.dim == 16
        assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), sd.values(), strict=True))


def test_esdnet_is_recognised_from_keys(tmp_path):
    torch.save(ESDNet(dim=16).state_dict(), tmp_path / "e.pth")
    assert isinstance(load_model(tmp_path / "e.pth"), ESDNet)


def test_spikerain_checkpoint_records_config(tmp_path, net):
    save_checkpoint(tmp_path / "c.pt", net, step=7)
    ck = read_checkpoint(tmp_path / "c.pt")
    assert ck.config["model"] == "vlifnet" and ck.payload["step"] == 7


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_pickle_needing_code_execution_is_refused(tmp_path):
    with open(tmp_path / "evil.pth", "wb") as f:
        pickle.dump({"x": Evil()}, f)
    torch.save({"state_dict": {"a": torch.zeros(1)}, "obj": Evil()}, tmp_path / "evil2.pth")
    for name in ("evil.pth", "evil2.pth"):
        with pytest.raises(CheckpointError, match="code execution"):
            read_checkpoint(tmp_path / name)


def test_corrupt_and_truncated_files(tmp_path, net):
    torch.save(net.state_dict(), tmp_path / "ok.pth")
    data = (tmp_path / "ok.pth").read_bytes()
    (tmp_path / "trunc.pth").write_bytes(data[: len(data) // 3])
    (tmp_path / "junk.pth").write_bytes(b"\x00garbage" * 50)
    for name in ("trunc.pth", "junk.pth"):
        with pytest.raises(CheckpointError, match="corrupt or truncated|code execution"):
            read_checkpoint(tmp_path / name)
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint(tmp_path / "nope.pth")


def test_mismatched_keys_name_the_first_offenders(tmp_path, net):
    sd = dict(net.state_dict())
    sd.pop("patch_embed.proj.weight")
    torch.save(sd, tmp_path / "m.pth")
    with pytest.raises(CheckpointError):
        load_model(tmp_path / "m.pth")
    sd = dict(net.state_dict())
    sd["output.0.bias"] = torch.zeros(5)
    sd["extra.key"] = torch.zeros(1)
    del sd["encoder_level1.conv_1.weight"]
    torch.save(sd, tmp_path / "m2.pth")
    with pytest.raises(CheckpointError) as e:
        load_model(tmp_path / "m2.pth")
    msg = str(e.value)
    assert "missing: encoder_level1.conv_1.weight" in msg
    assert "unexpected: extra.key" in msg
    assert "mis-shaped: output.0.bias (5,) != (3,)" in msg


def test_wrong_model_flag(tmp_path, net):
    torch.save(net.state_dict(), tmp_path / "v.pth")
    with pytest.raises(CheckpointError, match="holds a vlifnet"):
        load_model(tmp_path / "v.pth", model="esdnet")
