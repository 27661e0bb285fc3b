"""matmul (the GEMM core), dense and dense_grad against float64 references on every backend."""
import numpy as np
import pytest

import gputrain
from gputrain import _testing
import reference as ref
from cases import assert_sums_close, normal
from conftest import EMULATED_GPU, assert_close


# (20, 5000, 30): CPU threads split the long sum, each into its own copy of C; (50, 1000, 200): A read
# in place, B's panel in two column blocks; (40, 300, 700) with B transposed: computed as Cᵀ = B·Aᵀ.
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 300, 5), (6, 32, 32), (150, 513, 70), (33, 1, 65),
                                   (129, 257, 131), (2, 1000, 3), (20, 5000, 30), (50, 1000, 200),
                                   (40, 300, 700)])
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True), (True, True)])
def test_matmul_sizes_around_the_tiles(device, rng, m, k, n, trans_a, trans_b):
    a, b = normal(rng, (m, k)), normal(rng, (k, n))
    got = gputrain.ops.matmul(np.ascontiguousarray(a.T) if trans_a else a,
                              np.ascontiguousarray(b.T) if trans_b else b,
                              transpose_a=trans_a, transpose_b=trans_b, device=device)
    assert_close(got, a.astype(np.float64) @ b)


def test_matmul_large_enough_for_every_gemm_block(device, rng):
    # Past the CPU's packed panels (K > 256, M > 144 rows) and many GPU tiles of both sizes.
    a, b = normal(rng, (300, 700)), normal(rng, (700, 260))
    assert_close(gputrain.ops.matmul(a, b, device=device), a.astype(np.float64) @ b)


def test_matmul_with_many_output_tiles(device, rng):
    # 12x12 tiles of 128: enough to fill a large GPU with the big tile configuration.
    a, b = normal(rng, (1536, 48)), normal(rng, (48, 1536))
    assert_close(gputrain.ops.matmul(a, b, device=device), a.astype(np.float64) @ b)


def test_blocked_gemm_matches_the_plain_loop_kept_beside_it(rng):
    a, b = normal(rng, (37, 290)), normal(rng, (290, 45))
    exact = a.astype(np.float64) @ b
    assert_close(_testing.sgemm_reference(a, b), exact)
    assert_close(gputrain.ops.matmul(a, b, device="cpu"), _testing.sgemm_reference(a, b))


@pytest.mark.parametrize("shape_in,units", [((1, 1), 1), ((5, 3), 7), ((32, 784), 128), ((4, 6, 9), 5),
                                            ((65, 33), 129)])
def test_dense_forward_and_grad(device, rng, shape_in, units):
    x = normal(rng, shape_in)
    kernel, bias = normal(rng, (shape_in[-1], units), 0.1), normal(rng, (units,))
    y = gputrain.ops.dense(x, kernel, bias, device=device)
    assert_close(y, ref.dense(x, kernel, bias))
    assert_close(gputrain.ops.dense(x, kernel, device=device), ref.dense(x, kernel))
    dy = normal(rng, y.shape)
    dx, dk, db = gputrain.ops.dense_grad(dy, x, kernel, device=device)
    rdx, rdk, rdb = ref.dense_grad(dy, x, kernel)
    assert_close(dx, rdx)
    assert_close(dk, rdk)
    assert_sums_close(db, rdb, np.abs(dy).reshape(-1, dy.shape[-1]).sum(axis=0))


def _tensor_on(t, device):
    """t's values, after checking that it is a gputrain.Tensor on `device` (Tensors in, Tensors out)."""
    assert isinstance(t, gputrain.Tensor), f"expected a gputrain.Tensor, got {type(t).__name__}"
    assert t.device == device, f"result on {t.device}, inputs on {device}"
    return t.numpy()


@pytest.mark.parametrize("shape_in,units", [((5, 3), 7), ((2, 4, 9), 6)])
def test_dense_tensors_in_tensors_out_on_their_device(device, rng, shape_in, units):
    x = normal(rng, shape_in)
    kernel, bias = normal(rng, (shape_in[-1], units), 0.3), normal(rng, (units,))
    tx, tk, tb = (gputrain.tensor(a, device=device) for a in (x, kernel, bias))
    assert_close(_tensor_on(gputrain.ops.dense(tx, tk, tb), device), ref.dense(x, kernel, bias))
    assert_close(_tensor_on(gputrain.ops.dense(tx, tk), device), ref.dense(x, kernel))
    assert_close(_tensor_on(gputrain.ops.dense(tx, tk, tb, activation="relu"), device),
                 ref.relu(ref.dense(x, kernel, bias)))
    dy = normal(rng, x.shape[:-1] + (units,))
    dx, dk, db = gputrain.ops.dense_grad(gputrain.tensor(dy, device=device), tx, tk)
    rdx, rdk, rdb = ref.dense_grad(dy, x, kernel)
    assert_close(_tensor_on(dx, device), rdx)
    assert_close(_tensor_on(dk, device), rdk)
    assert_sums_close(_tensor_on(db, device), rdb, np.abs(dy).reshape(-1, units).sum(axis=0))


def test_dense_errors_name_arguments_and_shapes():
    x = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"kernel \(5, 2\) expects 5 input features but x \(4, 3\) has 3"):
        gputrain.ops.dense(x, np.zeros((5, 2), np.float32), device="cpu")
    with pytest.raises(ValueError, match=r"bias: expected shape \(2,\)"):
        gputrain.ops.dense(x, np.zeros((3, 2), np.float32), np.zeros((3,), np.float32), device="cpu")
    with pytest.raises(ValueError, match=r"dy: expected shape \(4, 2\)"):
        gputrain.ops.dense_grad(np.zeros((4, 3), np.float32), x, np.zeros((3, 2), np.float32), device="cpu")
    with pytest.raises(ValueError, match=r"a \(4, 3\) and b \(4, 3\) do not chain"):
        gputrain.ops.matmul(x, x, device="cpu")


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "linear"])
@pytest.mark.parametrize("shape_in,units", [((3, 5), 4), ((40, 600), 70), ((32, 784), 128)])
def test_dense_fused_activation(device, rng, activation, shape_in, units):
    # in = 600 > 256: the CPU GEMM applies the activation only after its last depth block.
    x, kernel, bias = normal(rng, shape_in), normal(rng, (shape_in[-1], units), 0.1), normal(rng, (units,))
    y = gputrain.ops.dense(x, kernel, bias, device=device, activation=activation)
    pre = ref.dense(x, kernel, bias)
    expected = {"relu": ref.relu, "sigmoid": ref.sigmoid, "linear": lambda v: v}[activation](pre)
    assert_close(y, expected)


def test_dense_rejects_unknown_activation():
    names = gputrain._core.activation_names()
    expected = ", ".join(f"'{n}'" for n in names[:-1]) + f" or '{names[-1]}'"
    unknown = "no_such_activation"  # not "tanh", which is listed now
    with pytest.raises(ValueError, match=f"activation: expected None, 'linear', {expected}, got '{unknown}'"):
        gputrain.ops.dense(np.zeros((2, 3), np.float32), np.zeros((3, 4), np.float32), device="cpu",
                           activation=unknown)


def test_simple_gpu_gemm_kernel_agrees_with_the_pipelined_one(device):
    # GPUTRAIN_GEMM_KERNEL=simple launches the reference main loop kept beside the pipelined one; both
    # must match the float64 reference on GEMMs and convolutions with ragged edges.
    if device == "cpu":
        pytest.skip("the GEMM kernel choice applies to GPU devices only")
    backend = gputrain.build_info()["backends"][device.split(":")[0]]
    if not EMULATED_GPU and backend.get("gemm_reference") != "ON":
        pytest.skip("this build has no simple GEMM kernel (GPUTRAIN_GEMM_REFERENCE=ON compiles it)")
    code = f"""
import numpy as np, gputrain
from conftest import rel_error
import reference as ref
rng = np.random.default_rng(7)
a, b = rng.standard_normal((130, 300)).astype(np.float32), rng.standard_normal((300, 67)).astype(np.float32)
errors = [rel_error(gputrain.ops.matmul(a, b, device="{device}"), a.astype(np.float64) @ b)]
x, k = rng.standard_normal((2, 11, 9, 5)).astype(np.float32), rng.standard_normal((3, 3, 5, 7)).astype(np.float32)
errors.append(rel_error(gputrain.ops.conv2d(x, k, strides=2, padding="same", device="{device}"),
                        ref.conv2d(x, k, None, (2, 2), "same")))
dy = rng.standard_normal((2, 6, 5, 7)).astype(np.float32)
got = gputrain.ops.conv2d_grad(dy, x, k, strides=2, padding="same", device="{device}")
errors += [rel_error(g, r) for g, r in zip(got[:2], ref.conv2d_grad(dy, x, k, (2, 2), "same")[:2])]
print(max(errors))
"""
    import os
    import subprocess
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=here,
                            env={**os.environ, "GPUTRAIN_GEMM_KERNEL": "simple", "PYTHONPATH": here})
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.strip()) < 1e-5, result.stdout
