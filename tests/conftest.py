import os
from pathlib import Path

import pytest

# CI and developers have the real corpora at ../shared beside the checkout; AUGKIT_SHARED overrides.
SHARED_DATA = Path(os.environ.get("AUGKIT_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real corpora not found at {SHARED_DATA} (place the shared/ folder beside the checkout)")
    return SHARED_DATA


def pytest_collection_modifyitems(config, items):
    # A test marked shared_data skips with a clear message when the corpora are absent.
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(reason=f"needs ../shared/data (not found at {SHARED_DATA})")
    for item in items:
        if "shared_data" in item.keywords:
            item.add_marker(skip)
