"""``hepsift plot datamc RUN_DIR --data scores.parquet``: data/MC comparison figures."""

from __future__ import annotations

import typer

__all__ = ["register"]


def _ranges(items: list[str]) -> dict[str, tuple[float, float]]:
    from hepsift.errors import ConfigError

    out = {}
    for item in items:
        parts = item.split(":")
        try:
            out[parts[0]] = (float(parts[1]), float(parts[2]))
        except (IndexError, ValueError):
            raise ConfigError(
                f"--blind takes VAR:LO:HI (e.g. m_gg:120:130); got '{item}'"
            ) from None
    return out


def register(app: typer.Typer) -> None:
    plot = typer.Typer(help="Figures from finished runs.", no_args_is_help=True)
    app.add_typer(plot, name="plot")

    @plot.command("datamc")
    def datamc_command(
        run_dir: str = typer.Argument(..., help="A finished run folder made with fit.enabled."),
        data: str = typer.Option(..., "--data", help="Parquet file written by hepsift apply."),
        var: list[str] | None = typer.Option(None, "--var", help="Variable (repeatable)."),
        out: str = typer.Option("datamc", "--out", "-o", help="Folder for the figures."),
        blind: list[str] | None = typer.Option(None, "--blind", help="VAR:LO:HI hidden in data."),
        unblind: bool = typer.Option(False, "--unblind", help="Show data everywhere."),
        bins: int = typer.Option(20, "--bins", help="Number of bins."),
    ) -> None:
        """Stacked simulation vs data with ratio, chi2/ndf and KS p-value (scores blinded
        above 0.8 unless --unblind)."""
        from hepsift.apply import plot_datamc

        written = plot_datamc(
            run_dir, data, variables=var or (), out=out, blind=_ranges(blind or []),
            unblind=unblind, bins=bins,
        )  # fmt: skip
        for name, path in written.items():
            typer.echo(f"{name}: {path}")
