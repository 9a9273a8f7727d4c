"""`augkit translate`: machine-translate a file with CTranslate2, keep labels, filter, count.

Writes three files: the accepted translations (`--output`, same format as the input), the rejected
ones with their reasons (`--rejected`, JSON Lines) and a summary (`--summary`, JSON, also printed):
records read, accepted, rejected by reason, label projections, segments decoded vs. answered by the
translation cache, tokens/s, and the signature naming the model and every decoding setting.
Interrupted runs resume: finished segments sit in the translation cache, so a re-run only decodes
what is missing, and the outputs are replaced only when a run completes.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from augment.cli import add_errors_option
from augment.errors import AugkitError, InputError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "translate", help="machine-translate a corpus with CTranslate2 (NLLB, M2M-100, Marian, MADLAD, LLMs)",
        description="Translate texts (or labelled tokens) with a CTranslate2 model or a Hugging Face model "
                    "converted on first use; rejected translations and a summary are written beside the output.",
    )
    parser.add_argument("--model", "-m", required=True,
                        help="CTranslate2 model directory, Hugging Face model directory, or hub id")
    parser.add_argument("--src", required=True, help="source language (ar, ara, arb_Arab, ...)")
    parser.add_argument("--tgt", required=True, help="target language (mt, mlt, mlt_Latn, ...)")
    io = parser.add_argument_group("input and output")
    io.add_argument("--input", "-i", default="-", help="input file ('-' = stdin)")
    io.add_argument("--output", "-o", default="-", help="output file ('-' = stdout)")
    io.add_argument("--format", "-f", default=None, help="txt|jsonl|csv|tsv|parquet|conllu (default: from --input)")
    io.add_argument("--column", default="text", help="text column of a table (default: text)")
    io.add_argument("--tokens-column", default="tokens", help="token-list column for token-level labels")
    io.add_argument("--labels-column", default=None,
                    help="label column: a list (BIO tags over --tokens-column) is projected with markers, "
                         "a single value (e.g. sentiment) is copied")
    io.add_argument("--rejected", default=None, help="rejected records, JSON Lines (default: OUTPUT.rejected.jsonl)")
    io.add_argument("--summary", default=None, help="summary JSON (default: OUTPUT.summary.json)")
    add_errors_option(io)
    model = parser.add_argument_group("model")
    model.add_argument("--family", default=None, choices=["nllb", "m2m100", "marian", "t5", "llm"],
                       help="how languages are passed to the model (default: detected from the model)")
    model.add_argument("--tokenizer", default=None, help="tokenizer directory, when not saved with the model")
    model.add_argument("--prompt-template", default=None,
                       help="decoder-only models: prompt with {src_name} {tgt_name} {src} {tgt} {text}")
    model.add_argument("--quantization", default="int8",
                       help="int8 | int8_float32 | int8_float16 | int8_bfloat16 | float16 | bfloat16 | float32")
    model.add_argument("--device", default="auto", help="auto | cpu | cuda (auto = cuda when CTranslate2 sees a GPU)")
    model.add_argument("--device-index", default="0", help="GPU index, or several: 0,1,2,3")
    model.add_argument("--inter-threads", type=int, default=1, help="batches decoded in parallel (one per GPU)")
    model.add_argument("--intra-threads", type=int, default=0, help="threads per batch (0 = CTranslate2 default)")
    model.add_argument("--cache", default=None, help="cache folder (default: $AUGKIT_CACHE or ~/.cache/augkit)")
    model.add_argument("--translation-cache", default=None,
                       help="SQLite translation cache (default: CACHE/translations.sqlite)")
    model.add_argument("--no-translation-cache", action="store_true", help="decode everything, remember nothing")
    decoding = parser.add_argument_group("decoding")
    decoding.add_argument("--beam", type=int, default=4, help="beam size (1 = greedy)")
    decoding.add_argument("--length-penalty", type=float, default=1.0)
    decoding.add_argument("--max-length-ratio", type=float, default=2.0,
                          help="decode at most RATIO x source tokens (+10)")
    decoding.add_argument("--sampling-topk", type=int, default=1, help="sample among the k best tokens (needs --beam 1)")
    decoding.add_argument("--sampling-topp", type=float, default=1.0, help="nucleus sampling")
    decoding.add_argument("--temperature", type=float, default=1.0)
    decoding.add_argument("--num-hypotheses", type=int, default=1, help="translations per input (each its own record)")
    decoding.add_argument("--repetition-penalty", type=float, default=1.0)
    decoding.add_argument("--no-repeat-ngram-size", type=int, default=0)
    decoding.add_argument("--seed", type=int, default=0, help="random seed for sampling")
    decoding.add_argument("--max-batch-tokens", type=int, default=4096, help="padded source tokens per batch")
    decoding.add_argument("--window", type=int, default=2000, help="records read, sorted and batched together")
    decoding.add_argument("--no-split", action="store_true", help="translate each text whole, not sentence by sentence")
    filters = parser.add_argument_group("output filters")
    filters.add_argument("--language-check", default="langid", choices=["langid", "script", "none"],
                         help="reject output not in the target language: fastText (augment.langid), "
                              "a script check, or none")
    filters.add_argument("--min-output-ratio", type=float, default=0.2, help="reject output/input characters below this")
    filters.add_argument("--max-output-ratio", type=float, default=5.0, help="reject output/input characters above this")
    filters.add_argument("--max-repeats", type=int, default=3, help="an n-gram repeated more often in a row is a loop")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no summary on stderr")
    parser.set_defaults(func=run)


def run(args) -> int:
    from augment import formats
    from augment.progress import Progress
    from augment.translate import Decoding, Translator
    from augment.translate.filters import default_filters
    from augment.translate.stream import StreamCounts, translate_records

    fmt = formats.check_format(args.format or formats.format_from_path(args.input))
    rejected_path = args.rejected or _beside(args.output, ".rejected.jsonl")
    summary_path = args.summary or _beside(args.output, ".summary.json")
    formats.check_outputs([args.input, args.model, args.tokenizer],
                          [args.output, rejected_path, summary_path, args.translation_cache])
    decoding = Decoding(
        beam_size=args.beam, length_penalty=args.length_penalty, max_length_ratio=args.max_length_ratio,
        sampling_topk=args.sampling_topk, sampling_topp=args.sampling_topp, sampling_temperature=args.temperature,
        num_hypotheses=args.num_hypotheses, repetition_penalty=args.repetition_penalty,
        no_repeat_ngram_size=args.no_repeat_ngram_size, seed=args.seed)
    stats = formats.DecodeStats()
    records, columns, conllu = _read(args, fmt, stats)  # bad input fails before a model is converted or loaded
    translator = Translator(
        args.model, args.src, args.tgt, quantization=args.quantization, device=args.device,
        device_index=_device_indices(args.device_index), inter_threads=args.inter_threads,
        intra_threads=args.intra_threads, cache=args.cache,
        translation_cache=False if args.no_translation_cache else args.translation_cache,
        family=args.family, tokenizer=args.tokenizer, prompt_template=args.prompt_template,
        decoding=decoding, max_batch_tokens=args.max_batch_tokens)
    output_filters = default_filters(translator.tgt, args.language_check, min_ratio=args.min_output_ratio,
                                     max_ratio=args.max_output_ratio, max_repeats=args.max_repeats)
    counts = StreamCounts()
    rejected: list[dict] = []
    started = time.perf_counter()
    progress = Progress("augkit translate", "records", quiet=args.quiet,
                        detail=lambda: _rates(translator.stats, time.perf_counter() - started))
    results = translate_records(
        records, translator, filters=output_filters, text_field=args.column, tokens_field=args.tokens_column,
        labels_field=args.labels_column, split_sentences=not args.no_split, window=args.window, counts=counts)

    def accepted():
        for record, reason in results:
            progress.update(1)
            if reason is None:
                yield record
            else:
                rejected.append({"reason": reason, **record})

    try:
        written = _write(args.output, fmt, accepted(), columns, conllu, args)
    finally:
        progress.close()
        translator.close()
    formats.write_lines(rejected_path, (json.dumps(record, ensure_ascii=False) for record in rejected))
    summary = _summary(args, translator, counts, written, time.perf_counter() - started, rejected_path)
    formats.write_lines(summary_path, [json.dumps(summary, ensure_ascii=False, indent=2)])
    if not args.quiet:
        print(_summary_line(summary, rejected_path, summary_path), file=sys.stderr)
    if stats.replacements:
        print(f"augkit translate: {stats.summary(args.input)}", file=sys.stderr)
    return 0


def _read(args, fmt: str, stats):
    """(records, table columns or None, conllu sentences by id or None)."""
    from augment import formats

    if fmt == "txt":
        lines = formats.read_lines(args.input, args.errors, stats)
        return ({"id": str(number), "text": line} for number, line in enumerate(lines, 1)), None, None
    if fmt == "conllu":
        sentences = {}

        def conllu_records():
            for number, sentence in enumerate(formats.read_conllu(args.input, args.errors, stats), 1):
                identifier = sentence.metadata("sent_id") or str(number)
                sentences[identifier] = sentence
                yield {"id": identifier, "text": sentence.metadata("text") or " ".join(w[1] for w in sentence.words())}
        return conllu_records(), None, sentences
    table = formats.read_table(args.input, fmt, args.errors, stats)
    for column in [args.labels_column] if args.labels_column else []:
        if column not in table.columns:
            raise InputError(args.input, f"no labels column {column!r}; columns are {table.columns}")
    if args.column not in table.columns and args.tokens_column not in table.columns:
        raise InputError(args.input, f"no text column {args.column!r} (nor tokens column {args.tokens_column!r}); "
                                     f"columns are {table.columns}")
    for index, row in enumerate(table.rows):
        row.setdefault("id", str(index + 1))
    return iter(table.rows), table.columns, None


def _write(output: str, fmt: str, records, columns, conllu, args) -> int:
    from augment import formats

    if fmt == "txt":
        return formats.write_lines(output, (record["text"] for record in records))
    if fmt == "conllu":
        def sentences():
            for record in records:
                words = record["text"].split()
                rows = [[str(i), word, *["_"] * 8] for i, word in enumerate(words, 1)]
                source = conllu[record["id"].split("#")[0]]
                comments = [c for c in source.comments if not c.startswith(("# text =", "# sent_id ="))]
                yield formats.ConlluSentence([f"# sent_id = {record['id']}", f"# text = {record['text']}",
                                              f"# source_text = {record['meta']['translation']['source']}",
                                              *comments], rows)
        return formats.write_conllu(output, sentences())
    if fmt == "jsonl":
        return formats.write_lines(output, (json.dumps(_row(record, columns), ensure_ascii=False) for record in records))
    return formats.write_table(output, fmt, formats.Table(columns, [_row(record, columns) for record in records]))


def _row(record: dict, columns: list[str]) -> dict:
    """A table row keeps the input's columns; the translation's provenance goes to the summary."""
    return {column: record.get(column) for column in columns}


def _summary(args, translator, counts, written: int, seconds: float, rejected_path: str) -> dict:
    stats = translator.stats
    return {
        "signature": translator.signature(),
        "model": str(translator.files.ct2_dir),
        "device": translator.device,
        "input": args.input,
        "output": args.output,
        "rejected_file": rejected_path,
        "records": counts.records,
        "outputs": counts.accepted + sum(counts.rejected.values()),
        "accepted": counts.accepted,
        "written": written,
        "rejected": sum(counts.rejected.values()),
        "rejected_by_reason": dict(sorted(counts.rejected.items())),
        "label_projection": dict(sorted(counts.projection.items())),
        "segments": stats.segments,
        "segments_from_cache": stats.cached,
        "segments_decoded": stats.decoded,
        "source_tokens_decoded": stats.source_tokens,
        "target_tokens_decoded": stats.target_tokens,
        "seconds": round(seconds, 3),
        "target_tokens_per_second": round(stats.target_tokens / seconds, 1) if seconds else None,
    }


def _summary_line(summary: dict, rejected_path: str, summary_path: str) -> str:
    reasons = ", ".join(f"{reason} {count}" for reason, count in summary["rejected_by_reason"].items()) or "none"
    return (f"augkit translate: {summary['records']} records -> {summary['accepted']} accepted, "
            f"{summary['rejected']} rejected ({reasons}) -> {rejected_path}; "
            f"{summary['segments_decoded']} segments decoded, {summary['segments_from_cache']} from cache; "
            f"{summary['target_tokens_per_second']} tokens/s; summary: {summary_path}\n"
            f"signature: {summary['signature']}")


def _rates(stats, seconds: float) -> str:
    if seconds <= 0:
        return ""
    return f"{stats.decoded / seconds:.1f} sent/s, {stats.target_tokens / seconds:.0f} tok/s"


def _beside(output: str, suffix: str) -> str:
    if output == "-":
        return f"translate{suffix}"
    return str(Path(output).with_name(Path(output).name + suffix))


def _device_indices(text: str) -> int | list[int]:
    try:
        indices = [int(part) for part in text.split(",")]
    except ValueError as error:
        raise AugkitError(f"--device-index must be an integer or a comma-separated list, got {text!r}") from error
    return indices[0] if len(indices) == 1 else indices
