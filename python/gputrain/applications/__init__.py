"""Keras's applications with random weights: ResNet50, ResNet101 and MobileNetV2 (Keras's architecture,
layer names and parameter counts), ResNet18 and ResNet34 (torchvision's architecture, in Keras's naming
style). Pretrained ImageNet weights are not bundled: `weights` is None or the path of a gputrain weights
file."""
from .mobilenet_v2 import MobileNetV2
from .resnet import ResNet18, ResNet34, ResNet50, ResNet101

__all__ = ["MobileNetV2", "ResNet18", "ResNet34", "ResNet50", "ResNet101"]
