"""`augkit languages rank`: which languages are nearest to a target, by URIEL+ distances (augment.uriel)."""

from __future__ import annotations

import dataclasses
import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "languages", help="choose the languages to borrow from: rank them by URIEL+ distance to a target",
        description="Language metadata for choosing what to transliterate, translate or prompt with.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    rank = actions.add_parser(
        "rank", help="rank candidate languages by their URIEL+ distance to a target, nearest first",
        description="Print one line per candidate, nearest first: CODE<TAB>DISTANCE; a distance URIEL+ cannot "
                    "compute is printed as CODE<TAB>missing<TAB>REASON after the others. Distances are URIEL+'s "
                    "(angular, 0 = identical vectors); the signature goes to stderr.",
    )
    rank.add_argument("--target", required=True, help="the language to borrow for (ISO 639-1/3 or FLORES: mt, mlt, mlt_Latn)")
    choice = rank.add_mutually_exclusive_group()
    choice.add_argument("--candidates", help="comma-separated languages to rank, e.g. ar,he,it,en,zh")
    choice.add_argument("--available", choices=["nllb", "m2m", "madlad", "lid176"],
                        help="rank every language this model covers (its own codes are printed)")
    rank.add_argument("--by", default="genetic",
                      help="a distance (genetic, geographic, syntactic, phonological, inventory, featural, "
                           "morphological, script) or a weighted mean, e.g. genetic=0.5,script=0.5 (default: genetic)")
    rank.add_argument("--top", type=int, metavar="K",
                      help="print the K nearest only; without --candidates/--available, rank every language URIEL+ knows")
    rank.add_argument("--json", action="store_true", help="print the ranking as JSON (with components and reasons)")
    rank.add_argument("--cache", help="augkit's cache folder (default: $AUGKIT_CACHE or ~/.cache/augkit)")
    rank.set_defaults(func=run_rank)


def run_rank(args) -> int:
    from augment.errors import AugkitError
    from augment.uriel import load, parse_by

    weights = parse_by(args.by)
    if args.top is not None and args.top < 1:
        raise AugkitError(f"--top must be at least 1, got {args.top}")
    if not (args.candidates or args.available or args.top):
        raise AugkitError("give --candidates, --available, or --top K (to rank every language URIEL+ knows)")
    uriel = load(args.cache)
    if args.candidates:
        candidates = [code.strip() for code in args.candidates.split(",") if code.strip()]
        if not candidates:
            raise AugkitError("--candidates is empty")
        codes = None
    elif args.available:
        from augment.model_languages import covered

        candidates = covered(args.available)
        codes = [uriel.code(code) for code in candidates]
    else:
        candidates = list(uriel.languages)
        codes = candidates
    ranking = uriel.rank(args.target, candidates, weights, codes)
    ranked = ranking.ranked
    if codes is candidates:  # everything URIEL+ knows: leave out the target itself
        ranked = [item for item in ranked if item.uriel != ranking.uriel_target]
    if args.top:
        ranked = ranked[:args.top]
    # Missing distances are listed for the candidates a user named; for long lists they are counted.
    missing = ranking.missing if args.candidates else []
    if args.json:
        shown = dataclasses.replace(ranking, ranked=ranked, missing=missing)
        print(json.dumps({**shown.to_dict(), "missing_count": len(ranking.missing)}, ensure_ascii=False, indent=2))
    else:
        for item in ranked:
            print(f"{item.code}\t{item.distance:.4f}")
        for item in missing:
            print(f"{item.code}\tmissing\t{item.reason}")
    if ranking.missing and not args.candidates:
        print(f"{len(ranking.missing)} of {len(candidates)} languages have no {args.by} distance to "
              f"{ranking.uriel_target} (name them with --candidates to see why)", file=sys.stderr)
    print(ranking.signature, file=sys.stderr)
    return 0
