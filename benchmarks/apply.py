"""Apply benchmark: ``hepsift apply`` throughput against the ingest step it is built on.

Trains a small run (BDT and MLP on the ingest benchmark's ten features, hgamgam selection) on
small toy ntuples, writes a larger toy ntuple in the same layout, then times in the same run,
on one core (CPU time, best of ``--repeat``):

- ingest: ``build_dataset`` = chunked read + selection + features (the ingest benchmark's
  hepsift measurement);
- apply: :func:`hepsift.apply.apply` with the BDT, and with the MLP: the same read + selection
  + features, the saved model's scores, and the Parquet file written.

Prints events/s and the ratio apply / ingest per model (target >= 0.5).

    python benchmarks/apply.py              # 500,000 events
    python benchmarks/apply.py --n 100000 --repeat 1
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

FEATURES = ["photon_pt_0", "photon_pt_1", "photon_eta_0", "photon_eta_1", "m_gg", "ptt_gg",
            "costhetastar_gg", "jet_n", "ht", "m_jj"]  # fmt: skip


def _train(folder: Path) -> Path:
    from hepsift.run import run
    from hepsift.toydata import write_toy_gamgam

    sig, bkg = folder / "sig.root", folder / "bkg.root"
    write_toy_gamgam(sig, 3000, seed=1, signal_fraction=1.0, xsection_pb=0.1)
    write_toy_gamgam(bkg, 20000, seed=2, signal_fraction=0.0, channel_number=900001)
    cfg = {
        "name": "apply-bench",
        "data": {"samples": [{"name": "sig", "paths": [str(sig)]},
                             {"name": "bkg", "paths": [str(bkg)]}]},
        "selection": {"preset": "hgamgam"},
        "features": FEATURES,
        "task": {"type": "binary", "classes": {"background": ["bkg"], "signal": ["sig"]}},
        "models": [
            {"name": "bdt", "family": "bdt", "params": {"n_estimators": 100, "max_depth": 4,
                                                         "n_jobs": 1}},
            {"name": "mlp", "family": "mlp", "params": {"hidden": [64, 64], "epochs": 3,
                                                         "num_threads": 1}},
        ],
        "evaluation": {"bootstrap": 0, "importance": False},
        "output": {"formats": ["png"], "onnx": False},
    }  # fmt: skip
    return run(cfg, out=folder / "runs").path


def _cpu(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        c0 = time.process_time()
        fn()
        best = min(best, time.process_time() - c0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500_000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")

    from hepsift.apply import apply
    from hepsift.prepare import build_dataset
    from hepsift.toydata import write_toy_gamgam

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        run_dir = _train(folder)
        big = folder / "big.root"
        write_toy_gamgam(big, args.n, seed=2024, signal_fraction=0.3, chunk_size=25_000)
        spec = [{"name": "big", "files": str(big), "label": "signal"}]
        t_ingest = _cpu(
            lambda: build_dataset(spec, features=FEATURES, selection="hgamgam"), args.repeat
        )
        print(f"events: {args.n:,}")
        print(
            f"ingest (read+select+features): {t_ingest:7.3f} s CPU  {args.n / t_ingest:,.0f} ev/s"
        )
        for model in ("bdt", "mlp"):
            out = folder / f"{model}.parquet"
            t = _cpu(lambda m=model, o=out: apply(run_dir, [big], out=o, models=[m]), args.repeat)
            print(
                f"apply {model:<4} (+ scores + parquet): {t:7.3f} s CPU  {args.n / t:,.0f} ev/s"
                f"  RATIO apply/ingest = {t_ingest / t:.2f} (target >= 0.5)"
            )


if __name__ == "__main__":
    main()
