"""`augkit demo` end to end (quick setting), and the experiments' configs and recipes validated by dry runs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from augment.cli import main
from augment.errors import AugkitError

ROOT = Path(__file__).resolve().parents[1]


def _experiment_b(monkeypatch):
    spec = importlib.util.spec_from_file_location("experiment_b", ROOT / "bench" / "experiment_b.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "experiment_b", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def untrained_mt_model(tmp_path):
    """A random-weight Marian directory: enough for the translate stage to convert and fingerprint."""
    from transformers import MarianTokenizer

    from finetune.seq2seq import new_marian, train_tokenizer

    root = train_tokenizer(["ذهب الولد", "dheb il-weled"], tmp_path / "mt", vocab_size=30)
    new_marian(MarianTokenizer.from_pretrained(str(root)), d_model=16, layers=1, ffn_dim=32).save_pretrained(str(root))
    return root


def test_demo_chain_recipe_dry_run_lists_every_stage(untrained_mt_model, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AUGKIT_DEMO_MT_MODEL", str(untrained_mt_model))
    code = main(["build", str(ROOT / "corpora/recipes/demo-chain.yaml"), "--dry-run", "--output", str(tmp_path / "b")])
    out = capsys.readouterr().out
    assert code == 0
    for stage in ("normalize", "filter_langid", "dedup_exact", "transliterate", "translate", "split", "mix",
                  "format_cpt", "format_sft"):
        assert f"-{stage} " in out, stage
    assert not (tmp_path / "b" / "manifest.json").exists()


def test_demo_chain_recipe_names_its_missing_model(monkeypatch, capsys):
    monkeypatch.delenv("AUGKIT_DEMO_MT_MODEL", raising=False)
    code = main(["build", str(ROOT / "corpora/recipes/demo-chain.yaml"), "--dry-run"])
    assert code == 2 and "AUGKIT_DEMO_MT_MODEL" in capsys.readouterr().err


def test_experiment_b_config_rejects_unknown_keys(tmp_path, monkeypatch):
    experiment = _experiment_b(monkeypatch)
    config = experiment.load_config(ROOT / "docs/experiments/expB/config.yaml")
    assert config["model"] == "tiny-qwen2"
    bad = tmp_path / "config.yaml"
    bad.write_text((ROOT / "docs/experiments/expB/config.yaml").read_text() + "\ncpt_steps: 3\n")
    with pytest.raises(AugkitError, match="unknown key.*cpt_steps"):
        experiment.load_config(bad)


@pytest.mark.shared_data
def test_experiment_b_dry_run_validates_recipe_and_data(shared_data, tmp_path, monkeypatch, capsys):
    # Experiment A's dry run is tests/test_task.py::test_experiment_a_config_dry_run.
    experiment = _experiment_b(monkeypatch)
    code = experiment.main(["--dry-run", "--shared", str(shared_data), "--work", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "recipe tibetan-cpt-sft" in out and "format_sft" in out and "--max-steps" in out
    assert not any(tmp_path.iterdir())  # nothing built or trained


@pytest.mark.slow
def test_quick_demo_runs_the_chain_and_reruns_from_cache(tmp_path, capsys):
    output = tmp_path / "demo"
    assert main(["demo", "--quick", "--lines", "2", "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert out.index("2 lines of ar_sample.txt") < out.index("[1/7]") < out.index("augkit demo: report")
    for text in ("Built (manifest):", "translate", "perplexity (token)", "bits per character", "ar->mt chrF",
                 "untrained -> CPT", "Embeddings and output head", "ABX form vs Maltese", "Artefacts:"):
        assert text in out, text
    for path in ("build/manifest.json", "build/cpt/train.txt", "cpt/model.safetensors", "sft/report.json",
                 "eval-lm/evaluation.json", "eval-mt/evaluation.json", "layers-cpt/layers.csv",
                 "layers-sft/layers_heatmap.png", "abx-cpt/abx.csv", "demo-report.json"):
        assert (output / path).is_file(), path

    assert main(["demo", "--quick", "--lines", "2", "--output", str(output)]) == 0
    rerun = capsys.readouterr().out
    assert rerun.count("skipped") == 10  # MT, untrained model, CPT, SFT, two evaluations, two layer analyses, two ABX
