"""batch_norm (training and inference, moving statistics updated in place) and batch_norm_grad."""
import numpy as np
import pytest

import gputrain
import reference as ref
from cases import assert_sums_close, normal
from conftest import assert_close


@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (2, 7, 5, 4), (64, 33), (3, 15, 17, 64), (20000, 2)])
def test_batch_norm_training_and_grad(device, rng, shape):
    c = shape[-1]
    x = normal(rng, shape, 2.0) + 3.0  # an offset: statistics must not lose it to cancellation
    gamma, beta = normal(rng, (c,)), normal(rng, (c,))
    moving_mean, moving_var = normal(rng, (c,)), rng.uniform(0.5, 2.0, c).astype(np.float32)
    old_mean, old_var = moving_mean.copy(), moving_var.copy()
    y, mean, var = gputrain.ops.batch_norm(x, gamma, beta, moving_mean, moving_var, training=True,
                                           momentum=0.9, epsilon=1e-3, device=device)
    ref_mean, ref_var = ref.batch_statistics(x)
    assert_close(mean, ref_mean)
    if shape[:-1] != (1,):  # one row: the variance is exactly 0
        assert_close(var, ref_var)
    assert_close(y, ref.batch_norm_train(x, gamma, beta, 1e-3))
    # The moving averages are sums of two terms that can nearly cancel: judge them against the terms.
    assert_sums_close(moving_mean, 0.9 * old_mean + 0.1 * ref_mean, 0.9 * np.abs(old_mean) + 0.1 * np.abs(ref_mean))
    assert_sums_close(moving_var, 0.9 * old_var + 0.1 * ref_var, 0.9 * old_var + 0.1 * ref_var)
    dy = normal(rng, shape)
    dx, dgamma, dbeta = gputrain.ops.batch_norm_grad(dy, x, gamma, mean, var, epsilon=1e-3, device=device)
    rdx, rdgamma, rdbeta = ref.batch_norm_grad(dy, x, gamma, 1e-3)
    if shape[:-1] != (1,):  # one row: x̂ = 0 and dx = 0 exactly, a norm ratio means nothing
        assert_close(dx, rdx)
        assert_close(dgamma, rdgamma)
    assert_sums_close(dbeta, rdbeta, np.abs(dy).reshape(-1, c).sum(axis=0))


def test_batch_norm_inference_uses_moving_statistics(device, rng):
    x = normal(rng, (4, 6, 6, 8))
    gamma, beta = normal(rng, (8,)), normal(rng, (8,))
    moving_mean, moving_var = normal(rng, (8,)), rng.uniform(0.5, 2.0, 8).astype(np.float32)
    before = moving_mean.copy()
    y, mean, var = gputrain.ops.batch_norm(x, gamma, beta, moving_mean, moving_var, device=device)
    assert_close(y, ref.batch_norm(x, gamma, beta, moving_mean, moving_var, 1e-3))
    np.testing.assert_array_equal(moving_mean, before)
    np.testing.assert_array_equal(mean, moving_mean)
    # Without gamma and beta (Keras's scale=False, center=False).
    y2, _, _ = gputrain.ops.batch_norm(x, None, None, moving_mean, moving_var, epsilon=1e-2, device=device)
    assert_close(y2, ref.batch_norm(x, None, None, moving_mean, moving_var, 1e-2))


def test_batch_norm_updates_tensors_in_place(device, rng):
    x = gputrain.tensor(normal(rng, (10, 3)), device=device)
    mm = gputrain.tensor(np.zeros(3, np.float32), device=device)
    mv = gputrain.tensor(np.ones(3, np.float32), device=device)
    gputrain.ops.batch_norm(x, None, None, mm, mv, training=True, momentum=0.5)
    mean, var = ref.batch_statistics(x.numpy())
    assert_close(mm.numpy(), 0.5 * mean)
    assert_close(mv.numpy(), 0.5 + 0.5 * var)


def test_batch_norm_errors():
    x = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"gamma: expected shape \(3,\) to match the channels of x \(4, 3\), got \(2,\)"):
        gputrain.ops.batch_norm(x, np.ones(2, np.float32), None, training=True, device="cpu")
    with pytest.raises(ValueError, match=r"required when training is False"):
        gputrain.ops.batch_norm(x, device="cpu")
    with pytest.raises(ValueError, match=r"moving_mean: the array is read-only"):
        mm = np.zeros(3, np.float32)
        mm.flags.writeable = False
        gputrain.ops.batch_norm(x, None, None, mm, np.ones(3, np.float32), training=True, device="cpu")
