"""The twin's in-place helpers (``vectorized.add_matmul_t`` and the rest) against the numpy
expression each one's docstring names, written out here in plain numpy (in float64, from the same
inputs): for float64 and float32, one sample as vectors, one row, several rows and a layer of one
input, and scale factors that are not 0 or 1 (and 0 and 1, the branches BLAS takes apart).

Each helper writes into ``out`` where it lies, so ``out`` itself is what is checked; an ``out``
the expression does not read starts as NaN, so that a helper which read it would show it.
"""
import numpy as np
import pytest

from neuronet.vectorized import (
    WeightGradient,
    add_matmul_t,
    add_outer,
    add_scaled,
    matmul_into,
    row_mean,
    scale_add,
    take_rows,
)

# Error bound of a sum of products: a few units of the dtype's rounding (eps 2.2e-16 and 1.2e-7)
# times the sum of the terms' magnitudes (``bound`` below), for sums of at most 7 terms here.
RTOL = {np.float64: 1e-14, np.float32: 2e-6}
DTYPES = [np.float64, np.float32]
# (samples, n_in, n_out); samples None: one sample as vectors, as the twin's step holds it
SHAPES = {"vectors": (None, 5, 3), "one row": (1, 5, 3), "rows": (4, 5, 3),
          "one input": (7, 1, 6)}
ALPHA = -0.37
BETAS = [0.6, 1.0, 0.0]


def arrays(dtype, *shapes, seed=0):
    """Random arrays of ``dtype`` of the given shapes (None dropped from a shape)."""
    rng = np.random.default_rng(seed)
    return [rng.normal(size=tuple(m for m in shape if m is not None)).astype(dtype)
            for shape in shapes]


def assert_close(got, want, bound, dtype):
    """got (of ``dtype``, the helper's ``out``) equals want, computed in float64, within the
    dtype's rounding of a sum whose terms' magnitudes add up to ``bound``."""
    assert got.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype] * np.max(bound))


def as64(*xs):
    return [np.asarray(x, np.float64) for x in xs]


def outer_sum(delta, a):
    """delta.T @ a, the sum over samples of outer products; for vectors np.outer(delta, a)."""
    return np.outer(delta, a) if delta.ndim == 1 else delta.T @ a


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_add_matmul_t_is_out_plus_a_times_w_transposed(shape, dtype):
    n, n_in, n_out = shape
    out, a, w = arrays(dtype, (n, n_out), (n, n_in), (n_out, n_in))
    out0, a64, w64 = as64(out.copy(), a, w)
    add_matmul_t(out, a, w)
    assert_close(out, out0 + a64 @ w64.T, abs(out0) + abs(a64) @ abs(w64).T, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_matmul_into_is_a_times_w(shape, dtype):
    n, n_in, n_out = shape
    out, a, w = arrays(dtype, (n, n_in), (n, n_out), (n_out, n_in))
    out[...] = np.nan  # not read
    a64, w64 = as64(a, w)
    matmul_into(out, a, w)
    assert_close(out, a64 @ w64, abs(a64) @ abs(w64), dtype)


@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_add_outer_is_beta_out_plus_alpha_delta_transposed_times_a(shape, dtype, beta):
    n, n_in, n_out = shape
    out, delta, a = arrays(dtype, (n_out, n_in), (n, n_out), (n, n_in))
    if beta == 0:
        out[...] = np.nan  # not read
    out0, delta64, a64 = as64(out.copy(), delta, a)
    add_outer(out, ALPHA, delta, a, beta=beta)
    start = 0 if beta == 0 else beta * out0
    assert_close(out, start + ALPHA * outer_sum(delta64, a64),
                 abs(start) + abs(ALPHA) * outer_sum(abs(delta64), abs(a64)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6,), (3, 5)])
def test_add_scaled_is_out_plus_alpha_x(shape, dtype):
    out, x = arrays(dtype, shape, shape)
    out0, x64 = as64(out.copy(), x)
    add_scaled(out, ALPHA, x)
    assert_close(out, out0 + ALPHA * x64, abs(out0) + abs(ALPHA * x64), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_take_rows_is_x_at_rows(shape, dtype):
    n, n_in, _ = shape
    x, = arrays(dtype, (10, n_in))
    rows = np.array([7, 2, 9, 0, 5, 3, 8])[:1 if n is None else n]
    out = np.full((n_in,) if n is None else (n, n_in), np.nan, dtype)
    take_rows(out, x, rows)
    np.testing.assert_array_equal(out, x[rows[0]] if n is None else x[rows])  # copies: exact


@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_scale_add_of_a_weight_gradient_is_beta_out_plus_alpha_grad_w(shape, dtype, beta):
    n, n_in, n_out = shape
    out, delta, a_prev = arrays(dtype, (n_out, n_in), (n, n_out), (n, n_in))
    if beta == 0:
        out[...] = np.nan  # not read
    out0, delta64, a64 = as64(out.copy(), delta, a_prev)
    samples = 1 if n is None else n
    scale_add(out, beta, ALPHA, WeightGradient(delta, a_prev, samples))
    start = 0 if beta == 0 else beta * out0
    grad_w = outer_sum(delta64, a64) / samples  # BP4
    assert_close(out, start + ALPHA * grad_w,
                 abs(start) + abs(ALPHA) * outer_sum(abs(delta64), abs(a64)) / samples, dtype)


@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_scale_add_of_an_array_is_beta_out_plus_alpha_grad(dtype, beta):
    out, grad = arrays(dtype, (3, 5), (3, 5))
    if beta == 0:
        out[...] = np.nan  # not read
    out0, grad64 = as64(out.copy(), grad)
    scale_add(out, beta, ALPHA, grad)
    start = 0 if beta == 0 else beta * out0
    assert_close(out, start + ALPHA * grad64, abs(start) + abs(ALPHA * grad64), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_row_mean_is_the_mean_over_samples(shape, dtype):
    n, _, n_out = shape
    delta, = arrays(dtype, (n, n_out))
    delta64, = as64(delta)
    got = row_mean(delta)
    if n is not None:  # numpy's own mean, bit for bit
        np.testing.assert_array_equal(got, delta.mean(axis=0))
    assert_close(got, delta64 if n is None else delta64.mean(axis=0),
                 abs(delta64) if n is None else abs(delta64).mean(axis=0), dtype)
