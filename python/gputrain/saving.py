"""Model files: a whole model (architecture, weights, optimizer state and training progress) or its
weights alone, in safetensors with gputrain's JSON in the metadata; and the choice of the checkpoint
that fit(resume=True) continues from, in a folder every notebook of a user may share."""
from __future__ import annotations

import hashlib
import json
import math
import re
import time
import warnings
from pathlib import Path

import numpy as np

from . import keras_files, losses, nesting, optimizers, safetensors_io
from .checkpoint_format import FORMAT, LEGACY_FORMAT, check_optimizer_slots, check_tensors, read_info, safe_name
from .tensor import tensor as _tensor


def weight_key(layer_index: int, param: str) -> str:
    # Weights are matched by position, so a model rebuilt in another process (where automatic layer
    # names may differ) loads them.
    return f"layers/{layer_index}/{param}"


def architecture_key(config: dict) -> str:
    """A short hash of a model's architecture (input shape, layer classes and their settings) without the
    names, which Keras-style numbering makes differ between runs of the same code (dense, dense_1, ...)."""
    layers = [{"class_name": l["class_name"], "config": {k: v for k, v in l["config"].items() if k != "name"},
               **({"inbound_nodes": l["inbound_nodes"]} if "inbound_nodes" in l else {})}
              for l in config["layers"]]
    text = json.dumps({"input_shape": config["input_shape"], "layers": layers}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


_AUTOMATIC_SUFFIX = re.compile(r"_\d+$")


def checkpoint_name(model) -> str:
    """The name a model's checkpoints are found by: its own name, or for an automatic one (sequential,
    sequential_1, ... as a notebook cell run again numbers it) the automatic base, so the same cell finds
    its checkpoint in every session."""
    if model.name_is_automatic:
        return _AUTOMATIC_SUFFIX.sub("", model.name)
    return model.name


def default_filename(model) -> str:
    # safe_name: a model name from a stranger's file never becomes a path outside the folder.
    return f"{safe_name(checkpoint_name(model))}-{architecture_key(model.get_config())}.safetensors"


# ---- writing -------------------------------------------------------------------------------------

def _weight_tensors(model) -> dict:
    return {weight_key(i, name): t.numpy() for i, layer in enumerate(model.layers)
            for name, t in layer.params.items()}


def _loss_entry(loss):
    """A compiled loss as the file stores it: {name, config}, or a list of them (None: an output without
    a loss) for a model of several outputs."""
    if isinstance(loss, list):
        return [_loss_entry(l) if l is not None else None for l in loss]
    return {"name": loss.name, "config": loss.get_config()}


def model_info(model, include_optimizer: bool = True) -> dict:
    info = {"format": FORMAT, "model": model.get_config(), "checkpoint_name": checkpoint_name(model),
            "training": dict(model.training_state)}
    if include_optimizer and model.optimizer is not None:
        info["compile"] = {"optimizer": {"name": model.optimizer.name, "config": model.optimizer.get_config(),
                                         "iterations": model.optimizer.iterations},
                           "loss": _loss_entry(model.loss), "metrics": model.metrics}
        if model.loss_weights is not None:
            info["compile"]["loss_weights"] = list(model.loss_weights)
    return info


def save_model(model, path, include_optimizer: bool = True, finite_only: bool = False) -> bool:
    """Writes the model atomically (the previous file stays whole if the process is killed). With
    finite_only, weights holding NaN or Inf are not written (False is returned): a checkpoint taken during
    training must never replace good weights with a diverged model's. A .keras name: Keras 3's format."""
    if keras_files.is_keras_file(path):
        return keras_files.save_keras(model, path, include_optimizer, finite_only)
    if keras_files.is_h5_file(path):
        raise ValueError(f"{path}: Keras 2's whole-model .h5 format is not supported; save to a .keras file "
                         f"(Keras 3's format) or a .safetensors file (gputrain's)")
    model.build()
    if getattr(model, "_before_save", None):
        model._before_save()  # fit brings the progress it records up to date
    tensors = _weight_tensors(model)
    if finite_only and not all(np.isfinite(t).all() for t in tensors.values()):
        return False
    if include_optimizer and model.optimizer is not None:
        for key, slots in model.optimizer.slots.items():
            for slot, t in slots.items():
                tensors[f"optimizer/{key}/{slot}"] = t.numpy()
    info = model_info(model, include_optimizer)
    safetensors_io.save_file(path, tensors, {"gputrain": json.dumps(info)})
    return True


def keep_aside_if_further(path: Path, iterations: int) -> Path | None:
    """Renames the file at `path` aside (to `<stem>.kept-<its time><suffix>`) when it holds a model trained
    for more optimizer steps than `iterations`, or is a file that cannot be read as a gputrain model (it
    cannot be judged, so it is kept); returns the new name, or None when it may be replaced."""
    if not path.exists():
        return None
    try:
        if keras_files.is_keras_file(path):
            theirs = keras_files.saved_iterations(path)
        else:
            info = read_info(path)
            theirs = (info.get("compile") or {}).get("optimizer", {}).get("iterations", 0)
        if theirs <= iterations:
            return None
    except (ValueError, OSError):
        pass
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(path.stat().st_mtime))
    target = path.with_name(f"{path.stem}.kept-{stamp}{path.suffix}")
    copy = 1
    while target.exists():
        copy += 1
        target = path.with_name(f"{path.stem}.kept-{stamp}-{copy}{path.suffix}")
    path.rename(target)
    return target


def save_weights(model, path, finite_only: bool = False) -> bool:
    """Writes the weights alone (see save_model for finite_only), in Keras 3's HDF5 layout for a .h5 name
    (.weights.h5); whether it wrote them."""
    if keras_files.is_h5_file(path):
        return keras_files.save_weights_h5(model, path, finite_only)
    model.build()
    tensors = _weight_tensors(model)
    if finite_only and not all(np.isfinite(t).all() for t in tensors.values()):
        return False
    safetensors_io.save_file(path, tensors, {"gputrain": json.dumps({"format": FORMAT})})
    return True


# ---- reading -------------------------------------------------------------------------------------

def _param_shapes(model, trainable_only: bool = False) -> dict:
    return {weight_key(i, name): layer.params[name].shape for i, layer in enumerate(model.layers)
            for name in (layer.trainable_names if trainable_only else layer.params)}


def restore(model, path, info: dict | None = None, optimizer_state: bool = True) -> None:
    """Loads weights, training progress and (when the file has it and the model's optimizer is of the
    same kind) the optimizer state. Everything is checked before anything changes: a file that does
    not fit leaves the model as it was."""
    info = read_info(path) if info is None else info
    _, entries = safetensors_io.load_header(path)
    check_tensors(path, entries, _param_shapes(model))
    compiled = info.get("compile")
    with_slots = optimizer_state and compiled and model.optimizer is not None
    if with_slots:
        if compiled["optimizer"]["name"] != model.optimizer.name:
            raise ValueError(f"{path}: was trained with {compiled['optimizer']['name']}, the model is compiled "
                             f"with {model.optimizer.name}; compile with {compiled['optimizer']['name']} to "
                             f"continue it, or load the weights alone with load_weights")
        check_optimizer_slots(path, entries, _param_shapes(model, trainable_only=True), model.optimizer.slot_names)
    tensors, _ = safetensors_io.load_file(path)  # verifies each tensor's checksum
    for i, layer in enumerate(model.layers):
        for name in layer.params:
            layer.params[name] = _tensor(tensors[weight_key(i, name)], device=model.device)
    model.training_state = training_state(info)
    if with_slots:
        model.optimizer.iterations = compiled["optimizer"]["iterations"]
        slots: dict = {}
        for name, value in tensors.items():
            if name.startswith("optimizer/"):
                key, slot = name[len("optimizer/"):].rsplit("/", 1)
                slots.setdefault(key, {})[slot] = _tensor(value, device=model.device)
        model.optimizer.slots = slots
    model._forget_plans()  # they held the replaced tensors


def training_state(info: dict) -> dict:
    state = info.get("training") or {}
    restored = {"epoch": state.get("epoch", 0), "samples": state.get("samples", 0),
                "batch_size": state.get("batch_size"), "seed": state.get("seed"),
                "history": state.get("history", {}), "logs": state.get("logs", {}),
                "logs_samples": state.get("logs_samples", 0)}
    if info.get("format") == LEGACY_FORMAT:
        restored["legacy_step"] = state.get("step", 0)  # converted by progress() once the batch is known
    return restored


def progress(state: dict, samples: int, batch_size: int) -> tuple[int, int]:
    """(epochs completed, samples of the next epoch done) of a training state, for a fit over `samples`
    samples; a version-1 state is read with the batch size it was trained with, assumed to be this one."""
    if "legacy_step" in state:
        done = state["legacy_step"] * batch_size
        return (state["epoch"] + 1, 0) if done >= samples else (state["epoch"], done)
    return state["epoch"], state["samples"]


def load_weights(model, path) -> None:
    """Weights saved by save_weights, or Keras 3's (.weights.h5, or the weights of a .keras file)."""
    if keras_files.is_h5_file(path) or keras_files.is_keras_file(path):
        keras_files.load_weights_h5(model, path)
        return
    model.build()
    _, entries = safetensors_io.load_header(path)
    check_tensors(path, entries, _param_shapes(model))
    tensors, _ = safetensors_io.load_file(path)
    for i, layer in enumerate(model.layers):
        for name in layer.params:
            layer.params[name] = _tensor(tensors[weight_key(i, name)], device=model.device)
    model._forget_plans()


def _check_declared_shapes(model, path) -> None:
    """Compares the weights the architecture declares with those in the file's header before the model's
    weights are allocated: a small crafted file cannot make the loader allocate gigabytes."""
    _, entries = safetensors_io.load_header(path)
    declared = {weight_key(i, name): shape for i, layer in enumerate(model.layers)
                for name, shape in layer.param_shapes(layer.input_shape).items()}
    check_tensors(path, entries, declared)


def load_model(path, device: str | None = None):
    """The model saved by `model.save(path)`: architecture, weights, and (if it was compiled) its
    optimizer with its state, the loss, the metrics, and the training progress; or a Keras 3 .keras file's
    model (keras_files.load_keras)."""
    from . import models

    if keras_files.is_keras_file(path):
        return keras_files.load_keras(path, device)
    info = read_info(path)
    if "model" not in info:
        raise ValueError(f"{path}: holds weights only; build the model and call load_weights")
    config = info["model"]
    try:
        if config.get("class_name") == "Functional":
            model = models.from_config(config)
        else:
            layers = [nesting.layer_from_entry(l) for l in config["layers"]]
            model = models.Sequential(layers, name=config["name"])
            model.shape_layers(config["input_shape"])
        model.name_is_automatic = info.get("checkpoint_name", config["name"]) != config["name"]
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise ValueError(f"{path}: its model config is not valid: {exc}") from exc
    _check_declared_shapes(model, path)
    model.build(config["input_shape"], device=device)
    compiled = info.get("compile")
    if compiled:
        try:
            optimizer = optimizers.from_config(compiled["optimizer"]["name"], compiled["optimizer"]["config"])
            loss = compiled["loss"]
            loss = ([None if e is None else losses.from_config(e["name"], e["config"]) for e in loss]
                    if isinstance(loss, list) else losses.from_config(loss["name"], loss["config"]))
            model.compile(optimizer, loss, loss_weights=compiled.get("loss_weights"), metrics=compiled["metrics"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: its optimizer, loss or metrics are not valid: {exc}") from exc
    restore(model, path, info)
    return model


# ---- resuming ------------------------------------------------------------------------------------

def find_resumable(model, checkpoint) -> tuple[Path, dict, str] | None:
    """(file, its info, why it was chosen) for fit(resume=True), or None: the file the checkpoint callback
    writes when it names one file, else the newest file in its folder saved by a model of the same
    checkpoint name and architecture. Unreadable files are passed over with a warning naming them; other
    models' checkpoints are left alone, and said to be when none is this model's."""
    name, key = checkpoint_name(model), architecture_key(model.get_config())
    explicit = checkpoint.single_file()
    if explicit is not None:
        candidates = [explicit] if explicit.exists() else []
    else:
        folder = checkpoint.folder()
        candidates = sorted(folder.glob("*.safetensors"), key=_mtime, reverse=True) if folder.is_dir() else []
    others = 0
    for path in candidates:
        try:
            info = read_info(path)
        except (ValueError, OSError) as exc:
            warnings.warn(f"resume: skipping {path}: {exc}", RuntimeWarning, stacklevel=3)
            continue
        if "model" not in info:
            continue  # weights only
        same_name = info.get("checkpoint_name", _AUTOMATIC_SUFFIX.sub("", info["model"]["name"])) == name
        if architecture_key(info["model"]) != key:
            if explicit is not None:
                raise ValueError(f"resume: {path} holds a model of another architecture; pass another file "
                                 f"to ModelCheckpoint, or train from the start with resume=False")
            others += 1
            continue
        if explicit is None and not same_name:
            others += 1
            continue
        why = ("the file its ModelCheckpoint writes" if explicit is not None
               else "the newest checkpoint of this model's name and architecture there")
        return path, info, why
    if explicit is None and others:
        print(f"resume: no checkpoint of {name!r} with this architecture in {checkpoint.folder()} "
              f"({others} other model checkpoint(s) there left alone); training from the start")
    return None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -math.inf


def describe_progress(epochs: int, samples: int, total: int, iterations: int) -> str:
    done = f"{epochs} epoch{'s' if epochs != 1 else ''} completed"
    if samples >= total:
        done += f" and every sample of epoch {epochs + 1}, whose end is recorded now"
    elif samples:
        done += f" and {samples} of {total} samples of epoch {epochs + 1}"
    return f"{done} ({iterations} steps)"
