"""ONNX export of trained models and the parity check against their predictions.

One path for every family. Every exported graph takes the input ``X`` (float32, (n, d)) plus
one input per extra entry of the family's ``inputs`` (the pNN: ``param`` float32 (n, 1), the
mass in GeV). Classifiers have an output ``probabilities`` (float32, (n, n_classes)) — graphs
from converters that also add a label output (skl2onnx, onnxmltools) keep it, and
:func:`onnx_probabilities` picks the probability output; regressors have ``predictions``
(float32, (n,) for one target, (n, k) for k).

- :func:`export_onnx` (``model.to_onnx(path)`` calls it): asks the family for its graph
  (``model._onnx_proto()``: built by hand for logistic regression, skl2onnx for trees and
  forests, onnxmltools for XGBoost, ``torch.onnx`` for torch models; ensembles average their
  base graphs with :func:`average_graphs`; :class:`hepsift.models.Scaled` prepends its scaler
  with :func:`prepend_scaler`) and writes it atomically.
- :func:`check_parity`: runs the file with ONNX Runtime and returns the largest absolute
  difference to ``model.predict_proba`` (``predict`` for regressors); raises
  :class:`~hepsift.errors.ModelError` above ``atol`` (default 1e-5). Extra inputs are keyword
  arguments, as for ``fit``/``predict_proba`` (``param=``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift._files import atomic_write_bytes
from hepsift.errors import ModelError

__all__ = [
    "ONNX_STAMP",
    "average_graphs",
    "check_parity",
    "export_onnx",
    "onnx_outputs",
    "onnx_probabilities",
    "onnx_proto_of",
    "onnx_session",
    "prepend_scaler",
    "probability_graph",
    "regression_output",
    "save_onnx",
]

_PROBA_NAMES = ("probabilities", "output_probability")


def save_onnx(proto: Any, path: str | os.PathLike[str]) -> Path:
    """Write an ``onnx.ModelProto`` to ``path`` atomically (temporary file + rename)."""
    import onnx

    onnx.checker.check_model(proto)
    return atomic_write_bytes(path, proto.SerializeToString())


#: the metadata entry every ONNX file hepsift writes carries: ``hepsift onnx`` replaces an
#: existing OUTPUT only when it holds this stamp (a file hepsift wrote)
ONNX_STAMP = ("written_by", "hepsift")


def onnx_proto_of(model: Any) -> Any:
    """The ``onnx.ModelProto`` of a fitted hepsift model, stamped with :data:`ONNX_STAMP`."""
    family = getattr(model, "family", "") or type(model).__name__
    if not hasattr(model, "_onnx_proto"):
        raise ModelError(f"model family '{family}' has no ONNX export")
    if not hasattr(model, "n_features_in_"):
        raise ModelError(f"model '{family}' is not fitted; fit it before exporting to ONNX")
    proto = model._onnx_proto()
    if not any(p.key == ONNX_STAMP[0] for p in proto.metadata_props):
        entry = proto.metadata_props.add()
        entry.key, entry.value = ONNX_STAMP
    return proto


def export_onnx(model: Any, path: str | os.PathLike[str]) -> Path:
    """Export a fitted model to the ONNX file ``path`` (see the module docstring)."""
    return save_onnx(onnx_proto_of(model), path)


# -- graph surgery -----------------------------------------------------------------------------
def _merge_opsets(protos: Sequence[Any]) -> list[Any]:
    from onnx import helper

    best: dict[str, int] = {"": 13}  # the glue nodes (Sum, Mul, MatMul, Sub, ...) need 13
    for proto in protos:
        for op in proto.opset_import:
            best[op.domain] = max(best.get(op.domain, 0), int(op.version))
    return [helper.make_opsetid(domain, version) for domain, version in sorted(best.items())]


def _finish(graph: Any, protos: Sequence[Any]) -> Any:
    import onnx
    from onnx import helper

    model = helper.make_model(graph, producer_name="hepsift", opset_imports=_merge_opsets(protos))
    model.ir_version = max(int(p.ir_version) for p in protos)
    onnx.checker.check_model(model)
    return model


def _probability_output(proto: Any) -> str:
    names = [o.name for o in proto.graph.output]
    for name in names:
        if name in _PROBA_NAMES:
            return str(name)
    for out in proto.graph.output:
        if out.type.tensor_type.elem_type == 1 and len(out.type.tensor_type.shape.dim) == 2:
            return str(out.name)
    raise ModelError(f"ONNX graph has no probability output (outputs: {names})")


def prepend_scaler(
    proto: Any,
    *,
    center: NDArray[np.float32],
    scale: NDArray[np.float32],
    lo: NDArray[np.float32] | None = None,
    hi: NDArray[np.float32] | None = None,
    input_name: str = "X",
) -> Any:
    """``proto`` with ``(clip(X, lo, hi) - center) / scale`` (float32) in front of its input
    ``input_name``; the new graph's input keeps that name and takes raw features."""
    from onnx import helper, numpy_helper

    graph = proto.graph
    prefix = "hepsift_scaler_"
    scaled = prefix + "out"
    inits = [
        numpy_helper.from_array(np.asarray(center, dtype=np.float32), prefix + "center"),
        numpy_helper.from_array(np.asarray(scale, dtype=np.float32), prefix + "scale"),
    ]
    nodes = []
    current = input_name
    if lo is not None and hi is not None:
        inits += [
            numpy_helper.from_array(np.asarray(lo, dtype=np.float32), prefix + "lo"),
            numpy_helper.from_array(np.asarray(hi, dtype=np.float32), prefix + "hi"),
        ]
        nodes += [
            helper.make_node("Max", [current, prefix + "lo"], [prefix + "max"]),
            helper.make_node("Min", [prefix + "max", prefix + "hi"], [prefix + "clip"]),
        ]
        current = prefix + "clip"
    nodes += [
        helper.make_node("Sub", [current, prefix + "center"], [prefix + "centred"]),
        helper.make_node("Div", [prefix + "centred", prefix + "scale"], [scaled]),
    ]
    inner_nodes = []
    for node in graph.node:
        new = type(node)()
        new.CopyFrom(node)
        for i, name in enumerate(new.input):
            if name == input_name:
                new.input[i] = scaled
        inner_nodes.append(new)
    new_graph = helper.make_graph(
        nodes + inner_nodes,
        graph.name or "hepsift_scaled",
        list(graph.input),
        list(graph.output),
        initializer=inits + list(graph.initializer),
        value_info=list(graph.value_info),
    )
    return _finish(new_graph, [proto])


def average_graphs(parts: Sequence[tuple[Any, NDArray[np.int64]]], n_classes: int, d: int) -> Any:
    """One graph averaging the probability outputs of ``parts`` = ``[(proto, columns)]``.

    Every proto takes ``X`` (float32, (n, d)); ``columns`` are the ensemble's class indices
    of that proto's probability columns. Output ``probabilities`` (n, ``n_classes``).
    """
    from onnx import compose, helper, numpy_helper

    nodes: list[Any] = []
    inits: list[Any] = []
    value_info: list[Any] = []
    terms: list[str] = []
    for i, (proto, cols) in enumerate(parts):
        pre = f"b{i:03d}_"
        _inputs = {v.name for v in proto.graph.input}
        g = compose.add_prefix(proto, pre, rename_inputs=False).graph
        # onnx < 1.18 prefixes the node inputs that read a graph input even with
        # rename_inputs=False: point them back at the shared input (X)
        for node in g.node:
            node.input[:] = [
                name[len(pre) :] if name.startswith(pre) and name[len(pre) :] in _inputs else name
                for name in node.input
            ]
        nodes.extend(g.node)
        inits.extend(g.initializer)
        value_info.extend(g.value_info)
        out = pre + _probability_output(proto)
        cols = np.asarray(cols, dtype=np.int64)
        if cols.size == n_classes and np.array_equal(cols, np.arange(n_classes)):
            terms.append(out)
            continue
        embed = np.zeros((cols.size, n_classes), dtype=np.float32)
        embed[np.arange(cols.size), cols] = 1.0
        inits.append(numpy_helper.from_array(embed, pre + "embed"))
        nodes.append(helper.make_node("MatMul", [out, pre + "embed"], [pre + "full"]))
        terms.append(pre + "full")
    inits.append(
        numpy_helper.from_array(np.asarray([1.0 / len(parts)], dtype=np.float32), "inv_count")
    )
    nodes += [
        helper.make_node("Sum", terms, ["proba_sum"]),
        helper.make_node("Mul", ["proba_sum", "inv_count"], ["probabilities"]),
    ]
    graph = probability_graph(
        nodes, inits, name="hepsift_ensemble", d=d, n_classes=n_classes, value_info=value_info
    )
    return _finish(graph, [p for p, _ in parts])


def probability_graph(
    nodes: Sequence[Any],
    initializers: Sequence[Any],
    *,
    name: str,
    d: int,
    n_classes: int,
    value_info: Sequence[Any] = (),
) -> Any:
    """An ``onnx.GraphProto`` of ``nodes`` with the classifier interface: input ``X`` float32
    (n, ``d``), output ``probabilities`` float32 (n, ``n_classes``)."""
    from onnx import TensorProto, helper

    return helper.make_graph(
        list(nodes),
        name,
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, d])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, n_classes])],
        initializer=list(initializers),
        value_info=list(value_info),
    )


def regression_output(proto: Any, *, flatten: bool) -> Any:
    """A regression graph with its (first) output renamed ``predictions`` ((n,) if ``flatten``)."""
    from onnx import TensorProto, helper, numpy_helper

    graph = proto.graph
    old = graph.output[0].name
    nodes = list(graph.node)
    inits = list(graph.initializer)
    if flatten:
        inits.append(numpy_helper.from_array(np.asarray([-1], dtype=np.int64), "flat_shape"))
        nodes.append(helper.make_node("Reshape", [old, "flat_shape"], ["predictions"]))
        out = helper.make_tensor_value_info("predictions", TensorProto.FLOAT, [None])
    else:
        nodes.append(helper.make_node("Identity", [old], ["predictions"]))
        out = helper.make_tensor_value_info("predictions", TensorProto.FLOAT, None)
    new_graph = helper.make_graph(
        nodes,
        graph.name,
        list(graph.input),
        [out],
        initializer=inits,
        value_info=list(graph.value_info),
    )
    return _finish(new_graph, [proto])


# -- running -----------------------------------------------------------------------------------
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


def _feeds(session: Any, X: ArrayLike, inputs: dict[str, Any]) -> dict[str, NDArray[Any]]:
    arr = np.ascontiguousarray(X, dtype=np.float32)
    n = arr.shape[0]
    names = [i.name for i in session.get_inputs()]
    feeds: dict[str, NDArray[Any]] = {names[0]: arr}
    if inputs.get("objects") is not None and "values" in names:
        # set models: objects=(values, mask) feeds the graph inputs 'values' and 'mask'
        inputs = dict(inputs)
        inputs["values"], inputs["mask"] = inputs.pop("objects")
    for info in session.get_inputs()[1:]:
        if info.name not in inputs or inputs[info.name] is None:
            raise ModelError(f"the ONNX graph needs the input '{info.name}'; pass {info.name}=")
        dtype = bool if info.type == "tensor(bool)" else np.float32
        value = np.asarray(inputs[info.name], dtype=dtype)
        rank = len(info.shape)
        if value.ndim == 0:
            value = np.full(n, float(value), dtype=np.float32)
        if rank == 2 and value.ndim == 1:
            value = value.reshape(-1, 1)  # (n,) -> the graph's (n, 1) column
        feeds[info.name] = np.ascontiguousarray(value)
    unknown = sorted(set(inputs) - set(names))
    if unknown:
        raise ModelError(f"the ONNX graph has no input {unknown} (inputs: {', '.join(names)})")
    return feeds


def onnx_outputs(session: Any, X: ArrayLike, **inputs: Any) -> dict[str, NDArray[Any]]:
    """Every output of an ONNX session by name, for ``X`` and the extra ``inputs``."""
    outputs = session.run(None, _feeds(session, X, inputs))
    return {
        info.name: np.asarray(out) for info, out in zip(session.get_outputs(), outputs, strict=True)
    }


def onnx_probabilities(session: Any, X: ArrayLike, **inputs: Any) -> NDArray[np.float32]:
    """Class probabilities (n, n_classes) from an ONNX session of an exported classifier."""
    outputs = onnx_outputs(session, X, **inputs)
    for name in _PROBA_NAMES:
        if name in outputs:
            return outputs[name].astype(np.float32, copy=False)
    for a in outputs.values():
        if a.ndim == 2 and np.issubdtype(a.dtype, np.floating):
            return a.astype(np.float32, copy=False)
    raise ModelError("ONNX model has no (n, classes) float output of probabilities")


def check_parity(
    model: Any, path: str | os.PathLike[str], X: ArrayLike, *, atol: float = 1e-5, **inputs: Any
) -> float:
    """Max |ONNX Runtime - model| over ``X`` (and the extra ``inputs``, e.g. ``param=``):
    ``predict_proba`` of classifiers, ``predict`` of regressors; ModelError above ``atol``.

    Regression targets carry units (GeV), where float32 resolves about 1e-7 of the value:
    their difference is taken relative to ``max(1, |prediction|)``."""
    arr = np.asarray(X, dtype=np.float32)
    session = onnx_session(path)
    if hasattr(model, "predict_proba"):
        ref = np.asarray(model.predict_proba(arr, **inputs), dtype=np.float64)
        got = onnx_probabilities(session, arr, **inputs).astype(np.float64)
    else:
        ref = np.asarray(model.predict(arr, **inputs), dtype=np.float64)
        outs = onnx_outputs(session, arr, **inputs)
        if "predictions" not in outs:
            raise ModelError(f"ONNX regression graph '{path}' has no output 'predictions'")
        got = outs["predictions"].astype(np.float64)
        if got.shape == ref.shape:
            got, ref = got / np.maximum(1.0, np.abs(ref)), ref / np.maximum(1.0, np.abs(ref))
    if got.shape != ref.shape:
        raise ModelError(
            f"ONNX output has shape {got.shape}; the model gives {ref.shape} ('{path}')"
        )
    diff = float(np.max(np.abs(got - ref))) if ref.size else 0.0
    if not diff <= atol:
        raise ModelError(
            f"ONNX parity check failed for '{path}': max |score difference| {diff:.3g} > {atol:g}"
        )
    return diff
