"""The Permute layer: its output against np.transpose for every permutation of three axes and some of four,
its gradient (the inverse permutation) against finite differences of the graph reference, Keras's output
shapes, its arguments, its config and eager calls. A permutation moves values without arithmetic: outputs
are exact."""
import itertools

import numpy as np
import pytest

import graph_reference
import gputrain as gt
from gputrain import layers

TOL = 1e-4


@pytest.mark.parametrize("dims", list(itertools.permutations((1, 2, 3))))
def test_permute_predicts_as_numpy(device, rng, dims):
    model = gt.Sequential([gt.Input((5, 7, 3)), layers.Permute(dims)])
    model.build(device=device)
    x = rng.standard_normal((4, 5, 7, 3)).astype(np.float32)
    assert model.output_shape == tuple((5, 7, 3)[d - 1] for d in dims)
    np.testing.assert_array_equal(model.predict(x), x.transpose((0,) + dims))


@pytest.mark.parametrize("input_shape,dims", [((6, 4), (2, 1)), ((2, 3, 4, 5), (4, 3, 2, 1)),
                                              ((2, 3, 4, 5), (2, 1, 3, 4)), ((2, 1, 4, 5), (3, 1, 4, 2)),
                                              ((1, 3, 1, 5), (4, 3, 2, 1)), ((9,), (1,))])
def test_permute_on_other_ranks(device, rng, input_shape, dims):
    model = gt.Sequential([gt.Input(input_shape), layers.Permute(dims)])
    model.build(device=device)
    x = rng.standard_normal((3,) + input_shape).astype(np.float32)
    np.testing.assert_array_equal(model.predict(x), x.transpose((0,) + dims))


def test_permute_gradients_equal_finite_differences(device):
    gt.utils.set_random_seed(13)
    inp = gt.Input((4, 5, 2))
    a = layers.Conv2D(3, 3, padding="same")(inp)
    b = layers.Permute((2, 1, 3))(a)                        # rows and columns exchanged, channels last
    b = layers.Conv2D(3, (2, 3), padding="same")(b)          # an operation that sees the new order
    c = layers.Permute((3, 1, 2))(b)                        # channels first
    c = layers.Dense(4)(c)                                  # over the last axis: mixes what was rows
    out = layers.Dense(3, activation="softmax")(layers.Flatten()(c))
    model = gt.Model(inp, out)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4, 5, 2)).astype(np.float32)
    labels = rng.integers(0, 3, 3)
    graph_reference.check_plan_gradients(model, x, labels, device, TOL)


def test_permute_arguments_config_and_summary():
    for dims in ((1, 1), (0, 1), (1, 3), (2, 3)):
        with pytest.raises(ValueError, match="dims"):
            layers.Permute(dims)
    with pytest.raises(TypeError, match="dims"):
        layers.Permute(2)
    with pytest.raises(TypeError, match="dims"):
        layers.Permute((1.0, 2))
    with pytest.raises(ValueError, match="dims"):
        gt.Sequential([gt.Input((4, 4, 2)), layers.Permute((2, 1))]).build(device="cpu")
    layer = layers.Permute((3, 1, 2), name="to_channels_first")
    assert layer.get_config() == {"name": "to_channels_first", "dims": [3, 1, 2]}
    assert layers.from_config("Permute", layer.get_config()).get_config() == layer.get_config()
    model = gt.Sequential([gt.Input((10, 64, 3)), layer])
    model.build(device="cpu")
    lines = []
    model.summary(print_fn=lines.append)
    row = next(line for line in lines if line.startswith(layer.name))
    assert "(Permute)" in row and "(None, 3, 10, 64)" in row and row.split()[-1] == "0"


def test_permute_of_more_separate_axes_than_a_walk_holds_is_refused():
    # Nine axes (the batch included) reversed: none merges, one more than a strided view holds.
    shape = (2,) * 8
    model = gt.Sequential([gt.Input(shape), layers.Permute(tuple(range(8, 0, -1)))])
    with pytest.raises(ValueError, match="at most 8"):
        model.predict(np.zeros((2,) + shape, np.float32))


def test_permute_called_eagerly(device, rng):
    layer = layers.Permute((2, 1))
    layer.build((4, 6), device)
    x = rng.standard_normal((3, 4, 6)).astype(np.float32)
    got = layer(gt.tensor(x, device=device))
    np.testing.assert_array_equal(got.numpy(), x.transpose(0, 2, 1))
    assert layer.output_shape == (6, 4)
