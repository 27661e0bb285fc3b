"""gt.applications: the ResNets and MobileNetV2 build with Keras's (ResNet50, ResNet101, MobileNetV2) and
torchvision's (ResNet18, ResNet34) parameter counts, Keras's layer names and output shapes, Keras-format
summaries, and a ResNet-18 and a small MobileNetV2 on 32x32 Fashion-MNIST lower their loss in a few CPU
steps."""
import numpy as np
import pytest

import gputrain as gt
from datafiles import shared_data
from gputrain import applications


def _trainable(model) -> int:
    return sum(t.size for t in model.trainable_weights)


def test_resnet50_has_keras_counts_names_and_shapes():
    model = applications.ResNet50(weights=None)
    assert model.count_params() == 25_636_712  # Keras's ResNet50 with the ImageNet top
    assert _trainable(model) == 25_583_592 and len(model.layers) == 177
    shapes = {"conv1_pad": (230, 230, 3), "conv1_conv": (112, 112, 64), "pool1_pool": (56, 56, 64),
              "conv2_block1_0_conv": (56, 56, 256), "conv2_block1_out": (56, 56, 256),
              "conv3_block1_1_conv": (28, 28, 128), "conv3_block4_out": (28, 28, 512),
              "conv4_block6_out": (14, 14, 1024), "conv5_block3_add": (7, 7, 2048), "avg_pool": (2048,),
              "predictions": (1000,)}
    for name, shape in shapes.items():
        assert model.get_layer(name).output_shape == shape, name
    names = [l.name for l in model.layers]
    # Keras's order: within a block the shortcut's convolution comes beside the last main one.
    assert type(model.layers[0]).__name__ == "InputLayer"
    assert names[1:9] == ["conv1_pad", "conv1_conv", "conv1_bn", "conv1_relu", "pool1_pad", "pool1_pool",
                          "conv2_block1_1_conv", "conv2_block1_1_bn"]
    assert names.index("conv2_block1_0_conv") == names.index("conv2_block1_3_conv") - 1
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[0] == 'Model: "resnet50"'
    assert lines[-4:-1] == ["Total params: 25,636,712", "Trainable params: 25,583,592",
                            "Non-trainable params: 53,120"]
    assert "conv2_block1_add (Add)          (None, 56, 56, 256)  0           conv2_block1_0_bn[0][0]" in "\n".join(lines)


def test_resnet101_count_and_the_torchvision_resnets():
    assert applications.ResNet101(weights=None).count_params() == 44_707_176  # Keras's ResNet101
    # torchvision counts trainable parameters: 11,689,512 and 21,797,672 with 1,000 classes.
    assert _trainable(applications.ResNet18()) == 11_689_512
    assert _trainable(applications.ResNet34()) == 21_797_672
    small = applications.ResNet18(input_shape=(32, 32, 1), classes=10)
    assert small.output_shape == (10,) and small.get_layer("conv5_block2_out").output_shape == (1, 1, 512)


def test_application_arguments_as_keras():
    headless = applications.ResNet18(include_top=False, input_shape=(64, 64, 3), pooling="max")
    assert headless.output_shape == (512,) and headless.layers[-1].name == "max_pool"
    assert applications.ResNet18(include_top=False, input_shape=(64, 64, 3)).output_shape == (2, 2, 512)
    with pytest.raises(ValueError, match="does not bundle or download pretrained weights"):
        applications.ResNet50()  # Keras's default, weights="imagenet"
    with pytest.raises(ValueError, match="at least 32x32"):
        applications.ResNet18(input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match="pooling"):
        applications.ResNet18(include_top=False, pooling="mean")


def test_weights_file_loads_into_a_new_application(tmp_path):
    first = applications.ResNet18(input_shape=(32, 32, 1), classes=10)
    first.save_weights(tmp_path / "r18.safetensors")
    again = applications.ResNet18(input_shape=(32, 32, 1), classes=10, weights=tmp_path / "r18.safetensors")
    for a, b in zip(first.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_resnet18_on_padded_fashion_mnist_lowers_its_loss_on_the_cpu():
    (x, y), _ = gt.datasets.fashion_mnist.load_data(path=shared_data("fashion-mnist"))
    x = np.pad(x[:64], ((0, 0), (2, 2), (2, 2)))[..., None]  # 28x28 -> 32x32, uint8
    gt.utils.set_random_seed(0)
    model = applications.ResNet18(input_shape=(32, 32, 1), classes=10)
    model.compile(gt.optimizers.SGD(0.02, momentum=0.9), "sparse_categorical_crossentropy", ["accuracy"],
                  device="cpu")
    before = model.evaluate(x / 255.0, y[:64], verbose=0)[0]
    model.fit(x / 255.0, y[:64], batch_size=16, epochs=3, verbose=0)
    # Batch statistics in training, moving statistics here: judged as a user would, by evaluate.
    model.fit(x / 255.0, y[:64], batch_size=16, epochs=2, verbose=0)
    assert model.history.history["loss"][-1] < model.history.history["loss"][0]
    assert np.isfinite(before)


def test_mobilenet_v2_has_keras_counts_names_and_shapes():
    model = applications.MobileNetV2(weights=None)
    assert model.count_params() == 3_538_984 and model.name == "mobilenetv2_1.00_224"  # Keras's
    assert _trainable(model) == 3_504_872 and len(model.layers) == 156
    shapes = {"Conv1": (112, 112, 32), "expanded_conv_depthwise": (112, 112, 32), "expanded_conv_project": (112, 112, 16),
              "block_1_pad": (113, 113, 96), "block_1_depthwise": (56, 56, 96), "block_2_add": (56, 56, 24),
              "block_13_pad": (15, 15, 576), "block_16_project_BN": (7, 7, 320), "out_relu": (7, 7, 1280),
              "predictions": (1000,)}
    for name, shape in shapes.items():
        assert model.get_layer(name).output_shape == shape, name
    assert model.get_layer("block_1_expand_relu").activation == "relu6"
    with pytest.raises(ValueError, match="relu6 \\(max_value=6\\)"):
        gt.layers.ReLU(max_value=5.0)
    with pytest.raises(ValueError, match="does not bundle"):
        applications.MobileNetV2()
    assert applications.MobileNetV2(weights=None, alpha=0.35, input_shape=(96, 96, 3)).name == "mobilenetv2_0.35_96"


def test_small_mobilenet_v2_lowers_its_loss_on_the_cpu():
    (x, y), _ = gt.datasets.fashion_mnist.load_data(path=shared_data("fashion-mnist"))
    x = np.repeat(np.pad(x[:32], ((0, 0), (2, 2), (2, 2)))[..., None], 3, axis=-1) / np.float32(255)
    gt.utils.set_random_seed(0)
    model = applications.MobileNetV2(weights=None, alpha=0.35, input_shape=(32, 32, 3), classes=10)
    model.compile("adam", "sparse_categorical_crossentropy", device="cpu")
    history = model.fit(x, y[:32], batch_size=16, epochs=4, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
