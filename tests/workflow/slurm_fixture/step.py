"""Deterministic python step of the SLURM fixture workflow (stdlib + numpy only).

``draw`` writes ``n`` seeded normal draws with a running sum; ``summarise`` writes
count, mean and sum of squares per input file. Output is text with fixed formatting,
so identical inputs give byte-identical files wherever the step runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def draw(part: int, n: int, seed: int, out: Path) -> None:
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(part,)))
    x = rng.standard_normal(n)
    lines = ["i,x,cumsum"] + [
        f"{i},{v:.12f},{c:.12f}" for i, (v, c) in enumerate(zip(x, np.cumsum(x), strict=True))
    ]
    out.write_text("\n".join(lines) + "\n")


def summarise(inputs: list[Path], out: Path) -> None:
    rows = ["file\tn\tmean\tsumsq"]
    for path in inputs:
        x = np.loadtxt(path, delimiter=",", skiprows=1, usecols=1)
        rows.append(f"{path.name}\t{x.size}\t{x.mean():.12f}\t{np.sum(x * x):.12f}")
    out.write_text("\n".join(rows) + "\n")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("draw")
    d.add_argument("--part", type=int, required=True)
    d.add_argument("--n", type=int, required=True)
    d.add_argument("--seed", type=int, required=True)
    d.add_argument("--out", type=Path, required=True)
    s = sub.add_parser("summarise")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("inputs", type=Path, nargs="+")
    args = parser.parse_args(argv)
    if args.cmd == "draw":
        draw(args.part, args.n, args.seed, args.out)
    else:
        summarise(args.inputs, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
