"""``spikerain doctor``: what is installed, what is missing, and the command that fixes it."""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import platform
import sys

from spikerain.console import print_json
from spikerain.lava_env import FIX_LAVA, describe_lava, lava_in_process

HELP = "report both interpreters, torch, lava-nc and Loihi 2 hardware support, with fixes for what is missing"
EXAMPLE = "spikerain doctor --json"


def add_arguments(p) -> None:
    pass


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def collect() -> dict:
    main = {
        "python": sys.executable,
        "version": platform.python_version(),
        "torch": _version("torch"),
        "numpy": _version("numpy"),
        "h5py": _version("h5py"),
        "onnxruntime": _version("onnxruntime"),
        "lava_in_process": lava_in_process(),
    }
    lava = describe_lava()
    missing = []
    if main["torch"] is None and importlib.util.find_spec("torch") is None:
        missing.append({"what": "torch 2.13.0 (CPU) in the main interpreter", "fix": "make .venv"})
    if not lava.get("ok"):
        missing.append({"what": f"Lava interpreter ({lava.get('error', 'not working')})", "fix": FIX_LAVA})
    elif not lava.get("spikerain"):
        missing.append({"what": "spikerain in the Lava interpreter",
                        "fix": ".venv-lava/bin/pip install --no-deps -e ."})
    hw = bool(lava.get("lava_loihi"))
    if not hw:
        missing.append({"what": "lava-loihi (Intel, INRC members only), needed for Loihi2HwCfg",
                        "fix": "install lava-loihi from Intel's INRC into .venv-lava; until then the Lava CPU "
                               "simulator (Loihi2SimCfg) and the fast simulator are used"})
    return {"main": main, "lava": lava, "loihi2_hw_available": hw, "missing": missing}


def run(args) -> int:
    report = collect()
    if args.json:
        print_json(report)
        return 0
    m, lv = report["main"], report["lava"]
    print(f"main interpreter   {m['python']} (Python {m['version']})")
    print(f"  torch            {m['torch'] or 'MISSING'}")
    print(f"  numpy / h5py     {m['numpy']} / {m['h5py']}")
    print(f"  onnxruntime      {m['onnxruntime'] or 'not installed'}")
    print(f"Lava interpreter   {lv.get('python') or 'MISSING'} (Python {lv.get('version', '?')})")
    print(f"  lava-nc          {lv.get('lava_nc') or 'MISSING'}")
    print(f"  numpy / h5py     {lv.get('numpy')} / {lv.get('h5py')}")
    print(f"  torch-free       {'yes' if lv.get('torch') is False else 'NO' if lv.get('torch') else '?'}")
    print(f"Loihi2HwCfg        {'usable (lava-loihi installed)' if report['loihi2_hw_available'] else 'no'}")
    for item in report["missing"]:
        print(f"missing: {item['what']}\n  fix: {item['fix']}")
    if not report["missing"]:
        print("everything is in place")
    return 0
