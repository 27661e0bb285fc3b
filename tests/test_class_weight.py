"""fit(class_weight=...) as Keras's: each sample's loss weighs its class's weight and the batch's loss is
their sum over the batch size (not over the weights). Judged against an independent fact: weighting class
0 by 2 trains exactly as duplicating class 0's samples in the batch, with the learning rate scaled by the
ratio of the batch sizes."""
import numpy as np
import pytest

import gputrain as gt
from gputrain import layers
from gputrain.unsupported import NotSupportedError


def _model(lr, loss="sparse_categorical_crossentropy", device="cpu"):
    gt.utils.set_random_seed(3)
    model = gt.Sequential([gt.Input((4,)), layers.Dense(5, activation="tanh"), layers.Dense(3, activation="softmax")])
    model.compile(gt.optimizers.SGD(lr), loss, metrics=["accuracy"], device=device)
    return model


@pytest.mark.parametrize("categorical", [False, True])
def test_class_weight_trains_as_duplicated_samples(device, categorical):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2, 2, 1])
    twice = y == 0
    x_dup, y_dup = np.concatenate([x, x[twice]]), np.concatenate([y, y[twice]])
    ratio = len(x_dup) / len(x)
    if categorical:
        y, y_dup = gt.utils.to_categorical(y, 3), gt.utils.to_categorical(y_dup, 3)
    loss = "categorical_crossentropy" if categorical else "sparse_categorical_crossentropy"
    weighted, duplicated = _model(0.5, loss, device), _model(0.5 * ratio, loss, device)
    history = weighted.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, class_weight={0: 2.0}).history
    reference = duplicated.fit(x_dup, y_dup, batch_size=len(x_dup), epochs=1, shuffle=False, verbose=0).history
    assert history["loss"][0] == pytest.approx(ratio * reference["loss"][0], rel=1e-5)
    for a, b in zip(weighted.get_weights(), duplicated.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # evaluate is not weighted (Keras weighs training only), and the next fit without weights is not either
    plain = _model(0.5, loss, device)
    plain.set_weights(weighted.get_weights())
    assert weighted.evaluate(x, y, verbose=0) == plain.evaluate(x, y, verbose=0)
    assert weighted.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0).history["loss"] == \
        plain.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0).history["loss"]


def test_class_weight_arguments_are_checked():
    x, y = np.zeros((4, 4), np.float32), np.array([0, 1, 2, 0])
    model = _model(0.1)
    with pytest.raises(ValueError, match="class_weight: 3 is not a class index of the model's 3 outputs"):
        model.fit(x, y, verbose=0, class_weight={3: 1.0})
    with pytest.raises(ValueError, match=r"class_weight\[0\]"):
        model.fit(x, y, verbose=0, class_weight={0: -1.0})
    with pytest.raises(TypeError, match="class_weight: expected a dict"):
        model.fit(x, y, verbose=0, class_weight=[1.0, 2.0, 3.0])
    binary = gt.Sequential([gt.Input((4,)), layers.Dense(1, activation="sigmoid")])
    binary.compile("sgd", "binary_crossentropy", device="cpu")
    with pytest.raises(NotSupportedError, match="class_weight with binary_crossentropy is not supported yet"):
        binary.fit(x, np.zeros(4), verbose=0, class_weight={0: 1.0, 1: 5.0})
