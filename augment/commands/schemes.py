"""`augkit schemes`: list the transliteration schemes, or show one in full."""

from __future__ import annotations

import sys
import textwrap


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "schemes", help="list the transliteration schemes (or show one: augkit schemes NAME)",
        description="List the bundled transliteration schemes. With NAME (or a manifest path), show its "
                    "citation, notes, rule tables and signature, and any repeated rule patterns.",
    )
    parser.add_argument("name", nargs="?", default=None, help="a scheme name or manifest path to show in full")
    parser.set_defaults(func=run)


def run(args) -> int:
    from augment.schemes import available_schemes, load_scheme

    if args.name is None:
        schemes = [load_scheme(name) for name in available_schemes()]
        width = max(len(scheme.name) for scheme in schemes)
        for scheme in schemes:
            extra = f", analyzer {scheme.analyzer}" if scheme.analyzer else ""
            print(f"{scheme.name:<{width}}  {scheme.source_script}->{scheme.target:<9} "
                  f"[{scheme.transform}{extra}]  {scheme.description}")
        print("\nShow one in full: augkit schemes NAME. Add your own: see docs/transliteration.md.", file=sys.stderr)
        return 0
    from augment.transliterate import Transliterator

    scheme = load_scheme(args.name)
    pipeline = f"tokenizer {scheme.tokenizer}, transform {scheme.transform}, postprocess {scheme.postprocess}"
    if scheme.analyzer:
        pipeline += f", analyzer {scheme.analyzer}" + (f" (tag map {scheme.tag_map})" if scheme.tag_map else "")
    print(f"name:        {scheme.name} (version {scheme.version})")
    print(f"manifest:    {scheme.path}")
    print(f"description: {scheme.description}")
    print(f"citation:    {scheme.citation or '-'}")
    print(f"script:      {scheme.source_script} -> {scheme.target}")
    print(f"pipeline:    {pipeline}")
    for rule_file in scheme.rule_files:
        print(f"rules:       {rule_file}")
    if scheme.rules:
        print(f"             {len(scheme.rules)} effective rules")
    print(f"signature:   {Transliterator(scheme).signature}")
    if scheme.notes:
        print(f"notes:       {textwrap.fill(scheme.notes, 96, subsequent_indent=' ' * 13)}")
    for warning in scheme.warnings:
        print(f"repeated:    {warning}")
    return 0
