"""The one PyTorch training loop every torch model in hepsift uses.

Signature::

    history = train_module(
        module,                 # torch.nn.Module; forward(*inputs) -> logits / predictions
        inputs,                 # tuple of arrays/tensors, each with events on axis 0
        target,                 # (n,) int class index ("bce", "ce") or float (n,) / (n, k) ("mse")
        weight=None,            # (n,) per-event weights (may be negative: MC weights); None -> 1
        *,
        loss="bce",             # "bce" (binary, logits (n,) or (n, 1)), "ce" (logits (n, C)), "mse"
        validation=None,        # (inputs, target, weight) for early stopping / LR schedule
        epochs=50, batch_size=256, lr=1e-3, weight_decay=0.0,
        patience=10,            # epochs without validation-loss improvement before stopping
        min_delta=0.0,          # improvement smaller than this does not count
        schedule="plateau",     # "plateau" (ReduceLROnPlateau), "cosine", "none"
        seed=0,                 # shuffling, dropout: torch RNG forked locally, global state kept
        progress=True,          # rich progress bar
        on_epoch=None,          # callback(epoch, history) -> bool; True stops (Optuna pruning)
        eval_batch_size=65536,
        auc=True,               # compute per-epoch AUC (train: running, on the batches seen)
        num_threads=None,       # torch.set_num_threads for the fit, restored afterwards
    ) -> History

``inputs`` is a tuple so that any model fits: a plain MLP passes ``(X,)``, a parametric network
``(X, mass)``, a set model ``(objects, mask)``. NumPy floating arrays become float32 tensors
(float16 ones stay float16: images, half the memory; the module casts), integer and boolean
arrays keep their kind. The loss of a mini-batch is
``sum(w_i * l_i) / (batch * mean|w|)`` with ``mean|w|`` taken over the whole training set, so
that batches with negative or tiny weights do not blow up the step size.

Optimiser: AdamW. Early stopping watches the validation loss (the training loss when no
validation set is given) and the best state is restored at the end, also when training stops by
``KeyboardInterrupt`` (``history.interrupted`` is then True) or when ``on_epoch`` returns True.
Exceptions raised by ``on_epoch`` (e.g. ``optuna.TrialPruned``) propagate after the restore.

The returned :class:`History` holds per-epoch train/validation loss and AUC (binary: weighted
ROC AUC of the signal score; multi-class: mean one-vs-rest AUC; regression: NaN), learning rate
and wall time; ``best_epoch`` is the epoch whose weights the module holds on return.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from hepsift.errors import ConfigError, DataError
from hepsift.metrics import auc_batch, auc_ovr_batch

if TYPE_CHECKING:
    import torch

__all__ = ["History", "LossName", "ScheduleName", "train_module", "weighted_auc"]

LossName = Literal["bce", "ce", "mse"]
ScheduleName = Literal["plateau", "cosine", "none"]
_LOSSES = ("bce", "ce", "mse")
_SCHEDULES = ("plateau", "cosine", "none")


@dataclass
class History:
    """Per-epoch record of a fit (lists are indexed by epoch, 0-based)."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    train_auc: list[float] = field(default_factory=list)
    val_auc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int = -1
    best_loss: float = math.inf
    stopped_early: bool = False
    interrupted: bool = False
    n_train: int = 0

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (NaN becomes None)."""

        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, list):
                return [clean(x) for x in v]
            return v

        return {k: clean(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        def unclean(v: Any) -> Any:
            if v is None:
                return math.nan
            if isinstance(v, list):
                return [unclean(x) for x in v]
            return v

        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: unclean(v) for k, v in data.items() if k in known})


# -- metrics ---------------------------------------------------------------------------------
def weighted_auc(
    score: NDArray[np.floating[Any]], y: NDArray[Any], w: NDArray[np.floating[Any]] | None = None
) -> float:
    """Weighted ROC AUC of ``score`` for ``y == 1`` against ``y == 0`` (ties count one half):
    :func:`hepsift.metrics.auc_batch`, ``nan`` when one class has no (or zero total) weight."""
    s = np.asarray(score, dtype=np.float64).ravel()
    ww = np.ones_like(s) if w is None else np.asarray(w, dtype=np.float64).ravel()
    return float(auc_batch(np.asarray(y).ravel().astype(bool), s, ww[None, :], pos_label=True)[0])


def _auc_from_outputs(
    out: NDArray[np.float64], y: NDArray[Any], w: NDArray[np.float64], loss: str
) -> float:
    """Per-epoch AUC: binary the signal score's, multi-class the mean one-vs-rest AUC over the
    classes whose AUC is defined (:func:`hepsift.metrics.auc_ovr_batch`); NaN for regression."""
    if loss == "mse":
        return math.nan
    if loss == "bce":
        return weighted_auc(out.ravel(), y, w)
    macro, _ = auc_ovr_batch(np.asarray(y).ravel(), out, w[None, :])
    return float(macro[0])


# -- helpers ---------------------------------------------------------------------------------
def _as_tensor(a: Any) -> torch.Tensor:
    import torch

    if isinstance(a, torch.Tensor):
        keep = a.dtype in (torch.float32, torch.float16)
        return a.float() if a.is_floating_point() and not keep else a
    arr = np.asarray(a)
    if arr.dtype == np.float16:  # images stored in half precision: the module computes in float32
        return torch.from_numpy(np.ascontiguousarray(arr))
    if arr.dtype == bool:
        return torch.from_numpy(np.ascontiguousarray(arr))
    if np.issubdtype(arr.dtype, np.integer):
        return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.int64))
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))


def _prepare(
    inputs: Any, target: Any, weight: Any, loss: str, what: str
) -> tuple[tuple[torch.Tensor, ...], torch.Tensor, torch.Tensor]:
    import torch

    if not isinstance(inputs, tuple | list):
        inputs = (inputs,)
    tensors = tuple(_as_tensor(a) for a in inputs)
    if not tensors:
        raise ConfigError(f"{what}: inputs must hold at least one array")
    n = int(tensors[0].shape[0])
    for i, t in enumerate(tensors):
        if int(t.shape[0]) != n:
            raise DataError(f"{what}: input {i} has {int(t.shape[0])} events but input 0 has {n}")
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise DataError(f"{what}: input {i} contains NaN or inf")
    tgt = np.asarray(target)
    if tgt.shape[0] != n:
        raise DataError(f"{what}: target has {tgt.shape[0]} events but inputs have {n}")
    if loss == "mse":
        y = torch.from_numpy(np.ascontiguousarray(tgt, dtype=np.float32))
    elif loss == "bce":
        y = torch.from_numpy(np.ascontiguousarray(tgt, dtype=np.float32).reshape(-1))
    else:
        y = torch.from_numpy(np.ascontiguousarray(tgt, dtype=np.int64).reshape(-1))
    if weight is None:
        w = torch.ones(n, dtype=torch.float32)
    else:
        wa = np.asarray(weight, dtype=np.float64).reshape(-1)
        if wa.shape != (n,):
            raise DataError(f"{what}: weight has shape {wa.shape}, expected ({n},)")
        if not np.all(np.isfinite(wa)):
            raise DataError(f"{what}: weight contains NaN or inf")
        w = torch.from_numpy(wa.astype(np.float32))
    return tensors, y, w


def _per_event_loss(out: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    import torch.nn.functional as F

    if loss == "bce":
        return F.binary_cross_entropy_with_logits(out.reshape(-1), y, reduction="none")
    if loss == "ce":
        return F.cross_entropy(out, y, reduction="none")
    diff = (out.reshape(y.shape) - y) ** 2
    return diff.reshape(diff.shape[0], -1).mean(dim=1)


def _activation_out(out: torch.Tensor, loss: str) -> NDArray[np.float64]:
    import torch

    if loss == "bce":
        return torch.sigmoid(out.reshape(-1)).double().numpy()
    if loss == "ce":
        return torch.softmax(out, dim=1).double().numpy()
    return out.double().numpy()


def _evaluate(
    module: torch.nn.Module,
    tensors: tuple[torch.Tensor, ...],
    y: torch.Tensor,
    w: torch.Tensor,
    loss: str,
    norm: float,
    batch: int,
    want_auc: bool,
) -> tuple[float, float]:
    import torch

    n = int(y.shape[0])
    total = 0.0
    outs = []
    with torch.no_grad():
        for start in range(0, n, batch):
            sl = slice(start, start + batch)
            out = module(*(t[sl] for t in tensors))
            total += float((_per_event_loss(out, y[sl], loss) * w[sl]).sum())
            if want_auc:
                outs.append(_activation_out(out, loss))
    auc = math.nan
    if want_auc and outs:
        auc = _auc_from_outputs(np.concatenate(outs), y.numpy(), w.double().numpy(), loss)
    return total / (n * norm), auc


@contextlib.contextmanager
def _threads(num_threads: int | None) -> Iterator[None]:
    import torch

    if num_threads is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(int(num_threads))
    try:
        yield
    finally:
        torch.set_num_threads(old)


@contextlib.contextmanager
def _progress_bar(enabled: bool, epochs: int) -> Iterator[Callable[[str], None]]:
    if not enabled:
        yield lambda _msg: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("[bold]training"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        transient=False,
    ) as bar:
        task = bar.add_task("", total=epochs)

        def advance(msg: str) -> None:
            bar.update(task, advance=1, description=msg)

        yield advance


def _check_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        from hepsift.errors import suggest

        raise ConfigError(
            f"{name} '{value}' is not one of {list(allowed)}{suggest(str(value), allowed)}"
        )


# -- the loop --------------------------------------------------------------------------------
def _check_options(loss: str, schedule: str, epochs: int, batch_size: int, lr: float) -> None:
    _check_choice("loss", loss, _LOSSES)
    _check_choice("schedule", schedule, _SCHEDULES)
    if int(epochs) < 1:
        raise ConfigError(f"epochs must be >= 1; got {epochs}")
    if int(batch_size) < 1:
        raise ConfigError(f"batch_size must be >= 1; got {batch_size}")
    if not lr > 0:
        raise ConfigError(f"lr must be > 0; got {lr}")


def _batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    """Mini-batch (start, end) bounds; a trailing batch of one event joins the previous one
    (batch norm cannot normalise a single event)."""
    bounds = [(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def _scheduler(opt: Any, schedule: str, patience: int, epochs: int) -> Any:
    import torch

    if schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="min", factor=0.5, patience=max(1, patience // 3)
        )
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=int(epochs))
    return None


Tensors = tuple["torch.Tensor", ...]


@dataclass
class _Loop:
    """The state of one fit: data, optimiser, schedule, best weights; one method per step."""

    module: torch.nn.Module
    X: Tensors
    y: torch.Tensor
    w: torch.Tensor
    val: tuple[Tensors, torch.Tensor, torch.Tensor] | None
    loss: str
    schedule: str
    norm: float
    bounds: list[tuple[int, int]]
    want_auc: bool
    eval_batch_size: int
    min_delta: float
    history: History
    opt: Any = None
    sched: Any = None
    best_state: dict[str, torch.Tensor] | None = None
    bad_epochs: int = 0

    def train_epoch(self, gen: torch.Generator) -> tuple[float, float]:
        """One pass over shuffled mini-batches: (mean training loss, running AUC)."""
        import torch

        n = int(self.y.shape[0])
        self.module.train()
        perm = torch.randperm(n, generator=gen)
        total = torch.zeros((), dtype=torch.float64)
        outs: list[torch.Tensor] = []
        for start, end in self.bounds:
            idx = perm[start:end]
            out = self.module(*(t[idx] for t in self.X))
            per = _per_event_loss(out, self.y[idx], self.loss)
            batch_loss = (per * self.w[idx]).sum() / (idx.shape[0] * self.norm)
            self.opt.zero_grad(set_to_none=True)
            batch_loss.backward()
            self.opt.step()
            total += batch_loss.detach().double() * idx.shape[0]
            if self.want_auc:
                outs.append(out.detach())
        train_auc = math.nan
        if self.want_auc:
            order = perm.numpy()
            train_auc = _auc_from_outputs(
                _activation_out(torch.cat(outs), self.loss),
                self.y.numpy()[order],
                self.w.double().numpy()[order],
                self.loss,
            )
        return float(total) / n, train_auc

    def validate(self) -> tuple[float, float]:
        """(validation loss, validation AUC); NaN without a validation set."""
        self.module.eval()
        if self.val is None:
            return math.nan, math.nan
        return _evaluate(
            self.module, *self.val, self.loss, self.norm, self.eval_batch_size, self.want_auc
        )

    def record(self, epoch: int, train: tuple[float, float], val: tuple[float, float]) -> float:
        """Append the epoch to the history, keep the best weights, step the LR schedule; return
        the monitored loss (validation loss, or training loss without a validation set)."""
        h = self.history
        monitor = val[0] if self.val is not None else train[0]
        h.train_loss.append(train[0])
        h.val_loss.append(val[0])
        h.train_auc.append(train[1])
        h.val_auc.append(val[1])
        h.lr.append(float(self.opt.param_groups[0]["lr"]))
        if not math.isfinite(monitor):
            raise DataError(
                f"training diverged at epoch {epoch}: loss is {monitor} "
                "(lower lr, or check the inputs' scale)"
            )
        if monitor < h.best_loss - self.min_delta:
            h.best_loss = monitor
            h.best_epoch = epoch
            self.best_state = {k: v.detach().clone() for k, v in self.module.state_dict().items()}
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        if self.sched is not None:
            if self.schedule == "plateau":
                self.sched.step(monitor)
            else:
                self.sched.step()
        return monitor

    def restore(self) -> None:
        if self.best_state is not None:
            self.module.load_state_dict(self.best_state)
        self.module.eval()


def _message(train_loss: float, val: tuple[float, float], has_val: bool) -> str:
    return (
        f"loss {train_loss:.4f}"
        + (f" val {val[0]:.4f}" if has_val else "")
        + (f" auc {val[1]:.4f}" if math.isfinite(val[1]) else "")
    )


def _make_loop(
    module: torch.nn.Module,
    inputs: Sequence[Any] | Any,
    target: Any,
    weight: Any,
    validation: tuple[Any, Any, Any] | None,
    *,
    loss: str,
    schedule: str,
    batch_size: int,
    want_auc: bool,
    eval_batch_size: int,
    min_delta: float,
) -> _Loop:
    X, y, w = _prepare(inputs, target, weight, loss, "training data")
    n = int(y.shape[0])
    if n == 0:
        raise DataError("training data holds no events")
    norm = float(w.abs().mean())
    if norm == 0:
        raise DataError("training weights are all zero")
    val = None
    if validation is not None:
        v_inputs, v_target, v_weight = (*tuple(validation), None)[:3]
        val = _prepare(v_inputs, v_target, v_weight, loss, "validation data")
        if int(val[1].shape[0]) == 0:
            val = None
    return _Loop(
        module=module,
        X=X,
        y=y,
        w=w,
        val=val,
        loss=loss,
        schedule=schedule,
        norm=norm,
        bounds=_batch_bounds(n, int(batch_size)),
        want_auc=want_auc,
        eval_batch_size=int(eval_batch_size),
        min_delta=float(min_delta),
        history=History(n_train=n),
    )


def train_module(
    module: torch.nn.Module,
    inputs: Sequence[Any] | Any,
    target: Any,
    weight: Any = None,
    *,
    loss: LossName = "bce",
    validation: tuple[Any, Any, Any] | None = None,
    epochs: int = 50,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    patience: int = 10,
    min_delta: float = 0.0,
    schedule: ScheduleName = "plateau",
    seed: int = 0,
    progress: bool = True,
    on_epoch: Callable[[int, History], bool | None] | None = None,
    eval_batch_size: int = 65536,
    auc: bool = True,
    num_threads: int | None = None,
) -> History:
    """Train ``module`` in place and return its :class:`History` (see the module docstring)."""
    import torch

    _check_options(loss, schedule, epochs, batch_size, lr)
    loop = _make_loop(
        module,
        inputs,
        target,
        weight,
        validation,
        loss=loss,
        schedule=schedule,
        batch_size=batch_size,
        want_auc=bool(auc) and loss != "mse",
        eval_batch_size=eval_batch_size,
        min_delta=min_delta,
    )
    history = loop.history
    with _threads(num_threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        gen = torch.Generator().manual_seed(int(seed))
        loop.opt = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=weight_decay)
        loop.sched = _scheduler(loop.opt, schedule, patience, epochs)
        with _progress_bar(progress, int(epochs)) as advance:
            try:
                for epoch in range(int(epochs)):
                    t0 = time.perf_counter()
                    train = loop.train_epoch(gen)
                    val = loop.validate()
                    history.seconds.append(time.perf_counter() - t0)
                    loop.record(epoch, train, val)
                    advance(_message(train[0], val, loop.val is not None))
                    if on_epoch is not None and on_epoch(epoch, history):
                        break
                    if loop.bad_epochs >= int(patience):
                        history.stopped_early = True
                        break
            except KeyboardInterrupt:
                history.interrupted = True
            finally:
                loop.restore()
    return history
