"""Layer and optimizer arguments of the wrong type or range are refused when the object is made, naming
the argument; a float is never truncated into a count and a string never taken as True."""
import numpy as np
import pytest

import gputrain as gt
from gputrain import layers


@pytest.mark.parametrize("make, argument, error", [
    (lambda: layers.Dense(2.5), "units", TypeError),
    (lambda: layers.Dense(True), "units", TypeError),
    (lambda: layers.Dense(0), "units", ValueError),
    (lambda: layers.Dense(4, use_bias="no"), "use_bias", TypeError),
    (lambda: layers.Input((2.5,)), "input_shape", TypeError),
    (lambda: layers.Input((28, 0)), "input_shape", ValueError),
    (lambda: layers.Input(28), "input_shape", TypeError),
    (lambda: layers.Flatten(input_shape=(28, 28.0)), "input_shape", TypeError),
    (lambda: layers.Conv2D(3.0, 3), "filters", TypeError),
    (lambda: layers.Conv2D(3, 2.5), "kernel_size", TypeError),
    (lambda: layers.Conv2D(3, (3, 3, 3)), "kernel_size", ValueError),
    (lambda: layers.Conv2D(3, 3, strides=(1, True)), "strides", TypeError),
    (lambda: layers.MaxPooling2D(0), "pool_size", ValueError),
    (lambda: layers.MaxPooling2D(2, strides=1.5), "strides", TypeError),
    (lambda: layers.Dropout(1.0), "rate", ValueError),
    (lambda: layers.Dropout(0.2, seed=1.5), "seed", TypeError),
    (lambda: layers.BatchNormalization(momentum=2.0), "momentum", ValueError),
    (lambda: layers.Dense(4, name=5), "name", TypeError),
    (lambda: gt.optimizers.SGD(momentum=0.9, nesterov="no"), "nesterov", TypeError),
    (lambda: gt.optimizers.RMSprop(centered=1), "centered", TypeError),
])
def test_bad_arguments_are_refused_when_made(make, argument, error):
    with pytest.raises(error, match=argument):
        make()


def test_numpy_integers_and_pairs_are_accepted():
    layer = layers.Conv2D(np.int64(4), (np.int32(3), 3), strides=np.int16(2))
    assert layer.filters == 4 and layer.kernel_size == (3, 3) and layer.strides == (2, 2)
    assert layers.Input(np.array([28, 28])).shape == (None, 28, 28)
    assert gt.optimizers.SGD(nesterov=np.bool_(True)).nesterov is True
