"""Keras 3's own files: the .keras zip (config.json, metadata.json, model.weights.h5) and .weights.h5, read
and written so that a model moves between Keras and gputrain both ways. In the HDF5 file each layer's
weights are `<path>/vars/<i>` in the layer's weight order, where the path names layers by class, numbered
in the model's layer order (layers/conv2d, layers/conv2d_1; a nested model's under its own), and the
optimizer's variables are optimizer/vars/<i>: the step count, the learning rate, then its slots in Keras's
order. HDF5 goes through h5py, an optional dependency (pip install "gputrain[keras]")."""
from __future__ import annotations

import io
import json
import time
import warnings
import zipfile

import numpy as np

from . import _version, keras_config, layers as layers_module, safetensors_io
from .tensor import tensor as _tensor

# The Keras file format gputrain writes: Keras 3's (the version that introduced it).
KERAS_FORMAT_VERSION = "3.0.0"
_MAX_CONFIG_BYTES = 64 << 20  # a config.json larger than this is not a model's


def is_keras_file(path) -> bool:
    return str(path).endswith(".keras")


def is_h5_file(path) -> bool:
    return str(path).endswith(".h5")


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("Keras files (.keras, .weights.h5) need h5py: pip install h5py "
                          "(or pip install \"gputrain[keras]\")") from None
    return h5py


# ---- where Keras keeps each weight -----------------------------------------------------------------

def _keras_class(layer) -> str:
    if isinstance(layer, layers_module.InputLayer):
        return "InputLayer"
    return getattr(layer, "config_name", None) if hasattr(layer, "_plan_layers") else \
        layers_module.config_name(layer)


def _saved_layers(model, prefix: str = ""):
    """(HDF5 group, layer) for the model's layers and, below a nested model's group, its layers."""
    used: dict = {}
    for layer in model.layers:
        name = layers_module._snake_case(_keras_class(layer))
        used[name] = used.get(name, -1) + 1
        path = f"{prefix}layers/{name}" + (f"_{used[name]}" if used[name] else "")
        yield path, layer
        if hasattr(layer, "_plan_layers"):
            yield from _saved_layers(layer, path + "/")


def _leaf_weights(model):
    """(HDF5 group, layer) of each layer holding weights (not a nested model, whose layers are listed)."""
    return [(path, layer) for path, layer in _saved_layers(model) if not hasattr(layer, "_plan_layers")]


def _trainable_keys(model, prefix: str = "") -> list:
    """The trainable weights in Keras's order (layer by layer), as the optimizer's slots are keyed."""
    keys = []
    for i, layer in enumerate(model.layers):
        if hasattr(layer, "_plan_layers"):
            keys += _trainable_keys(layer, f"{prefix}{i}/")
        elif layer.trainable:
            keys += [(f"{prefix}{i}", name) for name in layer.trainable_names]
    return keys


# Slots Keras creates together, in turn per weight (Adam's m and v); any other slot is created on its own,
# as a block over the weights (RMSprop's each, SGD's momentum, Adagrad's accumulator, Adam's v_hat).
_CREATED_TOGETHER = {"adam": ("m", "v"), "adamax": ("m", "u"), "nadam": ("m", "v"),
                     "adadelta": ("accumulated_grad", "accumulated_delta_var")}


def _kept_by_keras(optimizer) -> list:
    """The optimizer's slots that Keras keeps for its configuration (none for a momentum of 0, ...)."""
    kind = optimizer.kind or optimizer.name
    unused = set()
    if kind in ("sgd", "rmsprop") and optimizer.momentum == 0:
        unused.add("velocity" if kind == "sgd" else "momentum")
    if kind == "rmsprop" and not optimizer.centered:
        unused.add("average_gradient")
    return [s for s in optimizer.slot_names if s not in unused]


def _trailing_variables(optimizer) -> int:
    """Variables Keras keeps after the slots: Nadam's momentum product."""
    return 1 if optimizer.name == "nadam" else 0


def _slot_order(optimizer, keys: list) -> list:
    """(weight key, slot) of each optimizer variable after the step count and learning rate, in the order
    Keras creates them."""
    together = _CREATED_TOGETHER.get(optimizer.kind or optimizer.name, ())
    order = [(k, s) for k in keys for s in together]
    for slot in _kept_by_keras(optimizer):
        if slot not in together:
            order += [(k, slot) for k in keys]
    return order


def _slot_key(key: tuple) -> str:
    """gputrain's key of a weight's optimizer slots: layers/<i>/<name> (saving.weight_key)."""
    index, name = key
    head, _, rest = index.partition("/")
    return f"layers/{head}/{rest + '/' if rest else ''}{name}"


# ---- writing ---------------------------------------------------------------------------------------

def _write_weights(h5file, model, include_optimizer: bool) -> None:
    """The model's weights (and its optimizer's state) into an open h5py file, as Keras lays them out."""
    for path, layer in _saved_layers(model):
        group = h5file.require_group(path).require_group("vars")
        group.attrs["name"] = layer.name
        if not hasattr(layer, "_plan_layers"):
            for i, tensor in enumerate(layer.params.values()):
                group.create_dataset(str(i), data=tensor.numpy())
    h5file.require_group("vars").attrs["name"] = model.name
    optimizer = model.optimizer
    if include_optimizer and optimizer is not None:
        group = h5file.require_group("optimizer").require_group("vars")
        group.attrs["name"] = optimizer.name
        group.create_dataset("0", data=np.int64(optimizer.iterations))
        first = 1
        if not callable(optimizer._learning_rate):  # a learning-rate schedule keeps no variable
            group.create_dataset("1", data=np.float32(optimizer.learning_rate))
            first = 2
        params = _trainable_params(model)
        order = _slot_order(optimizer, [k for k, _ in params])
        for i, (key, slot) in enumerate(order):
            shape = dict(params)[key].shape
            held = optimizer.slots.get(_slot_key(key), {}).get(slot)
            start = optimizer.slot_initial_values.get(slot, 0.0)
            group.create_dataset(str(i + first), data=held.numpy() if held is not None
                                 else np.full(shape, start, np.float32))
        if _trailing_variables(optimizer):
            group.create_dataset(str(len(order) + first), data=np.float32(optimizer.momentum_product()))


def _trainable_params(model) -> list:
    """(key, weight) of each trainable weight in Keras's order."""
    out = []
    for index, name in _trainable_keys(model):
        layer = model
        for part in index.split("/"):
            layer = layer.layers[int(part)]
        out.append(((index, name), layer.params[name]))
    return out


def _h5_bytes(model, include_optimizer: bool) -> bytes:
    h5py = _h5py()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5file:
        _write_weights(h5file, model, include_optimizer)
    return buffer.getvalue()


def _finite(model) -> bool:
    return all(np.isfinite(t.numpy()).all() for layer in model.layers for t in layer.params.values())


def save_keras(model, path, include_optimizer: bool = True, finite_only: bool = False) -> bool:
    """The model as Keras 3's .keras zip, written atomically; with finite_only, not when a weight holds NaN
    or Inf (then False)."""
    model.build()
    if finite_only and not _finite(model):
        return False
    config = keras_config.model_to_keras(model)
    compiled = keras_config.compile_to_keras(model) if include_optimizer else None
    if compiled is not None:
        config["compile_config"] = compiled
    metadata = {"keras_version": KERAS_FORMAT_VERSION, "date_saved": time.strftime("%Y-%m-%d@%H:%M:%S"),
                "gputrain_version": _version.__version__}
    weights = _h5_bytes(model, include_optimizer and compiled is not None)

    def write(f) -> None:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr("metadata.json", json.dumps(metadata))
            archive.writestr("config.json", json.dumps(config))
            archive.writestr("model.weights.h5", weights)

    safetensors_io.write_atomically(path, write)
    return True


def save_weights_h5(model, path, finite_only: bool = False) -> bool:
    """The weights alone as Keras 3's .weights.h5 (optimizer state included, as Keras's has it); see
    save_keras for finite_only."""
    model.build()
    if finite_only and not _finite(model):
        return False
    data = _h5_bytes(model, include_optimizer=True)
    safetensors_io.write_atomically(path, lambda f: f.write(data))
    return True


# ---- reading ---------------------------------------------------------------------------------------

def _open_archive(path) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{path}: not a Keras .keras file (a zip archive): {exc}") from None
    names = set(archive.namelist())
    missing = {"config.json", "model.weights.h5"} - names
    if missing:
        raise ValueError(f"{path}: not a Keras 3 .keras file: it has no {', '.join(sorted(missing))}")
    return archive


def _read_member(archive, name: str, path) -> bytes:
    if archive.getinfo(name).file_size > _MAX_CONFIG_BYTES and name.endswith(".json"):
        raise ValueError(f"{path}: {name} is larger than a model's config can be")
    try:
        return archive.read(name)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(f"{path}: {name} cannot be read: {exc}") from None


def _open_h5(data_or_path, path):
    h5py = _h5py()
    try:
        return h5py.File(io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path, "r")
    except OSError as exc:
        raise ValueError(f"{path}: the weights are not a readable HDF5 file: {exc}") from None


def _read_weights(h5file, model, path) -> dict:
    """{(layer, weight name): array} for every weight of the model, checked against the file (count and
    shape per layer) before anything changes."""
    values = {}
    for group_path, layer in _leaf_weights(model):
        names = list(layer.params)
        group = h5file.get(f"{group_path}/vars")
        found = [] if group is None else sorted(group.keys(), key=lambda k: int(k) if k.isdigit() else -1)
        if len(found) != len(names) or found != [str(i) for i in range(len(names))]:
            raise ValueError(f"{path}: layer {layer.name!r} has {len(names)} weights, the file has {len(found)} at "
                             f"{group_path}/vars: the file holds another architecture")
        for i, name in enumerate(names):
            array = np.asarray(group[str(i)], dtype=np.float32)
            if array.shape != tuple(layer.params[name].shape):
                raise ValueError(f"{path}: {layer.name}/{name} has shape {tuple(layer.params[name].shape)}, the "
                                 f"file's {group_path}/vars/{i} has {array.shape}")
            values[(layer, name)] = array
    return values


def _read_optimizer(h5file, model, path) -> bool:
    """Restores the optimizer's step count, learning rate and slots from the file when they fit the
    compiled optimizer; warns (as Keras does) and leaves it fresh when not."""
    optimizer = model.optimizer
    group = h5file.get("optimizer/vars")
    if optimizer is None or group is None:
        return False
    params = _trainable_params(model)
    order = _slot_order(optimizer, [k for k, _ in params])
    count = len(group.keys()) - _trailing_variables(optimizer)
    has_rate = count == len(order) + 2  # a learning-rate schedule keeps no variable
    if count not in (len(order) + 1, len(order) + 2):
        warnings.warn(f"{path}: the optimizer state was not restored: the file has {len(group.keys())} optimizer "
                      f"variables, "
                      f"{optimizer.name} over this model needs {len(order) + 2 + _trailing_variables(optimizer)}; "
                      f"training starts with fresh "
                      f"optimizer state", RuntimeWarning, stacklevel=4)
        return False
    shapes = dict(params)
    slots = {}
    for i, (key, slot) in enumerate(order):
        array = np.asarray(group[str(i + count - len(order))], dtype=np.float32)
        if array.shape != tuple(shapes[key].shape):
            warnings.warn(f"{path}: the optimizer state was not restored: its variable {i} has shape "
                          f"{array.shape}, expected {tuple(shapes[key].shape)}", RuntimeWarning, stacklevel=4)
            return False
        slots.setdefault(_slot_key(key), {})[slot] = array
    optimizer.iterations = int(np.asarray(group["0"]))
    if has_rate and not callable(optimizer._learning_rate):
        optimizer.learning_rate = float(np.asarray(group["1"]))
    optimizer.slots = {}
    for key, shape_of in ((_slot_key(k), w) for k, w in params):
        held = slots.get(key, {})
        optimizer.slots[key] = {s: _tensor(held[s] if s in held else np.zeros(shape_of.shape, np.float32),
                                           device=model.device) for s in optimizer.slot_names}
    model._forget_plans()  # they held the replaced slots
    return True


def _assign(model, values: dict) -> None:
    for (layer, name), array in values.items():
        layer.params[name] = _tensor(array, device=model.device)
    model._forget_plans()


def saved_iterations(path) -> int:
    """The optimizer steps a .keras file's model was trained for (0 when it holds no optimizer)."""
    with _open_archive(path) as archive:
        weights = _read_member(archive, "model.weights.h5", path)
    with _open_h5(weights, path) as h5file:
        count = h5file.get("optimizer/vars/0")
        return 0 if count is None else int(np.asarray(count))


def load_keras(path, device: str | None = None):
    """The model in a Keras 3 .keras file: architecture, weights and, where gputrain has them, the
    optimizer (with its state), loss and metrics it was compiled with."""
    archive = _open_archive(path)
    with archive:
        try:
            config = json.loads(_read_member(archive, "config.json", path))
        except ValueError as exc:
            raise ValueError(f"{path}: config.json is not valid JSON: {exc}") from None
        weights = _read_member(archive, "model.weights.h5", path)
    if not isinstance(config, dict):
        raise ValueError(f"{path}: config.json does not describe a model")
    try:
        model = keras_config.model_from_keras(config)
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"{path}: its model config is not one gputrain can read: {exc!r}") from None
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    model.build(device=device)
    compiled = config.get("compile_config")
    if compiled:
        keras_config.compile_from_keras(model, compiled, path)
    with _open_h5(weights, path) as h5file:
        _assign(model, _read_weights(h5file, model, path))
        if model.optimizer is not None:
            _read_optimizer(h5file, model, path)
    return model


def load_weights_h5(model, path) -> None:
    """Weights from a Keras .weights.h5 or .keras file into a model of the same architecture (and the
    optimizer state, when the model is compiled with the same kind of optimizer)."""
    model.build()
    if is_keras_file(path):
        with _open_archive(path) as archive:
            source = _read_member(archive, "model.weights.h5", path)
    else:
        source = str(path)
    with _open_h5(source, path) as h5file:
        _assign(model, _read_weights(h5file, model, path))
        if model.optimizer is not None:
            _read_optimizer(h5file, model, path)
