"""Ingest benchmark: read + H->gamma gamma selection + features vs uproot's bare ``arrays()``.

Writes a toy ntuple in the generated (ATLAS GamGam, MeV) layout with uproot from seeded random
jagged arrays, then times, in the same run and on one core:

- reference: ``uproot.open(f)["mini"].arrays(branches)`` of exactly the branches our pipeline
  reads (no unit conversion, no selection, no features);
- hepsift: ``build_dataset`` = chunked read (MeV -> GeV) + weights + ``hgamgam`` selection with
  its cutflow + 10 named features (m_gg, ptt_gg, cos theta*, m_jj, ...).

It prints the rate ratio (hepsift / bare; target >= 0.5) and events/s (target >= 1e6), then
measures peak RSS in fresh child processes: streaming with a step size much smaller than the
file, against reading the whole file at once.

    python benchmarks/ingest.py            # 1,000,000 events
    python benchmarks/ingest.py --quick    # 200,000 events
    python benchmarks/ingest.py --n 500000 --step "20 MB"
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FEATURES = [
    "photon_pt_0",
    "photon_pt_1",
    "photon_eta_0",
    "photon_eta_1",
    "m_gg",
    "ptt_gg",
    "costhetastar_gg",
    "jet_n",
    "ht",
    "m_jj",
]


def _limit_threads() -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def _child(mode: str, path: str, step: str, branches: str) -> None:
    """Run one ingest mode and print its peak RSS (MiB) above the post-import baseline."""
    import threading

    import psutil
    import uproot

    from hepsift.prepare import build_dataset

    proc = psutil.Process()

    def anon() -> int:
        # RSS minus file-backed/shared pages: uproot memory-maps the file, and mapped pages of
        # a 100+ MB file would otherwise count as "memory" although the kernel can drop them
        m = proc.memory_info()
        return int(m.rss - m.shared)

    base = anon()
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], anon())
            time.sleep(0.005)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    spec: list[dict[str, object]] = [{"name": "toy", "files": path, "label": "signal"}]
    if mode == "stream-part":  # the first fifth of the file, same step size
        spec[0]["entry_stop"] = uproot.open(path)["mini"].num_entries // 5
        mode = "stream"
    if mode == "stream":
        ds, _ = build_dataset(spec, features=FEATURES, selection="hgamgam", step_size=step)
        n = len(ds)
    else:  # everything at once: bare uproot arrays() of the same branches
        arr = uproot.open(path)["mini"].arrays(branches.split(","))
        n = len(arr)
    stop.set()
    th.join()
    peak[0] = max(peak[0], anon())
    print(json.dumps({"mode": mode, "peak_mib": (peak[0] - base) / 2**20, "n": n}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=1_000_000, help="events in the toy ntuple")
    p.add_argument("--quick", action="store_true", help="200,000 events")
    p.add_argument("--step", default="100 MB", help="step size of the timed run")
    p.add_argument("--mem-step", default="10 MB", help="step size of the memory run")
    p.add_argument("--repeat", type=int, default=3, help="best of N timings")
    p.add_argument(
        "--compression",
        choices=("zlib", "none"),
        default="zlib",
        help="basket compression of the toy file (zlib level 1 = uproot's default)",
    )
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args()
    _limit_threads()
    if args.child:
        _child(*args.child)
        return
    n = 200_000 if args.quick else args.n

    import uproot

    from hepsift.prepare import build_dataset
    from hepsift.toydata import write_toy_gamgam

    # baskets of 25,000 events (uproot decompresses whole baskets, so memory is bounded by
    # step size + basket size; real ATLAS/CMS files have baskets of a few thousand events)
    cache = Path(tempfile.gettempdir()) / f"hepsift-ingest-{n}-{args.compression}-b25k.root"
    if not cache.exists():
        t0 = time.perf_counter()
        codec = None if args.compression == "none" else args.compression
        write_toy_gamgam(
            cache, n, seed=2024, signal_fraction=0.3, compression=codec, chunk_size=25_000
        )
        print(
            f"wrote {cache} ({cache.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s"
        )
    size_mb = cache.stat().st_size / 1e6
    spec = [{"name": "toy", "files": str(cache), "label": "signal"}]
    _, info = build_dataset(spec, features=FEATURES, selection="hgamgam", step_size=args.step)
    branches = info.branches["toy"]

    def bare() -> int:
        return len(uproot.open(cache)["mini"].arrays(branches))

    def ours() -> int:
        ds, _ = build_dataset(spec, features=FEATURES, selection="hgamgam", step_size=args.step)
        return len(ds)

    def best(fn: object) -> tuple[float, float]:
        """Best wall time and best CPU time (CPU time is robust on a shared machine)."""
        walls, cpus = [], []
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()  # type: ignore[operator]
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        return min(walls), min(cpus)

    (w_bare, c_bare), (w_ours, c_ours) = best(bare), best(ours)
    n_sel = ours()
    print(f"events: {n:,}  file: {size_mb:.0f} MB  branches: {len(branches)}  selected: {n_sel:,}")
    print("                                 wall s    CPU s   M events/s (CPU)")
    print(f"uproot arrays() (bare)         {w_bare:7.3f}  {c_bare:7.3f}   {n / c_bare / 1e6:6.2f}")
    print(f"hepsift read+select+features   {w_ours:7.3f}  {c_ours:7.3f}   {n / c_ours / 1e6:6.2f}")
    print(
        f"RATIO hepsift/bare rate = {c_bare / c_ours:.2f} (CPU time), {w_bare / w_ours:.2f} (wall)"
        "  (target >= 0.5)"
    )
    print(f"RATE  hepsift = {n / c_ours:,.0f} events/s per core (target >= 1,000,000)")

    # glibc keeps freed heap memory (and raises its mmap threshold after large frees), which
    # makes RSS creep with the number of chunks although nothing is retained; fixed thresholds
    # make RSS follow the live memory
    child_env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072", MALLOC_TRIM_THRESHOLD_="131072")

    def peak(mode: str, step: str) -> float:
        out = subprocess.run(
            [sys.executable, __file__, "--child", mode, str(cache), step, ",".join(branches)],
            check=True,
            capture_output=True,
            text=True,
            env=child_env,
        )
        return float(json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"])

    big_step = f"{4 * float(args.mem_step.split()[0]):g} {args.mem_step.split()[1]}"
    part = peak("stream-part", args.mem_step)
    small = peak("stream", args.mem_step)
    large = peak("stream", big_step)
    whole = peak("whole", args.mem_step)
    print(f"peak anonymous RSS above baseline (file {size_mb:.0f} MB on disk, {n:,} events):")
    print(f"  streaming, step {args.mem_step}, first fifth of the file: {part:6.0f} MiB")
    print(f"  streaming, step {args.mem_step}, whole file:              {small:6.0f} MiB")
    print(f"  streaming, step {big_step}, whole file:              {large:6.0f} MiB")
    print(f"  bare uproot arrays() of the whole file (no processing): {whole:6.0f} MiB")
    print(
        f"RATIO streaming peak whole file / first fifth = {small / max(part, 1e-9):.2f} "
        "(bounded by the step size: ~1)"
    )


if __name__ == "__main__":
    main()
