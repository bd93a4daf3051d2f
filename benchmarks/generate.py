"""Benchmark of event generation: our detector + reconstruction + writing against bare Pythia.

Prints, measured in the same run:
1. overhead ratio = (detector + reconstruction + chunk writing) / (bare Pythia ``next()``
   loop) per event for the same process (target <= 0.25);
2. events/s with 2 workers / events/s with 1 worker (target >= 1.7 on 2 free cores);
3. peak RSS of a worker process (target <= 1 GiB);
4. events/s per sample of each scenario (generated Pythia events per second per worker).

    .venv/bin/python benchmarks/generate.py [--quick] [--events N]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np


def _bare_pythia(settings: tuple[str, ...], n: int, seed: int) -> float:
    """Seconds per event of a plain ``pythia.next()`` loop (initialisation excluded)."""
    import pythia8mc as pythia8

    from hepsift.generate.processes import BASE_SETTINGS

    py = pythia8.Pythia("", False)
    for line in (*BASE_SETTINGS, *settings, f"Random:seed = {seed}"):
        py.readString(line)
    py.init()
    t0 = time.perf_counter()
    for _ in range(n):
        py.next()
    return (time.perf_counter() - t0) / n


def _pipeline(scenario: str, sample_name: str, n: int, seed: int) -> dict[str, float]:
    """Seconds per event of each stage of our chunk pipeline for the same process."""
    from hepsift.generate import reconstruct
    from hepsift.generate.detector import simulate
    from hepsift.generate.processes import run_pythia
    from hepsift.generate.scenarios import build_chunk, samples_for
    from hepsift.generate.writer import write_chunk

    sample = next(s for s in samples_for(scenario) if s.name == sample_name)
    batch = run_pythia(sample.settings, n_events=n, pythia_seed=seed)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    det = simulate(batch.events, batch.charge_of, rng)
    t1 = time.perf_counter()
    rows, accepted = build_chunk(scenario, sample, det, rng)
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        write_chunk(Path(tmp) / "c.npz", rows, {"n": n})
    t3 = time.perf_counter()
    images = reconstruct.event_images(det)[accepted]
    t4 = time.perf_counter()
    del images
    return {
        "pythia_nextBatch": batch.pythia_seconds / n,
        "detector": (t1 - t0) / n,
        "reconstruction": (t2 - t1) / n,
        "writing": (t3 - t2) / n,
        "images (optional)": (t4 - t3) / n,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (about 1 minute)")
    ap.add_argument("--events", type=int, default=None, help="events per measurement")
    args = ap.parse_args()
    n = args.events or (150 if args.quick else 400)

    from hepsift.generate import generate
    from hepsift.generate.scenarios import samples_for

    print(f"# hepsift generation benchmark, {n} events per measurement")
    print("\n## 1. overhead of detector + reconstruction + writing vs bare Pythia next()")
    for scenario, sample in (("higgs-diphoton", "ggF"), ("resonance-ttbar", "ttbar_mtt0")):
        settings = next(s for s in samples_for(scenario) if s.name == sample).settings
        bare = _bare_pythia(settings, n, seed=1)
        stages = _pipeline(scenario, sample, n, seed=1)
        ours = stages["detector"] + stages["reconstruction"] + stages["writing"]
        print(f"{scenario}/{sample}: bare Pythia next() {bare * 1e3:.2f} ms/event")
        for k, v in stages.items():
            print(f"    {k:<20} {v * 1e3:7.2f} ms/event")
        print(f"    OVERHEAD RATIO (ours / bare Pythia) = {ours / bare:.3f}  (target <= 0.25)")

    print("\n## 2. parallel scaling (ggF, chunks of n/4 events)")
    rates = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            cpu0 = os.times()
            t0 = time.perf_counter()
            generate(
                "higgs-diphoton",
                events=2 * n,
                out=tmp,
                seed=2,
                workers=workers,
                samples=["ggF"],
                chunk_size=max(n // 4, 1),
                progress=False,
            )
            dt = time.perf_counter() - t0
            cpu1 = os.times()
            cpu = sum(cpu1[:4]) - sum(cpu0[:4])  # this process + its worker children
            rates[workers] = 2 * n / dt
            print(
                f"workers={workers}: {rates[workers]:.1f} events/s (wall {dt:.1f} s, "
                f"CPU {cpu:.1f} s = {cpu / dt:.2f} cores busy; < {workers} means the machine "
                "is shared)"
            )
            if workers == 2:
                rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
                print(f"peak RSS of a worker: {max(rss, before) / 1024:.0f} MiB (target <= 1024)")
    print(f"SPEEDUP RATIO 2 workers / 1 worker = {rates[2] / rates[1]:.2f}  (target >= 1.7)")

    print("\n## 3. events/s per sample (per worker, incl. Pythia init per chunk)")
    quick_n = max(n // 4, 20)
    for scenario, kwargs in (
        ("higgs-diphoton", {}),
        ("photon-id", {}),
        ("resonance-ttbar", {"masses": "1000"}),
    ):
        with tempfile.TemporaryDirectory() as tmp:
            m = generate(
                scenario,
                events=quick_n,
                out=tmp,
                seed=3,
                workers=2,
                chunk_size=quick_n,
                progress=False,
                **kwargs,  # type: ignore[arg-type]
            )
        for s in m["samples"]:
            rate = s["events_generated"] / s["chunk_seconds"]
            acc = s["events_accepted"] / s["events_generated"]
            print(
                f"{scenario:<16} {s['name']:<14} {rate:7.1f} events/s/worker  accepted {acc:5.1%}"
            )


if __name__ == "__main__":
    main()
