"""Run every benchmark (each prints its own numbers and ratios against the peer).

Usage: ``make bench`` (installs the ``bench`` extra: csdid, differences, spreg), or
``python benchmarks/run_all.py --quick`` for the small sizes only.
Speed is measured here, never in unit tests.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--quick", action="store_true", help="small sizes only (minutes instead of tens of minutes)"
    )
    args = ap.parse_args()
    runs = [
        [sys.executable, str(HERE / "bench_did.py"), "--sizes", "10000" if args.quick else "10000,100000"],
        [
            sys.executable,
            str(HERE / "bench_spatial.py"),
            "--sizes",
            "3000" if args.quick else "3000,10000,100000",
        ],
    ]
    status = 0
    for cmd in runs:
        print("$", " ".join(cmd[1:]), flush=True)
        status |= subprocess.call(cmd)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
