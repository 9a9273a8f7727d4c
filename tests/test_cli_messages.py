"""What the CLI tells the user besides errors: progress in logs, the size a tokenizer reached."""

from __future__ import annotations

from augment.cli import main


def test_transliterate_prints_progress_lines_when_stderr_is_not_a_terminal(tmp_path, capsys, monkeypatch):
    source = tmp_path / "in.txt"
    source.write_text("الولد في البيت\n" * 30, encoding="utf-8")
    monkeypatch.setenv("AUGKIT_PROGRESS_SECONDS", "0")  # a line at every batch instead of every 5 s
    monkeypatch.setattr("augment.commands.transliterate.BATCH_LINES", 10)
    assert main(["transliterate", "-i", str(source), "-o", str(tmp_path / "out.txt")]) == 0
    lines = capsys.readouterr().err.splitlines()
    progress = [line for line in lines if " s elapsed" in line]
    assert [line.split(",")[0] for line in progress] == [f"augkit transliterate: {n} lines" for n in (10, 20, 30)]
    assert "lines/s" in progress[-1] and lines[-1].startswith("augkit transliterate: 30 lines -> ")
    assert main(["transliterate", "-q", "-i", str(source), "-o", str(tmp_path / "out.txt")]) == 0
    assert capsys.readouterr().err == ""


def test_tokenizer_train_says_the_vocabulary_size_it_reached(tmp_path, capsys):
    data = tmp_path / "small.txt"
    data.write_text("\n".join(f"il-kelb numru {i} jiekol il-ħobż" for i in range(200)) + "\n", encoding="utf-8")
    assert main(["tokenizer", "train", "--data", str(data), "--output", str(tmp_path / "tok"),
                 "--vocab-size", "8000"]) == 0
    out, err = capsys.readouterr()
    size = sum(1 for _ in open(tmp_path / "tok" / "tokenizer.vocab", encoding="utf-8"))
    assert size < 8000 and f"tokenizer train: wrote {tmp_path / 'tok' / 'tokenizer.model'} ({size:,} pieces)" in out
    assert err.splitlines()[-1] == (f"augkit tokenizer train: the vocabulary has {size:,} pieces, not the 8,000 of "
                                    f"--vocab-size: 200 texts hold no more")
