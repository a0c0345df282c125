"""The compiled kernels (native/kernels.c) compute what the PyTorch formulas compute, for any shape."""

from __future__ import annotations

import ctypes
import shutil

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from aelab.native import build
from aelab.train.fused import FlatAdam

needs_compiler = pytest.mark.skipif(build.compiler() is None, reason="no C compiler on this machine")


def kernels() -> ctypes.CDLL:
    """The compiled library (built into this test session's cache on first use), or skip."""
    library = build.load()
    if library is None:
        pytest.skip("the compiled kernels did not build (no C compiler)")
    return library


def ptr(t: torch.Tensor) -> int:
    assert t.is_contiguous() and t.dtype in (torch.float32, torch.int64)
    return t.data_ptr()


def runs(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Starts and lengths (int64) of the runs of True in a 1-D boolean mask: a segment table for aelab_adam."""
    edges = torch.diff(torch.cat([torch.zeros(1, dtype=torch.int8), mask.to(torch.int8), torch.zeros(1, dtype=torch.int8)]))
    starts, ends = torch.nonzero(edges == 1).flatten(), torch.nonzero(edges == -1).flatten()
    return starts.contiguous(), (ends - starts).contiguous()


shapes = st.tuples(st.integers(1, 4), st.integers(1, 40), st.integers(1, 70))  # models, rows, cols


@settings(max_examples=40, deadline=None)
@given(shape=shapes, scale=st.sampled_from([0.1, 3.0, 40.0]), shift=st.sampled_from([0.0, -120.0, 95.0]), seed=st.integers(0, 99))
def test_bce_output_matches_torch(shape, scale, shift, seed):
    """Loss, ∂/∂z, bias gradient and squared error per model, also where σ(z) under- or overflows."""
    lib = kernels()
    models, rows, cols = shape
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(models, rows, cols, generator=g) * scale + shift
    bias = torch.randn(models, cols, generator=g)
    x = torch.rand(rows, cols, generator=g) * (torch.rand(rows, cols, generator=g) < 0.5)
    grad, bias_grad = torch.empty_like(z), torch.empty(models, cols)
    loss, sq = (ctypes.c_double * models)(), (ctypes.c_double * models)()
    scale_g = 1.0 / (rows * cols)
    lib.aelab_bce_output(ptr(z), ptr(x), models, rows, cols, ptr(bias), scale_g, ptr(grad), ptr(bias_grad), loss, sq)
    logits = (z + bias[:, None, :]).double()
    expected = F.binary_cross_entropy_with_logits(logits, x.double().expand_as(logits), reduction="none").sum(dim=(1, 2))
    residual = torch.sigmoid(logits) - x.double()
    assert torch.allclose(torch.tensor(loss[:], dtype=torch.float64), expected, rtol=1e-5, atol=1e-4)
    assert torch.allclose(torch.tensor(sq[:], dtype=torch.float64), residual.square().sum(dim=(1, 2)), rtol=1e-5, atol=1e-5)
    assert torch.allclose(grad.double(), residual * scale_g, atol=1e-8)
    assert torch.allclose(bias_grad.double(), (residual * scale_g).sum(dim=1), atol=1e-7)
    again, again_sq = (ctypes.c_double * models)(), (ctypes.c_double * models)()  # the evaluation twin agrees
    lib.aelab_bce_sums(ptr(z), ptr(x), ptr(bias), models, rows, cols, again, again_sq)
    assert again[:] == pytest.approx(loss[:], rel=1e-6, abs=1e-6) and again_sq[:] == pytest.approx(sq[:], rel=1e-6, abs=1e-6)


def test_bce_propagates_nan():
    """The trainer stops on a non-finite loss; the kernel must not swallow NaN."""
    lib = kernels()
    z, x, bias = torch.zeros(2, 3), torch.full((2, 3), 0.5), torch.zeros(3)
    z[1, 2] = float("nan")
    loss, grad, bias_grad = (ctypes.c_double * 1)(), torch.empty(2, 3), torch.empty(3)  # kept alive during the call
    lib.aelab_bce_output(ptr(z), ptr(x), 1, 2, 3, ptr(bias), 1.0, ptr(grad), ptr(bias_grad), loss, None)
    assert loss[0] != loss[0]


@settings(max_examples=30, deadline=None)
@given(shape=shapes, add=st.sampled_from([0.0, 1e-3]), seed=st.integers(0, 99))
def test_relu_forward_and_backward_match_torch(shape, add, seed):
    lib = kernels()
    models, rows, cols = shape
    g = torch.Generator().manual_seed(seed)
    pre, bias = torch.randn(models, rows, cols, generator=g), torch.randn(models, cols, generator=g)
    h = pre.clone()
    total = lib.aelab_bias_relu(ptr(h), ptr(bias), models, rows, cols)
    expected_h = torch.relu(pre + bias[:, None, :])
    assert torch.allclose(h, expected_h, atol=1e-6) and total == pytest.approx(expected_h.sum().item(), rel=1e-5, abs=1e-4)
    upstream = torch.randn(models, rows, cols, generator=g)
    grad, bias_grad = upstream.clone(), torch.empty(models, cols)
    lib.aelab_relu_backward(ptr(grad), ptr(h), models, rows, cols, add, ptr(bias_grad))
    expected = (upstream + add) * (h > 0)
    assert torch.equal(grad, expected) and torch.allclose(bias_grad, expected.sum(dim=1), atol=1e-5)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 300), seed=st.integers(0, 99), steps=st.integers(1, 5))
def test_adam_matches_torch_fused_adam_and_skips_what_is_not_live(n, seed, steps):
    lib = kernels()
    g = torch.Generator().manual_seed(seed)
    live = torch.rand(n, generator=g) < 0.7
    starts, lengths = runs(live)
    ours = [torch.randn(n, generator=g), torch.zeros(n), torch.zeros(n)]
    theirs = [t.clone() for t in ours]
    untouched = ours[0].clone()
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-7
    for t in range(1, steps + 1):
        grad = torch.randn(n, generator=g)
        lib.aelab_adam(*(ptr(a) for a in (ours[0], grad, ours[1], ours[2], starts, lengths)), len(starts),
                       b1, b2, eps, lr / (1 - b1 ** t), (1 - b2 ** t) ** 0.5)
        torch._fused_adam_([theirs[0]], [grad], [theirs[1]], [theirs[2]], [], [torch.tensor(float(t))], lr=lr, beta1=b1,
                           beta2=b2, weight_decay=0.0, eps=eps, amsgrad=False, maximize=False)
    assert torch.allclose(ours[0][live], theirs[0][live], atol=1e-6, rtol=1e-5)
    assert torch.equal(ours[0][~live], untouched[~live])
    for a, b in zip(ours[1:], theirs[1:]):
        assert torch.allclose(a[live], b[live], atol=1e-7, rtol=1e-5) and torch.all(a[~live] == 0)


@given(st.lists(st.booleans(), max_size=60))
def test_runs_cover_exactly_the_true_entries(values):
    mask = torch.tensor(values, dtype=torch.bool)
    starts, lengths = runs(mask)
    rebuilt = torch.zeros(len(values), dtype=torch.bool)
    for s, n in zip(starts.tolist(), lengths.tolist()):
        assert n > 0 and not rebuilt[s:s + n].any()
        rebuilt[s:s + n] = True
    assert torch.equal(rebuilt, mask)


@given(st.integers(1, 1000))
def test_flat_adam_segments_are_the_whole_buffer_and_two_halves_covering_it_once(n):
    adam = FlatAdam(torch.zeros(n), torch.zeros(n), 1e-3)
    (whole_start, whole_length), *halves = [(int(a), int(b)) for a, b in adam.segments]
    assert (whole_start, whole_length) == (0, n)
    covered = torch.zeros(n, dtype=torch.int64)
    for start, length in halves:
        covered[start:start + length] += 1
    assert torch.all(covered == 1) and abs(halves[0][1] - halves[1][1]) <= 1


@needs_compiler
def test_library_is_built_once_into_the_cache_without_leftovers(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    build.load.cache_clear()
    try:
        assert build.load() is not None
        built = list((tmp_path / "aelab" / "native").iterdir())
        assert len(built) == 1 and built[0].name.startswith("kernels-") and built[0].suffix == ".so"
        mtime = built[0].stat().st_mtime_ns
        build.load.cache_clear()
        assert build.load() is not None and built[0].stat().st_mtime_ns == mtime  # reused, not rebuilt
    finally:
        build.load.cache_clear()


def test_disabled_or_unbuildable_kernels_fall_back_with_a_warning(tmp_path, monkeypatch):
    from aelab.models.dense import DenseAutoencoder
    from aelab.train.fused import FusedDenseStep

    build.load.cache_clear()
    try:
        monkeypatch.setenv("AELAB_NATIVE", "0")
        assert build.load() is None
        assert FusedDenseStep(DenseAutoencoder(8, 2), 1e-3).native is None
        build.load.cache_clear()
        monkeypatch.delenv("AELAB_NATIVE")
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
        with pytest.warns(UserWarning, match="could not build the compiled kernels"):
            assert build.load() is None
        assert not list((tmp_path / "aelab" / "native").glob("*"))  # no half-written library left
        broken = tmp_path / "broken-cc"
        broken.write_text("#!/bin/sh\necho 'kernels.c:1: error: boom' >&2\nexit 1\n")
        broken.chmod(0o755)
        monkeypatch.setenv("CC", str(broken))
        build.load.cache_clear()
        with pytest.warns(UserWarning, match="boom"):
            assert build.load() is None
    finally:
        build.load.cache_clear()


def test_a_compiler_is_found_where_ci_runs():
    """CI machines have gcc (the Makefile's install needs nothing more); without it the fast path is silently lost."""
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler here")
    assert build.load() is not None
