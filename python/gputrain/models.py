"""Sequential models in Keras's words: build, summary, compile, fit with progress and checkpoints,
evaluate, predict, save and load. Training runs on the device chosen at compile time; parameters,
gradients and optimizer state stay there, and only the loss and the outputs needed for metrics come
back to the host each step."""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np

from . import callbacks as callbacks_module
from . import initializers, layers as layers_module, losses, optimizers, safetensors_io, session
from . import _core, plan as plan_module
from ._backends import resolve_device
from .feed import BatchFeed
from .progress import ProgressBar
from .tensor import tensor as _tensor

FORMAT = "gputrain.model/1"


def _key(layer_index: int, param: str) -> str:
    # Weights are matched by position, so a model rebuilt in another process (where automatic layer
    # names may differ) loads them.
    return f"layers/{layer_index}/{param}"


def _check_batch_size(batch_size) -> None:
    if batch_size <= 0:
        raise ValueError(f"batch_size: must be positive, got {batch_size}")


def architecture_key(config: dict) -> str:
    """A short hash of a model's architecture (input shape, layer classes and their settings) without the
    names, which Keras-style numbering makes differ between runs of the same code (dense, dense_1, ...):
    a checkpoint is found again by the same model built in a later session, and only by it."""
    layers = [{"class_name": l["class_name"], "config": {k: v for k, v in l["config"].items() if k != "name"}}
              for l in config["layers"]]
    text = json.dumps({"input_shape": config["input_shape"], "layers": layers}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]
SESSION_MARGIN_S = 15 * 60  # save and warn when the platform's session has less than this left


class Sequential:
    # fit trains through compiled plans where they cover the model; False trains op by op from Python
    # (the reference the plan is tested against, and the fallback for what plans do not cover).
    _use_plans = True

    def __init__(self, layers=None, name: str | None = None):
        self.name = name or layers_module.unique_name("sequential")
        self._layers: list = []
        self.device: str | None = None
        self.optimizer = None
        self.loss = None
        self.metrics: list[str] = []
        self.built = False
        self.stop_training = False
        self.history = None
        self.training_state = {"epoch": 0, "step": 0, "seed": None, "history": {}}
        self._plans: dict = {}  # batch size -> compiled training step over the current tensors
        for layer in layers or []:
            self.add(layer)

    # ---- structure ----
    @property
    def layers(self) -> list:
        return [layer for layer in self._layers if not isinstance(layer, layers_module.Input)]

    def add(self, layer) -> None:
        if not isinstance(layer, layers_module.Layer):
            raise TypeError(f"add: expected a gputrain layer, got {type(layer).__name__}")
        if self.built:
            raise ValueError("add: the model is already built; add layers before compile/fit/summary")
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(f"add: a layer named {layer.name!r} is already in the model")
        self._layers.append(layer)

    def build(self, input_shape=None, device: str | None = None) -> None:
        if self.built:
            return
        if not self._layers:
            raise ValueError("build: the model has no layers")
        shape = input_shape if input_shape is not None else self._layers[0].input_shape
        if shape is None:
            raise ValueError("build: the input shape is unknown; give the first layer input_shape=... "
                             "or start with gt.layers.Input(shape)")
        shape = tuple(shape)
        self.device = resolve_device(device or self.device)
        self.input_shape = shape
        for layer in self._layers:
            shape = layer.build(shape, self.device)
        self.output_shape = shape
        self.built = True

    def count_params(self) -> int:
        self.build()
        return sum(layer.count_params() for layer in self.layers)

    def summary(self, print_fn=print, line_length: int = 65) -> None:
        """Keras's table: Layer (type), Output Shape, Param #, then the totals."""
        self.build()
        columns = [int(line_length * p) for p in (0.45, 0.85, 1.0)]

        def row(fields):
            line = ""
            for i, field in enumerate(fields):
                if i > 0:
                    line = line[:-1] + " "
                line = (line + str(field))[:columns[i]]
                line += " " * (columns[i] - len(line))
            print_fn(line)

        print_fn(f'Model: "{self.name}"')
        print_fn("_" * line_length)
        row(["Layer (type)", "Output Shape", "Param #"])
        print_fn("=" * line_length)
        for i, layer in enumerate(self.layers):
            shape = "(None, " + ", ".join(str(d) for d in layer.output_shape) + ")"
            row([f"{layer.name} ({type(layer).__name__})", shape, layer.count_params()])
            print_fn(("=" if i == len(self.layers) - 1 else "_") * line_length)
        trainable = sum(layer.params[n].size for layer in self.layers for n in layer.trainable_names)
        total = self.count_params()
        print_fn(f"Total params: {total:,}")
        print_fn(f"Trainable params: {trainable:,}")
        print_fn(f"Non-trainable params: {total - trainable:,}")
        print_fn("_" * line_length)

    # ---- weights ----
    def get_weights(self) -> list:
        self.build()
        return [t.numpy() for layer in self.layers for t in layer.params.values()]

    def set_weights(self, weights) -> None:
        self.build()
        targets = [(layer, name) for layer in self.layers for name in layer.params]
        if len(weights) != len(targets):
            raise ValueError(f"set_weights: expected {len(targets)} arrays, got {len(weights)}")
        for (layer, name), value in zip(targets, weights):
            value = np.asarray(value, np.float32)
            if value.shape != layer.params[name].shape:
                raise ValueError(f"set_weights: {layer.name}/{name} has shape {layer.params[name].shape}, "
                                 f"got {value.shape}")
            layer.params[name] = _tensor(value, device=self.device)
        self._plans = {}

    # ---- training ----
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, device: str | None = None) -> None:
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
        self.device = resolve_device(device or self.device)
        self.build()
        self._plans = {}

    def _fused_logits(self):
        last = self.layers[-1]
        fused = (not self.loss.from_logits and isinstance(last, layers_module._Activated)
                 and last.activation == self.loss.fused_activation)
        return last._z if fused else None

    def _forward(self, x, training: bool):
        for layer in self._layers:
            x = layer.forward(x, training)
        return x

    def _correct(self, output, labels) -> int:
        out = output.numpy()
        y = labels.numpy()
        if isinstance(self.loss, losses.BinaryCrossentropy):
            threshold = 0.0 if self.loss.from_logits else 0.5
            return int(np.sum((out > threshold) == (y > 0.5)))
        return int(np.sum(np.argmax(out, axis=-1) == y))

    def _train_step(self, xb, yb):
        if xb.dtype == "uint8":  # the feed hands images over as stored; converted where they are
            xb = _core.uint8_to_float32(xb)
        output = self._forward(xb, training=True)
        loss, grad, for_logits = self.loss.compute(output, yb, self._fused_logits())
        layers = self.layers
        dy = layers[-1].backward(grad, pre_activation=True) if for_logits else layers[-1].backward(grad)
        for layer in reversed(layers[:-1]):
            dy = layer.backward(dy)
        params, grads = {}, {}
        for i, layer in enumerate(layers):
            for name in layer.trainable_names:
                params[_key(i, name)] = layer.params[name]
                grads[_key(i, name)] = layer.grads[name]
        self.optimizer.apply(params, grads)
        correct = self._correct(output, yb) if self.metrics else 0
        return float(loss.numpy()), correct

    def _plan_step(self, xb, yb, count):
        """One step through the compiled plan for this batch size (built on first use)."""
        plan = self._plans.get(count)
        if plan is None:
            plan = self._plans[count] = plan_module.build(self, count, _key)
        self.optimizer.iterations += 1
        plan_module.step(plan, xb, yb, self.optimizer.iterations, self.optimizer.learning_rate)

    def _check_xy(self, x, y):
        x = np.asarray(x)
        if x.shape[1:] != tuple(self.input_shape):
            raise ValueError(f"x: the model expects samples of shape {tuple(self.input_shape)}, "
                             f"got x of shape {x.shape}")
        if y is not None:
            y = np.asarray(y)
            if len(y) != len(x):
                raise ValueError(f"x and y must have the same number of samples, got {len(x)} and {len(y)}")
            if self.loss is not None:
                self.loss.check_targets(y, tuple(self.output_shape))
        return x, y

    def _logs(self, loss_sum, correct, seen, prefix=""):
        logs = {f"{prefix}loss": loss_sum / max(seen, 1)}
        if self.metrics:
            logs[f"{prefix}accuracy"] = correct / max(seen * plan_module.units_per_sample(self), 1)
        return logs

    def fit(self, x=None, y=None, batch_size: int = 32, epochs: int = 1, verbose: int = 1,
            validation_split: float = 0.0, validation_data=None, shuffle: bool = True, callbacks=None,
            initial_epoch: int = 0, resume: bool = False):
        """Trains and returns a History. resume=True continues from the newest checkpoint of the
        model's ModelCheckpoint (one saving every epoch to the platform's persistent folder is added if
        none is given): weights, optimizer state, epoch and step, with the same shuffling."""
        if self.optimizer is None:
            raise ValueError("fit: compile the model first")
        _check_batch_size(batch_size)
        x, y = self._check_xy(x, y)
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split: expected a fraction in [0, 1), got {validation_split}")
        if validation_split and validation_data is None:
            cut = int(len(x) * (1.0 - validation_split))  # Keras takes the last samples, before shuffling
            x, y, validation_data = x[:cut], y[:cut], (x[cut:], y[cut:])
        callbacks = list(callbacks or [])
        checkpoints = [c for c in callbacks if isinstance(c, callbacks_module.ModelCheckpoint)]
        if resume and not checkpoints:
            checkpoints = [callbacks_module.ModelCheckpoint()]
            callbacks.append(checkpoints[0])
        history = callbacks_module.History()
        for c in callbacks + [history]:
            c.set_model(self)

        steps = math.ceil(len(x) / batch_size)
        start_step = 0
        resumed = resume and self._resume(checkpoints[0])
        if not resumed:
            self.training_state["seed"] = None  # a fresh fit shuffles afresh
        if resumed:
            initial_epoch, start_step = self.training_state["epoch"], self.training_state["step"]
            history.history = {k: list(v) for k, v in self.training_state["history"].items()}
            history.epoch = list(range(len(next(iter(history.history.values()), []))))
            if start_step >= steps:
                initial_epoch, start_step = initial_epoch + 1, 0
        if self.training_state["seed"] is None:
            self.training_state["seed"] = int(initializers.generator().integers(0, 2**31))
        seed = self.training_state["seed"]
        self.history = history
        self.stop_training = False
        compiled = self._use_plans and plan_module.supported(self)
        if compiled and isinstance(self.loss, losses.SparseCategoricalCrossentropy):
            labels = plan_module.SparseLabelCheck(self.loss, self.output_shape[-1])
        else:
            labels = self.loss.labels
        plan_metrics = plan_module.EpochMetrics(self._plans, plan_module.units_per_sample(self))
        # Reading a compiled step's running loss waits for the device: done when the bar redraws, or
        # every step when a callback reads each batch's logs (as Keras callbacks may).
        batch_logs = any(getattr(c, "reads_batch_logs", True) for c in callbacks)
        guard = session.SessionGuard(lambda: self._session_save(checkpoints), SESSION_MARGIN_S)
        ring = None  # the staging ring, reused from epoch to epoch
        for c in callbacks + [history]:
            c.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            self.training_state["epoch"], self.training_state["step"] = epoch, start_step
            for c in callbacks:
                c.on_epoch_begin(epoch)
            if verbose:
                print(f"Epoch {epoch + 1}/{epochs}")
            order = np.random.default_rng([seed, epoch]).permutation(len(x)) if shuffle else np.arange(len(x))
            bar = ProgressBar(steps, verbose=verbose)
            loss_sum = correct = seen = 0
            step = start_step
            logs = {}
            plan_metrics.start()
            feed = BatchFeed(x, y, order, batch_size, self.device, labels, start_step=start_step, ring=ring)
            try:
                for xb, yb, count, waited in feed:
                    for c in callbacks:
                        c.on_train_batch_begin(step)
                    seen += count
                    step += 1
                    if compiled:
                        self._plan_step(xb, yb, count)
                        if batch_logs or bar.due(step) or step == steps:
                            logs = plan_metrics.read(seen, bool(self.metrics))
                    else:
                        loss_value, batch_correct = self._train_step(xb, yb)
                        loss_sum += loss_value * count
                        correct += batch_correct
                        logs = self._logs(loss_sum, correct, seen)
                    self.training_state["step"] = step
                    bar.update(step, logs, data_wait=waited)
                    for c in callbacks:
                        c.on_train_batch_end(step - 1, logs)
                    guard.check()
                    if self.stop_training:
                        break
            finally:
                ring = feed.close()
            start_step = 0
            logs = plan_metrics.read(seen, bool(self.metrics)) if compiled else self._logs(loss_sum, correct, seen)
            if validation_data is not None:
                values = self.evaluate(*validation_data, batch_size=batch_size, verbose=0)
                values = values if isinstance(values, list) else [values]
                logs["val_loss"] = values[0]
                if self.metrics:
                    logs["val_accuracy"] = values[1]
            bar.finish(step, logs)
            history.on_epoch_end(epoch, logs)
            self.training_state["history"] = history.history
            self.training_state["step"] = steps  # the epoch is complete
            for c in callbacks:
                c.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for c in callbacks + [history]:
            c.on_train_end()
        return history

    def _session_save(self, checkpoints) -> Path:
        """Saves through the fit's checkpoint (or a default one) near the session limit; its path."""
        checkpoint = checkpoints[0] if checkpoints else callbacks_module.ModelCheckpoint()
        checkpoint.set_model(self)
        checkpoint.save()
        return checkpoint.last_path

    def _resume(self, checkpoint) -> bool:
        """Restores the newest checkpoint in the checkpoint's folder that this architecture saved; the
        folder may be shared by every notebook of the user (a Drive folder), so others are skipped."""
        folder = checkpoint.folder()
        candidates = sorted(folder.glob("*.safetensors"), key=lambda p: p.stat().st_mtime) if folder.exists() else []
        key = architecture_key(self.get_config())
        others = 0
        for path in reversed(candidates):
            try:
                info = json.loads(safetensors_io.load_metadata(path)["gputrain"])
                if info.get("format") != FORMAT:
                    continue  # weights only, or not one of ours
                if architecture_key(info["model"]) != key:
                    others += 1
                    continue
                tensors, _ = safetensors_io.load_file(path)
            except (ValueError, KeyError, TypeError, OSError):
                continue  # not one of ours, or unreadable: try an older one
            self._restore(tensors, info, optimizer_state=True)
            print(f"Resuming from {path}: epoch {self.training_state['epoch'] + 1}, "
                  f"step {self.training_state['step']}")
            return True
        if others:
            print(f"resume: none of the {others} checkpoints in {folder} is of this model's architecture; "
                  f"training from the start")
        return False

    # ---- inference ----
    def _batches(self, x, batch_size):
        """x's batches on the model's device as float32; uint8 images travel as bytes and are converted
        there, as in fit."""
        _check_batch_size(batch_size)
        for start in range(0, len(x), batch_size):
            rows = np.asarray(x[start:start + batch_size])
            if rows.dtype == np.uint8:
                yield _core.uint8_to_float32(_tensor(rows, device=self.device))
            else:
                yield _tensor(rows.astype(np.float32, copy=False), device=self.device)

    def predict(self, x, batch_size: int = 32, verbose: int = 0) -> np.ndarray:
        self.build()
        x, _ = self._check_xy(x, None)
        outputs = [self._forward(xb, training=False).numpy() for xb in self._batches(x, batch_size)]
        return np.concatenate(outputs) if outputs else np.zeros((0,) + tuple(self.output_shape), np.float32)

    def evaluate(self, x, y, batch_size: int = 32, verbose: int = 1):
        """[loss, accuracy] (just the loss without metrics), as Keras returns it."""
        if self.loss is None:
            raise ValueError("evaluate: compile the model first")
        x, y = self._check_xy(x, y)
        _check_batch_size(batch_size)
        bar = ProgressBar(math.ceil(len(x) / batch_size), verbose=verbose)
        loss_sum = correct = seen = 0
        for step, xb in enumerate(self._batches(x, batch_size), start=1):
            yb = _tensor(self.loss.labels(y[seen:seen + batch_size]), device=self.device)
            output = self._forward(xb, training=False)
            loss, _, _ = self.loss.compute(output, yb, self._fused_logits())
            count = xb.shape[0]
            loss_sum += float(loss.numpy()) * count
            if self.metrics:
                correct += self._correct(output, yb)
            seen += count
            bar.update(step, self._logs(loss_sum, correct, seen))
        logs = self._logs(loss_sum, correct, len(x))
        bar.finish(bar.target, logs)
        values = list(logs.values())
        return values if self.metrics else values[0]

    # ---- saving ----
    def get_config(self) -> dict:
        shape = self.input_shape if self.built else (self._layers[0].input_shape if self._layers else None)
        return {"name": self.name, "input_shape": None if shape is None else list(shape),
                "layers": [{"class_name": type(l).__name__, "config": l.get_config()} for l in self._layers]}

    def _weight_tensors(self) -> dict:
        return {_key(i, name): t.numpy() for i, layer in enumerate(self.layers) for name, t in layer.params.items()}

    def save(self, path, include_optimizer: bool = True) -> None:
        """Architecture, weights, optimizer state, epoch and step in one safetensors file, written to a
        temporary name and renamed, so a killed process leaves the previous file."""
        self.build()
        tensors = self._weight_tensors()
        info = {"format": FORMAT, "model": self.get_config(), "training": dict(self.training_state)}
        if include_optimizer and self.optimizer is not None:
            info["compile"] = {"optimizer": {"name": self.optimizer.name, "config": self.optimizer.get_config(),
                                             "iterations": self.optimizer.iterations},
                               "loss": {"name": self.loss.name, "config": self.loss.get_config()},
                               "metrics": self.metrics}
            for key, slots in self.optimizer.slots.items():
                for slot, t in slots.items():
                    tensors[f"optimizer/{key}/{slot}"] = t.numpy()
        safetensors_io.save_file(path, tensors, {"gputrain": json.dumps(info)})

    def save_weights(self, path) -> None:
        self.build()
        safetensors_io.save_file(path, self._weight_tensors(), {"gputrain": json.dumps({"format": FORMAT})})

    def load_weights(self, path) -> None:
        self.build()
        tensors, _ = safetensors_io.load_file(path)
        self._set_weight_tensors(tensors, path)

    def _set_weight_tensors(self, tensors: dict, path) -> None:
        for i, layer in enumerate(self.layers):
            for name in layer.params:
                key = _key(i, name)
                if key not in tensors:
                    raise ValueError(f"{path}: has no weight {key!r} (saved from another architecture?)")
                if tensors[key].shape != layer.params[name].shape:
                    raise ValueError(f"{path}: {key} has shape {tensors[key].shape}, the model expects "
                                     f"{layer.params[name].shape}")
                layer.params[name] = _tensor(tensors[key], device=self.device)
        self._plans = {}  # they held the replaced tensors

    def _restore(self, tensors: dict, info: dict, optimizer_state: bool) -> None:
        self._set_weight_tensors(tensors, "checkpoint")
        state = info.get("training") or {}
        self.training_state = {"epoch": state.get("epoch", 0), "step": state.get("step", 0),
                               "seed": state.get("seed"), "history": state.get("history", {})}
        compiled = info.get("compile")
        if optimizer_state and compiled and self.optimizer is not None:
            self.optimizer.iterations = compiled["optimizer"]["iterations"]
            self.optimizer.slots = {}
            for key, value in tensors.items():
                if key.startswith("optimizer/"):
                    param_key, slot = key[len("optimizer/"):].rsplit("/", 1)
                    self.optimizer.slots.setdefault(param_key, {})[slot] = _tensor(value, device=self.device)
            self._plans = {}


def load_model(path, device: str | None = None) -> Sequential:
    """The model saved by `model.save(path)`: architecture, weights, and (if it was compiled) its
    optimizer with its state, the loss, the metrics, and the epoch and step reached."""
    tensors, metadata = safetensors_io.load_file(path)
    try:
        info = json.loads(metadata["gputrain"])
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{path}: not a gputrain model file") from exc
    if info.get("format") != FORMAT or "model" not in info:
        raise ValueError(f"{path}: not a gputrain model file (format {info.get('format')!r})")
    config = info["model"]
    layers = [layers_module.from_config(l["class_name"], l["config"]) for l in config["layers"]]
    model = Sequential(layers, name=config["name"])
    model.build(config["input_shape"], device=device)
    compiled = info.get("compile")
    if compiled:
        model.compile(optimizers.from_config(compiled["optimizer"]["name"], compiled["optimizer"]["config"]),
                      losses.get(compiled["loss"]["name"]).__class__(**compiled["loss"]["config"]),
                      compiled["metrics"])
    model._restore(tensors, info, optimizer_state=True)
    return model
