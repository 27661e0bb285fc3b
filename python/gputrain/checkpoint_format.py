"""Checks a checkpoint's "gputrain" info (format gputrain.model/2, or /1 as older versions wrote it) field by field, and its tensors against a model,
before anything is built or resumed: a crafted or corrupt file is a ValueError naming the file and the field, never
a crash or a silently wrong resume; safe_name keeps a model's name from placing checkpoints outside their folder."""
from __future__ import annotations

import hashlib
import json
import math
import re

import numpy as np

from . import safetensors_io

FORMAT = "gputrain.model/2"
# Version 1 counted progress as (index of the epoch in progress, steps of it done); version 2 counts
# epochs completed (Keras's convention) and the samples of the next epoch, which a new batch size keeps.
LEGACY_FORMAT = "gputrain.model/1"
METADATA_KEY = "gputrain"  # the safetensors metadata entry holding the JSON checked here

# Bounds far above any real model, low enough that checking a crafted file stays quick.
MAX_TEXT = 1024  # characters in a name or a string value
MAX_INFO_CHARS = 16 << 20
MAX_LAYERS = 10_000
MAX_LAYERS_CHARS = 1 << 20  # the layer list as JSON: ~100 characters a layer is usual
MAX_UNKNOWN_CHARS = 64 << 10  # a field this version does not know, as JSON
MAX_CONFIG_ITEMS = 256  # entries in one config object or list
MAX_CONFIG_DEPTH = 4  # objects and lists within a layer's config
MAX_NESTING = 8  # models used as layers of models used as layers ...
NESTED_MODELS = ("Functional", "Sequential")  # layer class names whose config is a whole model's
MAX_INPUT_RANK = 8
MAX_INPUT_DIM = 1 << 24
MAX_SAMPLE_SIZE = 1 << 31  # values in one input sample
MAX_COUNT = 2**63 - 1  # epochs, steps, optimizer iterations: they must fit an int64
SEED_LIMIT = 2**32
MAX_HISTORY_KEYS = 256
MAX_HISTORY_LENGTH = 100_000  # epochs
MAX_METRICS = 16
MAX_OUTPUTS = 64  # a model's outputs, each with its loss and metrics
MAX_NAME = 100  # characters of a safe_name result


# ---- reading ----

def read_info(path) -> dict:
    """The checked "gputrain" info of the file at `path`, from its header alone (safetensors_io's
    checks and checksums included). ValueError if the file is corrupt, not a gputrain file, or any
    field is wrong."""
    metadata = safetensors_io.load_metadata(path)
    if METADATA_KEY not in metadata:
        raise ValueError(f"{path}: not a gputrain model file (no {METADATA_KEY!r} metadata)")
    return parse_info(metadata[METADATA_KEY], path)


def parse_info(text: str, path) -> dict:
    """The info object parsed from `text` (the "gputrain" metadata of the file `path`, named in
    errors) with every field checked. "format" must be FORMAT; "model", "training" and "compile" may
    each be absent (save_weights writes the format alone), and are checked where present. Keys this
    version does not know are allowed (a later version may add some) but bounded in size."""
    if not isinstance(text, str) or len(text) > MAX_INFO_CHARS:
        raise ValueError(f"{path}: the {METADATA_KEY!r} metadata must be a JSON text of at most "
                         f"{MAX_INFO_CHARS} characters")
    info = safetensors_io.parse_json(text, f"{path}: the {METADATA_KEY!r} metadata")
    if not isinstance(info, dict):
        raise ValueError(f"{path}: not a gputrain model file (its {METADATA_KEY!r} metadata is not an object)")
    _check_format(path, info.get("format"))
    sections = _SECTIONS if info["format"] == FORMAT else _LEGACY_SECTIONS
    for key, value in info.items():
        sections.get(key, _check_unknown)(path, key, value)
    return info


def _check_format(path, value) -> None:
    if value in (FORMAT, LEGACY_FORMAT):
        return
    newer = isinstance(value, str) and value.startswith("gputrain.model/")
    raise ValueError(f"{path}: not a gputrain model file (format {_show(value)}, expected {FORMAT!r})"
                     + ("; written by a newer gputrain?" if newer else ""))


# ---- errors ----

def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fail(path, field: str, expected: str, value) -> None:
    raise ValueError(f"{path}: {field} must be {expected}, got {_show(value)}")


def _too_large(path, field: str, size: int, limit: int, unit: str) -> None:
    raise ValueError(f"{path}: {field} is too large: {size} {unit}, at most {limit}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # JSON true is not a count


# ---- building blocks ----

def _require_object(path, field: str, value, required=()) -> None:
    if not isinstance(value, dict):
        _fail(path, field, "an object", value)
    for key in required:
        if key not in value:
            raise ValueError(f"{path}: {field}.{key} is missing")


def _check_text(path, field: str, value, limit: int = MAX_TEXT) -> None:
    if not isinstance(value, str) or len(value) > limit:
        _fail(path, field, f"a string of at most {limit} characters", value)


def _check_list(path, field: str, value, limit: int, minimum: int = 0) -> None:
    if not isinstance(value, list) or not minimum <= len(value) <= limit:
        _fail(path, field, f"a list of {minimum} to {limit} entries", value)


def _check_count(path, field: str, value) -> None:
    if not _is_int(value) or not 0 <= value <= MAX_COUNT:
        _fail(path, field, "a non-negative integer", value)


def _check_setting(path, field: str, value, depth_left: int) -> None:
    """A value in a layer's, optimizer's or loss's config: JSON of bounded size with finite numbers;
    objects and lists only `depth_left` levels deep."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > MAX_COUNT:
            _fail(path, field, "an integer that fits 64 bits", value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            _fail(path, field, "a finite number", value)
    elif isinstance(value, str):
        _check_text(path, field, value)
    elif depth_left <= 0:
        _fail(path, field, "a number, flag or string", value)
    elif isinstance(value, list):
        _check_list(path, field, value, MAX_CONFIG_ITEMS)
        for i, item in enumerate(value):
            _check_setting(path, f"{field}[{i}]", item, depth_left - 1)
    else:
        _check_config(path, field, value, depth_left - 1)


def _check_config(path, field: str, value, depth_left: int = MAX_CONFIG_DEPTH) -> None:
    _require_object(path, field, value)
    if len(value) > MAX_CONFIG_ITEMS:
        _too_large(path, field, len(value), MAX_CONFIG_ITEMS, "entries")
    for key, item in value.items():
        _check_text(path, f"{field} key", key, 128)
        _check_setting(path, f"{field}.{key}", item, depth_left)


def _check_json_size(path, field: str, value, limit: int) -> None:
    # Measured in C before a walk in Python, which a crafted file could otherwise make slow.
    size = len(json.dumps(value))
    if size > limit:
        _too_large(path, field, size, limit, "characters of JSON")


def _check_unknown(path, field: str, value) -> None:
    # A field of a later version: unchecked in meaning, but bounded like a config value.
    _check_json_size(path, field, value, MAX_UNKNOWN_CHARS)
    _check_setting(path, field, value, MAX_CONFIG_DEPTH)


def _check_fields(path, field: str, value, checks: dict) -> None:
    """An object whose known keys (all required) each have their check; other keys are bounded."""
    _require_object(path, field, value, required=checks)
    for key, item in value.items():
        checks.get(key, _check_unknown)(path, f"{field}.{key}", item)


# ---- model ----

def _check_model(path, field: str, model, nesting: int = 0) -> None:
    _check_fields(path, field, model, {"name": _check_text, "input_shape": _check_input_shape,
                                       "layers": lambda p, f, v: _check_layers(p, f, v, nesting)})


def _check_input_shape(path, field: str, shape) -> None:
    if shape is None:
        return
    _check_list(path, field, shape, MAX_INPUT_RANK, minimum=1)
    if not all(_is_int(d) and 1 <= d <= MAX_INPUT_DIM for d in shape):
        _fail(path, field, f"null or a list of integers from 1 to {MAX_INPUT_DIM}", shape)
    if math.prod(shape) > MAX_SAMPLE_SIZE:
        _fail(path, field, f"a shape of at most {MAX_SAMPLE_SIZE} values", shape)


def _check_layers(path, field: str, layers, nesting: int = 0) -> None:
    _check_list(path, field, layers, MAX_LAYERS, minimum=1)
    _check_json_size(path, field, layers, MAX_LAYERS_CHARS)
    for i, layer in enumerate(layers):
        config = _check_config
        if isinstance(layer, dict) and layer.get("class_name") in NESTED_MODELS:  # a model used as a layer
            if nesting >= MAX_NESTING:
                _fail(path, f"{field}[{i}]", f"a model nested at most {MAX_NESTING} deep", "a deeper one")
            config = lambda p, f, v: _check_model(p, f, v, nesting + 1)  # noqa: E731
        _check_fields(path, f"{field}[{i}]", layer, {"class_name": _check_class_name, "config": config})


def _check_class_name(path, field: str, value) -> None:
    _check_text(path, field, value, 128)


# ---- training ----

def _check_seed(path, field: str, seed) -> None:
    if seed is not None and (not _is_int(seed) or not 0 <= seed < SEED_LIMIT):
        _fail(path, field, "null or an integer in [0, 2**32)", seed)


def _check_per_metric(path, field: str, table, check_value) -> None:
    """An object of metric name -> value, bounded in size, each value checked by check_value."""
    _require_object(path, field, table)
    if len(table) > MAX_HISTORY_KEYS:
        _too_large(path, field, len(table), MAX_HISTORY_KEYS, "metrics")
    for key, value in table.items():
        _check_text(path, f"{field} key", key, 128)
        check_value(path, f"{field}[{key!r}]", value)


def _check_number(path, field: str, value) -> None:
    if type(value) not in (int, float):  # exact types: a bool is no loss value
        _fail(path, field, "a number", value)


def _check_values(path, field: str, values) -> None:
    _check_list(path, field, values, MAX_HISTORY_LENGTH)
    if not set(map(type, values)) <= {int, float}:
        i = next(i for i, v in enumerate(values) if type(v) not in (int, float))
        _check_number(path, f"{field}[{i}]", values[i])


def _check_history(path, field: str, history) -> None:
    """Metric name -> one value per epoch. NaN and infinities are kept: a diverged run records them."""
    _check_per_metric(path, field, history, _check_values)


def _check_batch_size(path, field: str, value) -> None:
    if value is not None and (not _is_int(value) or not 1 <= value <= MAX_COUNT):
        _fail(path, field, "null or a positive integer", value)


def _check_means(path, field: str, logs) -> None:
    """The running means of an epoch in progress (name -> number), as the progress bar shows them."""
    _check_per_metric(path, field, logs, _check_number)


def _check_training(path, field: str, training) -> None:
    _check_fields(path, field, training, {"epoch": _check_count, "samples": _check_count,
                                          "batch_size": _check_batch_size, "seed": _check_seed,
                                          "history": _check_history, "logs": _check_means,
                                          "logs_samples": _check_count})


def _check_legacy_training(path, field: str, training) -> None:
    _check_fields(path, field, training, {"epoch": _check_count, "step": _check_count,
                                          "seed": _check_seed, "history": _check_history})


# ---- compile ----

def _check_named_config(path, field: str, value, extra: dict | None = None) -> None:
    _check_fields(path, field, value, {"name": _check_class_name, "config": _check_scalar_config,
                                       **(extra or {})})


def _check_scalar_config(path, field: str, config) -> None:
    # Optimizer and loss settings are plain numbers, flags and names.
    _check_config(path, field, config, depth_left=0)


def _check_optimizer_config(path, field: str, config) -> None:
    """Plain settings; the learning rate a number or a schedule: {"class_name", "config": {numbers, flags,
    or lists of numbers (boundaries, values)}}."""
    rate = config.get("learning_rate") if isinstance(config, dict) else None
    if isinstance(rate, dict):
        _check_fields(path, f"{field}.learning_rate", rate, {
            "class_name": _check_class_name, "config": lambda p, f, c: _check_config(p, f, c, depth_left=1)})
        config = {k: v for k, v in config.items() if k != "learning_rate"}
    _check_scalar_config(path, field, config)


def _check_optimizer(path, field: str, value) -> None:
    _check_fields(path, field, value, {"name": _check_class_name, "iterations": _check_count,
                                       "config": _check_optimizer_config})


def _check_metric_names(path, field: str, metrics) -> None:
    _check_list(path, field, metrics, MAX_METRICS)
    for i, metric in enumerate(metrics):
        _check_text(path, f"{field}[{i}]", metric, 128)


def _check_metrics(path, field: str, metrics) -> None:
    """Metric names, or (a model of several outputs) a list of them per output."""
    if isinstance(metrics, list) and metrics and all(isinstance(m, list) for m in metrics):
        _check_list(path, field, metrics, MAX_OUTPUTS)
        for i, names in enumerate(metrics):
            _check_metric_names(path, f"{field}[{i}]", names)
    else:
        _check_metric_names(path, field, metrics)


def _check_loss(path, field: str, loss) -> None:
    """A loss, or (a model of several outputs) a list with a loss or null per output."""
    if not isinstance(loss, list):
        _check_named_config(path, field, loss)
        return
    _check_list(path, field, loss, MAX_OUTPUTS, minimum=1)
    for i, entry in enumerate(loss):
        if entry is not None:
            _check_named_config(path, f"{field}[{i}]", entry)


def _check_loss_weights(path, field: str, weights) -> None:
    _check_list(path, field, weights, MAX_OUTPUTS, minimum=1)
    for i, weight in enumerate(weights):
        if type(weight) not in (int, float) or not math.isfinite(weight):
            _fail(path, f"{field}[{i}]", "a finite number", weight)


def _check_compile(path, field: str, compiled) -> None:
    _check_fields(path, field, compiled, {"optimizer": _check_optimizer, "loss": _check_loss,
                                          "metrics": _check_metrics})
    if "loss_weights" in compiled:  # only where compile was given loss weights
        _check_loss_weights(path, f"{field}.loss_weights", compiled["loss_weights"])


def _checked_first(path, field: str, value) -> None:
    pass  # the format, by _check_format


_SECTIONS = {"format": _checked_first, "model": _check_model, "training": _check_training, "compile": _check_compile,
             "checkpoint_name": _check_text}
_LEGACY_SECTIONS = {**_SECTIONS, "training": _check_legacy_training}


# ---- tensors ----

def check_tensors(path, entries: dict, expected: dict, dtype=np.float32) -> None:
    """Checks, before anything is loaded, that the file holds every tensor of `expected` (name ->
    shape) with that shape and `dtype`. `entries` is safetensors_io.load_header(path)[1]. ValueError
    naming the file and the tensor: missing, another shape, or another dtype (an I8 tensor where
    float32 weights belong)."""
    want = np.dtype(dtype)
    for name, shape in expected.items():
        if name not in entries:
            raise ValueError(f"{path}: has no tensor {name!r} (saved from another architecture?)")
        got_dtype, got_shape = entries[name]
        if tuple(got_shape) != tuple(shape):
            raise ValueError(f"{path}: {name} has shape {tuple(got_shape)}, the model expects {tuple(shape)}")
        if got_dtype != want:
            raise ValueError(f"{path}: {name} holds {got_dtype} values, the model expects {want}")


def check_optimizer_slots(path, entries: dict, params: dict, slot_names, prefix: str = "optimizer/") -> None:
    """Checks the file's optimizer state tensors (`prefix`<parameter key>/<slot>): each must belong to
    a parameter of `params` (key -> shape), be one of the optimizer's `slot_names`, and have that
    parameter's shape and float32 values. A file may hold none (saved before the first step)."""
    for name in entries:
        if not name.startswith(prefix):
            continue
        key, _, slot = name[len(prefix):].rpartition("/")
        if key not in params or slot not in slot_names:
            raise ValueError(f"{path}: optimizer state {name!r} belongs to no parameter and slot of this "
                             f"model and optimizer (slots: {', '.join(slot_names)})")
        check_tensors(path, entries, {name: params[key]})


# ---- file names ----

_UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9_.-]")
_DOT_RUNS = re.compile(r"\.{2,}")
_WINDOWS_DEVICES = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?", re.IGNORECASE)


def safe_name(name: str) -> str:
    """`name` made safe as one component of a file name: ordinary names (letters, digits, _ - .) come
    back unchanged; any other is cleaned (no path separators, no "..", no leading dot or dash, no
    control characters, nothing but ASCII letters, digits, _ - .), cut to MAX_NAME characters and
    given 8 hex digits of the original's hash, so that two different names (a/b and a_b) do not
    share a file."""
    if not isinstance(name, str):
        raise TypeError(f"name: expected a string, got {type(name).__name__}")
    cleaned = _UNSAFE_CHARACTERS.sub("_", name)
    cleaned = _DOT_RUNS.sub(lambda run: "_" * len(run.group()), cleaned)
    cleaned = re.sub(r"^[.-]|\.$", "_", cleaned)  # hidden files, options to tools; Windows drops the dot
    if _WINDOWS_DEVICES.fullmatch(cleaned):
        cleaned = "_" + cleaned  # NUL, NUL.txt, NUL.anything name a device there, not a file
    if cleaned == name and 0 < len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{cleaned[:MAX_NAME - 9] or 'model'}-{digest}"


def is_safe_name(name) -> bool:
    """Whether `name` is a string that safe_name leaves unchanged."""
    return isinstance(name, str) and safe_name(name) == name
