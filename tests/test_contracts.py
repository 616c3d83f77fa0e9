"""The architecture contracts in pyproject.toml ([tool.importlinter]) hold, checked by import-linter itself.

The folders install as subpackages of ``spikerain`` (pyproject's package-dir), which import-linter cannot follow
in the source tree, so the check runs on a copy of the installed layout. A second run proves the contracts bite:
one forbidden import planted in the copy fails the check."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent


def _lint_imports() -> str:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        pytest.fail("import-linter is not installed: it is in the dev extras (make .venv)")
    return exe


def _staged(tmp: Path) -> Path:
    """The installed package layout (``spikerain/<subpackage>`` for each package-dir entry), Python files only."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    dirs = cfg["package-dir"]
    for pkg in cfg["packages"]:
        top = max((p for p in dirs if pkg == p or pkg.startswith(p + ".")), key=len)
        src = ROOT / dirs[top] / Path(*pkg[len(top) + 1:].split(".")) if pkg != top else ROOT / dirs[top]
        dst = tmp / Path(*pkg.split("."))
        dst.mkdir(parents=True, exist_ok=True)
        for f in src.glob("*.py"):
            shutil.copy2(f, dst / f.name)
    return tmp


def _check(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run([_lint_imports(), str(ROOT / "pyproject.toml"), "--no-cache"], cwd=tree,
                          env={"PYTHONPATH": str(tree), "PATH": str(Path(sys.executable).parent)},
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return _staged(tmp_path_factory.mktemp("layout"))


def test_import_contracts_hold(tree):
    r = _check(tree)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "0 broken" in r.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("spikerain/counting/plan.py", "import torch", "imports without torch"),
    ("spikerain/hardware/mapping.py", "import lava", "Lava is imported only"),
    ("spikerain/hardware/schedule.py", "import spikerain.pipeline.verify", "Layers"),
])
def test_a_planted_violation_breaks_its_contract(tree, tmp_path, module, line, contract):
    bad = shutil.copytree(tree, tmp_path / "bad")
    target = bad / module
    target.write_text(target.read_text() + f"\n{line}  # planted by the test\n")
    r = _check(bad)
    assert r.returncode != 0 and contract in r.stdout and "BROKEN" in r.stdout, r.stdout[-3000:]
