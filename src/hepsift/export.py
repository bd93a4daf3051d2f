"""ONNX export of trained models and the parity check against their ``predict_proba``.

Every exported graph takes one input ``X`` (float32, (n, d)) and has an output of class
probabilities (float32, (n, n_classes)); converters that add a label output (skl2onnx,
onnxmltools) keep it, and :func:`onnx_probabilities` picks the probability output.

- :func:`export_onnx` (``model.to_onnx(path)`` calls it): asks the family for its ONNX graph
  (``model._onnx_proto()``: skl2onnx for trees/forests, onnxmltools for XGBoost, ``torch.onnx``
  for torch models), and writes it atomically.
- :func:`check_parity`: runs the file with ONNX Runtime and returns the largest absolute
  difference to ``model.predict_proba``; raises :class:`~hepsift.errors.ModelError` above
  ``atol`` (default 1e-5).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift.errors import ModelError

__all__ = ["check_parity", "export_onnx", "onnx_probabilities", "onnx_session", "save_onnx"]


def save_onnx(proto: Any, path: str | os.PathLike[str]) -> Path:
    """Write an ``onnx.ModelProto`` to ``path`` atomically (temporary file + rename)."""
    import onnx

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.checker.check_model(proto)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(proto.SerializeToString())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def export_onnx(model: Any, path: str | os.PathLike[str]) -> Path:
    """Export a fitted model to the ONNX file ``path`` (see the module docstring)."""
    family = getattr(model, "family", type(model).__name__)
    if not getattr(model, "onnx_supported", False) or not hasattr(model, "_onnx_proto"):
        raise ModelError(f"model family '{family}' has no ONNX export")
    if not hasattr(model, "n_features_in_"):
        raise ModelError(f"model '{family}' is not fitted; fit it before exporting to ONNX")
    return save_onnx(model._onnx_proto(), path)


def onnx_session(path: str | os.PathLike[str], *, threads: int = 1) -> Any:
    """An ONNX Runtime CPU session on ``path`` using ``threads`` intra-op threads."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelError(f"cannot load ONNX model '{path}': {exc}") from None


def onnx_probabilities(session: Any, X: ArrayLike) -> NDArray[np.float32]:
    """Class probabilities (n, n_classes) from an ONNX session of an exported model."""
    arr = np.ascontiguousarray(X, dtype=np.float32)
    name = session.get_inputs()[0].name
    outputs = session.run(None, {name: arr})
    meta = session.get_outputs()
    for out, info in zip(outputs, meta, strict=True):
        if info.name in ("probabilities", "output_probability"):
            return np.asarray(out, dtype=np.float32)
    for out in outputs:
        a = np.asarray(out)
        if a.ndim == 2 and np.issubdtype(a.dtype, np.floating):
            return a.astype(np.float32, copy=False)
    raise ModelError("ONNX model has no (n, classes) float output of probabilities")


def check_parity(
    model: Any, path: str | os.PathLike[str], X: ArrayLike, *, atol: float = 1e-5
) -> float:
    """Max |ONNX Runtime - predict_proba| over ``X``; ModelError when it exceeds ``atol``."""
    arr = np.asarray(X, dtype=np.float32)
    ref = np.asarray(model.predict_proba(arr), dtype=np.float64)
    got = onnx_probabilities(onnx_session(path), arr).astype(np.float64)
    if got.shape != ref.shape:
        raise ModelError(
            f"ONNX output has shape {got.shape}; predict_proba gives {ref.shape} ('{path}')"
        )
    diff = float(np.max(np.abs(got - ref))) if ref.size else 0.0
    if not diff <= atol:
        raise ModelError(
            f"ONNX parity check failed for '{path}': max |score difference| {diff:.3g} > {atol:g}"
        )
    return diff
