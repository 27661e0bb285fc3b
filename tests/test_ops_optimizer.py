"""sgd_update, adam_update and rmsprop_update: Keras's formulas, applied in place to NumPy arrays and to
Tensors on every backend."""
import numpy as np
import pytest

import gputrain
import reference as ref
from cases import normal
from conftest import assert_close


def f32(value: float) -> float:
    """A hyper-parameter as the kernels see it: rounded to float32, as Keras rounds it to the variable's
    dtype. It matters for β₂ = 0.999, whose float32 value makes 1 − β₂ differ from 0.001 by 1.3e-5."""
    return float(np.float32(value))


def _state(rng, shape):
    return normal(rng, shape), normal(rng, shape), normal(rng, shape) * 0.1


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
@pytest.mark.parametrize("shape", [(1,), (5, 7), (70001,)])
def test_sgd_update_in_place(device, rng, momentum, nesterov, shape):
    param, grad, velocity = _state(rng, shape)
    p0, v0 = param.copy(), velocity.copy()
    for _ in range(3):  # three steps: the velocity carries over
        gputrain.ops.sgd_update(param, grad, velocity if momentum else None, learning_rate=0.05,
                                momentum=momentum, nesterov=nesterov, device=device)
        p0, v0 = ref.sgd(p0, grad, v0, f32(0.05), f32(momentum), nesterov)
    assert_close(param, p0)
    if momentum:
        assert_close(velocity, v0)


@pytest.mark.parametrize("shape", [(3,), (17, 9), (50000,)])
def test_adam_update_in_place(device, rng, shape):
    param, grad, _ = _state(rng, shape)
    m, v = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    rp, rm, rv = param.astype(np.float64), np.zeros(shape), np.zeros(shape)
    for step in range(1, 4):
        g = normal(rng, shape)
        gputrain.ops.adam_update(param, g, m, v, step, learning_rate=0.01, device=device)
        rp, rm, rv = ref.adam(rp, g, rm, rv, step, f32(0.01), f32(0.9), f32(0.999), f32(1e-7))
    assert_close(param, rp)
    assert_close(m, rm)
    assert_close(v, rv)


@pytest.mark.parametrize("momentum,centered", [(0.0, False), (0.5, False), (0.0, True), (0.9, True)])
def test_rmsprop_update_in_place(device, rng, momentum, centered):
    shape = (13, 11)
    param = normal(rng, shape)
    velocity = rng.uniform(0.5, 1.0, shape).astype(np.float32)
    buffer_, average = np.zeros(shape, np.float32), normal(rng, shape, 0.1)
    state = [param.astype(np.float64), velocity.astype(np.float64), buffer_.astype(np.float64),
             average.astype(np.float64)]
    for _ in range(3):
        g = normal(rng, shape)
        gputrain.ops.rmsprop_update(param, g, velocity, learning_rate=0.01, rho=0.9, momentum=momentum,
                                    centered=centered, momentum_buffer=buffer_ if momentum else None,
                                    average_grad=average if centered else None, device=device)
        state = ref.rmsprop(state[0], g, state[1], state[2], state[3], f32(0.01), f32(0.9), f32(momentum),
                            f32(1e-7), centered)
    assert_close(param, state[0])
    assert_close(velocity, state[1])
    if momentum:
        assert_close(buffer_, state[2])
    if centered:
        assert_close(average, state[3])


def test_updates_tensors_in_place(device, rng):
    param, grad, _ = _state(rng, (6, 5))
    tp, tg = gputrain.tensor(param, device=device), gputrain.tensor(grad, device=device)
    tm, tv = gputrain.zeros((6, 5), device=device), gputrain.zeros((6, 5), device=device)
    gputrain.ops.adam_update(tp, tg, tm, tv, 1, learning_rate=0.1)
    expected, _, _ = ref.adam(param, grad, np.zeros((6, 5)), np.zeros((6, 5)), 1, f32(0.1), f32(0.9),
                              f32(0.999), f32(1e-7))
    assert_close(tp.numpy(), expected)


def test_in_place_arguments_must_be_updatable():
    grad = np.ones(4, np.float32)
    with pytest.raises(TypeError, match=r"param: expected a float32 array to update in place, got float64"):
        gputrain.ops.sgd_update(np.zeros(4), grad, device="cpu")
    with pytest.raises(ValueError, match=r"param: the array must be C-contiguous"):
        gputrain.ops.sgd_update(np.zeros(8, np.float32)[::2], grad, device="cpu")
    readonly = np.zeros(4, np.float32)
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match=r"param: the array is read-only"):
        gputrain.ops.sgd_update(readonly, grad, device="cpu")
    with pytest.raises(ValueError, match=r"velocity: required when momentum > 0"):
        gputrain.ops.sgd_update(np.zeros(4, np.float32), grad, momentum=0.9, device="cpu")
    with pytest.raises(ValueError, match=r"param \(4,\) and m \(3,\)"):
        gputrain.ops.adam_update(np.zeros(4, np.float32), grad, np.zeros(3, np.float32),
                                 np.zeros(4, np.float32), 1, device="cpu")
    with pytest.raises(ValueError, match=r"step: expected the 1-based number"):
        gputrain.ops.adam_update(np.zeros(4, np.float32), grad, np.zeros(4, np.float32),
                                 np.zeros(4, np.float32), 0, device="cpu")
    with pytest.raises(ValueError, match=r"average_grad: required when centered"):
        gputrain.ops.rmsprop_update(np.zeros(4, np.float32), grad, np.zeros(4, np.float32), centered=True,
                                    device="cpu")
