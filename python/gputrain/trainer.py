"""The training loop in Keras's words: compile, fit (progress bar, callbacks, checkpoints, resume), evaluate
and predict. Training runs on the device chosen at compile time; parameters, gradients and optimizer
state stay there, and only the running loss and metrics come back, when the progress bar shows them."""
from __future__ import annotations

import math
import time
import warnings

import numpy as np

from . import _core, callbacks as callbacks_module, checks, initializers, losses, optimizers
from . import keras_files, nesting, plan as plan_module, saving, session, targets as targets_module
from ._backends import resolve_device
from .feed import BatchFeed
from .progress import ProgressBar
from .tensor import tensor as _tensor
from .unsupported import NotSupportedError

SESSION_MARGIN_S = 15 * 60  # save and warn when the platform's session has less than this left
READ_INTERVAL_S = 1.0  # without a bar to redraw, a compiled fit still reads its running loss this often
_FINITE_CHECK_ROWS = 4096  # rows checked at a time for NaN/Inf, so the check needs little memory


class _EpochMeans:
    """The running means (loss, accuracy) of the part of an epoch trained before a resume, over
    `samples` samples, merged with those of the part trained since."""

    def __init__(self, logs: dict, samples: int):
        self.logs, self.samples = dict(logs), int(samples)

    def merged(self, part: dict, part_samples: int) -> dict:
        if not self.samples:
            return dict(part)
        if not part_samples:
            return dict(self.logs)
        total = self.samples + part_samples
        return {k: (self.logs.get(k, v) * self.samples + v * part_samples) / total for k, v in part.items()}


def _verbosity(verbose) -> int:
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose: expected 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


# Keras's fit arguments gputrain does not take yet, with what a call passes when it does not use them.
_FIT_NOT_YET = {"sample_weight": None, "steps_per_epoch": None, "validation_steps": None,
                "validation_batch_size": None}


def _validation_epochs(freq):
    """Keras's validation_freq as a test of the epoch (from 0): every `freq` epochs, or the epochs (from 1)
    a list names."""
    if isinstance(freq, (list, tuple, set, range)):
        epochs = {checks.count(e, "validation_freq", 1) for e in freq}
        return lambda epoch: epoch + 1 in epochs
    freq = checks.count(freq, "validation_freq", 1)
    return lambda epoch: (epoch + 1) % freq == 0


def _refuse_unsupported(method: str, given: dict) -> None:
    for name, value in given.items():
        if name not in _FIT_NOT_YET:
            raise TypeError(f"{method}() got an unexpected keyword argument {name!r}")
        default = _FIT_NOT_YET[name]
        if not (value is default or (isinstance(value, int) and value == default)):
            raise NotSupportedError(f"{method}: {name} is not supported yet; gputrain trains on every sample of x "
                                    f"each epoch, each weighing the same, and validates after every epoch")


def _names_metrics(value) -> bool:
    """Whether a value holds metric names (strings), or is an empty list: metrics in Keras 2's positional
    order, since loss weights are numbers and an empty list of them means nothing."""
    if isinstance(value, (list, tuple)) and not value:
        return True
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else [value]
    return any(isinstance(v, str) or (isinstance(v, (list, tuple)) and _names_metrics(v)) for v in items)


def check_finite_rows(array: np.ndarray, name: str) -> None:
    """ValueError naming the first sample of `array` that holds NaN or Inf; integer arrays pass."""
    if array.dtype.kind not in "fc":
        return
    for start in range(0, len(array), _FINITE_CHECK_ROWS):
        block = array[start:start + _FINITE_CHECK_ROWS].reshape(min(_FINITE_CHECK_ROWS, len(array) - start), -1)
        bad = ~np.isfinite(block).all(axis=1)
        if bad.any():
            row = start + int(np.argmax(bad))
            value = block[row - start][~np.isfinite(block[row - start])][0]
            raise ValueError(f"{name}: sample {row} holds {value} (NaN or Inf would make the loss NaN and "
                             f"ruin the weights); clean or drop it before training")


class Trainer:
    """Mixed into a model that has `layers`, `device`, `build()`, and its inputs' and outputs' shapes and
    names as lists (`_input_shapes()`, `_output_shapes()`, `_input_names()`, `_output_names()`). Every
    step runs through the model's plans (gputrain/plan.py): `_plans` maps a batch size to its training
    plan, `_inference_plans` each of "evaluate" and "predict" to theirs."""

    run_eagerly = False

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, device: str | None = None,
                run_eagerly: bool = False) -> None:
        """As Keras 3's: with several outputs, `loss`, `loss_weights` and `metrics` may be one value for
        every output, a list with one entry per output or a dict by output name. `run_eagerly=True` runs
        each training step one layer at a time through the same layer nodes (for debugging: same
        results, more launches)."""
        if metrics is None and _names_metrics(loss_weights):  # Keras 2's order: compile(opt, loss, metrics)
            loss_weights, metrics = None, loss_weights
        targets = targets_module.resolve(self._output_names(), loss, loss_weights, metrics)
        self.optimizer = optimizers.get(optimizer)
        self.targets = targets
        if len(targets) == 1:
            self.loss, self.metrics, self.loss_weights = targets[0].loss, [m.spec for m in targets[0].metrics], None
        else:
            self.loss = [t.loss for t in targets]
            self.metrics = [[m.spec for m in t.metrics] for t in targets]
            self.loss_weights = [t.weight for t in targets]
        if len(targets) == 1 and loss_weights is not None:
            self.loss_weights = [targets[0].weight]
        if device is not None and self.built and resolve_device(device) != self.device:
            raise ValueError(f"compile: the model is built on {self.device}; compile before building to "
                             f"choose another device")
        self.run_eagerly = checks.flag(run_eagerly, "run_eagerly")
        self.device = resolve_device(device or self.device)
        if not self._input_shape_unknown():  # else the first data builds it (_build_for)
            self.build()
            self._shape_targets()
        self._forget_plans()

    def _shape_targets(self) -> None:
        for target, shape in zip(self.targets or [], self._output_shapes()):
            target.shape = shape

    def _input_shape_unknown(self) -> bool:
        return False

    def _build_for(self, x) -> None:
        """Keras's deferred build: a model given no input shape builds on the first data it meets, for that
        data's sample shape."""
        if self._input_shape_unknown() and x is not None:
            shape = tuple(x.shape) if hasattr(x, "shape") else np.shape(x)
            if len(shape) < 2:
                raise ValueError(f"x: expected a batch of samples to build the model for, got shape {shape}")
            self.build(shape[1:], self.device)
            self._shape_targets()

    # ---- plans ----------------------------------------------------------------------------------
    def _forget_plans(self) -> None:
        """Drops every plan (they hold the model's tensors and optimizer); in place, as a running fit
        reads these dicts."""
        self._plans.clear()
        for plans in self._inference_plans.values():
            plans.clear()

    def _plan(self, kind: str, batch: int):
        """The plan of `kind` ("train", "evaluate", "predict") for batches of `batch`, built on first use,
        and anew once layers were frozen or unfrozen or a layer's weights replaced (Keras asks for a
        compile after freezing; gputrain notices)."""
        if nesting.version() != getattr(self, "_plans_version", None):
            self._forget_plans()
            self._plans_version = nesting.version()
        if self._class_weight is not getattr(self, "_plans_class_weight", None):
            self._plans.clear()  # training plans hold the class weights of the fit that built them
        self._plans_class_weight = self._class_weight
        plans = self._plans if kind == "train" else self._inference_plans[kind]
        plan = plans.get(batch)
        if plan is None:
            plan = plans[batch] = plan_module.build(self, batch, saving.weight_key, kind)
        return plan

    def _plan_step(self, xb, yb, count):
        """One step through the training plan for this batch size (built on first use); the plan."""
        plan = self._plan("train", count)
        learning_rate = self.optimizer.learning_rate  # a schedule's at the updates done so far, as Keras's
        self.optimizer.iterations += 1
        plan_module.step(plan, xb, yb, self.optimizer.iterations, learning_rate, self.run_eagerly)
        return plan

    def _labels(self) -> list:
        """The feed's label conversion per trained output: the loss's own, with sparse labels checked
        against the output's classes."""
        return [plan_module.SparseLabelCheck(t.loss, t.shape[-1])
                if isinstance(t.loss, losses.SparseCategoricalCrossentropy) else t.loss.labels
                for t in targets_module.trained(self.targets)]

    # ---- inputs ---------------------------------------------------------------------------------
    def _input_arrays(self, x, name="x") -> list:
        """x as one array per model input (given as an array, a list, or a dict by input name), checked."""
        if x is None:
            raise TypeError(f"{name}: expected an array of samples, got None")
        names, shapes = self._input_names(), self._input_shapes()
        arrays = []
        for input_name, shape, value in zip(names, shapes, targets_module.structured(x, names, name, "input")):
            label = name if len(names) == 1 else f"{name}[{input_name!r}]"
            value = np.asarray(value)
            if value.dtype.kind not in "biuf":
                raise TypeError(f"{label}: expected numbers, got an array of {value.dtype}")
            if value.shape[1:] != shape:
                raise ValueError(f"{label}: the model expects samples of shape {shape}, got {label} of shape "
                                 f"{value.shape}")
            if arrays and len(value) != len(arrays[0]):
                raise ValueError(f"{name}: every input needs the same number of samples, got {len(arrays[0])} "
                                 f"and {len(value)}")
            arrays.append(value)
        return arrays

    def _target_arrays(self, y, samples: int, name="y") -> list:
        """y as one array per trained output (given as an array, a list, or a dict by output name),
        checked against its output and loss."""
        trained = targets_module.trained(self.targets)
        names = [t.name for t in self.targets]
        given = targets_module.structured(y, names, name, "output", required=[t.name for t in trained])
        arrays = []
        for t in trained:
            label = name if len(self.targets) == 1 else f"{name}[{t.name!r}]"
            value = np.asarray(given[t.index])
            if value.dtype.kind not in "biuf":
                raise TypeError(f"{label}: expected numbers, got an array of {value.dtype}")
            if len(value) != samples:
                raise ValueError(f"x and {label} must have the same number of samples, got {samples} and "
                                 f"{len(value)}")
            t.loss.check_targets(value, t.shape)
            arrays.append(value)
        return arrays

    def _check_xy(self, x, y, name="x"):
        """(x's arrays, y's arrays or None)."""
        xs = self._input_arrays(x, name)
        return xs, None if y is None else self._target_arrays(y, len(xs[0]))

    def fit(self, x=None, y=None, batch_size: int = 32, epochs: int = 1, verbose=1,
            validation_split: float = 0.0, validation_data=None, shuffle: bool = True, callbacks=None,
            initial_epoch: int = 0, resume: bool = False, class_weight=None, validation_freq=1, **not_yet):
        """Trains and returns a History. resume=True continues from the newest checkpoint of this model
        (its name and architecture) that its ModelCheckpoint finds (one saving every epoch to the
        platform's persistent folder is added if none is given): weights, optimizer state, epochs
        completed and the samples of the epoch in progress, with the same shuffling. class_weight
        ({class index: weight}, sparse or categorical cross-entropy) weighs each sample's loss by its
        class's weight, as Keras's. validation_freq: validate every that many epochs, or after the epochs
        (numbered from 1) in a list."""
        _refuse_unsupported("fit", not_yet)
        validates = _validation_epochs(validation_freq)
        if self.optimizer is None:
            raise ValueError("fit: compile the model first")
        self._build_for(x)
        batch_size = checks.count(batch_size, "batch_size", 1)
        epochs = checks.count(epochs, "epochs", 0)
        initial_epoch = checks.count(initial_epoch, "initial_epoch", 0)
        verbose = _verbosity(verbose)
        validation_split = checks.number(validation_split, "validation_split", 0.0, 1.0, high_open=True)
        if y is None:
            raise ValueError("y: fit needs the targets (labels) of x")
        x, y = self._check_xy(x, y)
        self._check_finite(x, y, "")
        if validation_split and validation_data is None:
            cut = int(len(x[0]) * (1.0 - validation_split))  # Keras takes the last samples, before shuffling
            validation_data = ([a[cut:] for a in x], [a[cut:] for a in y])
            x, y = [a[:cut] for a in x], [a[:cut] for a in y]
        elif validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data: expected a pair (x_val, y_val)")
            validation_data = self._check_xy(*validation_data, name="validation_data x")
            self._check_finite(*validation_data, "validation_data ")
        if len(x[0]) == 0:
            raise ValueError("x: no samples to train on")
        callbacks = self._callbacks(callbacks)
        checkpoints = [c for c in callbacks if isinstance(c, callbacks_module.ModelCheckpoint)]
        if resume and checkpoints and checkpoints[0].save_weights_only:
            raise ValueError("resume: the ModelCheckpoint saves weights only, which cannot resume a fit (no optimizer "
                             "state or progress); use one without save_weights_only")
        if resume and checkpoints and keras_files.is_keras_file(checkpoints[0].filepath or ""):
            raise ValueError("resume: the ModelCheckpoint writes Keras .keras files, which do not record where a "
                             "fit stopped; resume from gputrain's checkpoints (a .safetensors filepath, or none)")
        if resume and not checkpoints:
            checkpoints = [callbacks_module.ModelCheckpoint()]
            callbacks.append(checkpoints[0])
        history = callbacks_module.History()
        params = {"verbose": verbose, "epochs": epochs, "steps": math.ceil(len(x[0]) / batch_size)}
        for c in callbacks + [history]:
            c.set_model(self)
            c.set_params(params)
        for c in checkpoints:
            c.check_target()  # a checkpoint folder that cannot be written fails now, not after an epoch

        start_sample = 0
        found = saving.find_resumable(self, checkpoints[0]) if resume else None
        if found is None:
            self.training_state["seed"] = None  # a fresh fit shuffles afresh
            self.training_state["history"] = {}
        else:
            initial_epoch, start_sample = self._resume(found, checkpoints[0], len(x[0]), batch_size)
            history.history = {k: list(v) for k, v in self.training_state["history"].items()}
            history.epoch = list(range(len(next(iter(history.history.values()), []))))
        self.history = history
        if initial_epoch >= epochs:
            if found is not None:
                trained = (f"{initial_epoch} of {epochs} epochs" if initial_epoch == epochs
                           else f"{initial_epoch} epochs, more than the {epochs} asked for")
                print(f"already trained {trained}; nothing to do — pass epochs=N (N > {initial_epoch}) "
                      f"to train further")
            return history
        if self.training_state["seed"] is None:
            self.training_state["seed"] = int(initializers.generator().integers(0, 2**31))
        self._class_weight = self._class_weight_tensor(class_weight)
        try:
            self._epochs(x, y, batch_size, initial_epoch, epochs, start_sample, shuffle, verbose, callbacks,
                         checkpoints, history, validation_data, validates)
        finally:
            self._before_save = None  # also when training was interrupted: a later save records nothing stale
            self._class_weight = None
        return history

    def _class_weight_tensor(self, class_weight):
        """fit's class_weight as one weight per class on the device (1 for a class it leaves out), checked."""
        if class_weight is None:
            return None
        if not isinstance(class_weight, dict):
            raise TypeError(f"class_weight: expected a dict {{class index: weight}}, got {type(class_weight).__name__}")
        if len(self.targets) != 1:
            raise NotSupportedError("class_weight: supported for models of one output (as in Keras 3)")
        target = self.targets[0]
        if not isinstance(target.loss, losses.SparseCategoricalCrossentropy):
            raise NotSupportedError(f"class_weight with {target.loss.name} is not supported yet; it works with "
                                    f"sparse and categorical cross-entropy")
        classes = target.shape[-1]
        weights = np.ones(classes, np.float32)
        for key, value in class_weight.items():
            if isinstance(key, bool) or not isinstance(key, (int, np.integer)) or not 0 <= key < classes:
                raise ValueError(f"class_weight: {key!r} is not a class index of the model's {classes} outputs")
            weights[int(key)] = checks.number(value, f"class_weight[{key}]", low=0.0)
        return _tensor(weights, device=self.device)

    def _check_finite(self, xs: list, ys: list, prefix: str) -> None:
        """Every input and target array free of NaN and Inf (named as the user gave them)."""
        for what, arrays, names in (("x", xs, self._input_names()),
                                    ("y", ys, [t.name for t in targets_module.trained(self.targets)])):
            for array, name in zip(arrays, names):
                check_finite_rows(array, prefix + (what if len(arrays) == 1 else f"{what}[{name!r}]"))

    def _resume(self, found, checkpoint, samples: int, batch_size: int) -> tuple[int, int]:
        """Restores the checkpoint found; (epochs completed, samples of the next epoch done)."""
        path, info, why = found
        saving.restore(self, path, info)
        checkpoint.resumed_from(path)
        state = self.training_state
        epochs, done = saving.progress(state, samples, batch_size)
        # Said whatever the verbosity: which file training continues from must never be a surprise.
        print(f"Resuming {saving.checkpoint_name(self)!r} from {path} ({why}): "
              f"{saving.describe_progress(epochs, done, samples, self.optimizer.iterations)}. "
              f"To start from scratch instead, fit without resume=True or delete that file.")
        if done > samples:
            print(f"resume: the checkpoint was saved after {done} samples of epoch {epochs + 1}, but x has "
                  f"{samples}: epoch {epochs + 1} starts from its first sample")
            done = 0
            state.update(logs={}, logs_samples=0)
        elif done and state.get("batch_size") not in (None, batch_size):
            print(f"resume: the checkpoint was saved with batch_size={state['batch_size']}, this fit uses "
                  f"{batch_size}: epoch {epochs + 1} continues at sample {done} of {samples}, so no sample "
                  f"is skipped or repeated")
        return epochs, done

    def _epochs(self, x, y, batch_size, initial_epoch, epochs, start_sample, shuffle, verbose, callbacks,
                checkpoints, history, validation_data, validates=lambda epoch: True):
        seed = self.training_state["seed"]
        self.stop_training = False
        labels = self._labels()
        plan_metrics = plan_module.EpochMetrics(self._plans, self.targets)
        samples = len(x[0])
        # Reading a compiled step's running loss waits for the device: done when the bar redraws, or
        # every step when a callback reads each batch's logs (as Keras callbacks may).
        batch_logs = any(getattr(c, "reads_batch_logs", True) for c in callbacks)
        guard = session.SessionGuard(lambda: self._session_save(checkpoints), SESSION_MARGIN_S)
        ring = None  # the staging rings, reused from epoch to epoch
        logs: dict = {}  # the last epoch's, for on_train_end
        for c in callbacks + [history]:
            c.on_train_begin({})
        for epoch in range(initial_epoch, epochs):
            state = self.training_state
            # An epoch resumed part way: its first part's running means come from the checkpoint and are
            # merged with this part's, so the epoch's logs cover all of its samples.
            carried = _EpochMeans(state.get("logs") or {}, state.get("logs_samples", 0) if start_sample else 0)
            state.update(epoch=epoch, samples=start_sample, batch_size=batch_size)
            state.pop("legacy_step", None)
            for c in callbacks:
                c.on_epoch_begin(epoch, {})
            if verbose:
                print(f"Epoch {epoch + 1}/{epochs}")
            order = np.random.default_rng([seed, epoch]).permutation(samples) if shuffle else np.arange(samples)
            step = -(-start_sample // batch_size)  # the bar counts steps of the whole epoch
            bar = ProgressBar(step + math.ceil((samples - start_sample) / batch_size), verbose=verbose)
            seen = 0
            logs = carried.merged({}, 0)
            diverged_after = None  # the last step known to have had a finite loss, once it is not
            last_finite, last_read = step, time.monotonic()
            plan_metrics.start()

            def record_means():
                # Before a checkpoint is written mid-epoch: the running means of every sample trained so
                # far, read from the device if the last read is older (a save is rare; a read per step
                # would make every step wait for the device).
                if seen and state.get("logs_samples") != carried.samples + seen:
                    part = plan_metrics.read(seen)
                    state["logs"], state["logs_samples"] = carried.merged(part, seen), carried.samples + seen

            self._before_save = record_means
            feed = BatchFeed(x, y, order[start_sample:], batch_size, self.device, labels, ring=ring)
            try:
                for xb, yb, count, waited in feed:
                    for c in callbacks:
                        c.on_train_batch_begin(step, {})
                    seen += count
                    step += 1
                    read = True
                    plan_metrics.track(self._plan_step(xb, yb, count), step - 1)
                    now = time.monotonic()
                    # Also once a second without a bar: a loss gone NaN stops training soon.
                    read = (batch_logs or bar.due(step) or step == bar.target
                            or now - last_read >= READ_INTERVAL_S)
                    if read:
                        last_read = now
                        logs = carried.merged(plan_metrics.read(seen), seen)
                    state["samples"] += count
                    if read:  # a running mean: once a step's loss is NaN, every later read is too
                        state["logs"], state["logs_samples"] = logs, carried.samples + seen
                        if math.isfinite(logs["loss"]):
                            last_finite = step
                        else:
                            diverged_after = last_finite
                    bar.update(step, logs, data_wait=waited)
                    for c in callbacks:
                        c.on_train_batch_end(step - 1, logs)
                    if diverged_after is not None:
                        self.stop_training = True
                        break
                    guard.check()
                    if self.stop_training:
                        break
            finally:
                ring = feed.close()
            start_sample = 0
            if seen:
                logs = carried.merged(plan_metrics.read(seen), seen)
            if diverged_after is None and "loss" in logs and not math.isfinite(logs["loss"]):
                diverged_after = last_finite
            if validation_data is not None and diverged_after is None and validates(epoch):
                val_logs = self._evaluate_arrays(*validation_data, batch_size, 0, callbacks)
                logs.update({f"val_{name}": value for name, value in val_logs.items()})
            bar.finish(step, logs)
            history.on_epoch_end(epoch, logs)
            state["history"] = history.history
            if state["samples"] >= samples:
                state.update(epoch=epoch + 1, samples=0, logs={}, logs_samples=0)  # the epoch is complete
            for c in callbacks:
                c.on_epoch_end(epoch, logs)
            history.record_late(logs)  # what callbacks added (learning_rate, ...), as Keras's History sees it
            if diverged_after is not None:
                first_bad = plan_metrics.first_nonfinite_step()
                self._report_divergence(epoch, first_bad, diverged_after, step)
            if self.stop_training:
                break
        for c in callbacks + [history]:
            c.on_train_end(dict(logs))

    def _report_divergence(self, epoch: int, first_bad: int | None, last_finite: int, step: int) -> None:
        where = f"at step {first_bad}" if first_bad else f"between steps {last_finite + 1} and {step}"
        warnings.warn(f"fit stopped: the loss became NaN or infinite in epoch {epoch + 1}, {where}. Check the "
                      f"inputs and labels for NaN, Inf or huge values, or lower the learning rate. Checkpoints "
                      f"were not overwritten with the diverged weights.", RuntimeWarning, stacklevel=4)

    def _session_save(self, checkpoints):
        """Saves through the fit's checkpoint (or a default one) near the session limit; its path."""
        checkpoint = checkpoints[0] if checkpoints else callbacks_module.ModelCheckpoint()
        checkpoint.set_model(self)
        checkpoint.save()
        return checkpoint.last_path

    # ---- inference ------------------------------------------------------------------------------
    def _batches(self, xs: list, batch_size: int):
        """The inputs' batches on the model's device as float32 (a list, one tensor per input); uint8
        images travel as bytes and are converted there, as in fit."""
        for start in range(0, len(xs[0]), batch_size):
            batch = []
            for x in xs:
                rows = np.asarray(x[start:start + batch_size])
                if rows.dtype == np.uint8:
                    batch.append(_core.uint8_to_float32(_tensor(rows, device=self.device)))
                else:
                    batch.append(_tensor(rows.astype(np.float32, copy=False), device=self.device))
            yield batch

    def predict(self, x, batch_size: int = 32, verbose=0, callbacks=None):
        """The outputs for x: an array, or a list of arrays for a model of several outputs."""
        self._build_for(x)
        self.build()
        batch_size = checks.count(batch_size, "batch_size", 1)
        _verbosity(verbose)
        callbacks = self._callbacks(callbacks)
        xs, _ = self._check_xy(x, None)
        shapes = self._output_shapes()
        parts: list = [[] for _ in shapes]
        for c in callbacks:
            c.on_predict_begin({})
        for step, batch in enumerate(self._batches(xs, batch_size)):
            for c in callbacks:
                c.on_predict_batch_begin(step, {})
            outputs = self._plan("predict", batch[0].shape[0]).predict(batch)
            outputs = outputs if isinstance(outputs, list) else [outputs]
            for part, out in zip(parts, outputs):
                part.append(out.numpy())
            for c in callbacks:
                c.on_predict_batch_end(step, {"outputs": [part[-1] for part in parts]})
        for c in callbacks:
            c.on_predict_end({})
        arrays = [np.concatenate(part) if part else np.zeros((0,) + shape, np.float32)
                  for part, shape in zip(parts, shapes)]
        return arrays[0] if len(arrays) == 1 else arrays

    def evaluate(self, x, y, batch_size: int = 32, verbose=1, callbacks=None, return_dict: bool = False):
        """The loss, or [loss, the outputs' losses (several outputs), metrics...] as Keras returns it; with
        return_dict, the logs by name."""
        if self.loss is None:
            raise ValueError("evaluate: compile the model first")
        self._build_for(x)
        batch_size = checks.count(batch_size, "batch_size", 1)
        verbose = _verbosity(verbose)
        return_dict = checks.flag(return_dict, "return_dict")
        logs = self._evaluate_arrays(*self._check_xy(x, y), batch_size, verbose, self._callbacks(callbacks))
        return _returned(logs, return_dict)

    def _callbacks(self, callbacks) -> list:
        """The callbacks given (checked), each told the model."""
        callbacks = list(callbacks or [])
        for c in callbacks:
            if not isinstance(c, callbacks_module.Callback):
                raise TypeError(f"callbacks: expected gputrain callbacks, got {type(c).__name__}")
            c.set_model(self)
        return callbacks

    def _evaluate_arrays(self, xs: list, ys: list, batch_size: int, verbose: int, callbacks=()) -> dict:
        """evaluate's logs for checked arrays, with the callbacks' on_test_* events."""
        labels = self._labels()
        plans = self._inference_plans["evaluate"]
        sums = plan_module.EpochMetrics(plans, self.targets)
        sums.start()
        samples = len(xs[0])
        bar = ProgressBar(math.ceil(samples / batch_size), verbose=verbose)
        batch_logs = any(getattr(c, "reads_batch_logs", True) for c in callbacks)
        for c in callbacks:
            c.on_test_begin({})
        seen = 0
        for step, batch in enumerate(self._batches(xs, batch_size), start=1):
            for c in callbacks:
                c.on_test_batch_begin(step - 1, {})
            count = batch[0].shape[0]
            yb = [_tensor(convert(y[seen:seen + count]), device=self.device) for convert, y in zip(labels, ys)]
            plan = self._plan("evaluate", count)
            plan.evaluate(batch, yb)
            sums.track(plan, step - 1)
            seen += count
            due = bar.due(step)
            if due or batch_logs:
                running = sums.read(seen)
                if due:
                    bar.update(step, running)
                for c in callbacks:
                    c.on_test_batch_end(step - 1, running)
        logs = sums.read(samples)
        bar.finish(bar.target, logs)
        for c in callbacks:
            c.on_test_end(dict(logs))
        return logs

    # ---- one batch at a time, as Keras's *_on_batch ----
    def train_on_batch(self, x, y, return_dict: bool = False):
        """One training step on this batch; its loss and metrics (of this batch alone)."""
        if self.optimizer is None:
            raise ValueError("train_on_batch: compile the model first")
        self._build_for(x)
        xs, ys = self._check_xy(x, y)
        self._check_finite(xs, ys, "")
        batch = next(self._batches(xs, len(xs[0])))
        yb = [_tensor(convert(y), device=self.device) for convert, y in zip(self._labels(), ys)]
        sums = plan_module.EpochMetrics(self._plans, self.targets)
        sums.start()
        sums.track(self._plan_step(batch, yb, len(xs[0])), 0)
        return _returned(sums.read(len(xs[0])), checks.flag(return_dict, "return_dict"))

    def test_on_batch(self, x, y, return_dict: bool = False):
        """This batch's loss and metrics, in inference."""
        if self.loss is None:
            raise ValueError("test_on_batch: compile the model first")
        self._build_for(x)
        xs, ys = self._check_xy(x, y)
        return _returned(self._evaluate_arrays(xs, ys, len(xs[0]), 0), checks.flag(return_dict, "return_dict"))

    def predict_on_batch(self, x):
        return self.predict(x, batch_size=max(len(self._check_xy(x, None)[0][0]), 1))


def _returned(logs: dict, return_dict: bool):
    """Logs as Keras's evaluate returns them: the dict, or the values (the loss alone when there is only it)."""
    if return_dict:
        return dict(logs)
    values = list(logs.values())
    return values if len(values) > 1 else values[0]
