"""Sizes and indices beyond what the kernels' integer types hold: strides and windows of any positive size
give the reference's result (no overflow in the output size or in the kernels' index arithmetic), and
what cannot be indexed (a max-pooling window of 2**31 cells or more, for an int32 argmax) or stored
(a hyper-parameter beyond float32) is a ValueError naming the argument and the limit."""
import numpy as np
import pytest

import gputrain as gt
import reference as ref
from cases import normal
from conftest import assert_close

HUGE = 2**63 - 1


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("strides", [(HUGE, HUGE), (HUGE, 1), (2**40, 3), (7, 2**31)])
def test_pooling_with_huge_strides(device, rng, padding, strides):
    x = normal(rng, (2, 7, 6, 4))
    for kind, forward, backward in (("max", gt.ops.max_pool2d, gt.ops.max_pool2d_grad),
                                    ("avg", gt.ops.avg_pool2d, gt.ops.avg_pool2d_grad)):
        y = forward(x, (3, 2), strides, padding, device=device)
        expected = ref.pool2d(x, kind, (3, 2), strides, padding)
        assert y.shape == expected.shape
        assert_close(y, expected)
        dy = normal(rng, y.shape)
        assert_close(backward(dy, x, (3, 2), strides, padding, device=device),
                     ref.pool2d_grad(dy, x, kind, (3, 2), strides, padding))


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("strides", [(HUGE, HUGE), (1, HUGE), (2**33, 2)])
def test_convolution_with_huge_strides(device, rng, padding, strides):
    x, kernel, bias = normal(rng, (2, 6, 7, 3)), normal(rng, (3, 2, 3, 4)), normal(rng, (4,))
    y = gt.ops.conv2d(x, kernel, bias, strides, padding, device=device)
    expected = ref.conv2d(x, kernel, bias, strides, padding)
    assert y.shape == expected.shape
    assert_close(y, expected)
    dy = normal(rng, y.shape)
    for got, want in zip(gt.ops.conv2d_grad(dy, x, kernel, strides, padding, device=device),
                         ref.conv2d_grad(dy, x, kernel, strides, padding)):
        assert_close(got, want)


def test_same_pooling_windows_far_larger_than_the_input(device, rng):
    x = normal(rng, (1, 3, 4, 2))
    for pool in [(2**40, 2**40), (HUGE, 1)]:
        y = gt.ops.avg_pool2d(x, pool, 1, "same", device=device)
        assert_close(y, ref.pool2d(x, "avg", pool, (1, 1), "same"))
    pool = (2**15, 2**16 - 1)  # 2**31 − 2**15 cells: the largest argmax still fits int32
    y, argmax = gt.ops.max_pool2d(x, pool, 1, "same", device=device, return_argmax=True)
    assert_close(y, ref.pool2d(x, "max", pool, (1, 1), "same"))
    np.testing.assert_array_equal(argmax, ref.max_pool2d_argmax(x, pool, (1, 1), "same"))
    assert argmax.max() > 2**30


@pytest.mark.parametrize("pool", [(2**16, 2**15), (2**31, 1), (HUGE, HUGE)])
def test_max_pooling_windows_must_fit_an_int32_argmax(device, pool):
    x = np.ones((1, 3, 3, 1), np.float32)
    message = r"^pool_size: a max-pooling window of \(\d+, \d+\) has more than 2\*\*31 - 1 cells"
    with pytest.raises(ValueError, match=message):
        gt.ops.max_pool2d(x, pool, 1, "same", device=device)
    with pytest.raises(ValueError, match=message):
        gt.ops.max_pool2d_grad(np.ones((1, 3, 3, 1), np.float32), x, pool, 1, "same", device=device)
    plan = gt._core._TrainPlan(device, 1, [3, 3, 1], graphs=False)
    with pytest.raises(ValueError, match=message):
        plan.add_pool2d("max", list(pool), [1, 1], "same")


@pytest.mark.parametrize("call", [
    lambda x: gt.ops.sgd_update(x.copy(), x, learning_rate=1e39, device="cpu"),
    lambda x: gt.ops.adam_update(x.copy(), x, np.zeros_like(x), np.zeros_like(x), 1, learning_rate=-1e300,
                                 device="cpu"),
    lambda x: gt.ops.adam_update(x.copy(), x, np.zeros_like(x), np.zeros_like(x), 1, epsilon=1e39, device="cpu"),
    lambda x: gt.ops.rmsprop_update(x.copy(), x, np.zeros_like(x), epsilon=1e300, device="cpu"),
    lambda x: gt.ops.batch_norm(x, training=True, epsilon=1e39, device="cpu"),
])
def test_hyper_parameters_must_fit_float32(call):
    with pytest.raises(ValueError, match=r"^(learning_rate|epsilon): expected a finite float32 number, got "):
        call(np.ones((2, 3), np.float32))


def test_training_plans_check_hyper_parameters_as_the_ops_do(device):
    def plan():
        p = gt._core._TrainPlan(device, 2, [3], graphs=False)
        p.add_dense(gt.tensor(np.ones((3, 2), np.float32), device=device), None, "linear")
        p.add_loss("sparse_categorical", False)
        return p
    with pytest.raises(ValueError, match=r"^momentum: expected a number in \[0"):
        plan().set_optimizer("sgd", {"momentum": 5.0}, [[], [], []])
    with pytest.raises(ValueError, match=r"^beta_1: expected a number in \[0"):
        plan().set_optimizer("adam", {"beta_1": 1.5}, [[], [], []])
    with pytest.raises(ValueError, match=r"^epsilon: expected a finite float32 number"):
        plan().set_optimizer("rmsprop", {"epsilon": 1e39}, [[], [], []])
    with pytest.raises(ValueError, match=r"^rate: expected a number in \[0, 1\)"):
        gt._core._TrainPlan(device, 2, [3], graphs=False).add_dropout(1.0, 0)
    p = plan()
    p.set_optimizer("sgd", {}, [[], [], []])
    x = gt.tensor(np.ones((2, 3), np.float32), device=device)
    y = gt.tensor(np.zeros(2, np.int32), device=device)
    with pytest.raises(ValueError, match=r"^learning_rate: expected a finite float32 number"):
        p.step(x, y, 1, 1e39)


def test_training_plan_batch_norm_needs_channels(device):
    plan = gt._core._TrainPlan(device, 2, [0], graphs=False)
    empty = gt.tensor(np.zeros(0, np.float32), device=device)
    with pytest.raises(ValueError, match=r"^batch_norm: expected inputs with channels >= 1, got \(2, 0\)"):
        plan.add_batch_norm(empty, empty, empty, empty, 0.99, 1e-3)
