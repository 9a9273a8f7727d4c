import os
from pathlib import Path

import pytest

# CI and developers have the real corpora at ../shared beside the checkout; AUGKIT_SHARED overrides.
SHARED_DATA = Path(os.environ.get("AUGKIT_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "data"


@pytest.fixture(scope="session", autouse=True)
def augkit_cache(tmp_path_factory) -> Path:
    """Tests never read or write a developer's real augkit cache (converted models, translations,
    MorphTx analyses): AUGKIT_CACHE points at a folder of this test session."""
    with pytest.MonkeyPatch.context() as patch:
        path = tmp_path_factory.mktemp("augkit-cache")
        patch.setenv("AUGKIT_CACHE", str(path))
        yield path


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


@pytest.fixture(scope="session")
def tiny_marian(tmp_path_factory):
    """A random-weight Marian model with a tokenizer trained here (the output is noise, the plumbing real)."""
    transformers = pytest.importorskip("transformers")
    from finetune.seq2seq import new_marian, train_tokenizer

    root = tmp_path_factory.mktemp("marian")
    texts = ["il-qattus huwa hawn", "القطة هنا اليوم", "the cat is here today", "ذهب الولد إلى المدرسة"] * 20
    train_tokenizer(texts, root, vocab_size=60)
    tokenizer = transformers.MarianTokenizer.from_pretrained(str(root))
    new_marian(tokenizer, d_model=32, layers=1, ffn_dim=64, seed=2).save_pretrained(str(root))
    tokenizer.save_pretrained(str(root))
    return root
