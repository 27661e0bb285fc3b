"""The model's one executor: its layers, loss and optimizer compiled into a `_core._TrainPlan` per batch size
and use (training; evaluation and prediction, with training off), whose buffers are allocated once. Each
layer, loss and optimizer adds itself to the plan (`add_to_plan`); the plan holds each layer kind's
forward and backward once, in C++. A training step runs every kernel (uint8 conversion, forward, loss,
accuracy, backward, optimizer) with no Python between them, or, for a model compiled with
`run_eagerly=True`, the same nodes one call at a time. Loss and accuracy are summed on the device and
read only when the progress bar or the epoch's end needs them."""
from __future__ import annotations

import warnings

import numpy as np

from . import _core, initializers, nesting, settings, targets


def graphs_enabled() -> bool:
    """Whether GPU plans record their step as a graph and replay it (one launch per step instead of one
    per kernel); GPUTRAIN_GPU_GRAPHS=0 turns that off."""
    return settings.get("GPUTRAIN_GPU_GRAPHS")


def output_activations(model) -> list:
    """The output activation of each output's layer (a loss may take it over), or None."""
    return [getattr(layer, "activation", None) for layer in model._output_layers()]


# What each kind of plan is for: "train" (fit's steps), "evaluate" and "predict" (inference), and
# "call_training" (model(x, training=True): training's forward, no loss or optimizer).
KINDS_WITH_LOSS = ("train", "evaluate")


def build(model, batch: int, key, kind: str = "train") -> "_core._TrainPlan":
    """A plan for `batch` rows over the model's current parameters and, for training, its optimizer
    slots (`key(i, name)` names the slots of layer i's parameter `name`, as the optimizer stores them)."""
    training = kind in ("train", "call_training")
    graphs = graphs_enabled() and not (training and model.run_eagerly)
    # A model run eagerly (for debugging) keeps every value in its own buffer, for node_output to show.
    first, *others = model._input_shapes()
    plan = _core._TrainPlan(model.device, int(batch), list(first), graphs=graphs, training=training,
                            reuse_memory=not model.run_eagerly)
    inputs = [0] + [plan.add_input(list(shape)) for shape in others]
    nesting.freeze_in_plan(model, plan)
    outputs = model._add_to_plan(plan, inputs)
    if kind in KINDS_WITH_LOSS:
        activations, read = output_activations(model), model._outputs_read_by_layers()
        for target in targets.trained(model.targets):
            i = target.index
            # The loss may take over the output's activation only where nothing else reads its output.
            kept = read[i] or getattr(model._output_layers()[i], "activity_regularizer", None) is not None
            target.loss.add_to_plan(plan, None if kept else activations[i], target.shape, outputs[i],
                                    target.weight, [m.kernel for m in target.metrics],
                                    model._class_weight if kind == "train" else None)
    plan.set_outputs(outputs)
    if kind == "train":
        index = {layer: i for i, layer in enumerate(model.layers)}
        slots = [model.optimizer.slots_for(key(index[layer], name), layer.params[name])
                 for layer in model._plan_layers() for name in layer.trainable_names]
        model.optimizer.add_to_plan(plan, slots)
    return plan


def step(plan, x, y, iteration: int, learning_rate: float, eagerly: bool = False) -> None:
    """One training step, whole or (eagerly) one node at a time through the same nodes; says once, as a
    RuntimeWarning, when the runtime refused to record the plan's step as a graph (training goes on,
    launching each kernel on its own)."""
    if eagerly:
        plan.load(x, y, iteration, learning_rate)
        for i in range(plan.node_count):
            plan.forward_node(i)
        plan.loss()
        for i in reversed(range(plan.node_count)):
            plan.backward_node(i)
        plan.update()
        return
    first = plan.graph_state == "pending"
    plan.step(x, y, iteration, learning_rate)
    if first and plan.graph_state == "failed":
        warnings.warn(f"gputrain: recording the training step as a GPU graph failed, so each step launches its "
                      f"kernels one by one (slower for small models): {plan.graph_failure}", RuntimeWarning,
                      stacklevel=3)


def dropout_seed(layer) -> int:
    """The base of a Dropout layer's per-step mask seeds: its own seed, else one from gputrain's
    generator (so set_random_seed makes training reproducible)."""
    if layer.seed is not None:
        return int(layer.seed)
    return int(initializers.generator().integers(0, 2**63))


class SparseLabelCheck:
    """The feed's label conversion for sparse labels: the loss's own, then each label checked against the
    number of classes on the host, where the batch is, since the loss kernel indexes with them."""

    def __init__(self, loss, classes: int):
        self.loss, self.classes = loss, classes

    def __call__(self, y):
        labels = self.loss.labels(y)
        bad = (labels < 0) | (labels >= self.classes)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"y: label {labels[i]} at index {i} of the batch is outside [0, {self.classes}) "
                             f"for the model's {self.classes} outputs")
        return labels


class EpochMetrics:
    """The running losses and accuracies of an epoch trained by plans (`plans`: batch size -> plan,
    filled as batches of new sizes arrive), as logs named for the model's `targets`: each plan sums its
    steps' mean losses and correct counts per loss term on the device; read() combines them, weighting
    each plan by its batch. Plans dropped from `plans` during the epoch (new weights were set) still
    count their steps until the epoch ends."""

    def __init__(self, plans: dict, model_targets: list):
        self.plans, self.targets = plans, model_targets
        self._epoch: dict = {}  # id -> (plan, steps of the epoch before its first) for each plan run in it

    def start(self) -> None:
        self._epoch = {}
        for plan in self.plans.values():
            plan.reset_metrics()

    def track(self, plan, steps_before: int) -> None:
        """Called with the plan of each step and the epoch's steps before it (a dict lookup a step)."""
        if id(plan) not in self._epoch:
            self._epoch[id(plan)] = (plan, steps_before)

    def first_nonfinite_step(self) -> int | None:
        """The epoch's step (1-based) whose loss was the first NaN or infinite one, as the plans marked
        it on the device; each counts its steps from its first in the epoch."""
        found = [before + index + 1 for plan, before in self._epoch.values()
                 if (index := plan.first_nonfinite_step()) >= 0]
        return min(found) if found else None

    def read(self, seen: int) -> dict:
        terms = targets.trained(self.targets)
        sums = [[0.0] * (1 + len(t.metrics)) for t in terms]
        penalties = 0.0
        for plan, _ in self._epoch.values():
            # Per term: its loss sum, then one sum per metric; then the penalties' sum. Sums of the steps'
            # means count each plan's batch; correct predictions are counts already.
            values = iter(plan.metrics())
            for term, term_sums in zip(terms, sums):
                term_sums[0] += next(values) * plan.batch
                for j, metric in enumerate(term.metrics, start=1):
                    term_sums[j] += next(values) * (1 if metric.kernel == "accuracy" else plan.batch)
            penalties += next(values) * plan.batch
        return targets.logs(self.targets, sums, penalties, seen)
