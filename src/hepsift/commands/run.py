"""``hepsift run [CONFIG] [--out DIR] [--scheduler ADDRESS] [--set key=value]`` and ``--list``.

Heavy imports happen inside the command so that ``hepsift --version`` stays instant.
"""

from __future__ import annotations

from typing import Any

import typer

__all__ = ["register"]


def _list(console: Any) -> None:
    from hepsift._yaml import load_yaml_file
    from hepsift.commands._rich import listing
    from hepsift.config import DEFAULT_CONFIG, list_configs
    from hepsift.errors import ConfigError

    rows = []
    for name, path in list_configs().items():
        try:
            desc = str((load_yaml_file(path, "config") or {}).get("description", ""))
        except (ConfigError, AttributeError):
            desc = "(not valid YAML)"
        label = f"{name} (default)" if name == DEFAULT_CONFIG else name
        rows.append((label, desc, str(path)))
    title = "Shipped configs (run: hepsift run NAME)"
    console.print(listing(title, ("name", "description", "file"), rows))


def _ranking_table(result: Any) -> Any:
    import math

    from rich.markup import escape
    from rich.table import Table

    from hepsift.evaluate import ranking

    binary = len(result.metrics.get("classes", [])) == 2
    # config and model names are user text: escaped, so '[bold]x[/' prints as written
    caption = None
    if binary:
        caption = (
            "Z_A on event counts: unit weights, no luminosity (not a physics significance)"
            if result.metrics.get("unit_weights")
            else f"Z_A at {result.config.weights.lumi_fb:g} fb^-1"
        )
    table = Table(
        title=f"Which model is best? ({escape(result.config.name)}, test split)", caption=caption
    )
    table.add_column("#", justify="right")
    table.add_column("model", style="bold", no_wrap=True)
    table.add_column("family")
    table.add_column("AUC [68 % CI]", justify="right", no_wrap=True)
    if binary:
        table.add_column("1/eps_b@50%", justify="right")
        table.add_column("Z_A", justify="right")
    table.add_column("KS p", justify="right")
    for i, ev in enumerate(ranking(result.evaluations), start=1):
        low, high = ev.auc_ci68
        ks = min((r.pvalue for r in ev.ks.values()), default=float("nan"))
        ks_text = f"{ks:.3g}" + (" [red]![/red]" if ks < ev.extra.get("ks_alpha", 0.05) else "")
        row = [str(i), escape(ev.name), ev.family, f"{ev.auc:.4f} [{low:.4f}, {high:.4f}]"]
        if binary:
            rej = ev.rejection_at(0.5)
            z = (ev.best_cut or {}).get("z", float("nan"))
            row += [
                f"{rej:.3g}" if math.isfinite(rej) else "inf",
                f"{z:.3g}" if isinstance(z, float) and math.isfinite(z) else "–",
            ]
        row.append(ks_text)
        table.add_row(*row)
    return table


def _calibration_table(result: Any) -> Any:
    """Response and resolution (sigma_68 of reco/true) before and after each regressor."""
    from rich.table import Table

    doc = result.metrics
    table = Table(title=f"Calibration of {doc['target']} ({result.config.name}, test split)")
    for col in ("calibration", "response (median)", "sigma_68", "before / after"):
        table.add_column(col, justify="left" if col == "calibration" else "right")
    before = doc["before"]
    table.add_row(doc["reference"], f"{before['median']:.4f}", f"{before['sigma68']:.4f}", "")
    for name, m in doc["models"].items():
        a = m["after"]
        table.add_row(name, f"{a['median']:.4f}", f"{a['sigma68']:.4f}", f"{m['improvement']:.3f}")
    return table


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_command(
        config: str | None = typer.Argument(
            None, help="Shipped config name (see --list) or YAML path; default: higgs-diphoton."
        ),
        out: str | None = typer.Option(
            None, "--out", "-o", help="Folder that receives the run folder (default: runs/)."
        ),
        scheduler: str | None = typer.Option(
            None,
            "--scheduler",
            help="Dask cluster for generation and ROOT reading: local:N, tcp://HOST:PORT or a "
            "scheduler JSON file.",
        ),
        overrides: list[str] | None = typer.Option(
            None, "--set", help="Override a config value: key.path=value (repeatable)."
        ),
        list_: bool = typer.Option(False, "--list", help="List the shipped configs and exit."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Only print the final table."),
    ) -> None:
        """Run a config end to end: data, features, models, evaluation, plots and report."""
        from hepsift.commands._rich import interactive, make_console

        console = make_console()
        if list_:
            _list(console)
            return
        from rich.markup import escape

        from hepsift._interrupt import checkpoint, stop_on_sigint
        from hepsift.cluster import open_cluster
        from hepsift.commands._checks import check_out, check_scheduler
        from hepsift.run import run

        check_out(out)
        check_scheduler(scheduler)

        def log(message: str) -> None:
            checkpoint()  # every step boundary: a swallowed Ctrl-C stops the run here
            if not quiet:
                console.print(f"[dim]hepsift run:[/dim] {escape(message)}")

        with stop_on_sigint(), open_cluster(scheduler) as cluster:
            result = run(
                config,
                overrides=overrides or (),
                out=out,
                scheduler=None if cluster is None else cluster.address,
                log=log,
                progress=not quiet and interactive(console),
            )
        regression = result.metrics.get("task") == "regression"
        console.print(_calibration_table(result) if regression else _ranking_table(result))
        low = (result.metrics.get("low_statistics") or {}).get("message")
        if low:
            console.print(f"[bold yellow]warning:[/bold yellow] {escape(low)}")
        console.print(f"report: [bold]{escape(str(result.report))}[/bold]")
