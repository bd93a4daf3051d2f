"""Benchmark: the parametric NN against dedicated per-mass networks (the study's targets).

Data: generated ``resonance-ttbar`` (Z' -> t tbar at 500, 750, 1000, 1250, 1500 GeV vs SM
t tbar; ``--events`` Pythia events per sample, cached under ``--cache`` and reused), or
``--data FILE`` (UCI HEPMASS / HEPMASS-IMB CSV or a resonance-ttbar Parquet), or ``--toy`` (a
synthetic toy for development only: its numbers are not physics).

Prints, all measured in the same run on the test split:

- per held-out interior mass: AUC of a pNN trained WITHOUT that mass vs the AUC of the
  dedicated network trained AT that mass (target: pNN >= dedicated - 0.01);
- mean AUC over masses of the ``affine`` and ``concat`` pNNs, per background-mass policy
  (target: affine >= concat; reported whichever way it goes);
- time of one pNN fit / time of one dedicated-architecture fit on the same (all) training
  events, same epochs, no early stopping (target <= 1.5), wall clock and CPU time.

    .venv/bin/python benchmarks/pnn.py                 # all 4 mechanisms x 2 policies
    .venv/bin/python benchmarks/pnn.py --quick         # concat + affine, uniform, fewer epochs
    .venv/bin/python benchmarks/pnn.py --data HEPMASS/1000_test.csv.gz --max-events 100000
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", help="HEPMASS-layout CSV / Parquet file")
    parser.add_argument("--toy", action="store_true", help="synthetic toy (not physics)")
    parser.add_argument("--events", type=int, default=6000, help="Pythia events per sample")
    parser.add_argument("--cache", default="/tmp/pnn-data", help="generated-data cache folder")
    parser.add_argument("--masses", default="500,750,1000,1250,1500", help="GeV")
    parser.add_argument("--max-events", type=int, default=None, help="subsample the data")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--hidden", default="64,64")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per fit")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--seeds", default=None, help="several study seeds, e.g. 1,2,3")
    parser.add_argument("--timing-epochs", type=int, default=8, help="epochs of the timed fits")
    parser.add_argument("--timing-repeats", type=int, default=3, help="timed fits, median kept")
    parser.add_argument("--out", default=None, help="also write JSON + PNG here")
    parser.add_argument("--quick", action="store_true", help="concat+affine, uniform, 12 epochs")
    args = parser.parse_args()

    from hepsift.studies import pnn as pnn_study

    masses = [float(m) for m in args.masses.split(",")]
    t0 = time.perf_counter()
    if args.data:
        ds = pnn_study.load_dataset(args.data, max_events=args.max_events, seed=args.seed)
        source = ", ".join(args.data)
    elif args.toy:
        ds = pnn_study.toy_dataset(masses, events_per_mass=2000, seed=args.seed)
        source = "TOY (synthetic, not physics)"
    else:
        ds = pnn_study.generate_dataset(
            masses, events=args.events, cache=args.cache, seed=args.seed, workers=2
        )
        source = f"generated resonance-ttbar, {args.events} Pythia events/sample ({args.cache})"
    if args.max_events is not None and len(ds) > args.max_events and not args.data:
        from hepsift.dataset import split_indices

        frac = args.max_events / len(ds)
        keep, _ = split_indices(len(ds), (frac, 1 - frac), seed=args.seed, y=ds.y)
        ds = ds.subset(keep)
    print(f"data: {source}: {ds!r} (read in {time.perf_counter() - t0:.1f} s)")

    seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else [args.seed]
    results = []
    for i, seed in enumerate(seeds):
        out = args.out if i == 0 else None
        print(f"\n=== study seed {seed} (split, assignment, initialisation) ===")
        results.append(run_one(ds, args, masses, seed, out))
    if len(results) > 1:
        summarise(results, seeds)


def run_one(ds: Any, args: argparse.Namespace, masses: list[float], seed: int, out: Any) -> Any:
    """One study with ``seed``; prints its figures and returns the result dict."""
    from hepsift.report.studies import write_pnn_study
    from hepsift.studies import pnn as pnn_study

    quick = args.quick
    t0 = time.perf_counter()
    result = pnn_study.study(
        ds,
        masses=masses if not args.data else None,
        seed=seed,
        mechanism="affine",
        policy="uniform",
        mechanisms=("concat", "affine") if quick else ("concat", "bias", "scale", "affine"),
        policies=("uniform",) if quick else ("uniform", "identical"),
        holdout="interior",
        timing=True,
        timing_epochs=3 if quick else args.timing_epochs,
        timing_repeats=1 if quick else args.timing_repeats,
        hidden=tuple(int(h) for h in args.hidden.split(",")),
        epochs=12 if quick else args.epochs,
        patience=3 if quick else args.patience,
        batch_size=args.batch_size,
        dropout=args.dropout,
        num_threads=args.threads,
        log=lambda msg: print(f"  {msg}", flush=True),
    )
    if out is not None:
        result["files"] = write_pnn_study(result, out)
    elapsed = time.perf_counter() - t0
    d = result["data"]
    print(
        f"\nsplit: train {d['train']}, validation {d['validation']}, test {d['test']} events; "
        f"signal per mass (train) {d['signal_per_mass_train']}, background {d['background_train']}"
    )

    print("\n1) interpolation: pNN (affine, uniform) trained WITHOUT the mass vs dedicated AT it")
    print(
        f"   {'mass':>6} {'pNN held-out':>13} {'pNN all':>9} {'dedicated':>10} "
        f"{'delta +- paired bootstrap err':>30}  ok"
    )
    for m, h in result["interpolation"]["held_out"].items():
        ok = h["delta_vs_dedicated"] >= -0.01
        err = h.get("delta_err", math.nan)
        print(
            f"   {m:>6} {h['auc']:13.4f} {h['auc_trained']:9.4f} {h['auc_dedicated']:10.4f} "
            f"{h['delta_vs_dedicated']:+22.4f} +- {err:.4f}  {'yes' if ok else 'NO'}"
        )
    print("\n2) mechanisms: mean AUC over masses (test split); dedicated networks for reference")
    print(f"   dedicated            mean AUC {result['dedicated']['mean_auc']:.4f}")
    errs = [v.get("auc_err", math.nan) for v in result["dedicated"]["per_mass"].values()]
    print(f"   (per-mass AUC bootstrap errors of the dedicated networks: {np.round(errs, 4)})")
    for key, v in result["pnn"].items():
        print(
            f"   {key:<20} mean AUC {v['mean_auc']:.4f}  mean rej@50% "
            f"{v['mean_rejection50']:8.1f}  fit {v['seconds']:5.1f} s ({v['epochs_run']} epochs)"
        )
    for key, val in result["targets"].items():
        if key.startswith("affine_minus_concat"):
            print(f"   affine - concat ({key.split('/')[1]}): {val:+.4f}  (target >= 0)")
    t = result["timing"]
    print(
        f"\n3) cost: pNN fit / dedicated fit on the same {t['events']} events, {t['epochs']} "
        f"epochs, median of {t['repeats']}:"
    )
    print(
        f"   wall {t['pnn_seconds']:.2f} s / {t['dedicated_seconds']:.2f} s = RATIO "
        f"{t['ratio']:.2f} (target <= 1.5)"
    )
    print(
        f"   CPU  {t['pnn_cpu_seconds']:.2f} s / {t['dedicated_cpu_seconds']:.2f} s = RATIO "
        f"{t['cpu_ratio']:.2f}"
    )
    tg = result["targets"]
    worst = tg.get("interpolation_min_delta_auc", math.nan)
    print(
        f"\nsummary: interpolation worst delta {worst:+.4f} "
        f"({'met' if tg.get('interpolation_ok') else 'NOT met'}); time ratio {t['ratio']:.2f} "
        f"({'met' if tg['timing_ok'] else 'NOT met'}); study took {elapsed:.0f} s"
    )
    if "files" in result:
        print(f"files: {result['files']}")

    return result


def summarise(results: list[Any], seeds: list[int]) -> None:
    """Mean and spread over the seeds of the three target figures."""
    print(f"\n=== over {len(seeds)} seeds {seeds}: mean +- std (min) ===")
    masses = list(results[0]["interpolation"]["held_out"])
    for m in masses:
        d = np.array([r["interpolation"]["held_out"][m]["delta_vs_dedicated"] for r in results])
        print(
            f"   interpolation {m:>5} GeV: held-out - dedicated AUC {d.mean():+.4f} +- "
            f"{d.std(ddof=1):.4f} (worst {d.min():+.4f}; target >= -0.01)"
        )
    for key in results[0]["pnn"]:
        a = np.array([r["pnn"][key]["mean_auc"] for r in results])
        print(f"   {key:<20} mean AUC {a.mean():.4f} +- {a.std(ddof=1):.4f}")
    ded = np.array([r["dedicated"]["mean_auc"] for r in results])
    print(f"   {'dedicated':<20} mean AUC {ded.mean():.4f} +- {ded.std(ddof=1):.4f}")
    for key in results[0]["targets"]:
        if key.startswith("affine_minus_concat"):
            v = np.array([r["targets"][key] for r in results])
            print(
                f"   affine - concat ({key.split('/')[1]}): {v.mean():+.4f} +- "
                f"{v.std(ddof=1):.4f} (positive in {int(np.sum(v > 0))}/{v.size} seeds)"
            )
    t = np.array([r["timing"]["ratio"] for r in results])
    c = np.array([r["timing"]["cpu_ratio"] for r in results])
    print(
        f"   time RATIO pNN / dedicated: wall {np.median(t):.2f} (median; range "
        f"{t.min():.2f}-{t.max():.2f}), CPU {np.median(c):.2f} (target <= 1.5)"
    )


if __name__ == "__main__":
    main()
