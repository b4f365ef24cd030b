#!/usr/bin/env python3
"""Validate the independent emergency test set (standard library only).

Usage: python3 eval/data/emergency_independent/check.py
Checks: every line is JSON with the required fields and allowed values, no
duplicate texts (exact, or after lower-casing and dropping punctuation/space)
within or across the two files. Prints counts. Exit code 1 on any problem.
This set is for reporting only: never tune rules or thresholds on it.
"""

import collections
import json
import os
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
FIELDS = ("text", "lang", "category", "service", "variant", "source")
SERVICES = {"positives.jsonl": {"medical", "police", "fire", "traffic"}, "negatives.jsonl": {"none"}}
NEG_CATS = {"routine", "strong_words", "past_event", "negated", "info_request"}


def norm(t):
    return "".join(
        c for c in t.lower() if not unicodedata.category(c).startswith(("P", "Z")) and not c.isspace()
    )


def main():
    errors = []
    seen: dict = {}
    counts: dict = {}
    for name in ("positives.jsonl", "negatives.jsonl"):
        rows = []
        with open(os.path.join(HERE, name), encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                where = f"{name}:{n}"
                try:
                    r = json.loads(line)
                except ValueError as e:
                    errors.append(f"{where}: not JSON ({e})")
                    continue
                if not isinstance(r, dict) or set(r) != set(FIELDS):
                    errors.append(f"{where}: fields must be exactly {FIELDS}")
                    continue
                if not all(isinstance(r[k], str) and r[k].strip() for k in FIELDS):
                    errors.append(f"{where}: empty or non-string field")
                if r["lang"] not in ("en", "zh"):
                    errors.append(f"{where}: bad lang {r['lang']!r}")
                if r["variant"] not in ("clean", "asr"):
                    errors.append(f"{where}: bad variant {r['variant']!r}")
                if r["service"] not in SERVICES[name]:
                    errors.append(f"{where}: bad service {r['service']!r}")
                if name == "negatives.jsonl" and r["category"] not in NEG_CATS:
                    errors.append(f"{where}: bad negative category {r['category']!r}")
                if not r["category"].replace("_", "").isalnum() or r["category"] != r["category"].lower():
                    errors.append(f"{where}: category not snake_case")
                key = norm(r["text"])
                if key in seen:
                    errors.append(f"{where}: duplicate of {seen[key]}")
                else:
                    seen[key] = where
                rows.append(r)
        counts[name] = rows
    for name, rows in counts.items():
        print(f"== {name}: {len(rows)} lines")
        for field in ("lang", "service", "variant"):
            c = collections.Counter(r[field] for r in rows)
            print(f"  {field}: " + ", ".join(f"{k}={v}" for k, v in sorted(c.items())))
        cats = collections.Counter((r["category"], r["lang"]) for r in rows)
        names = sorted({r["category"] for r in rows})
        print(f"  categories: {len(names)}")
        for c in names:
            print(f"    {c:24s} en={cats[(c, 'en')]:3d} zh={cats[(c, 'zh')]:3d}")
    for problem in errors:
        print("ERROR", problem)
    print("OK" if not errors else f"{len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
