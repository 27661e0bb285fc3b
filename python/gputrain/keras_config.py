"""Keras 3's model configs (the config.json of a .keras file) read into gputrain models and written from
them: layers, Sequential and functional graphs, and compile's settings. A setting gputrain cannot honour
is refused naming the layer and the setting; one that cannot change what a loaded model computes (an
initializer, when the weights come from the file) is accepted."""
from __future__ import annotations

import inspect
import warnings

from . import initializers, layers as layers_module, losses, metrics as metrics_module, optimizers, schedules

# Keras settings without a gputrain argument: accepted when they hold the value gputrain computes with.
_FIXED = {"data_format": "channels_last", "kernel_constraint": None, "bias_constraint": None,
          "depthwise_constraint": None, "pointwise_constraint": None, "alpha_constraint": None,
          "beta_constraint": None, "gamma_constraint": None, "alpha_regularizer": None, "beta_regularizer": None,
          "gamma_regularizer": None, "depthwise_regularizer": None, "pointwise_regularizer": None,
          "activity_regularizer": None, "quantization_config": None, "lora_rank": None, "noise_shape": None,
          "keepdims": False, "center": True, "scale": True, "synchronized": False, "renorm": False,
          "output_padding": None, "dilation_rate": [1, 1], "groups": 1, "axis": -1}
# Settings that cannot change what a model loaded with its weights computes.
_IGNORED = {"name", "trainable", "dtype", "renorm_clipping", "renorm_momentum", "lora_alpha",
            "beta_initializer", "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer"}
_OPTIMIZER_FIXED = {"decay": 0.0}
_OPTIMIZER_IGNORED = {"name", "is_legacy_optimizer", "jit_compile"}
_LOSS_FIXED = {"reduction": "sum_over_batch_size", "ignore_class": None, "axis": -1, "label_smoothing": 0.0}


def _same(value, default) -> bool:
    """Whether a Keras setting equals gputrain's value; a pair may be written as one number."""
    if isinstance(default, list) and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value] * len(default)
    if isinstance(value, tuple):
        value = list(value)
    return value == default or (value == "auto" and default == "sum_over_batch_size")


def _arguments(cls, config: dict, what: str, fixed: dict, ignored: set, also_accepted=()) -> dict:
    """The config's settings that `cls` takes as arguments (or passes on: `also_accepted`); the others
    checked against `fixed`."""
    accepted = set(inspect.signature(cls).parameters) | set(also_accepted)
    kwargs = {}
    for key, value in config.items():
        if key in accepted and key != "name":
            kwargs[key] = value
        elif key in ignored:
            continue
        elif key in fixed:
            if not _same(value, fixed[key]):
                raise ValueError(f"{what}: {key}={value!r} is not supported by gputrain (only {fixed[key]!r})")
        elif value is not None:
            raise ValueError(f"{what}: the setting {key}={value!r} is not supported by gputrain")
    return kwargs


def _plain(serialized: dict) -> dict:
    """A Keras object's {module, class_name, config, registered_name} as gputrain's {class_name, config}."""
    return {"class_name": serialized["class_name"], "config": serialized.get("config") or {}}


def _check_dtype(dtype, what: str) -> None:
    name = dtype.get("config", {}).get("name") if isinstance(dtype, dict) else dtype
    if name not in (None, "float32"):
        raise ValueError(f"{what}: dtype policy {name!r} is not supported yet; gputrain's layers compute in "
                         f"float32")


# ---- reading ---------------------------------------------------------------------------------------

def _initializer(value):
    """A Keras initializer (name or serialized) as gputrain's; one gputrain does not have is replaced by
    the default, as only a fresh layer would draw from it and a loaded one has its weights."""
    if isinstance(value, dict):
        cls = getattr(initializers, value.get("class_name", ""), None)
        if not (isinstance(cls, type) and issubclass(cls, initializers.Initializer)):
            return None
        accepted = set(inspect.signature(cls).parameters)
        return cls(**{k: v for k, v in (value.get("config") or {}).items() if k in accepted})
    try:
        return initializers.get(value)
    except ValueError:
        return None


def layer_from_keras(entry: dict):
    """A gputrain layer (or nested model) from one entry of a Keras model config's layer list."""
    class_name, config = entry["class_name"], dict(entry.get("config") or {})
    if class_name in ("Sequential", "Functional", "Model"):
        return model_from_keras(entry)
    what = f"layer {config.get('name', '?')!r} ({class_name})"
    _check_dtype(config.get("dtype"), what)
    if class_name == "InputLayer":
        shape = config.get("batch_shape") or config.get("batch_input_shape")
        if shape is None:
            raise ValueError(f"{what}: has no batch_shape")
        if config.get("sparse") or config.get("ragged"):
            raise ValueError(f"{what}: sparse and ragged inputs are not supported by gputrain")
        return layers_module.InputLayer(tuple(shape[1:]), name=config.get("name"))
    cls = layers_module.LAYERS.get(class_name)
    if cls is None:
        raise ValueError(f"{what}: gputrain has no layer {class_name}; it has "
                         f"{', '.join(sorted(k for k in layers_module.LAYERS if k != 'Input'))}")
    kwargs = _arguments(cls, config, what, _FIXED, _IGNORED)
    for key, value in list(kwargs.items()):
        if key.endswith("_initializer"):
            initializer = _initializer(value)
            if initializer is None:
                del kwargs[key]
            else:
                kwargs[key] = initializer
        elif key.endswith("_regularizer") and isinstance(value, dict):
            kwargs[key] = _plain(value)
    layer = cls(name=config.get("name"), **kwargs)
    if config.get("trainable") is False:
        layer.trainable = False
    return layer


def _refs(value) -> list:
    """The [layer name, node index, tensor index] triples in a Keras config's input_layers/output_layers
    (one triple, or a list or dict of them) or in a call's args (keras tensors, or lists of them)."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            return [list(value["config"]["keras_history"])]
        return [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [r for v in value for r in _refs(v)]
    raise ValueError(f"expected keras tensors, got {value!r}")


def _functional_from_keras(config: dict):
    from . import models
    entries = config["layers"]
    index = {e.get("name", (e.get("config") or {}).get("name")): i for i, e in enumerate(entries)}
    calls_of = []
    for entry in entries:
        calls = []
        for node in entry.get("inbound_nodes") or []:
            if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
                # A recorded training= is overridden by fit and predict in Keras (their mode wins).
                kwargs = {k: v for k, v in (node.get("kwargs") or {}).items() if v is not None and k != "training"}
                if kwargs:
                    raise ValueError(f"layer {entry.get('name')!r}: call arguments {sorted(kwargs)} are not "
                                     f"supported by gputrain")
                refs = _refs(node.get("args") or [])
            else:  # Keras 2: [[name, node, tensor, kwargs], ...]
                refs = [list(r[:3]) for r in node]
            try:
                calls.append([[index[name], n, t] for name, n, t in refs])
            except KeyError as exc:
                raise ValueError(f"layer {entry.get('name')!r} reads layer {exc} that the model does not have")
        calls_of.append(calls)
    made = [layer_from_keras(e) for e in entries]
    ends = lambda key: [[index[name], n, t] for name, n, t in _refs(config[key])]  # noqa: E731
    return models.graph_from_layers(made, calls_of, ends("input_layers"), ends("output_layers"), config.get("name"))


def model_from_keras(config: dict):
    """A gputrain model from a Keras model config ({"class_name": "Sequential" or "Functional", "config"}),
    built for its input shape (weights freshly initialised)."""
    from . import models
    class_name, inner = config.get("class_name"), config.get("config") or {}
    if class_name == "Sequential":
        entries = list(inner.get("layers") or [])
        input_shape = inner.get("build_input_shape") or (config.get("build_config") or {}).get("input_shape")
        if entries and entries[0]["class_name"] == "InputLayer":
            input_shape = layer_from_keras(entries.pop(0)).input_shape
            input_shape = (None, *input_shape)
        model = models.Sequential([layer_from_keras(e) for e in entries], name=inner.get("name"))
        if input_shape is not None:
            model.shape_layers(tuple(input_shape[1:]))
    elif class_name in ("Functional", "Model") and "layers" in inner:
        model = _functional_from_keras(inner)
    else:
        raise ValueError(f"model class {class_name!r}: gputrain loads Sequential and functional models; "
                         f"subclassed models (whose call() is Python code) are not supported")
    if inner.get("trainable") is False:
        for layer in model.layers:
            layer.trainable = False
    return model


def _loss_from_keras(value):
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return [_loss_from_keras(v) for v in value]
    if isinstance(value, dict) and "class_name" not in value:  # by output name
        return {k: _loss_from_keras(v) for k, v in value.items()}
    cls = losses.get(value["class_name"]).__class__
    return cls(**_arguments(cls, value.get("config") or {}, f"loss {value['class_name']}", _LOSS_FIXED,
                            {"name", "dtype"}))


def _metric_from_keras(value):
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return [_metric_from_keras(v) for v in value]
    if isinstance(value, dict) and "class_name" not in value:
        return {k: _metric_from_keras(v) for k, v in value.items()}
    cls = getattr(metrics_module, value["class_name"])
    config = value.get("config") or {}
    return cls(**{k: v for k, v in config.items() if k in inspect.signature(cls).parameters})


def optimizer_from_keras(value):
    if isinstance(value, str):
        return optimizers.get(value.lower())
    cls = type(optimizers.get(value["class_name"]))
    config = dict(value.get("config") or {})
    rate = config.get("learning_rate")
    if isinstance(rate, dict):
        config["learning_rate"] = schedules.deserialize(_plain(rate))
    return cls(**_arguments(cls, config, f"optimizer {value['class_name']}", _OPTIMIZER_FIXED,
                            _OPTIMIZER_IGNORED, inspect.signature(optimizers.Optimizer).parameters))


def compile_from_keras(model, compile_config: dict, source) -> bool:
    """Compiles the model as compile_config says; where gputrain cannot, warns (naming the reason) and
    leaves it uncompiled, as Keras does with a file whose compile settings it cannot restore."""
    try:
        model.compile(optimizer_from_keras(compile_config["optimizer"]), _loss_from_keras(compile_config["loss"]),
                      loss_weights=compile_config.get("loss_weights"),
                      metrics=_metric_from_keras(compile_config.get("metrics")))
        return True
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        warnings.warn(f"{source}: the model's compile settings could not be restored ({exc}); it is loaded "
                      f"uncompiled: call compile() before training it", RuntimeWarning, stacklevel=3)
        return False


# ---- writing ---------------------------------------------------------------------------------------

def _serialized(module: str, class_name: str, config: dict) -> dict:
    return {"module": module, "class_name": class_name, "config": config, "registered_name": None}


def _input_entry(layer) -> dict:
    return _serialized("keras.layers", "InputLayer", {"batch_shape": [None, *layer.input_shape],
                                                      "dtype": "float32", "sparse": False, "ragged": False,
                                                      "name": layer.name})


def _shape_list(shape):
    if isinstance(shape, list):  # a merging layer's inputs
        return [_shape_list(s) for s in shape]
    return [None, *shape]


def layer_to_keras(layer) -> dict:
    """A gputrain layer as an entry of a Keras model config's layer list (without graph connections)."""
    if isinstance(layer, layers_module.InputLayer):
        return _input_entry(layer)
    if hasattr(layer, "_plan_layers"):
        return model_to_keras(layer)
    config = {"name": layer.name, "trainable": layer.trainable, "dtype": "float32"}
    for key, value in layer.get_config().items():
        if key.endswith("_regularizer") and isinstance(value, dict):
            value = _serialized("keras.regularizers", value["class_name"], value["config"])
        elif key == "activation" and value is None:
            value = "linear"
        config[key] = value
    entry = _serialized("keras.layers", layers_module.config_name(layer), config)
    if layer.input_shape is not None:
        entry["build_config"] = {"input_shape": _shape_list(layer.input_shape)}
    return entry


def _tensor_ref(tensor, local: dict) -> dict:
    layer, _, tensor_index = tensor._keras_history
    return {"class_name": "__keras_tensor__",
            "config": {"shape": [None, *tensor.shape[1:]], "dtype": "float32",
                       "keras_history": [layer.name, local[tensor.node], tensor_index]}}


def model_to_keras(model) -> dict:
    """Keras's config of a gputrain Sequential or functional model ({"module", "class_name", "config", ...})."""
    model.build()
    if model.config_name == "Sequential":
        entries = [_input_entry(layers_module.InputLayer(model.input_shape, name=f"{model.name}_input"))]
        entries += [layer_to_keras(layer) for layer in model.layers]
        config = {"name": model.name, "trainable": True, "dtype": "float32", "layers": entries,
                  "build_input_shape": [None, *model.input_shape]}
        return {**_serialized("keras", "Sequential", config),
                "build_config": {"input_shape": [None, *model.input_shape]}}
    inside = set(model._graph.nodes)
    local = {node: k for layer in model.layers
             for k, node in enumerate(n for n in layer._inbound_nodes if n in inside)}
    entries = []
    for layer in model.layers:
        entry = {**layer_to_keras(layer), "name": layer.name, "inbound_nodes": []}
        for node in layer._inbound_nodes:
            if node in inside and not node.is_input:
                refs = [_tensor_ref(t, local) for t in node.inputs]
                entry["inbound_nodes"].append({"args": [refs if layer.takes_list else refs[0]], "kwargs": {}})
        entries.append(entry)

    def ends(tensors):
        triples = [_tensor_ref(t, local)["config"]["keras_history"] for t in tensors]
        return triples[0] if len(triples) == 1 else triples

    config = {"name": model.name, "trainable": True, "layers": entries,
              "input_layers": ends(model._graph.inputs), "output_layers": ends(model._graph.outputs)}
    # Where Keras 3 itself says its functional model class lives (it has no public name).
    return {**_serialized("keras.src.models.functional", "Functional", config), "registered_name": "Functional"}


def _by_output(model, values):
    """A per-output list of compile settings as Keras's dict by output name (one value for one output)."""
    if not isinstance(values, list):
        return values
    return dict(zip(model._output_names(), values))


def _loss_to_keras(loss):
    if loss is None:
        return None
    if isinstance(loss, list):
        return [_loss_to_keras(l) for l in loss]
    if not isinstance(loss, losses.Loss):
        raise ValueError(f"loss {loss!r} (a Python function) cannot be written in a Keras file")
    return _serialized("keras.losses", type(loss).__name__,
                       {"name": loss.name, "reduction": "sum_over_batch_size", **loss.get_config()})


def _metric_to_keras(metric):
    if isinstance(metric, list):
        return [_metric_to_keras(m) for m in metric]
    if isinstance(metric, metrics_module.Metric):
        return _serialized("keras.metrics", type(metric).__name__, {"name": metric.name, "dtype": "float32"})
    return metric


def optimizer_to_keras(optimizer) -> dict:
    config = {"name": optimizer.name, **optimizer.get_config()}
    if isinstance(config["learning_rate"], dict):
        rate = config["learning_rate"]
        config["learning_rate"] = _serialized("keras.optimizers.schedules", rate["class_name"], rate["config"])
    return _serialized("keras.optimizers", type(optimizer).__name__, config)


def compile_to_keras(model) -> dict | None:
    if model.optimizer is None:
        return None
    weights = model.loss_weights
    return {"optimizer": optimizer_to_keras(model.optimizer),
            "loss": _by_output(model, _loss_to_keras(model.loss)),
            "loss_weights": _by_output(model, list(weights)) if weights is not None and len(weights) > 1
            else (weights[0] if weights else None),
            "metrics": _metric_to_keras(model.metrics) if len(model.targets) == 1
            else _by_output(model, _metric_to_keras(model.metrics)),
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}

