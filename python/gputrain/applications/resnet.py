"""ResNets. ResNet50 and ResNet101 follow Keras's: bottleneck blocks, biased convolutions, batch-norm
epsilon 1.001e-5, its layer names (conv2_block1_1_conv, ...) and its default weights="imagenet", which
gputrain refuses with a message (pass weights=None). ResNet18 and ResNet34 follow torchvision's: basic
blocks of two 3x3 convolutions without bias, a 1x1 projection where the shape changes, 11,689,512
trainable parameters for ResNet18 on 1,000 classes, random weights by default; PyTorch's symmetric
padding is written as ZeroPadding2D before 'valid' convolutions, so the same weights compute the same
function."""
from __future__ import annotations

from .. import checks, layers
from ..models import Model
from . import common

_BN_EPSILON = 1.001e-5  # Keras's ResNets
_TORCH_BN = {"epsilon": 1e-5, "momentum": 0.9}  # PyTorch's BatchNorm2d defaults in Keras's terms


def _bottleneck(x, filters: int, stride: int, conv_shortcut: bool, name: str):
    """Keras's residual_block_v1: 1x1, 3x3, 1x1 (x4) convolutions and the shortcut."""
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = layers.BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = layers.BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(filters, 3, padding="same", name=f"{name}_2_conv")(x)
    x = layers.BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = layers.BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_3_bn")(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def _basic(x, filters: int, stride: int, project: bool, name: str):
    """torchvision's BasicBlock: two 3x3 convolutions (the first with the stride), and a 1x1 projection
    with batch norm on the shortcut where the stride or the width changes."""
    shortcut = x
    if project:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_0_conv")(x)
        shortcut = layers.BatchNormalization(**_TORCH_BN, name=f"{name}_0_bn")(shortcut)
    if stride == 1:
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_1_conv")(x)
    else:  # PyTorch pads one cell on every side; TensorFlow's 'same' would pad only after
        x = layers.ZeroPadding2D(1, name=f"{name}_1_pad")(x)
        x = layers.Conv2D(filters, 3, strides=stride, use_bias=False, name=f"{name}_1_conv")(x)
    x = layers.BatchNormalization(**_TORCH_BN, name=f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(x)
    x = layers.BatchNormalization(**_TORCH_BN, name=f"{name}_2_bn")(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def _resnet(stages, torch_style: bool, include_top, weights, input_tensor, input_shape, pooling, classes,
            classifier_activation, name):
    common.check_weights(weights)
    classes = checks.count(classes, "classes", 1)
    if input_tensor is not None:
        raise ValueError("input_tensor: not supported; build the model, then call it on your tensors")
    inp = layers.Input(shape=common.input_shape(input_shape, 224, 32))
    bn = _TORCH_BN if torch_style else {"epsilon": _BN_EPSILON}
    x = layers.ZeroPadding2D(3, name="conv1_pad")(inp)
    x = layers.Conv2D(64, 7, strides=2, use_bias=not torch_style, name="conv1_conv")(x)
    x = layers.BatchNormalization(**bn, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)  # after a relu, zeros pad a max pool as -inf would
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    width = 64
    for stage, blocks in enumerate(stages, start=2):
        for b in range(1, blocks + 1):
            stride = 2 if b == 1 and stage > 2 else 1
            block_name = f"conv{stage}_block{b}"
            if torch_style:
                x = _basic(x, width, stride, project=b == 1 and stage > 2, name=block_name)
            else:
                x = _bottleneck(x, width, stride, conv_shortcut=b == 1, name=block_name)
        width *= 2
    x = common.top(x, include_top, pooling, classes, classifier_activation)
    return common.finish(Model(inp, x, name=name), weights)


def ResNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name="resnet50"):
    return _resnet([3, 4, 6, 3], False, include_top, weights, input_tensor, input_shape, pooling,
                   classes, classifier_activation, name)


def ResNet101(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", name="resnet101"):
    return _resnet([3, 4, 23, 3], False, include_top, weights, input_tensor, input_shape, pooling,
                   classes, classifier_activation, name)


def ResNet18(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name="resnet18"):
    return _resnet([2, 2, 2, 2], True, include_top, weights, input_tensor, input_shape, pooling, classes,
                   classifier_activation, name)


def ResNet34(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name="resnet34"):
    return _resnet([3, 4, 6, 3], True, include_top, weights, input_tensor, input_shape, pooling, classes,
                   classifier_activation, name)
