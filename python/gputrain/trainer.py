"""The training loop in Keras's words: compile, fit (progress bar, callbacks, checkpoints, resume), evaluate
and predict. Training runs on the device chosen at compile time; parameters, gradients and optimizer
state stay there, and only the running loss and metrics come back, when the progress bar shows them."""
from __future__ import annotations

import math
import time
import warnings

import numpy as np

from . import _core, callbacks as callbacks_module, checks, initializers, losses, optimizers
from . import nesting, plan as plan_module, saving, session
from ._backends import resolve_device
from .feed import BatchFeed
from .progress import ProgressBar
from .tensor import tensor as _tensor

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
    """Mixed into a model that has `layers`, `device`, `input_shape`, `output_shape` and `build()`. Every
    step runs through the model's plans (gputrain/plan.py): `_plans` maps a batch size to its training
    plan, `_inference_plans` each of "evaluate" and "predict" to theirs."""

    run_eagerly = False

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, device: str | None = None,
                run_eagerly: bool = False) -> None:
        """As Keras's; `run_eagerly=True` runs each training step one layer at a time through the same
        layer nodes (for debugging: same results, more launches)."""
        if loss is None:
            raise ValueError("compile: a loss is required, for example 'sparse_categorical_crossentropy'")
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        self.metrics = []
        for metric in metrics or []:
            if metric not in ("accuracy", "acc"):
                raise ValueError(f"metrics: {metric!r} is not supported (only 'accuracy')")
            self.metrics.append("accuracy")
        if device is not None and self.built and resolve_device(device) != self.device:
            raise ValueError(f"compile: the model is built on {self.device}; compile before building to "
                             f"choose another device")
        self.run_eagerly = checks.flag(run_eagerly, "run_eagerly")
        self.device = resolve_device(device or self.device)
        self.build()
        self._forget_plans()

    # ---- plans ----------------------------------------------------------------------------------
    def _forget_plans(self) -> None:
        """Drops every plan (they hold the model's tensors and optimizer); in place, as a running fit
        reads these dicts."""
        self._plans.clear()
        for plans in self._inference_plans.values():
            plans.clear()

    def _plan(self, kind: str, batch: int):
        """The plan of `kind` ("train", "evaluate", "predict") for batches of `batch`, built on first use,
        and anew once layers were frozen or unfrozen (Keras asks for a compile then; gputrain notices)."""
        frozen = tuple(not layer.trainable for layer in nesting.leaf_layers(self))
        if frozen != getattr(self, "_plans_frozen", frozen):
            self._forget_plans()
        self._plans_frozen = frozen
        plans = self._plans if kind == "train" else self._inference_plans[kind]
        plan = plans.get(batch)
        if plan is None:
            plan = plans[batch] = plan_module.build(self, batch, saving.weight_key, kind)
        return plan

    def _plan_step(self, xb, yb, count):
        """One step through the training plan for this batch size (built on first use); the plan."""
        plan = self._plan("train", count)
        self.optimizer.iterations += 1
        plan_module.step(plan, xb, yb, self.optimizer.iterations, self.optimizer.learning_rate, self.run_eagerly)
        return plan

    def _labels(self):
        """The feed's label conversion: the loss's own, with sparse labels checked against the outputs."""
        if isinstance(self.loss, losses.SparseCategoricalCrossentropy):
            return plan_module.SparseLabelCheck(self.loss, self.output_shape[-1])
        return self.loss.labels

    # ---- inputs ---------------------------------------------------------------------------------
    def _check_xy(self, x, y, name="x"):
        if x is None:
            raise TypeError(f"{name}: expected an array of samples, got None")
        x = np.asarray(x)
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{name}: expected numbers, got an array of {x.dtype}")
        if x.shape[1:] != tuple(self.input_shape):
            raise ValueError(f"{name}: the model expects samples of shape {tuple(self.input_shape)}, "
                             f"got {name} of shape {x.shape}")
        if y is not None:
            y = np.asarray(y)
            if y.dtype.kind not in "biuf":
                raise TypeError(f"y: expected numbers, got an array of {y.dtype}")
            if len(y) != len(x):
                raise ValueError(f"x and y must have the same number of samples, got {len(x)} and {len(y)}")
            if self.loss is not None:
                self.loss.check_targets(y, tuple(self.output_shape))
        return x, y

    def fit(self, x=None, y=None, batch_size: int = 32, epochs: int = 1, verbose=1,
            validation_split: float = 0.0, validation_data=None, shuffle: bool = True, callbacks=None,
            initial_epoch: int = 0, resume: bool = False):
        """Trains and returns a History. resume=True continues from the newest checkpoint of this model
        (its name and architecture) that its ModelCheckpoint finds (one saving every epoch to the
        platform's persistent folder is added if none is given): weights, optimizer state, epochs
        completed and the samples of the epoch in progress, with the same shuffling."""
        if self.optimizer is None:
            raise ValueError("fit: compile the model first")
        batch_size = checks.count(batch_size, "batch_size", 1)
        epochs = checks.count(epochs, "epochs", 0)
        initial_epoch = checks.count(initial_epoch, "initial_epoch", 0)
        verbose = _verbosity(verbose)
        validation_split = checks.number(validation_split, "validation_split", 0.0, 1.0, high_open=True)
        if y is None:
            raise ValueError("y: fit needs the targets (labels) of x")
        x, y = self._check_xy(x, y)
        check_finite_rows(x, "x")
        check_finite_rows(y, "y")
        if validation_split and validation_data is None:
            cut = int(len(x) * (1.0 - validation_split))  # Keras takes the last samples, before shuffling
            x, y, validation_data = x[:cut], y[:cut], (x[cut:], y[cut:])
        elif validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data: expected a pair (x_val, y_val)")
            val_x, val_y = self._check_xy(*validation_data, name="validation_data x")
            check_finite_rows(val_x, "validation_data x")
            check_finite_rows(val_y, "validation_data y")
            validation_data = (val_x, val_y)
        if len(x) == 0:
            raise ValueError("x: no samples to train on")
        callbacks = list(callbacks or [])
        for c in callbacks:
            if not isinstance(c, callbacks_module.Callback):
                raise TypeError(f"callbacks: expected gputrain callbacks, got {type(c).__name__}")
        checkpoints = [c for c in callbacks if isinstance(c, callbacks_module.ModelCheckpoint)]
        if resume and not checkpoints:
            checkpoints = [callbacks_module.ModelCheckpoint()]
            callbacks.append(checkpoints[0])
        history = callbacks_module.History()
        for c in callbacks + [history]:
            c.set_model(self)
        for c in checkpoints:
            c.check_target()  # a checkpoint folder that cannot be written fails now, not after an epoch

        start_sample = 0
        found = saving.find_resumable(self, checkpoints[0]) if resume else None
        if found is None:
            self.training_state["seed"] = None  # a fresh fit shuffles afresh
            self.training_state["history"] = {}
        else:
            initial_epoch, start_sample = self._resume(found, checkpoints[0], len(x), batch_size)
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
        try:
            self._epochs(x, y, batch_size, initial_epoch, epochs, start_sample, shuffle, verbose, callbacks,
                         checkpoints, history, validation_data)
        finally:
            self._before_save = None  # also when training was interrupted: a later save records nothing stale
        return history

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
                checkpoints, history, validation_data):
        seed = self.training_state["seed"]
        self.stop_training = False
        labels = self._labels()
        plan_metrics = plan_module.EpochMetrics(self._plans, self.loss.units_per_sample(tuple(self.output_shape)))
        # Reading a compiled step's running loss waits for the device: done when the bar redraws, or
        # every step when a callback reads each batch's logs (as Keras callbacks may).
        batch_logs = any(getattr(c, "reads_batch_logs", True) for c in callbacks)
        guard = session.SessionGuard(lambda: self._session_save(checkpoints), SESSION_MARGIN_S)
        ring = None  # the staging ring, reused from epoch to epoch
        for c in callbacks + [history]:
            c.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            state = self.training_state
            # An epoch resumed part way: its first part's running means come from the checkpoint and are
            # merged with this part's, so the epoch's logs cover all of its samples.
            carried = _EpochMeans(state.get("logs") or {}, state.get("logs_samples", 0) if start_sample else 0)
            state.update(epoch=epoch, samples=start_sample, batch_size=batch_size)
            state.pop("legacy_step", None)
            for c in callbacks:
                c.on_epoch_begin(epoch)
            if verbose:
                print(f"Epoch {epoch + 1}/{epochs}")
            order = np.random.default_rng([seed, epoch]).permutation(len(x)) if shuffle else np.arange(len(x))
            step = -(-start_sample // batch_size)  # the bar counts steps of the whole epoch
            bar = ProgressBar(step + math.ceil((len(x) - start_sample) / batch_size), verbose=verbose)
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
                    part = plan_metrics.read(seen, bool(self.metrics))
                    state["logs"], state["logs_samples"] = carried.merged(part, seen), carried.samples + seen

            self._before_save = record_means
            feed = BatchFeed(x, y, order[start_sample:], batch_size, self.device, labels, ring=ring)
            try:
                for xb, yb, count, waited in feed:
                    for c in callbacks:
                        c.on_train_batch_begin(step)
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
                        logs = carried.merged(plan_metrics.read(seen, bool(self.metrics)), seen)
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
                logs = carried.merged(plan_metrics.read(seen, bool(self.metrics)), seen)
            if diverged_after is None and "loss" in logs and not math.isfinite(logs["loss"]):
                diverged_after = last_finite
            if validation_data is not None and diverged_after is None:
                values = self.evaluate(*validation_data, batch_size=batch_size, verbose=0)
                values = values if isinstance(values, list) else [values]
                logs["val_loss"] = values[0]
                if self.metrics:
                    logs["val_accuracy"] = values[1]
            bar.finish(step, logs)
            history.on_epoch_end(epoch, logs)
            state["history"] = history.history
            if state["samples"] >= len(x):
                state.update(epoch=epoch + 1, samples=0, logs={}, logs_samples=0)  # the epoch is complete
            for c in callbacks:
                c.on_epoch_end(epoch, logs)
            if diverged_after is not None:
                first_bad = plan_metrics.first_nonfinite_step()
                self._report_divergence(epoch, first_bad, diverged_after, step)
            if self.stop_training:
                break
        for c in callbacks + [history]:
            c.on_train_end()

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
    def _batches(self, x, batch_size):
        """x's batches on the model's device as float32; uint8 images travel as bytes and are converted
        there, as in fit."""
        for start in range(0, len(x), batch_size):
            rows = np.asarray(x[start:start + batch_size])
            if rows.dtype == np.uint8:
                yield _core.uint8_to_float32(_tensor(rows, device=self.device))
            else:
                yield _tensor(rows.astype(np.float32, copy=False), device=self.device)

    def predict(self, x, batch_size: int = 32, verbose=0) -> np.ndarray:
        self.build()
        batch_size = checks.count(batch_size, "batch_size", 1)
        _verbosity(verbose)
        x, _ = self._check_xy(x, None)
        outputs = [self._plan("predict", xb.shape[0]).predict(xb).numpy() for xb in self._batches(x, batch_size)]
        return np.concatenate(outputs) if outputs else np.zeros((0,) + tuple(self.output_shape), np.float32)

    def evaluate(self, x, y, batch_size: int = 32, verbose=1):
        """[loss, accuracy] (just the loss without metrics), as Keras returns it."""
        if self.loss is None:
            raise ValueError("evaluate: compile the model first")
        batch_size = checks.count(batch_size, "batch_size", 1)
        verbose = _verbosity(verbose)
        x, y = self._check_xy(x, y)
        labels = self._labels()
        plans = self._inference_plans["evaluate"]
        sums = plan_module.EpochMetrics(plans, self.loss.units_per_sample(tuple(self.output_shape)))
        sums.start()
        bar = ProgressBar(math.ceil(len(x) / batch_size), verbose=verbose)
        seen = 0
        for step, xb in enumerate(self._batches(x, batch_size), start=1):
            count = xb.shape[0]
            yb = _tensor(labels(y[seen:seen + count]), device=self.device)
            plan = self._plan("evaluate", count)
            plan.evaluate(xb, yb)
            sums.track(plan, step - 1)
            seen += count
            if bar.due(step):
                bar.update(step, sums.read(seen, bool(self.metrics)))
        logs = sums.read(len(x), bool(self.metrics))
        bar.finish(bar.target, logs)
        values = list(logs.values())
        return values if self.metrics else values[0]
