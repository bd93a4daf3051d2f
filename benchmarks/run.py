"""Benchmark of `hepsift run` (the default config): cold (generation included) and warm (cached
samples) wall time, peak memory of the whole process tree, and report generation time.

Prints each figure as a RATIO to a FIXED BUDGET (lower is better, < 1 meets the target): cold
300 s, warm 60 s, peak memory 4 GiB, report 10 s. The budgets are constants chosen for a
2-core laptop (``BUDGETS`` below), not a reference measured in this run, so the ratios move
with the machine's speed and load: compare them between runs on the same machine, not across
machines. Only the figures themselves (times, memory) are measured here.

    .venv/bin/python benchmarks/run.py            # the default config as shipped
    .venv/bin/python benchmarks/run.py --quick    # tiny samples and models (a minute or two)
    .venv/bin/python benchmarks/run.py --config photon-id --set data.events=2000
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

BUDGETS = {"cold_s": 300.0, "warm_s": 60.0, "peak_gib": 4.0, "report_s": 10.0}
QUICK = [
    "data.events=300",
    "models[1].params.n_estimators=20",
    "models[2].params.epochs=2",
    "evaluation.bootstrap=50",
]


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def timed_run(args: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS of the process tree (bytes) and stdout of one `hepsift run`."""
    exe = Path(sys.executable).with_name("hepsift")
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(exe), "run", *args], stdout=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    peak = 0
    stop = threading.Event()

    def poll() -> None:
        nonlocal peak
        while not stop.is_set():
            try:
                peak = max(peak, _tree_rss(ps))
            except psutil.NoSuchProcess:
                return
            time.sleep(0.2)

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    out, _ = proc.communicate()
    stop.set()
    th.join()
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"hepsift run failed (exit {proc.returncode}):\n{out}")
    return seconds, peak, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=None, help="config name or path (default: the default)")
    ap.add_argument("--quick", action="store_true", help="tiny samples and models")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="key=value")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folders")
    opts = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="hepsift-bench-"))
    overrides = (QUICK if opts.quick else []) + opts.overrides
    overrides.append(f"data.cache={work / 'cache'}")
    base = [*([opts.config] if opts.config else []), "--out", str(work / "runs"), "--quiet"]
    for o in overrides:
        base += ["--set", o]
    try:
        cold_s, cold_peak, _ = timed_run(base)
        warm_s, warm_peak, _ = timed_run(base)
        runs = sorted((work / "runs").iterdir())
        metrics = json.loads((runs[-1] / "metrics.json").read_text())
    finally:
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)
    timings = metrics.get("timings", {})
    report_s = float(timings.get("report_s", float("nan")))
    figures_s = float(timings.get("figures_s", float("nan")))
    peak_gib = max(cold_peak, warm_peak) / 2**30
    print(
        f"config: {opts.config or 'higgs-diphoton (default)'}; overrides: {overrides[:-1] or 'none'}"
    )
    print(f"test events: {metrics['n_test']}, classes: {metrics['classes']}")
    for name in metrics["ranking"]:
        m = metrics["models"][name]
        low, high = m["auc_ci68"]
        print(f"  {name:<14} AUC {m['auc']:.4f} [{low:.4f}, {high:.4f}]")
    print(f"warm-run stages [s]: {json.dumps({k: round(v, 1) for k, v in timings.items()})}")
    rows = [
        ("cold run (generation included)", cold_s, BUDGETS["cold_s"], "s"),
        ("warm run (cached samples)", warm_s, BUDGETS["warm_s"], "s"),
        ("peak memory (process tree)", peak_gib, BUDGETS["peak_gib"], "GiB"),
        ("report (figures + HTML)", report_s, BUDGETS["report_s"], "s"),
    ]
    print(f"{'measure':<34}{'value':>10}{'budget':>10}{'ratio':>8}")
    for label, value, budget, unit in rows:
        print(
            f"{label:<34}{value:>9.1f}{unit[0]:<1}{budget:>9.0f}{unit[0]:<1}{value / budget:>8.2f}"
        )
    print(f"(figures alone: {figures_s:.1f} s of the report time)")


if __name__ == "__main__":
    main()
