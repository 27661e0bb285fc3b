"""`import gputrain as keras` reaches Keras's namespaces; Keras's initializers by name with their
distributions; names gputrain does not support say so."""
import numpy as np
import pytest

import gputrain as keras
from gputrain import initializers


def test_keras_namespaces_are_reachable():
    for name in ("layers", "models", "optimizers", "losses", "callbacks", "utils", "datasets", "regularizers",
                 "initializers", "activations", "saving", "applications", "preprocessing", "mixed_precision",
                 "backend"):
        assert hasattr(keras, name), name
    assert keras.Input is keras.layers.Input and keras.Model is keras.models.Model
    assert keras.Sequential is keras.models.Sequential
    assert keras.optimizers.schedules.ExponentialDecay
    assert keras.saving.load_model is keras.models.load_model
    assert keras.backend.floatx() == "float32" and keras.backend.image_data_format() == "channels_last"
    keras.layers.Dense(3)
    keras.backend.clear_session()
    assert keras.layers.Dense(3).name == "dense"  # names start again, as after Keras's clear_session
    np.testing.assert_array_equal(keras.activations.get("relu")(np.array([-1.0, 2.0], np.float32)), [0.0, 2.0])
    assert keras.activations.get(None)(5) == 5 and keras.activations.serialize(keras.activations.tanh) == "tanh"


def test_unsupported_names_say_so():
    with pytest.raises(NotImplementedError, match="'mixed_float16' is not supported yet; gputrain computes in float32"):
        keras.mixed_precision.set_global_policy("mixed_float16")
    keras.mixed_precision.set_global_policy("float32")
    assert keras.mixed_precision.global_policy().name == "float32"
    with pytest.raises(NotImplementedError, match="image_dataset_from_directory is not supported yet"):
        keras.preprocessing.image_dataset_from_directory("photos")
    with pytest.raises(ValueError, match="'orthogonal' is not one of zeros, ones"):
        initializers.get("orthogonal")


@pytest.mark.parametrize("name, std", [
    ("glorot_uniform", np.sqrt(2 / 600)), ("glorot_normal", np.sqrt(2 / 600)), ("he_uniform", np.sqrt(2 / 200)),
    ("he_normal", np.sqrt(2 / 200)), ("lecun_uniform", np.sqrt(1 / 200)), ("lecun_normal", np.sqrt(1 / 200)),
    ("random_normal", 0.05), ("random_uniform", 0.1 / np.sqrt(12)), ("truncated_normal", 0.05 * 0.8796),
])
def test_initializers_draw_keras_distributions(name, std):
    keras.utils.set_random_seed(0)
    values = initializers.get(name)((200, 400)).astype(np.float64)  # fan_in 200, fan_out 400
    assert abs(values.mean()) < 0.05 * std
    assert values.std() == pytest.approx(std, rel=0.02)
    if "normal" in name and name != "random_normal":
        # truncated at two standard deviations of the normal drawn, whose spread the truncation narrows
        # to 0.8796 of it
        assert np.abs(values).max() <= 2 * std / 0.8796 * 1.0001
    again = initializers.get(name.replace("_", " ").title().replace(" ", ""))
    assert type(again) is type(initializers.get(name))  # the class name works too
    seeded = type(initializers.get(name))
    if name not in ("random_normal", "random_uniform", "truncated_normal"):
        np.testing.assert_array_equal(seeded(seed=3)((4, 5)), seeded(seed=3)((4, 5)))


def test_constant_and_variance_scaling_arguments():
    np.testing.assert_array_equal(initializers.Constant(2.5)((2,)), [2.5, 2.5])
    with pytest.raises(ValueError, match="mode: expected 'fan_in', 'fan_out' or 'fan_avg'"):
        initializers.VarianceScaling(mode="fan")
    conv = initializers.HeNormal(seed=0)((3, 3, 16, 8))  # fans count the window: fan_in = 3·3·16
    assert conv.std() == pytest.approx(np.sqrt(2 / 144), rel=0.1)


def test_keras_names_gputrain_lacks_say_so_and_name_what_it_has():
    from gputrain.unsupported import NotSupportedError
    for module, name, has in ((keras.optimizers, "Ftrl", "SGD, Adam, AdamW"),
                              (keras.callbacks, "TensorBoard", "ModelCheckpoint"),
                              (keras.losses, "Hinge", "MeanSquaredError"), (keras.metrics, "AUC", "metric names in compile"),
                              (keras.layers, "LSTM", "Conv2D"), (keras.preprocessing, "timeseries_dataset", "arrays")):
        with pytest.raises(NotImplementedError, match=f"{name} is not supported yet; gputrain has .*{has}"):
            getattr(module, name)
        assert not hasattr(module, name)  # an AttributeError too: feature checks stay quiet
    model = keras.Sequential([keras.layers.Dense(2)])
    model.compile("adam", "mse", device="cpu")
    x, y = np.zeros((4, 3), np.float32), np.zeros((4, 2), np.float32)
    with pytest.raises(NotSupportedError, match="class_weight with mean_squared_error is not supported yet"):
        model.fit(x, y, verbose=0, class_weight={0: 2.0})
    for argument in ({"sample_weight": np.ones(4)}, {"steps_per_epoch": 2}, {"validation_steps": 2}):
        with pytest.raises(NotSupportedError, match=f"fit: {next(iter(argument))} is not supported yet"):
            model.fit(x, y, verbose=0, **argument)
    model.fit(x, y, verbose=0, class_weight=None, validation_freq=1)  # Keras's defaults are fine
    with pytest.raises(TypeError, match="unexpected keyword argument 'epoch'"):
        model.fit(x, y, epoch=3)
