from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: golden data shipped with the tests; tests/golden/README.md gives each file's provenance
GOLDEN = REPO / "tests" / "golden"


@pytest.fixture(scope="session")
def reference() -> Path:
    return GOLDEN
