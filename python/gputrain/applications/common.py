"""What every application shares: Keras's argument checks (weights, input shape, pooling), its top, and
loading a weights file."""
from __future__ import annotations

import warnings
from pathlib import Path

from .. import checks, layers


def check_weights(weights) -> None:
    if weights is None:
        return
    if weights == "imagenet":
        raise ValueError("weights='imagenet': gputrain does not bundle or download pretrained weights. Build the "
                         "model with weights=None, or pass the path of a weights file saved by "
                         "model.save_weights(path) (gputrain's safetensors format) as weights=path")
    if not isinstance(weights, (str, Path)) or not Path(weights).is_file():
        raise ValueError(f"weights: expected None or the path of a gputrain weights file, got {weights!r}")


def input_shape(shape, default_size: int, min_size: int) -> tuple:
    """Keras's rule: (default_size, default_size, 3) unless given; a given shape has three positive
    extents, each spatial one at least min_size."""
    if shape is None:
        return (default_size, default_size, 3)
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__") or len(tuple(shape)) != 3:
        raise ValueError(f"input_shape: expected (height, width, channels), got {shape!r}")
    shape = tuple(checks.count(d, "input_shape", 1) for d in shape)
    if shape[0] < min_size or shape[1] < min_size:
        raise ValueError(f"input_shape: the images must be at least {min_size}x{min_size}, got {shape}")
    if shape[-1] not in (1, 3):
        warnings.warn(f"input_shape: this model usually takes 1 or 3 input channels, got {shape[-1]}",
                      stacklevel=3)
    return shape


def top(x, include_top: bool, pooling, classes: int, classifier_activation, pooling_names=("avg_pool", "max_pool")):
    """The classifier (global average pooling and Dense named predictions), or the pooling Keras adds
    without it; its pooling layers named as the application names them (None: automatic names)."""
    avg_name, max_name = pooling_names or (None, None)
    if include_top:
        x = layers.GlobalAveragePooling2D(name=avg_name)(x)
        return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=avg_name)(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name=max_name)(x)
    if pooling is not None:
        raise ValueError(f"pooling: expected None, 'avg' or 'max', got {pooling!r}")
    return x


def finish(model, weights):
    if weights is not None:
        model.load_weights(weights)
    return model
