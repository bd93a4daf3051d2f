"""Optional extras: the packages a core install lacks, and the one error that names them.

A core install (``pip install hepsift``) reads ntuples and tables, trains and evaluates the
NumPy, scikit-learn and XGBoost families and writes reports. Two extras add the rest:

* ``generate``: Monte Carlo generation (Pythia 8 via ``pythia8mc``, FastJet);
* ``torch``: the PyTorch families (``mlp``, ``pnn``, ``mlp-regressor``).

``pip install 'hepsift[all]'`` installs both. Code that needs an extra imports it through
:func:`require` (or checks it with :func:`require_extra` without importing it), so that a
missing one is a one-line :class:`MissingExtraError` with the install command, not a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from hepsift.errors import HepsiftError

__all__ = [
    "EXTRAS",
    "MissingExtraError",
    "available",
    "error_for",
    "missing",
    "require",
    "require_extra",
]

#: extra -> {importable top-level module: the name a physicist knows it by}
EXTRAS: dict[str, dict[str, str]] = {
    "generate": {"pythia8mc": "Pythia 8", "fastjet": "FastJet"},
    "torch": {"torch": "PyTorch", "safetensors": "safetensors"},
}


class MissingExtraError(HepsiftError, ImportError):
    """A feature needs an optional extra that is not installed (``pip install 'hepsift[x]'``)."""


def _extra_of(module: str) -> str:
    top = module.partition(".")[0]
    for extra, modules in EXTRAS.items():
        if top in modules:
            return extra
    raise ValueError(f"'{module}' belongs to no hepsift extra (extras: {', '.join(EXTRAS)})")


def _error(module: str, what: str) -> MissingExtraError:
    top = module.partition(".")[0]
    extra = _extra_of(top)
    return MissingExtraError(f"{what} needs {EXTRAS[extra][top]}: pip install 'hepsift[{extra}]'")


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be found (nothing is imported)."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra '{extra}' (extras: {', '.join(EXTRAS)})")
    return [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]


def available(extra: str) -> bool:
    """True when every module of ``extra`` is installed (nothing is imported)."""
    return not missing(extra)


def require(module: str, what: str) -> ModuleType:
    """Import ``module`` of an extra; MissingExtraError naming the extra when it is absent.

    ``what`` says who needs it, e.g. ``"event generation"`` or ``"model family 'mlp'"``. Only the
    absence of ``module`` itself becomes MissingExtraError: an installed package that fails to
    import for another reason raises its own error.
    """
    _extra_of(module)  # a module of no extra is a programming error
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.partition(".")[0] != module.partition(".")[0]:
            raise
        raise _error(module, what) from None


def require_extra(extra: str, what: str) -> None:
    """Check, without importing them, that the modules of ``extra`` are installed."""
    absent = missing(extra)
    if absent:
        raise _error(absent[0], what)


def error_for(exc: ModuleNotFoundError, what: str) -> MissingExtraError | None:
    """The MissingExtraError for an import that failed on a module of an extra (else None)."""
    name = (exc.name or "").partition(".")[0]
    try:
        _extra_of(name)
    except ValueError:
        return None
    return _error(name, what)
