"""What compile says about each output of a model: its loss, loss weight and metrics, given as Keras
takes them (one value for every output, a list with one entry per output, or a dict by output name),
and the names the logs give them, as Keras 3 does: "loss" for the weighted sum of the losses (and the
regularizers' penalties), each metric by the name it was given ("acc", "mae", ...), and with several
outputs "<output>_loss" for each loss and "<output>_<metric>" for each metric."""
from __future__ import annotations

import math

import numpy as np

from . import losses, metrics as metrics_module

# Metric names: accuracies (and the labels each needs: None for any), means of an element-wise loss, and
# square roots of such a mean over the epoch.
_ACCURACIES = {"accuracy": None, "acc": None, "sparse_categorical_accuracy": "sparse",
               "categorical_accuracy": "categorical", "binary_accuracy": "targets"}
_MEANS = {"mae": "mean_absolute_error", "mean_absolute_error": "mean_absolute_error",
          "mse": "mean_squared_error", "mean_squared_error": "mean_squared_error",
          "mape": "mean_absolute_percentage_error",
          "mean_absolute_percentage_error": "mean_absolute_percentage_error",
          "msle": "mean_squared_logarithmic_error",
          "mean_squared_logarithmic_error": "mean_squared_logarithmic_error",
          "logcosh": "log_cosh", "log_cosh": "log_cosh", "poisson": "poisson"}
_ROOTS = {"rmse": "mean_squared_error", "root_mean_squared_error": "mean_squared_error"}


class Metric:
    """One metric of an output: `name` as compile was given it (the logs' key), `kernel` what the plan
    computes ("accuracy", or an element-wise loss's name, whose mean it sums), `root` whether the epoch's
    value is the square root of that mean (rmse). A metric object's own name is not kept by checkpoints:
    the model loads with the metric under its class's name."""

    def __init__(self, name: str, kernel: str, root: bool = False, spec: str | None = None):
        self.name, self.kernel, self.root = name, kernel, root
        self.spec = spec or name  # the metric name compile takes to make it again (a checkpoint stores it)


def _labels_kind(loss) -> str:
    if isinstance(loss, losses.CategoricalCrossentropy):
        return "categorical"
    return "sparse" if isinstance(loss, losses.SparseCategoricalCrossentropy) else "targets"


def _metric_object(metric, loss) -> Metric:
    """A gt.metrics object in compile: its name in the logs, its kernel, checked against the loss."""
    if metric.kernel is None:
        raise ValueError(f"metrics: {type(metric).__name__} aggregates values you give it; compile takes metrics "
                         f"of the model's outputs")
    if loss is None:
        raise ValueError(f"metrics: {metric.name!r} is given for an output without a loss; gputrain computes "
                         f"metrics beside an output's loss")
    kind = _labels_kind(loss)
    needed = metric.labels if metric.kernel == "accuracy" else "targets"
    if needed is not None and needed != kind:
        raise ValueError(f"metrics: {type(metric).__name__} needs {needed} labels, but the loss {loss.name} takes "
                         f"{kind} labels")
    return Metric(metric.name, metric.kernel, metric.root, spec=type(metric).default_name)


def _metric(name, loss) -> Metric:
    if isinstance(name, metrics_module.Metric):
        return _metric_object(name, loss)
    if not isinstance(name, str):
        raise ValueError(f"metrics: expected metric names or gt.metrics objects, got {name!r}")
    if name not in _ACCURACIES and name not in _MEANS and name not in _ROOTS:
        raise ValueError(f"metrics: {name!r} is not supported; gputrain has {', '.join([*_ACCURACIES, *_MEANS, *_ROOTS])}")
    if loss is None:
        raise ValueError(f"metrics: {name!r} is given for an output without a loss; gputrain computes metrics beside "
                         f"an output's loss")
    kind = _labels_kind(loss)
    if name in _ACCURACIES:
        needed = _ACCURACIES[name]
        if needed is not None and needed != kind:
            raise ValueError(f"metrics: {name!r} needs {needed} labels, but the loss {loss.name} takes {kind} "
                             f"labels; use 'accuracy'")
        return Metric(name, "accuracy")
    if kind != "targets":
        raise ValueError(f"metrics: {name!r} compares outputs with targets of their shape, but the loss {loss.name} "
                         f"takes class labels")
    return Metric(name, _ROOTS[name], root=True) if name in _ROOTS else Metric(name, _MEANS[name])


class OutputTarget:
    """One output of the model: its position and name, what compile gave it (loss None: the output is
    predicted but not trained), and its sample shape once the model is built."""

    def __init__(self, index: int, name: str, loss, weight: float, metrics: list):
        self.index, self.name, self.shape = index, name, None
        self.loss, self.weight, self.metrics = loss, weight, metrics

    def units_per_sample(self) -> int:
        return self.loss.units_per_sample(self.shape)


def _per_output(value, names: list, what: str, single_ok) -> list:
    """`value` spread over the outputs: a list or tuple with one entry per output, a dict by output name
    (outputs it leaves out get None), or (where `single_ok(value)`) one value for every output."""
    if isinstance(value, dict):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ValueError(f"{what}: {unknown[0]!r} is not an output of the model; its outputs are "
                             f"{', '.join(names)}")
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)) and not single_ok(value):
        if len(value) != len(names):
            raise ValueError(f"{what}: expected one entry per output ({len(names)}: {', '.join(names)}), got "
                             f"{len(value)}")
        return list(value)
    return [value] * len(names)


def _metrics(entry, loss) -> list:
    """One output's metrics: a name or metric object, or a list of them."""
    names = [] if entry is None else [entry] if isinstance(entry, (str, metrics_module.Metric)) else list(entry)
    return [_metric(name, loss) for name in names]


def _weight(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or \
            not math.isfinite(value):
        raise ValueError(f"loss_weights: expected a finite number for output {name!r}, got {value!r}")
    return float(value)


def resolve(names: list, loss, loss_weights=None, metrics=None) -> list[OutputTarget]:
    """The targets of a model whose outputs have these names."""
    if loss is None:
        raise ValueError("compile: a loss is required, for example 'sparse_categorical_crossentropy'")
    per_loss = _per_output(loss, names, "loss", lambda v: False)
    if all(entry is None for entry in per_loss):
        raise ValueError("loss: no output has a loss")
    weights = [1.0] * len(names) if loss_weights is None else _per_output(
        loss_weights, names, "loss_weights", lambda v: False)
    if len(names) == 1:  # every metric is the one output's
        per_metrics = [metrics]
    elif metrics is None or (isinstance(metrics, (list, tuple)) and not metrics):
        per_metrics = [None] * len(names)
    elif isinstance(metrics, (list, tuple)) and len(metrics) != len(names):
        raise ValueError(f"metrics: for a model of {len(names)} outputs give one entry per output (a list of "
                         f"{len(names)}, each a metric or a list of them) or a dict by output name "
                         f"({', '.join(names)}), got {metrics!r}")
    else:
        per_metrics = _per_output(metrics, names, "metrics", lambda v: False)
    targets = []
    for i, name in enumerate(names):
        entry = per_loss[i]
        weight = 1.0 if weights[i] is None else _weight(weights[i], name)
        loss_object = None if entry is None else losses.get(entry)
        targets.append(OutputTarget(i, name, loss_object, weight, _metrics(per_metrics[i], loss_object)))
    return targets


def trained(targets: list) -> list:
    """The targets with a loss, in output order: the plan's loss terms and the y arrays fit reads."""
    return [t for t in targets if t.loss is not None]


def log_names(targets: list) -> list[str]:
    """The keys of fit's and evaluate's logs, in Keras's order: the total loss, each output's loss
    (where there are several), each output's metrics."""
    terms = trained(targets)
    if len(targets) == 1:
        return ["loss", *(m.name for m in targets[0].metrics)]
    names = ["loss"] + ([f"{t.name}_loss" for t in terms] if len(terms) > 1 else [])
    return names + [f"{t.name}_{m.name}" for t in terms for m in t.metrics]


def logs(targets: list, term_sums: list, penalty_sum: float, seen: int) -> dict:
    """The logs from the plans' sums over `seen` samples: per loss term [its mean losses summed weighted
    by batch, then per metric its correct predictions or its means summed likewise], and the
    regularizers' penalties summed likewise, which the total loss includes (as Keras's), the outputs'
    own losses not."""
    terms = trained(targets)
    count = max(seen, 1)
    means = [sums[0] / count for sums in term_sums]
    values = [sum(t.weight * m for t, m in zip(terms, means)) + penalty_sum / count]
    if len(targets) > 1 and len(terms) > 1:
        values += means
    for t, sums in zip(terms, term_sums):
        for m, total in zip(t.metrics, sums[1:]):
            if m.kernel == "accuracy":
                values.append(total / max(seen * t.units_per_sample(), 1))
            else:
                values.append(math.sqrt(total / count) if m.root else total / count)
    return dict(zip(log_names(targets), values))


def structured(values, names: list, what: str, kind: str, required: list | None = None) -> list:
    """Arrays given per input or output (`kind`) of a model, for argument `what`: one array (a model of
    one), a list in order, or a dict by name. `required` (names): those that must be given; others may be
    missing (None). Every name is required without it."""
    if isinstance(values, dict):
        unknown = [k for k in values if k not in names]
        if unknown:
            raise ValueError(f"{what}: the model has no {kind} named {unknown[0]!r}; its {kind}s are "
                             f"{', '.join(names)}")
        found = [values.get(n) for n in names]
    elif len(names) == 1:
        found = [values]
    elif isinstance(values, (list, tuple)):
        if len(values) != len(names):
            raise ValueError(f"{what}: expected {len(names)} arrays, one per {kind} ({', '.join(names)}), got "
                             f"{len(values)}")
        found = list(values)
    else:
        raise ValueError(f"{what}: the model has {len(names)} {kind}s ({', '.join(names)}); give a list of arrays "
                         f"in that order or a dict by name")
    for name, value in zip(names, found):
        if value is None and (required is None or name in required):
            raise ValueError(f"{what}: no array for {kind} {name!r}")
    return found
