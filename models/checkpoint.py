"""Loading and saving checkpoints safely.

Accepted files (all loaded with ``torch.load(weights_only=True)``; a pickle that needs code execution is
refused):

* a bare state dict (the authors' ``model_best.pth``);
* a dict wrapping it under ``state_dict`` (the authors' ``model_last.pth``, ``model_epoch_N.pth``), optionally
  with a DataParallel ``module.`` prefix;
* spikerain's own training checkpoints: ``{"format": "spikerain-checkpoint", "config": {...},
  "state_dict": ..., ...}``.

When a file carries no config, the network is recognised from its keys and the width from
``patch_embed.proj.weight``. A recorded config is checked against the model registry's limits
(:data:`spikerain.models.registry.LIMITS`) and against the width of the stored weights before any network is
built. Weights that are NaN or infinite are refused (a network with them outputs NaN everywhere). A safetensors
file is recognised and refused with the command that converts it.
"""

from __future__ import annotations

import os
import pickle
import warnings
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from spikerain.atomic import atomic_path
from spikerain.errors import CheckpointError
from spikerain.models.registry import build_from_config, check_config

FORMAT = "spikerain-checkpoint"
FORMAT_VERSION = 1
_SHOW = 5  # how many offending keys an error lists


@dataclass(frozen=True)
class Checkpoint:
    state_dict: dict[str, torch.Tensor]
    config: dict | None  # model config (with "model" name) when the file records it
    payload: dict  # the whole loaded object, for training state (optimizer, step, ...)
    path: str


def shipped_checkpoint(model: str) -> Path:
    """Path of the small trained checkpoint that ships with spikerain for ``model``."""
    return Path(str(resources.files("spikerain") / "assets" / f"{model}_dim16.pt"))


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist or is not a file",
                              fix="pass the path of a .pt/.pth file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes)", fix="download or copy the file again")
    if _is_safetensors(path):
        raise CheckpointError(
            f"checkpoint {path} is a safetensors file; spikerain reads PyTorch .pt/.pth checkpoints",
            fix="convert it: python -c \"import sys, torch, safetensors.torch as s; "
                "torch.save(s.load_file(sys.argv[1]), sys.argv[2])\" IN.safetensors OUT.pt")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not (head.startswith(b"PK") or head.startswith(b"\x80")):  # neither torch's zip nor a pickle
        kind = next((name for magic, name in _FOREIGN if head.startswith(magic)),
                    "corrupt or truncated, or another format")
        raise CheckpointError(f"checkpoint {path} is not a PyTorch checkpoint ({kind})",
                              fix="pass a .pt/.pth file saved with torch.save")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols on stderr; refused below instead
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"checkpoint {path} needs code execution to load (it pickles Python objects, not only tensors); "
            "spikerain refuses it for safety",
            fix="re-save it from trusted code as a plain state dict: torch.save(model.state_dict(), path)",
        ) from e
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as e:
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({type(e).__name__}: {e})",
                              fix="download or copy the file again") from e
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(obj).__name__}, not a state dict",
                              fix="save model.state_dict()")
    config = obj.get("config") if obj.get("format") == FORMAT else None
    sd = obj.get("state_dict", obj)
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise CheckpointError(f"checkpoint {path} has no state dict of tensors",
                              fix="save model.state_dict(), or a dict with it under 'state_dict'")
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    bad = [(k, int((~torch.isfinite(v)).sum())) for k, v in sd.items() if v.is_floating_point()
           and not bool(torch.isfinite(v).all())]
    if bad:
        more = f" (+{len(bad) - 1} more tensors)" if len(bad) > 1 else ""
        raise CheckpointError(f"checkpoint {path} has {bad[0][1]} NaN or infinite values in {bad[0][0]}{more}",
                              fix="use a checkpoint saved before training diverged")
    return Checkpoint(state_dict=sd, config=config, payload=obj, path=str(path))


_FOREIGN = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
            (b"\x89HDF", "an HDF5 file, e.g. an artifact"), (b"{", "a JSON file"), (b"\x08", "possibly an ONNX model"))


def _is_safetensors(path: Path) -> bool:
    """safetensors layout: an 8-byte little-endian header length, then a JSON header starting with '{'."""
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) < 9 or head[8:9] != b"{":
        return False
    n = int.from_bytes(head[:8], "little")
    return 2 <= n <= path.stat().st_size - 8


def infer_config(state_dict: dict[str, torch.Tensor]) -> dict:
    """Recognise the network and its width from the keys of a config-less state dict."""
    w = state_dict.get("patch_embed.proj.weight")
    if w is None:
        raise CheckpointError("state dict has no 'patch_embed.proj.weight', so it is neither VLIF-Net nor ESDNet",
                              fix="pass a VLIF-Net or ESDNet checkpoint")
    if w.ndim != 4:
        raise CheckpointError(f"'patch_embed.proj.weight' has shape {tuple(w.shape)}, not a conv kernel",
                              fix="pass a VLIF-Net or ESDNet checkpoint")
    dim = int(w.shape[0])
    if any(k.startswith("encoder_level1.initial_residual.") for k in state_dict):
        return {"model": "vlifnet", "dim": dim,
                "refinement": any(k.startswith("refinement_blocks.") for k in state_dict)}
    if any(k.startswith("refinement.ca.") for k in state_dict):
        return {"model": "esdnet", "dim": dim}
    raise CheckpointError("state dict matches neither VLIF-Net nor ESDNet key layout",
                          fix="pass a checkpoint of one of the two networks")


def check_state_dict(model: nn.Module, state_dict: dict[str, torch.Tensor], source: str) -> None:
    """Raise :class:`CheckpointError` naming the first missing, unexpected or mis-shaped keys."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    misshaped = [
        f"{k} {tuple(state_dict[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and state_dict[k].shape != v.shape
    ]
    problems = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)):
        if items:
            more = f" (+{len(items) - _SHOW} more)" if len(items) > _SHOW else ""
            problems.append(f"{len(items)} {label}: {', '.join(items[:_SHOW])}{more}")
    if problems:
        raise CheckpointError(
            f"checkpoint {source} does not fit {type(model).__name__}({model.config.to_dict()}): "
            + "; ".join(problems),
            fix="pick the matching --model/--dim (or the refinement variant), or the right checkpoint",
        )


def load_model(path: str | os.PathLike, *, model: str | None = None, dim: int | None = None,
               refinement: bool | None = None) -> nn.Module:
    """Build the network a checkpoint was trained as and load its weights strictly; returns it in eval mode."""
    ckpt = read_checkpoint(path)
    config = ckpt.config if ckpt.config is not None else infer_config(ckpt.state_dict)
    config = _checked(config, f"checkpoint {path}: config")
    if model is not None and model.lower() != config["model"]:
        raise CheckpointError(f"checkpoint {path} holds a {config['model']}, not a {model}",
                              fix=f"use --model {config['model']} or another checkpoint")
    if dim is not None:
        config = _checked({**config, "dim": dim}, "--dim")
    if refinement is not None and config["model"] == "vlifnet":
        config["refinement"] = refinement
    w = ckpt.state_dict.get("patch_embed.proj.weight")
    if w is not None and w.ndim >= 1 and "dim" in config and int(w.shape[0]) != config["dim"]:
        # Refused before building: a config can ask for any width, the weights say which one it is.
        raise CheckpointError(f"checkpoint {path}: config dim {config['dim']} but the weights have width "
                              f"{int(w.shape[0])}", fix=f"use dim {int(w.shape[0])} (or the right checkpoint)")
    try:
        net = build_from_config(config)
    except (ValueError, TypeError, RuntimeError) as e:
        raise CheckpointError(f"checkpoint {path}: config {config} cannot be built ({e})",
                              fix="fix the config, or save a checkpoint with spikerain train") from e
    check_state_dict(net, ckpt.state_dict, str(path))
    net.load_state_dict(ckpt.state_dict, strict=True)
    return net.eval()


def _checked(config, where: str) -> dict:
    from spikerain.errors import ConfigError

    try:
        return check_config(config, where)
    except ConfigError as e:
        if where == "--dim":
            raise  # the command line asked for it: a usage error
        raise CheckpointError(str(e).split(". Fix: ")[0], fix=e.fix) from e


def load_default_or(path: str | os.PathLike | None, model: str = "vlifnet", dim: int | None = None) -> nn.Module:
    """Load ``path``, or the shipped checkpoint of ``model`` when ``path`` is None."""
    if path is None:
        path = shipped_checkpoint(model)
        if not path.is_file():
            raise CheckpointError(f"the shipped {model} checkpoint {path} is missing",
                                  fix="reinstall spikerain, or pass --checkpoint")
    return load_model(path, model=model, dim=dim)


def save_checkpoint(path: str | os.PathLike, model: nn.Module, **extra) -> None:
    """Atomically write ``{"format", "config", "state_dict", **extra}`` to ``path``."""
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": model.config.to_dict(),
               "state_dict": model.state_dict(), **extra}
    with atomic_path(path, suffix=".tmp") as tmp:
        torch.save(payload, tmp)


def slim_checkpoint(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Copy a training checkpoint without optimizer and RNG state (what spikerain ships)."""
    ckpt = read_checkpoint(src)
    model = load_model(src)
    keep = {k: ckpt.payload[k] for k in ("step", "train_config", "history", "best_val_psnr", "total_steps",
                                         "warm_start") if k in ckpt.payload}
    save_checkpoint(dst, model, **keep)

