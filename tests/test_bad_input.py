"""Bad input, every command that reads files (issue 11): one line on stderr naming the file (and
line), exit status 2, no traceback; or, where the input is fine but unusual (a byte-order mark,
UTF-16/UTF-32), the same result as plain UTF-8.

Each row of the issue is one test, run against every command it applies to (`augkit build` has
its own fault suite). The commands run in-process through `augment.cli.main`; the rows about
permissions drop root's privileges for the call, so they test real permission errors anywhere.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from huggingface_hub import constants

from augment.cli import main
from augment.errors import InputError
from finetune.data import load_records

ARABIC = ["الولد في البيت", "ذهب الولد إلى المدرسة", ""]
MALTESE = ["Il-kelb tiegħi jħobb jiekol il-ħobż u l-ġobon.", "It-tfal marru l-baħar nhar il-Ħadd.", ""]
ENGLISH = ["The children went to the beach on Sunday morning.", "My dog likes bread and cheese."] * 3


@dataclass(frozen=True)
class Command:
    """How one command reads `input` and writes `output` (a file, a folder or a prefix)."""

    name: str
    argv: tuple[str, ...]  # with {input}, {output} and the fixtures' {marian}, {spm}, ... placeholders
    text: tuple[str, ...] = tuple(ARABIC)  # what a good input holds
    errors_option: bool = False
    output: str = "file"  # "file", "dir" (a folder the command fills), "prefix" (PREFIX.json, PREFIX.md), "none"
    jsonl: tuple[str, ...] | None = None  # arguments that read a jsonl input's `text` column
    heavy: bool = False  # loads torch/a model: left out of the rows that need a successful run


COMMANDS = [
    Command("transliterate", ("transliterate", "-q", "-i", "{input}", "-o", "{output}"), errors_option=True,
            jsonl=("-c", "text")),
    Command("translate", ("translate", "--model", "{marian}", "--src", "ar", "--tgt", "mt", "--language-check", "none",
                          "--cache", "{cache}", "--no-translation-cache", "-q", "-i", "{input}", "-o", "{output}"),
            errors_option=True, jsonl=("--column", "text")),
    Command("langid predict", ("langid", "predict", "-q", "-i", "{input}", "-o", "{output}"), text=tuple(MALTESE),
            errors_option=True, jsonl=("--column", "text")),
    Command("langid eval", ("langid", "eval", "--target", "mt", "--data", "mt={input}", "--data", "en={english}",
                            "--json", "{output}"), text=tuple(MALTESE), errors_option=True),
    Command("langid train", ("langid", "train", "--data", "mt={input}", "--data", "en={english}", "--output", "{output}",
                             "--dim", "4", "--epoch", "2", "--no-quantize"), text=tuple(MALTESE), errors_option=True),
    Command("transliterate-report", ("transliterate-report", "-i", "{input}", "-r", "{reference}", "--schemes", "chartx",
                                     "--no-langid", "-o", "{output}"), errors_option=True, output="prefix"),
    Command("tokenizer train", ("tokenizer", "train", "--data", "{input}", "--output", "{output}", "--vocab-size", "400"),
            output="dir"),
    Command("tokenizer report", ("tokenizer", "report", "--tokenizer", "{spm}", "--data", "{input}",
                                 "--output", "{output}")),
    Command("cpt", ("cpt", "--model", "tiny-qwen2", "--data", "{input}", "--output", "{output}", "--max-steps", "1"),
            output="dir", heavy=True),
    Command("sft", ("sft", "--model", "tiny-qwen2", "--data", "{input}", "--output", "{output}", "--max-steps", "1"),
            output="dir", heavy=True),
    Command("evaluate", ("evaluate", "--model", "tiny-qwen2", "--data", "{input}"), output="none", heavy=True),
]
BY_NAME = {command.name: command for command in COMMANDS}
WITH_OPTION = [command for command in COMMANDS if command.errors_option]
WITH_FILE_OUTPUT = [command for command in COMMANDS if command.output in ("file", "prefix")]


@pytest.fixture(scope="module")
def place(tiny_marian):
    """Files every command needs besides its input, in a folder everyone can read (the permission
    rows run as another user): a reference text, English negatives, a sentencepiece model, and the
    tiny Marian model converted once into its own CTranslate2 cache."""
    root = Path(tempfile.mkdtemp(prefix="augkit-bad-input-"))
    root.chmod(0o755)
    english = root / "en.txt"
    english.write_text("\n".join(ENGLISH) + "\n", encoding="utf-8")
    reference = root / "reference.txt"
    reference.write_text("\n".join(MALTESE[:2] * 10) + "\n", encoding="utf-8")
    spm = root / "spm"
    assert main(["tokenizer", "train", "--data", str(english), "--output", str(spm), "--vocab-size", "400"]) == 0
    marian = shutil.copytree(tiny_marian, root / "marian")
    marian.chmod(0o755)
    values = {"marian": str(marian), "cache": str(root / "ct2"), "english": str(english),
              "reference": str(reference), "spm": str(spm / "tokenizer.model")}
    sample = write_text_file(root / "sample.txt", ARABIC)
    translate = BY_NAME["translate"]
    mapping = {**values, "input": str(sample), "output": str(root / "sample.out.txt")}
    assert main([part.format(**mapping) for part in translate.argv]) == 0
    yield root, values
    shutil.rmtree(root)


@pytest.fixture
def folder(place, monkeypatch):
    """A fresh folder per test, open to everyone; augkit's caches point into the shared one."""
    root, _ = place
    monkeypatch.setenv("AUGKIT_CACHE", str(root / "ct2"))
    path = Path(tempfile.mkdtemp(dir=root))
    path.chmod(0o777)
    return path


def argv(command: Command, place, input_path, output_path=None, extra=()) -> list[str]:
    _, values = place
    mapping = {**values, "input": str(input_path), "output": str(output_path or "unused")}
    return [part.format(**mapping) for part in command.argv] + list(extra)


def output_in(command: Command, folder: Path, name: str = "out") -> Path:
    return folder / {"file": f"{name}.txt", "prefix": name, "dir": name, "none": name}[command.output]


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(result, command: Command, *fragments: str) -> str:
    code, _, err = result
    assert "Traceback" not in err
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith(f"augkit {command.name}: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def write_text_file(path: Path, lines, encoding: str = "utf-8", bom: bool = False) -> Path:
    body = "\n".join(lines) + "\n"
    path.write_bytes((("\ufeff" if bom else "") + body).encode(encoding))
    return path


@contextmanager
def unprivileged(warm_up: list[str], capsys):
    """Real permission checks: as root, the call runs with the effective ids of `nobody`.

    `warm_up` is first run as root, so that the modules the command imports are loaded while the
    Python installation is readable (it may sit in root's home)."""
    if os.geteuid() != 0:
        yield
        return
    main(warm_up)
    capsys.readouterr()
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


# --- decoding ------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_invalid_utf8_names_file_line_and_byte(command, place, folder, capsys):
    source = folder / "bad.txt"
    source.write_bytes("\n".join(command.text[:2]).encode() + b"\n\xff bad\n")
    offset = len("\n".join(command.text[:2]).encode()) + 1
    line = assert_one_line_error(run(argv(command, place, source, output_in(command, folder)), capsys), command,
                                 f"{source}:3 (byte {offset}): invalid UTF-8 (bytes ff)")
    # The hint names the option only where the command has it.
    assert line.endswith("; pass --errors replace to continue") == command.errors_option


@pytest.mark.parametrize("command", WITH_OPTION, ids=lambda c: c.name)
def test_errors_replace_continues_and_counts(command, place, folder, capsys):
    source = folder / "bad.txt"
    source.write_bytes("\n".join(command.text[:2]).encode() + b"\n\xff bad\n")
    code, _, err = run(argv(command, place, source, output_in(command, folder), ["--errors", "replace"]), capsys)
    assert code == 0, err
    assert f"1 invalid UTF-8 sequence(s) in {source} replaced by U+FFFD" in err


ENCODINGS = ["utf-8-bom", "utf-16-le", "utf-16-be", "utf-32-le"]
TRAINS = ("langid train", "tokenizer train")  # these train a model per run: one encoding, marked slow
BOM_CASES = [pytest.param(command, encoding, id=f"{command.name}-{encoding}",
                          marks=[pytest.mark.slow] if command.name in TRAINS else [])
             for command in COMMANDS if not command.heavy and command.output != "prefix"
             for encoding in (["utf-16-le"] if command.name in TRAINS else ENCODINGS)]


@pytest.mark.parametrize("command, encoding", BOM_CASES)
def test_byte_order_marks_and_utf16_32_read_like_utf8(command, encoding, place, folder, capsys):
    outputs = []
    for name, codec, bom in (("plain", "utf-8", False), ("marked", encoding.replace("-bom", ""), True)):
        source = write_text_file(folder / f"{name}.txt", command.text, codec, bom)
        output = output_in(command, folder, f"{name}-out")
        code, _, err = run(argv(command, place, source, output), capsys)
        assert code == 0, err
        outputs.append(output / "tokenizer.vocab" if command.output == "dir" else output)
    plain, marked = (path.read_bytes() for path in outputs)
    assert plain == marked and "\ufeff".encode() not in marked


def test_the_bom_no_longer_reaches_the_first_word(folder, capsys):
    # `\ufeffالولد في البيت` gave `\ufeffaluld fil-bejt` with morphtx.
    source = write_text_file(folder / "bom.txt", ["الولد في البيت"], "utf-8", bom=True)
    code, out, _ = run(["transliterate", "-q", "-s", "morphtx", "-i", str(source)], capsys)
    assert code == 0 and out == "il-weled fil-bejt\n"


def test_heavy_commands_read_through_the_same_reader(folder):
    """cpt, sft, evaluate and the tokenizer read --data with finetune.data.load_records, which
    decodes with augment.formats: a BOM or UTF-16 gives the same records as UTF-8."""
    plain = load_records(write_text_file(folder / "plain.txt", ARABIC, "utf-8"))
    for codec, bom in (("utf-8", True), ("utf-16-le", True), ("utf-32-be", True)):
        marked = load_records(write_text_file(folder / f"{codec}.txt", ARABIC, codec, bom))
        assert [item.record for item in marked] == [item.record for item in plain]


@pytest.mark.parametrize("command", [c for c in COMMANDS if not c.heavy], ids=lambda c: c.name)
def test_utf16_without_a_byte_order_mark_is_refused(command, place, folder, capsys):
    source = folder / "u16.txt"
    source.write_bytes("\n".join(command.text).encode("utf-16-le"))
    assert_one_line_error(run(argv(command, place, source, output_in(command, folder)), capsys), command,
                          f"{source}: holds NUL bytes: UTF-16 or UTF-32 without a byte-order mark")


# --- files that are not there, not files, not readable ---------------------------------------------

@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_missing_input(command, place, folder, capsys):
    source = folder / "absent.txt"
    assert_one_line_error(run(argv(command, place, source, output_in(command, folder)), capsys), command,
                          f"{source}: no such file")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_directory_instead_of_a_file(command, place, folder, capsys):
    source = folder / "a-folder"
    source.mkdir()
    # finetune's --data also takes a folder of data files; an empty one holds none.
    expected = "no data files" if command.name.startswith(("tokenizer", "cpt", "sft", "evaluate")) else \
        "is a directory, expected a file"
    assert_one_line_error(run(argv(command, place, source, output_in(command, folder)), capsys), command,
                          f"{source}: {expected}")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_unreadable_input(command, place, folder, capsys):
    source = write_text_file(folder / "secret.txt", command.text)
    source.chmod(0)
    bad = folder / "bad.txt"
    bad.write_bytes(b"\xff\n")
    with unprivileged(argv(command, place, bad, output_in(command, folder)), capsys):
        result = run(argv(command, place, source, output_in(command, folder)), capsys)
    assert_one_line_error(result, command, f"{source}: cannot read: permission denied")


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.output != "none" and not c.heavy], ids=lambda c: c.name)
def test_output_folder_not_writable(command, place, folder, capsys):
    source = write_text_file(folder / "in.txt", command.text)
    locked = folder / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    # A folder the command must create inside a read-only one (tokenizer train) fails the same way.
    with unprivileged(argv(command, place, source, output_in(command, folder)), capsys):
        result = run(argv(command, place, source, output_in(command, locked)), capsys)
    code, _, err = result
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[-1].startswith(f"augkit {command.name}: error: {locked}")
    assert "ermission denied" in err.splitlines()[-1]
    assert sorted(path.name for path in locked.iterdir()) == []


# --- never clobber an input ---------------------------------------------------------------------------

@pytest.mark.parametrize("link", ["same path", "symlink", "hard link"])
@pytest.mark.parametrize("command", WITH_FILE_OUTPUT, ids=lambda c: c.name)
def test_output_that_is_the_input_is_refused(command, link, place, folder, capsys):
    # transliterate-report writes PREFIX.json and PREFIX.md: its input is named like the first.
    suffix = ".json" if command.output == "prefix" else ".txt"
    source = write_text_file(folder / f"data{suffix}", command.text)
    before = source.read_bytes()
    other = folder / f"other{suffix}"
    if link == "symlink":
        other.symlink_to(source)
    elif link == "hard link":
        os.link(source, other)
    named = source if link == "same path" else other
    output = named.with_suffix("") if command.output == "prefix" else named
    result = run(argv(command, place, source, output), capsys)
    assert_one_line_error(result, command, f"{named}: is an input")
    assert source.read_bytes() == before


def test_translate_outputs_beside_the_output_never_replace_an_input(place, folder, capsys):
    # The rejected records and the summary are outputs too.
    source = write_text_file(folder / "corpus.txt.rejected.jsonl", ARABIC)
    command = BY_NAME["translate"]
    assert_one_line_error(run(argv(command, place, source, folder / "corpus.txt"), capsys), command,
                          f"{source}: is an input")


# --- rows and columns ------------------------------------------------------------------------------

JSONL_READERS = [c for c in COMMANDS if c.jsonl is not None]
BAD_ROWS = [
    ('{"text" 1}', "invalid JSON: Expecting ':' delimiter (column 9)"),
    ("[1, 2]", "expected a JSON object, got list"),
    ('{"body": "x"}', "no column 'text'; columns: body"),
    ('{"text": 12}', "column 'text' holds int"),
]


@pytest.mark.parametrize("row, problem", BAD_ROWS, ids=["invalid JSON", "not an object", "missing column", "a number"])
@pytest.mark.parametrize("command", JSONL_READERS, ids=lambda c: c.name)
def test_bad_jsonl_rows_and_missing_columns(command, row, problem, place, folder, capsys):
    if command.name == "translate" and problem.startswith(("no column", "column")):
        pytest.skip("translate counts such a row as rejected, with its reason (issue 11, section 5)")
    good = json.dumps({"text": command.text[0]}, ensure_ascii=False)
    source = folder / "rows.jsonl"
    source.write_text(f"{good}\n{row}\n", encoding="utf-8")
    output = folder / "out.jsonl"
    result = run(argv(command, place, source, output, command.jsonl), capsys)
    assert_one_line_error(result, command, f"{source}:2: ", problem)
    assert not output.exists()


@pytest.mark.parametrize("name", ["langid eval", "tokenizer train", "cpt"])
def test_jsonl_fields_of_the_labelled_and_training_readers(name, place, folder, capsys):
    command = BY_NAME[name]
    source = folder / "rows.jsonl"
    source.write_text('{"text": "Bonġu"}\n{"text" 1}\n', encoding="utf-8")
    args = argv(command, place, source, output_in(command, folder))
    if name == "langid eval":
        args = [part.replace(f"mt={source}", f"mt={source}:text") for part in args]
    assert_one_line_error(run(args, capsys), command, f"{source}:2: invalid JSON")


# --- models --------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("translate", "--model", "{folder}/cptt", "--src", "ar", "--tgt", "mt", "-i", "{input}", "-o", "{folder}/o.jsonl"),
    ("evaluate", "--model", "{folder}/cptt", "--data", "{input}"),
    ("cpt", "--model", "{folder}/cptt", "--data", "{input}", "--output", "{folder}/cpt2", "--max-steps", "1"),
    ("sft", "--model", "{folder}/cptt", "--data", "{input}", "--output", "{folder}/sft", "--max-steps", "1"),
    ("sft", "--model", "tiny-qwen2", "--tokenizer", "{folder}/cptt", "--data", "{input}", "--output", "{folder}/sft"),
    ("tokenizer", "extend", "--model", "{folder}/cptt", "--data", "{input}", "--output", "{folder}/ext"),
    ("tokenizer", "report", "--tokenizer", "{folder}/cptt", "--data", "{input}"),
    ("layers", "--base", "{folder}/cptt", "--adapted", "{folder}/cpt", "--output", "{folder}/layers"),
    ("langid", "predict", "--model", "{folder}/cptt", "-i", "{input}"),
], ids=lambda args: " ".join(args[:2] if args[1] != "--model" or "{" in args[2] else args[:1] + args[3:4]))
def test_a_model_path_typo_fails_at_once(args, folder, capsys, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # the same message with and without a network
    (folder / "cpt").mkdir()
    source = folder / "in.jsonl"
    source.write_text(json.dumps({"text": "ذهب الولد", "prompt": "a", "response": "b"}) * 4, encoding="utf-8")
    source.write_text("".join(json.dumps({"text": f"ذهب الولد {i}", "prompt": "a", "response": "b"}) + "\n"
                              for i in range(8)), encoding="utf-8")
    command = " ".join(part for part in args[:2] if not part.startswith("-"))
    result = run([part.format(folder=folder, input=source) for part in args], capsys)
    line = assert_one_line_error(result, Command(command, ()), f"{folder}/cptt: ")
    assert line.endswith((f"no such model directory; did you mean {folder}/cpt?",
                          f"no such tokenizer directory; did you mean {folder}/cpt?",
                          "language-ID model not found"))


def test_a_hub_id_offline_is_one_line_without_retries(folder, capsys, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    source = write_text_file(folder / "in.txt", ["hello"])
    code, _, err = run(["evaluate", "--model", "someone/not-downloaded", "--data", str(source)], capsys)
    assert code == 2 and err == ("augkit evaluate: error: someone/not-downloaded: not a local model directory, not "
                                 "in the Hugging Face cache, and the hub cannot be reached to fetch it (offline mode "
                                 "is set: HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE)\n")


# --- the disk fills; the traceback on demand --------------------------------------------------------

def test_a_full_disk_on_stdout_is_one_line(folder):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    source = write_text_file(folder / "in.txt", ["ا" * 100] * 2000)
    with open("/dev/full", "wb") as full:
        result = subprocess.run([sys.executable, "-m", "augment.cli", "transliterate", "-i", str(source)],
                                stdout=full, stderr=subprocess.PIPE, text=True)
    assert result.returncode == 2
    assert result.stderr == "augkit transliterate: error: <stdout>: No space left on device\n"


@contextmanager
def small_disk(path: Path):
    """A 64 kB tmpfs at `path` (needs root and a kernel that allows it; else the test skips)."""
    path.mkdir()
    mounted = os.geteuid() == 0 and shutil.which("mount") and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(path)], capture_output=True).returncode == 0
    if not mounted:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


@pytest.mark.parametrize("name", ["transliterate", "langid predict"])
def test_a_full_disk_names_the_output_and_leaves_nothing(name, place, folder, capsys):
    command = BY_NAME[name]
    source = write_text_file(folder / "in.txt", [command.text[0] * 10] * 10_000)
    with small_disk(folder / "disk") as disk:
        output = disk / "out.txt"
        result = run(argv(command, place, source, output), capsys)
        assert_one_line_error(result, command, f"{output}: No space left on device")
        assert list(disk.iterdir()) == []


def test_augkit_debug_shows_the_traceback(folder, capsys, monkeypatch):
    source = folder / "absent.txt"
    assert main(["transliterate", "-i", str(source)]) == 2
    monkeypatch.setenv("AUGKIT_DEBUG", "1")
    with pytest.raises(InputError, match="no such file"):
        main(["transliterate", "-i", str(source)])
    if not os.path.exists("/dev/full"):
        return
    source = write_text_file(folder / "in.txt", ["ا" * 100] * 2000)
    with open("/dev/full", "w", encoding="utf-8") as full, pytest.raises(OSError) as caught:
        monkeypatch.setattr(sys, "stdout", full)
        main(["transliterate", "-i", str(source)])
    assert caught.value.errno == errno.ENOSPC
