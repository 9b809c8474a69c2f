#!/usr/bin/env python3
"""Writes a copy of a training manifest whose `val` rows are only those of one language
(every `train` row kept, or only that language's with --own-language), image paths made
absolute, so that `inkread train lm --data OUT` measures a language model on one
language's validation lines (docs/TRAIN.md).

    scripts/manifest_by_language.py ../shared/train/manifest.tsv en OUT.tsv [--own-language]
"""
import argparse
import os


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("manifest")
    parser.add_argument("lang")
    parser.add_argument("out")
    parser.add_argument("--own-language", action="store_true",
                        help="keep only that language's training rows too")
    args = parser.parse_args()
    base = os.path.dirname(os.path.abspath(args.manifest))
    # Plain tab splitting, as inkread reads it: transcriptions hold quotes.
    lines = open(args.manifest, encoding="utf-8").read().split("\n")
    header = lines[0]
    cols = header.split("\t")
    path, split, lang = cols.index("path"), cols.index("split"), cols.index("lang")
    kept = [header]
    for line in filter(None, lines[1:]):
        row = line.split("\t")
        same = row[lang] == args.lang
        if (row[split] == "train" and (same or not args.own_language)) or same:
            row[path] = os.path.join(base, row[path])
            kept.append("\t".join(row))
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(kept) + "\n")
    print(f"{args.out}: {len(kept) - 1} rows")


if __name__ == "__main__":
    main()
