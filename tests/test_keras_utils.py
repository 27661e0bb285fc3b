"""Small Keras conveniences as Keras has them: gt.utils.to_categorical and normalize (shapes, dtypes, the
trailing axis of 1, labels that do not fit refused instead of wrapped) and a layer's weights,
trainable_weights, non_trainable_weights, get_weights and set_weights."""
import numpy as np
import pytest

import gputrain as gt


def test_to_categorical_as_keras():
    got = gt.utils.to_categorical([2, 0, 1])
    np.testing.assert_array_equal(got, [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    assert got.dtype == np.float64
    assert gt.utils.to_categorical(np.array([[1], [3]]), num_classes=5).shape == (2, 5)  # (n, 1) -> (n, 5)
    assert gt.utils.to_categorical(np.zeros((2, 3), np.int64), 4).shape == (2, 3, 4)
    assert gt.utils.to_categorical(np.array([1.0, 2.0]))[1, 2] == 1.0
    with pytest.raises(ValueError, match=r"label 3 at index 1 is outside \[0, 3\)"):
        gt.utils.to_categorical([0, 3], num_classes=3)
    with pytest.raises(ValueError, match=r"label -1 at index 0"):
        gt.utils.to_categorical([-1, 0])
    with pytest.raises(ValueError, match="integer class labels, got fractions"):
        gt.utils.to_categorical([0.5])
    with pytest.raises(ValueError, match="num_classes"):
        gt.utils.to_categorical([0], num_classes=0)


def test_normalize_as_keras():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(gt.utils.normalize(x), [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(gt.utils.normalize(x, axis=0), [[1.0, 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(gt.utils.normalize(x, order=1), [[3 / 7, 4 / 7], [0.0, 0.0]])


def test_layer_weights_as_keras_names_them():
    gt.utils.set_random_seed(0)
    bn = gt.layers.BatchNormalization()
    model = gt.Sequential([gt.Input((3,)), gt.layers.Dense(2, name="d"), bn])
    model.build(device="cpu")
    dense = model.get_layer("d")
    assert [w.shape for w in dense.weights] == [(3, 2), (2,)]
    assert [w.shape for w in dense.trainable_weights] == [(3, 2), (2,)] and dense.non_trainable_weights == []
    assert len(bn.trainable_weights) == 2 and len(bn.non_trainable_weights) == 2  # the moving statistics
    dense.trainable = False
    assert dense.trainable_weights == [] and len(dense.non_trainable_weights) == 2
    np.testing.assert_array_equal(dense.get_weights()[0], model.get_weights()[0])


def test_a_sequential_model_without_an_input_shape_builds_on_its_first_data():
    """Keras's deferred build: compile before any shape is known; fit (or predict, evaluate, model(x))
    builds the model for its data's sample shape."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = x @ np.array([[1.0], [2.0], [0.0], [-1.0]], np.float32)
    gt.utils.set_random_seed(0)
    model = gt.Sequential([gt.layers.Dense(8, activation="relu"), gt.layers.Dense(1)])
    model.compile(gt.optimizers.RMSprop(0.01), loss="mean_squared_error", metrics=["mean_absolute_error"],
                  device="cpu")
    assert not model.built
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0).history
    assert model.built and model.input_shape == (4,) and model.count_params() == 4 * 8 + 8 + 8 + 1
    assert list(history) == ["loss", "mean_absolute_error"]
    with pytest.raises(ValueError, match=r"the model expects samples of shape \(4,\)"):
        model.predict(np.zeros((2, 5), np.float32))
    called = gt.Sequential([gt.layers.Dense(3)])
    assert called(np.zeros((2, 7), np.float32)).shape == (2, 3)  # model(x) builds it too
    with pytest.raises(ValueError, match="the input shape is unknown"):
        gt.Sequential([gt.layers.Dense(3)]).summary()


def test_layer_set_weights_reaches_the_models_next_step():
    gt.utils.set_random_seed(0)
    dense = gt.layers.Dense(2, name="d")
    model = gt.Sequential([gt.Input((3,)), dense])
    model.compile("sgd", "mse", device="cpu")
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    before = model.predict(x)  # the predict plan exists now
    kernel, bias = np.arange(6, dtype=np.float32).reshape(3, 2), np.array([1.0, -1.0], np.float32)
    dense.set_weights([kernel, bias])
    np.testing.assert_allclose(model.predict(x), x @ kernel + bias, rtol=1e-6)
    assert not np.allclose(before, x @ kernel + bias)
    with pytest.raises(ValueError, match=r"set_weights: d/kernel has shape \(3, 2\), got \(2, 3\)"):
        dense.set_weights([kernel.T, bias])
    with pytest.raises(ValueError, match="set_weights: d has 2 weights, got 1 arrays"):
        dense.set_weights([kernel])
    with pytest.raises(TypeError, match="trainable: expected True or False"):
        dense.trainable = "no"


def test_progbar_shows_means_over_the_steps(capsys):
    bar = gt.utils.Progbar(4, stateful_metrics=["lr"])
    for step in range(1, 5):
        bar.update(step, [("loss", float(step)), ("lr", 0.1 * step)])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("4/4 [") and "loss: 2.5000" in line and "lr: 0.4000" in line
    bar = gt.utils.Progbar(6)
    bar.add(2, [("loss", 1.0)])
    bar.add(4, [("loss", 4.0)])  # two steps at 1, four at 4: mean 3
    assert "loss: 3.0000" in capsys.readouterr().out
