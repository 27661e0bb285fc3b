"""MobileNetV2 as Keras builds it: inverted residual blocks (1x1 expansion, 3x3 depthwise, 1x1 linear
projection, a skip where shapes allow), ReLU6, Keras's layer names (block_1_expand, ...) and parameter
counts (3,538,984 with the ImageNet top at alpha 1.0)."""
from __future__ import annotations

from .. import checks, layers
from ..models import Model
from . import common

_BN = {"epsilon": 1e-3, "momentum": 0.999}


def _divisible(value: float, divisor: int = 8) -> int:
    """The channel count nearest `value` that is a multiple of `divisor`, never 10% below it."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _stride2_padding(size: tuple, kernel: int = 3) -> tuple:
    """What Keras pads before a stride-2 'valid' depthwise convolution: one cell less before than after on
    an even extent, so the windows fall as TensorFlow's 'same' would put them."""
    half = kernel // 2
    return tuple((half - (1 - extent % 2), half) for extent in size)


def _inverted_residual(x, expansion: int, stride: int, alpha: float, filters: int, block_id: int):
    channels = x.shape[-1]
    pointwise = _divisible(int(filters * alpha))
    prefix = f"block_{block_id}_" if block_id else "expanded_conv_"
    y = x
    if block_id:
        y = layers.Conv2D(expansion * channels, 1, padding="same", use_bias=False, name=f"{prefix}expand")(y)
        y = layers.BatchNormalization(**_BN, name=f"{prefix}expand_BN")(y)
        y = layers.ReLU(6.0, name=f"{prefix}expand_relu")(y)
    if stride == 2:
        y = layers.ZeroPadding2D(_stride2_padding(y.shape[1:3]), name=f"{prefix}pad")(y)
    y = layers.DepthwiseConv2D(3, strides=stride, use_bias=False, padding="same" if stride == 1 else "valid",
                               name=f"{prefix}depthwise")(y)
    y = layers.BatchNormalization(**_BN, name=f"{prefix}depthwise_BN")(y)
    y = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(y)
    y = layers.Conv2D(pointwise, 1, padding="same", use_bias=False, name=f"{prefix}project")(y)
    y = layers.BatchNormalization(**_BN, name=f"{prefix}project_BN")(y)
    if channels == pointwise and stride == 1:
        return layers.Add(name=f"{prefix}add")([x, y])
    return y


# (filters, stride, expansion, repeats) of the 17 inverted residual blocks.
_BLOCKS = [(16, 1, 1, 1), (24, 2, 6, 2), (32, 2, 6, 3), (64, 2, 6, 4), (96, 1, 6, 3), (160, 2, 6, 3), (320, 1, 6, 1)]


def MobileNetV2(input_shape=None, alpha=1.0, include_top=True, weights="imagenet", input_tensor=None, pooling=None,
                classes=1000, classifier_activation="softmax", name=None):
    common.check_weights(weights)
    alpha = checks.number(alpha, "alpha", low=0.0, low_open=True)
    classes = checks.count(classes, "classes", 1)
    if input_tensor is not None:
        raise ValueError("input_tensor: not supported; build the model, then call it on your tensors")
    shape = common.input_shape(input_shape, 224, 32)
    inp = layers.Input(shape=shape)
    x = layers.Conv2D(_divisible(32 * alpha), 3, strides=2, padding="same", use_bias=False, name="Conv1")(inp)
    x = layers.BatchNormalization(**_BN, name="bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    block_id = 0
    for filters, stride, expansion, repeats in _BLOCKS:
        for i in range(repeats):
            x = _inverted_residual(x, expansion, stride if i == 0 else 1, alpha, filters, block_id)
            block_id += 1
    last = _divisible(1280 * alpha) if alpha > 1.0 else 1280
    x = layers.Conv2D(last, 1, use_bias=False, name="Conv_1")(x)
    x = layers.BatchNormalization(**_BN, name="Conv_1_bn")(x)
    x = layers.ReLU(6.0, name="out_relu")(x)
    x = common.top(x, include_top, pooling, classes, classifier_activation, pooling_names=None)
    name = name or f"mobilenetv2_{alpha:0.2f}_{shape[0]}"
    return common.finish(Model(inp, x, name=name), weights)
