"""``hepsift generate``: Pythia 8 + detector model + FastJet -> ROOT ntuples / tables.

    hepsift generate higgs-diphoton --events 2000 --out data/hgg --workers 2
    hepsift generate resonance-ttbar --events 1000 --out data/zp --masses 500,1000,1500
    hepsift generate --list

``--events`` is the number of Pythia events generated PER SAMPLE. Heavy imports happen inside
the command so that the CLI starts at once.
"""

from __future__ import annotations

import typer

__all__ = ["register"]


def _print_list() -> None:
    from rich.markup import escape
    from rich.table import Table

    from hepsift.commands._rich import make_console
    from hepsift.generate.scenarios import SCENARIOS, samples_for

    console = make_console(highlight=True)
    for name, sc in SCENARIOS.items():
        table = Table(title=f"[bold]{name}[/bold]: {sc.description}", title_justify="left")
        for col in ("sample", "channelNumber", "class", "Pythia processes"):
            table.add_column(col)
        for s in samples_for(name):
            procs = ", ".join(x.split(" = ")[0] for x in s.settings if x.endswith("= on"))
            if s.parton_model is not None:
                procs = f"LHEF of hepsift's {s.parton_model} model (hepsift.generate.bsm)"
            table.add_row(
                s.name, str(s.channel_number), "signal" if s.is_signal else "background", procs
            )
        console.print(table)
        console.print(
            escape(f"  outputs: {sc.outputs}; manifest.json; --images: <sample>.images.npz\n")
        )


def register(app: typer.Typer) -> None:
    """Add the ``generate`` command to ``app``."""

    @app.command("generate")
    def generate_cmd(
        scenario: str | None = typer.Argument(
            None, help="photon-id, higgs-diphoton, resonance-ttbar or multijet-bsm"
        ),
        events: int | None = typer.Option(
            None, "--events", "-n", help="Pythia events generated PER SAMPLE"
        ),
        out: str | None = typer.Option(None, "--out", "-o", help="output folder"),
        seed: int = typer.Option(0, "--seed", help="random seed (same seed, same files)"),
        workers: int = typer.Option(1, "--workers", "-j", help="parallel worker processes"),
        images: bool = typer.Option(False, "--images", help="also write 3x50x50 event images"),
        masses: str | None = typer.Option(
            None, "--masses", help="resonance-ttbar: Z' masses in GeV, e.g. 500,750,1000"
        ),
        scheduler: str | None = typer.Option(
            None,
            "--scheduler",
            help="Dask cluster to run chunks on: local:N, tcp://HOST:PORT or a scheduler JSON file",
        ),
        chunk_size: int = typer.Option(500, "--chunk-size", help="events per chunk"),
        samples: str | None = typer.Option(
            None, "--samples", help="only these samples, e.g. ggF,VBF (default: all)"
        ),
        validate: bool = typer.Option(
            False, "--validate", help="write validation plots to OUT/validation/"
        ),
        list_: bool = typer.Option(False, "--list", help="describe the scenarios and exit"),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
    ) -> None:
        """Generate a scenario's Monte Carlo samples (N events per sample) into OUT."""
        if list_:
            _print_list()
            return
        from hepsift.errors import ConfigError
        from hepsift.generate.scenarios import SCENARIOS

        if scenario is None:
            raise ConfigError(f"give a SCENARIO ({', '.join(SCENARIOS)}) or --list")
        if events is None:
            raise ConfigError("--events N is required (Pythia events per sample)")
        if out is None:
            raise ConfigError("--out DIR is required (output folder)")
        from hepsift.commands._checks import check_events, check_out, check_scheduler

        check_events(events)
        check_out(out)
        check_scheduler(scheduler)
        from hepsift._interrupt import stop_on_sigint
        from hepsift.cluster import open_cluster
        from hepsift.commands._rich import interactive, make_console
        from hepsift.generate import generate

        console = make_console(highlight=True, soft_wrap=True)

        # a Ctrl-C that Python swallowed (weakref callback) still ends with exit 130
        with stop_on_sigint(), open_cluster(scheduler) as cluster:
            manifest = generate(
                scenario,
                events=events,
                out=out,
                seed=seed,
                workers=workers,
                images=images,
                masses=masses,
                scheduler=None if cluster is None else cluster.client,
                progress=not quiet and interactive(console),
                chunk_size=chunk_size,
                samples=None if samples is None else [x.strip() for x in samples.split(",")],
            )
        for s in manifest["samples"]:
            console.print(
                f"{s['name']:<16} generated {s['events_generated']:>7}  accepted "
                f"{s['events_accepted']:>7}  sigma = {s['xsection_pb']:.4g} pb  -> {s['file']}"
            )
        console.print(f"manifest: {out}/manifest.json")
        if validate:
            from hepsift.generate.validate import figure_lines, validation_figures, validation_plots

            for path in validation_plots(out):
                console.print(f"plot: {path}")
            for line in figure_lines(validation_figures(out)):
                console.print(line, markup=False)
