"""What each diversity metric sees: real shapes with one kind of variety taken away, scored like a G.

    python benchmarks/diversity_validation.py [-n 2000] [--ref-n 2000]
                                              [--extractors shapes-net,shapes-factor-net]

Every set is made of exactly rendered, real shapes (gancli.metrics.degradations): a held-out control,
then the same parameters with one colour, one background, one position, one size, 4 or 1 of the 8
classes, and 100 images repeated with +-1 px jitter and +-1 level of noise. Each is scored against
the same reference (the train split of seed 0, as a run's training data) with FID, KID,
precision / recall (k = 3, torch-fidelity's) and PRDC (k = 5), on each extractor; and the spread of
each factor is measured from the known parameters. Prints Markdown tables (docs/evaluation.md).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gancli.metrics.degradations import score_degradations  # noqa: E402


def spreads_table(spreads: dict[str, dict[str, float]]) -> list[str]:
    lines = ["| set | shape colour sd | background sd | position sd | radius sd | classes | distinct shapes |",
             "|---|---|---|---|---|---|---|"]
    for name, s in spreads.items():
        lines.append(f"| {name} | {s['shape_colour']:.1f} | {s['background']:.1f} | {s['position']:.2f} px "
                     f"| {s['radius']:.2f} px | {s['classes']} | {s['distinct']} |")
    return lines


def metrics_table(rows: dict[str, dict[str, float]]) -> list[str]:
    lines = ["| set | FID | KID ×10³ | precision (k=3) | recall (k=3) | precision (k=5) | recall (k=5) "
             "| density | coverage |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['fid']:.2f} | {1000 * r['kid_mean']:.2f} | {r['precision']:.3f} "
                     f"| {r['recall']:.3f} | {r['prdc_precision']:.3f} | {r['prdc_recall']:.3f} "
                     f"| {r['density']:.3f} | {r['coverage']:.3f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="images per set")
    parser.add_argument("--ref-n", type=int, default=2000, help="reference images (PRDC wants as many as -n)")
    parser.add_argument("--extractors", default="shapes-net,shapes-factor-net")
    args = parser.parse_args()
    started = time.time()
    out = score_degradations(args.extractors.split(","), n=args.n, ref_n=args.ref_n)
    print(f"{args.n} images per set against {args.ref_n} training images (shapes, 32 px); "
          f"{time.time() - started:.0f} s\n")
    print("Spread of each factor, from the parameters (colours in 0-255 levels; position and radius at 32 px):\n")
    print("\n".join(spreads_table(out.pop("spreads"))))
    for extractor, rows in out.items():
        print(f"\n{extractor}:\n")
        print("\n".join(metrics_table(rows)))


if __name__ == "__main__":
    main()
