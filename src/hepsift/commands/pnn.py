"""``hepsift pnn study``: parametric network vs dedicated networks, mechanisms, interpolation.

One data source per call:

- ``hepsift pnn study CONFIG`` — a run config (shipped name or YAML) whose data carry a mass
  (``param_branch: mass``); its ``study:`` section (``masses_gev``, ``params``) sets defaults;
- ``hepsift pnn study --data FILE [--data FILE ...]`` — UCI HEPMASS / HEPMASS-IMB CSV files
  (``# label,f0,...,f26,mass``) or the generator's ``resonance-ttbar.parquet``;
- ``hepsift pnn study --generate --masses 500,750,1000,1250,1500 --events 6000`` — runs the
  ``resonance-ttbar`` generator into ``--cache`` (reused on the next call);
- ``hepsift pnn study --toy`` — a synthetic toy for trying the command (not physics).

Writes ``pnn-study.json`` and PNG figures into ``--out`` and prints rich tables. Heavy imports
happen inside the command so that ``hepsift --version`` stays instant.
"""

from __future__ import annotations

from typing import Any

import typer

__all__ = ["register"]

#: where the command departs from the defaults of :func:`hepsift.studies.pnn.study`
_DEFAULTS: dict[str, Any] = {"timing": True}
_QUICK = {"epochs": 8, "patience": 3, "hidden": (32, 32)}
#: the marker kind of a study's --out folder (see hepsift._outputs)
_OUT_KIND = "pnn-study"


def _out_files() -> dict[str, Any]:
    """What the study writes into --out, with the test that an existing one is its own."""
    from hepsift._outputs import json_with
    from hepsift.report.studies import PNN_FIGURES

    return {"pnn-study.json": json_with("files"), **{f"{f}.png": None for f in PNN_FIGURES}}


def _floats(text: str, what: str) -> list[float]:
    import math

    from hepsift.errors import ConfigError

    out = []
    for item in text.split(","):
        try:
            value = float(item.strip())
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ConfigError(f"{what}: {item[:40]!r} is not a number (e.g. 500,750,1000)")
        out.append(value)
    return out


def _check_counts(counts: dict[str, int | None], *, events: int, out: str, cache: str) -> None:
    """The integer options are >= 1 (--events also <= the generation cap); paths not empty."""
    from hepsift.commands._checks import check_count, check_events, check_out

    for option, value in counts.items():
        check_count(value, option)
    check_events(events)
    check_out(out)
    check_out(cache, "--cache")


def _words(text: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in text.split(",") if w.strip())


def _load(
    config: str | None,
    data: list[str] | None,
    generate: bool,
    toy: bool,
    *,
    masses: list[float] | None,
    events: int,
    cache: str,
    max_events: int | None,
    entry_stop: int | None,
    seed: int,
    overrides: list[str],
    log: Any,
) -> tuple[Any, dict[str, Any], list[float] | None, int]:
    """(dataset, study params from a config, masses, seed)."""
    from hepsift.errors import ConfigError

    given = [
        n
        for n, v in (("CONFIG", config), ("--data", data), ("--generate", generate), ("--toy", toy))
        if v
    ]
    if len(given) != 1:
        raise ConfigError(
            "pnn study needs exactly one data source: CONFIG, --data FILE, --generate or --toy"
            + (f" (got {', '.join(given)})" if given else "")
        )
    from hepsift.studies import pnn as pnn_study

    if config:
        from hepsift.config import load_config
        from hepsift.prepare import prepare_data

        cfg = load_config(config, overrides=overrides)
        log(f"preparing the data of config '{cfg.name}'")
        ds = prepare_data(cfg, log=log).dataset
        params: dict[str, Any] = {}
        cfg_masses: list[float] | None = None
        if cfg.study is not None:
            params = dict(cfg.study.params)
            cfg_masses = list(cfg.study.masses_gev) or None
        return ds, params, masses or cfg_masses, cfg.seed if seed < 0 else seed
    seed = max(seed, 0)
    if data:
        log(f"reading {', '.join(data)}")
        ds = pnn_study.load_dataset(data, max_events=max_events, entry_stop=entry_stop, seed=seed)
    elif generate:
        ms = masses or [500.0, 750.0, 1000.0, 1250.0, 1500.0]
        log(f"resonance-ttbar at {ms} GeV, {events} events per sample (cache {cache})")
        ds = pnn_study.generate_dataset(ms, events=events, cache=cache, seed=seed)
    else:
        ms = masses or [500.0, 750.0, 1000.0, 1250.0, 1500.0]
        log("[red]toy data: for trying the command only, not physics[/red]")
        ds = pnn_study.toy_dataset(ms, events_per_mass=1000, seed=seed)
    if max_events is not None and len(ds) > max_events and not data:
        from hepsift.dataset import split_indices

        frac = max_events / len(ds)
        keep, _ = split_indices(len(ds), (frac, 1.0 - frac), seed=seed, y=ds.y)
        ds = ds.subset(keep)
    return ds, {}, masses, seed


def register(app: typer.Typer) -> None:
    """Add the ``pnn`` command group (``hepsift pnn study``) to ``app``."""
    pnn = typer.Typer(
        name="pnn",
        help="Parametric neural networks: a pNN against dedicated per-mass networks.",
        no_args_is_help=True,
    )
    app.add_typer(pnn, name="pnn")

    @pnn.command("study")
    def study_command(
        config: str | None = typer.Argument(
            None, help="Run config (name or YAML) whose data carry a mass (param_branch: mass)."
        ),
        data: list[str] | None = typer.Option(
            None, "--data", help="HEPMASS / HEPMASS-IMB CSV or resonance-ttbar Parquet file."
        ),
        generate: bool = typer.Option(
            False, "--generate", help="Generate resonance-ttbar (cached in --cache)."
        ),
        toy: bool = typer.Option(False, "--toy", help="Synthetic toy data (not physics)."),
        masses: str | None = typer.Option(
            None, "--masses", help="Mass hypotheses in GeV, e.g. 500,750,1000,1250,1500."
        ),
        events: int = typer.Option(6000, "--events", help="--generate: Pythia events/sample."),
        cache: str = typer.Option("/tmp/pnn-data", "--cache", help="--generate: cache folder."),
        max_events: int | None = typer.Option(
            None, "--max-events", help="Use a seeded random subset of this many events."
        ),
        entry_stop: int | None = typer.Option(
            None, "--entry-stop", help="--data: read only the first N rows of the files."
        ),
        out: str = typer.Option("pnn-study", "--out", "-o", help="Output folder (JSON + PNG)."),
        mechanism: str | None = typer.Option(
            None, "--mechanism", help="pNN for interpolation/timing: concat|bias|scale|affine."
        ),
        policy: str | None = typer.Option(
            None, "--policy", help="Background-mass policy: uniform|identical|given."
        ),
        mechanisms: str | None = typer.Option(
            None, "--mechanisms", help="Mechanisms compared, e.g. concat,affine."
        ),
        policies: str | None = typer.Option(
            None, "--policies", help="Policies compared, e.g. uniform,identical."
        ),
        holdout: str | None = typer.Option(
            None, "--holdout", help="Held-out masses: interior|all|none or e.g. 1000,1250."
        ),
        epochs: int | None = typer.Option(None, "--epochs", help="Maximum epochs per network."),
        patience: int | None = typer.Option(None, "--patience", help="Early-stopping patience."),
        hidden: str | None = typer.Option(None, "--hidden", help="Hidden widths, e.g. 64,64."),
        batch_size: int | None = typer.Option(None, "--batch-size", help="Mini-batch size."),
        threads: int | None = typer.Option(None, "--threads", help="torch threads per fit."),
        timing: bool | None = typer.Option(
            None, "--timing/--no-timing", help="Time a pNN fit against one dedicated fit."
        ),
        seed: int = typer.Option(-1, "--seed", help="Seed (default: the config's, else 0)."),
        quick: bool = typer.Option(False, "--quick", help="Few epochs, small networks."),
        force: bool = typer.Option(
            False, "--force", help="Write into --out even if it holds files hepsift did not write."
        ),
        overrides: list[str] | None = typer.Option(
            None, "--set", help="Override a config value: key.path=value (repeatable)."
        ),
    ) -> None:
        """Compare a pNN with dedicated per-mass networks; mechanisms, policies, interpolation."""
        from hepsift._outputs import check_output_dir, claim_output_dir, unwritable
        from hepsift.commands._rich import make_console
        from hepsift.report.studies import pnn_tables, write_pnn_study
        from hepsift.studies import pnn as pnn_study

        console = make_console()

        def log(message: str) -> None:
            console.print(f"[dim]hepsift pnn:[/dim] {message}")

        counts = {
            "--max-events": max_events,
            "--entry-stop": entry_stop,
            "--epochs": epochs,
            "--batch-size": batch_size,
            "--threads": threads,
        }
        _check_counts(counts, events=events, out=out, cache=cache)
        check_output_dir(out, kind=_OUT_KIND, owned=_out_files(), force=force)
        mass_list = _floats(masses, "--masses") if masses else None
        ds, cfg_params, mass_list, seed_used = _load(
            config,
            data,
            generate,
            toy,
            masses=mass_list,
            events=events,
            cache=cache,
            max_events=max_events,
            entry_stop=entry_stop,
            seed=seed,
            overrides=overrides or [],
            log=log,
        )
        kwargs: dict[str, Any] = dict(_DEFAULTS)
        if quick:
            kwargs.update(_QUICK)
        kwargs.update(cfg_params)  # study.params: load_config checked them against study()
        cli: dict[str, Any] = {
            "mechanism": mechanism,
            "policy": policy,
            "mechanisms": _words(mechanisms) if mechanisms else None,
            "policies": _words(policies) if policies else None,
            "epochs": epochs,
            "patience": patience,
            "hidden": tuple(int(h) for h in _floats(hidden, "--hidden")) if hidden else None,
            "batch_size": batch_size,
            "num_threads": threads,
            "timing": timing,
        }
        if holdout is not None:
            cli["holdout"] = (
                holdout if holdout in ("interior", "all", "none") else _floats(holdout, "--holdout")
            )
        kwargs.update({k: v for k, v in cli.items() if v is not None})
        log(f"{ds!r}; writing into {out}")
        result = pnn_study.study(ds, masses=mass_list, seed=seed_used, log=log, **kwargs)
        folder = claim_output_dir(out, kind=_OUT_KIND, owned=_out_files(), force=force)
        try:
            result["files"] = write_pnn_study(result, folder)
        except OSError as exc:
            raise unwritable(exc, folder, "--out") from None
        for table in pnn_tables(result):
            console.print(table)
        for name, path in result.get("files", {}).items():
            console.print(f"{name}: [bold]{path}[/bold]")
