"""Free-text PII detector: precision and recall on a generated corpus, and throughput.

Generates a labelled corpus (tests.pii_corpus: Faker zh_CN plus hard negatives), scores
privacy.pii.detect by exact span match, overall and per kind, then times detect() and
mask_text() over the same texts. Prints one JSON object on stdout and a summary on stderr.

    .venv/bin/python loadtests/pii_eval.py --size 5000 --seed 20250101
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

# The corpus is test code, outside the installed packages: it is imported from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from privacy.pii import PiiKind, detect, mask_text
from tests.pii_corpus import Report, evaluate, generate_corpus


def _throughput(texts: Sequence[str], run: Callable[[str], object]) -> dict[str, float]:
    characters = sum(map(len, texts))
    started = time.perf_counter()
    for text in texts:
        run(text)
    elapsed = time.perf_counter() - started
    return {
        "seconds": round(elapsed, 4),
        "texts_per_second": round(len(texts) / elapsed, 1),
        "characters_per_second": round(characters / elapsed, 1),
        "microseconds_per_text": round(elapsed / len(texts) * 1e6, 1),
    }


def _summary(report: Report, speed: dict[str, dict[str, float]], examples: int) -> str:
    lines = [
        f"{report.texts} texts, {report.characters} characters",
        f"{'kind':<12} {'precision':>9} {'recall':>7} {'gold':>6} {'fp':>4} {'fn':>4}",
    ]
    for kind in (None, *PiiKind):
        row = report.row(kind)
        lines.append(
            f"{'overall' if kind is None else kind.value:<12} {row['precision']:>9.4f} "
            f"{row['recall']:>7.4f} {row['gold']:>6} {row['false_positive']:>4} "
            f"{row['false_negative']:>4}"
        )
    for what, figures in speed.items():
        lines.append(
            f"{what}: {figures['texts_per_second']:.0f} texts/s, "
            f"{figures['characters_per_second']:.0f} chars/s, "
            f"{figures['microseconds_per_text']:.0f} µs per text"
        )
    lines.extend(f"  {outcome}: {kind} {value!r}" for outcome, kind, value in report.examples)
    if len(report.examples) == examples and examples:
        lines.append(f"  (first {examples} errors shown)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=5000, help="texts in the corpus")
    parser.add_argument("--seed", type=int, default=20250101, help="corpus seed")
    parser.add_argument("--examples", type=int, default=10, help="errors to list on stderr")
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error("--size must be at least 1")

    started = time.perf_counter()
    corpus = generate_corpus(args.size, args.seed)
    generated = time.perf_counter() - started
    report = evaluate(corpus, keep_examples=args.examples)
    texts = [item.text for item in corpus]
    speed = {"detect": _throughput(texts, detect), "mask_text": _throughput(texts, mask_text)}

    result = {
        "size": args.size,
        "seed": args.seed,
        "generation_seconds": round(generated, 3),
        **report.as_dict(),
        "throughput": speed,
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))
    print(_summary(report, speed, args.examples), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
