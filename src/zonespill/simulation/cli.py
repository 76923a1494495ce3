"""CLI step of the Monte Carlo study (``python -m zonespill mc-chunk``; table M1 is the declared
table step ``study-table``, design ``m1``).

Imported by :mod:`zonespill.cli` automatically. Each step calls one function of
:mod:`zonespill.simulation.montecarlo` and writes only through :mod:`zonespill.io` /
:func:`zonespill.tables.write_table`. Byte-reproducible chunk files need a fixed
``PYTHONHASHSEED`` (the rule sets ``PYTHONHASHSEED=0``): pyfixest's TWFE results depend in
the last bit on string-hash order, which Python randomises per process.
"""

from __future__ import annotations

import argparse
import os

from zonespill.cli import _args, log, step


def _chunk_args(p: argparse.ArgumentParser) -> None:
    _args("census_csv", "pairings_csv", "out")(p)
    p.add_argument("--chunk", type=int, required=True, help="chunk number, 0 .. n_chunks - 1")
    p.add_argument("--n-chunks", dest="n_chunks", type=int, required=True)


@step("mc-chunk", _chunk_args)
def _mc_chunk(ns: argparse.Namespace) -> object:
    """Monte Carlo: run the replications of one chunk and write them to Parquet."""
    if os.environ.get("PYTHONHASHSEED") in (None, "", "random"):
        log.warning(
            "PYTHONHASHSEED is not fixed: pyfixest's TWFE estimates then differ in the last bit between "
            "processes (string-hash order), so chunk files are not byte-reproducible; the workflow rule sets "
            "PYTHONHASHSEED=0"
        )
    from zonespill.io import write_parquet
    from zonespill.simulation.montecarlo import run_chunk

    frame = run_chunk(
        ns.options,
        census_csv=ns.census_csv,
        pairings_csv=ns.pairings_csv,
        chunk=ns.chunk,
        n_chunks=ns.n_chunks,
    )
    write_parquet(ns.out, frame)
    return frame
