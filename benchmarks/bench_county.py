"""Time the full default workflow on the synthetic county-scale study (issue 9, "Speed").

Usage (from the repository root)::

    nice -n 10 python benchmarks/bench_county.py [--cores 2] [--level compat|county]
        [--max-minutes 25] [--max-gib 16] [--seed 20261129]

Steps: generate the data with ``make_county_data.py`` (seeded), write a config that is the
bundled default declaration (``config/config.yaml``: every table, figure and the Monte
Carlo study) with the inputs, analysis level and weights replaced by the synthetic ones, run
``snakemake --cores N --keep-going`` on a clean output folder, and report:

* total wall time and whether it meets the 10-minute target;
* per job: wall and CPU seconds and peak RSS, sampled every second from the process tree
  (so failed jobs are measured too), plus Snakemake's own ``benchmarks/*.tsv`` where the
  job succeeded;
* the jobs that failed, with the last lines of their logs.

A watchdog kills the largest running step (only processes this script started) when the
summed RSS of the tree exceeds ``--max-gib`` or the machine has less than 2 GiB available, and
the whole run (its own process group) after ``--max-minutes``. Results go to
``results/bench_county/bench.json`` and a Markdown table to ``results/bench_county/bench.md``.

``--level county`` (default) runs the study at the county level (``analysis.level: county``,
tables labelled "counties"); ``--level compat`` codes the counties as the ``province`` level
instead (the only way before the native-level redesign; kept to compare with the first
measurement in ``docs/decisions/scale.md``). Measured 29 Nov 2026 at ``--level county``: 6.8 min,
all 22 declared tables estimated, peak RSS 5.2 GiB (``docs/decisions/scale.md``).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = "results/bench_county"
DATA = "results/bench_county_data"
TARGET_MINUTES = 10.0
# Other sessions share the machine: a step is killed when less than this is left available.
MIN_FREE_GIB = 2.0


def write_config(path: Path, *, level: str, seed: int) -> dict[str, Any]:
    """The bundled default declaration with the synthetic inputs swapped in."""
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    level_values = (
        {"county": "province", "prefecture": "prefecture", "province": "province"}
        if level == "compat"
        else {"county": "county", "prefecture": "prefecture", "province": "province"}
    )
    cfg["output_dir"] = OUT
    cfg["master_seed"] = seed
    cfg["inputs"] = {
        "regions": {
            "path": f"{DATA}/regions.csv",
            "columns": {"region_id": "code", "name": "name", "level": "level", "parent_id": "parent",
                        "geometry_wkt": "wkt"},
            "values": {"level": level_values},
        },
        "panel": {
            "path": f"{DATA}/panel.csv",
            "columns": {"region_id": "code", "year": "year", "population": "pop"},
            "gdp_vintages": {"synthetic": {"column": "gdp", "first_year": 1998, "last_year": 2022}},
            "vintage": "synthetic",
        },
        "zones": {
            "path": f"{DATA}/zones.csv",
            "columns": {"zone_id": "zone", "name": "zone_name", "region_id": "host", "level": "lvl",
                        "type": "kind", "approval_year": "year", "area_ha": "ha"},
        },
        "collaborations": {
            "path": f"{DATA}/pairings.csv",
            "columns": {"source_id": "giver", "target_id": "receiver", "start_year": "start",
                        "end_year": "end", "programme": "programme", "direction": "direction"},
            "missing_start_year": "error",
        },
    }
    cfg["analysis"] = {"level": "province" if level == "compat" else "county", "first_year": 1998,
                       "last_year": 2022}
    cfg["weights"] = {
        "kind": "file",
        "file": {"path": f"{DATA}/weights.csv", "columns": {"i": "i", "j": "j", "w": "w"}},
        "islands": "error",
        "row_standardise": True,
    }
    mc = dict(cfg.get("montecarlo", {}))
    mc.update(
        census_csv=f"{DATA}/counties.csv",
        census_columns={"city_code": "code", "city": "name", "province_code": "province", "coord": "wkt"},
        pairings_csv=f"{DATA}/pairings.csv",
        pairings_columns={"program": "programme", "start_year": "start", "giver_code": "giver",
                          "receiver_code": "receiver", "direction": "direction"},
    )
    cfg["montecarlo"] = mc
    path.write_text(
        "# Written by benchmarks/bench_county.py: the bundled default declaration on SYNTHETIC county data.\n"
        + yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    return cfg


def job_key(cmdline: list[str]) -> str | None:
    """'<subcommand> [chunk]' of a zonespill step process, else None."""
    if "zonespill" not in cmdline or "-m" not in cmdline:
        return None
    k = cmdline.index("zonespill")
    if k + 1 >= len(cmdline):
        return None
    key = cmdline[k + 1]
    if "--chunk" in cmdline:
        key += f"_{cmdline[cmdline.index('--chunk') + 1]}"
    if "--status-out" in cmdline:  # study-table: name the declared table (results/study/<id>.json)
        key += " " + Path(cmdline[cmdline.index("--status-out") + 1]).stem
    return key


def run(cores: int, config: Path, max_minutes: float, max_gib: float, log: Path) -> dict[str, Any]:
    """Run Snakemake under a sampling watchdog; per-job wall, CPU and peak RSS."""
    cmd = [str(Path(sys.executable).parent / "snakemake"), "--cores", str(cores), "--configfile", str(config),
           "--keep-going", "--rerun-incomplete", "--latency-wait", "5"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    jobs: dict[int, dict[str, Any]] = {}
    peak_total = 0
    killed = None
    t0 = time.monotonic()
    with open(log, "w", encoding="utf-8") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        top = psutil.Process(proc.pid)
        while proc.poll() is None:
            total = 0
            live: dict[int, int] = {}
            now = time.monotonic() - t0
            try:
                tree = [top, *top.children(recursive=True)]
            except psutil.Error:
                tree = []
            for p in tree:
                try:
                    rss = p.memory_info().rss
                    total += rss
                    key = job_key(p.cmdline())
                    if key is None:
                        continue
                    cpu = p.cpu_times()
                    j = jobs.setdefault(p.pid, {"job": key, "start_s": now, "peak_rss_gib": 0.0})
                    j["end_s"] = now
                    j["cpu_s"] = cpu.user + cpu.system
                    j["peak_rss_gib"] = max(j["peak_rss_gib"], rss / 2**30)
                    live[p.pid] = rss
                except psutil.Error:
                    continue
            peak_total = max(peak_total, total)
            low_memory = psutil.virtual_memory().available < MIN_FREE_GIB * 2**30
            if (total > max_gib * 2**30 or low_memory) and live:
                # Kill only the largest step (Snakemake records it as failed and, with --keep-going,
                # goes on), so one runaway rule does not hide the timings of the others.
                pid, rss = max(live.items(), key=lambda kv: kv[1])
                jobs[pid]["killed"] = (f"watchdog: {rss / 2**30:.1f} GiB (tree {total / 2**30:.1f} GiB, "
                                       f"{'machine memory low' if low_memory else 'over the limit'})")
                with contextlib.suppress(psutil.Error):
                    psutil.Process(pid).kill()
            if now > max_minutes * 60:
                killed = f"watchdog: {now / 60:.1f} min, {total / 2**30:.1f} GiB"
                os.killpg(proc.pid, signal.SIGTERM)
                time.sleep(10)
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(1.0)
        rc = proc.wait()
    wall = time.monotonic() - t0
    per_job = sorted(jobs.values(), key=lambda j: j["start_s"])
    for j in per_job:
        j["wall_s"] = round(j["end_s"] - j["start_s"], 1)
        j["cpu_s"] = round(j.get("cpu_s", 0.0), 1)
        j["peak_rss_gib"] = round(j["peak_rss_gib"], 3)
    return {"returncode": rc, "wall_s": round(wall, 1), "peak_tree_rss_gib": round(peak_total / 2**30, 3),
            "killed": killed, "jobs": per_job}


def snakemake_benchmarks() -> dict[str, dict[str, str]]:
    """Snakemake's own per-rule records (successful jobs only)."""
    out = {}
    for tsv in sorted((ROOT / OUT / "benchmarks").glob("*.tsv")):
        with open(tsv, encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        if rows:
            keys = ("s", "max_rss", "cpu_time", "mean_load")
            out[tsv.stem] = {k: rows[-1][k] for k in keys if k in rows[-1]}
    return out


def failures(log: Path) -> dict[str, str]:
    """Rules Snakemake reported as failed, with the tail of their step logs."""
    failed = {}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("Error in rule "):
            rule = line[len("Error in rule ") :].rstrip(":")
            step_log = ROOT / OUT / "logs" / f"{rule}.log"
            tail = ""
            if step_log.exists():
                tail = "\n".join(step_log.read_text(encoding="utf-8", errors="replace").splitlines()[-8:])
            failed[rule] = tail
    return failed


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"total wall {result['wall_s']:.0f} s ({result['wall_s'] / 60:.1f} min; "
        f"target {TARGET_MINUTES:.0f} min: "
        f"{'met' if result['wall_s'] <= TARGET_MINUTES * 60 and not result['failed'] else 'NOT met'}), "
        f"peak RSS of the whole tree {result['peak_tree_rss_gib']:.2f} GiB, exit {result['returncode']}"
        + (f", {result['killed']}" if result["killed"] else ""),
        f"load average at start {result['load_start']}, at end {result['load_end']} (2 cores shared)",
        "",
        "| job | start (s) | wall (s) | CPU (s) | peak RSS (GiB) | snakemake s | snakemake max_rss (MB) "
        "| status |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for j in result["jobs"]:
        rule = j["job"].replace("-", "_")
        if rule.startswith("study_table "):
            rule = "table_" + rule.split(" ", 1)[1]
        sm = result["snakemake_benchmarks"].get(rule, {})
        status = "FAILED" if rule.rstrip("_0123456789") in result["failed"] else ("ok" if sm else "?")
        if j.get("killed"):
            status += f" ({j['killed']})"
        lines.append(
            f"| {j['job']} | {j['start_s']:.0f} | {j['wall_s']:.0f} | {j['cpu_s']:.0f} "
            f"| {j['peak_rss_gib']:.2f} | "
            f"{sm.get('s', '')} | {sm.get('max_rss', '')} | {status} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--level", choices=("compat", "county"), default="county")
    ap.add_argument("--max-minutes", type=float, default=25.0)
    ap.add_argument("--max-gib", type=float, default=16.0)
    ap.add_argument("--seed", type=int, default=20261129)
    args = ap.parse_args()
    shutil.rmtree(ROOT / OUT, ignore_errors=True)
    (ROOT / OUT).mkdir(parents=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, str(HERE / "make_county_data.py"), "--out", str(ROOT / DATA),
                    "--seed", str(args.seed)], check=True)
    gen_s = time.perf_counter() - t0
    config = ROOT / "results" / "bench_county_config.yaml"
    write_config(config, level=args.level, seed=args.seed)
    load_start = os.getloadavg()[0]
    log = ROOT / "results" / "bench_county_snakemake.log"
    result = run(args.cores, config, args.max_minutes, args.max_gib, log)
    result.update(
        generator_s=round(gen_s, 1),
        level=args.level,
        cores=args.cores,
        load_start=round(load_start, 1),
        load_end=round(os.getloadavg()[0], 1),
        snakemake_benchmarks=snakemake_benchmarks(),
        failed=failures(log),
    )
    (ROOT / OUT / "bench.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    md = markdown(result)
    (ROOT / OUT / "bench.md").write_text(md, encoding="utf-8")
    print(md)
    for rule, tail in result["failed"].items():
        print(f"--- FAILED {rule}\n{tail}")
    return 0 if result["returncode"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
