"""``hepsift study images``: a CNN on event images against BDT / MLP on low- and high-level
tables, over several seeds, beside the seed's accuracies (:mod:`hepsift.studies.images`).

``hepsift study images [CONFIG] --seeds 3 --out DIR`` reads (or generates into the config's
cache) the config's data with their images, trains every model of the comparison once per seed
and writes ``images-study.json`` and ``mean-images.png`` into ``--out``, then prints the table.
Heavy imports happen inside the command so that ``hepsift --version`` stays instant.
"""

from __future__ import annotations

from typing import Any

import typer

__all__ = ["register"]

_OUT_KIND = "images-study"


def _out_files() -> dict[str, Any]:
    from hepsift._outputs import json_with

    return {"images-study.json": json_with("models"), "mean-images.png": None}


def register(study: typer.Typer) -> None:
    """Add ``images`` to the ``study`` command group (:mod:`hepsift.commands.study`)."""

    @study.command("images")
    def images_command(
        config: str = typer.Argument("multijet-images", help="Run config (name or YAML)."),
        seeds: int = typer.Option(3, "--seeds", help="Seeds (splits and model seeds) 0..N-1."),
        events: int | None = typer.Option(None, "--events", help="Pythia events per sample."),
        max_events: int | None = typer.Option(
            None, "--max-events", help="Use a seeded random subset of this many events."
        ),
        bootstrap: int = typer.Option(200, "--bootstrap", help="Bootstrap resamples."),
        out: str = typer.Option("images-study", "--out", help="Folder for the results."),
        force: bool = typer.Option(
            False, "--force", help="Write into --out even if it holds files hepsift did not write."
        ),
        overrides: list[str] | None = typer.Option(
            None, "--set", help="Override a config value: key.path=value (repeatable)."
        ),
    ) -> None:
        """CNN on images vs BDT / MLP on the low- and high-level tables, over seeds."""
        from hepsift.commands._checks import check_count, check_events, check_out

        check_count(seeds, "--seeds")
        check_count(bootstrap, "--bootstrap", minimum=0)
        check_count(max_events, "--max-events")
        check_events(events)
        check_out(out)
        _run(config, seeds, events, max_events, bootstrap, out, force, overrides or [])


def _run(
    config: str,
    seeds: int,
    events: int | None,
    max_events: int | None,
    bootstrap: int,
    out: str,
    force: bool,
    overrides: list[str],
) -> None:
    import numpy as np

    from hepsift._files import atomic_write_json
    from hepsift._outputs import check_output_dir, claim_output_dir
    from hepsift.commands._rich import make_console
    from hepsift.config import load_config
    from hepsift.prepare import prepare_data
    from hepsift.studies.images import compare, format_table

    console = make_console()

    def log(message: str) -> None:
        console.print(f"[dim]hepsift study images:[/dim] {message}")

    check_output_dir(out, kind=_OUT_KIND, owned=_out_files(), force=force)
    extra = [f"data.events={events}"] if events is not None else []
    cfg = load_config(config, overrides=[*extra, *overrides])
    ds = prepare_data(cfg, log=log, images=True).dataset
    if max_events is not None and max_events < len(ds):
        keep = np.sort(np.random.default_rng(cfg.seed).choice(len(ds), max_events, replace=False))
        ds = ds.subset(keep)
    models = [(m.name, m.family, m.params) for m in cfg.models]
    result = compare(ds, models, seeds=range(seeds), bootstrap=bootstrap, log=log)
    folder = claim_output_dir(out, kind=_OUT_KIND, owned=_out_files(), force=force)
    atomic_write_json(folder / "images-study.json", {"config": cfg.name, **result})
    _figure(ds, folder / "mean-images.png")
    console.print(format_table(result), markup=False, highlight=False)
    log(f"wrote {folder / 'images-study.json'} and {folder / 'mean-images.png'}")


def _figure(ds: Any, path: Any) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hepsift._files import atomic_write_with
    from hepsift.plots.images import plot_mean_images

    drawn = plot_mean_images(ds.images, ds.y, ds.class_names)
    atomic_write_with(path, lambda tmp: drawn["figure"].savefig(tmp, format="png", dpi=90))
    plt.close(drawn["figure"])
