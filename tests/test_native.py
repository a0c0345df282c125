"""The compiled kernels (native/kernels.c, built with the package) compute what the PyTorch formulas compute, for any
shape."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from aelab.native import library
from aelab.train.compiled.base import FlatAdam


@pytest.fixture(autouse=True)
def session_blas_kept():
    """The kernels are loaded once per process (`library.probed` is cached). A test here that unsets AELAB_BLAS and
    loads them caches a choice measured under the suite's own load — MKL or OpenBLAS, which come within 20% of each
    other on an AMD EPYC — and every later in-process training multiplied with it, while the subprocesses it was
    compared with (tests/test_ray_cluster.py's Ray workers) used the session's pinned one: last bits of weights
    differed. After each test the loaded kernels are forgotten, so the next load takes the pinned BLAS again."""
    yield
    library.probed.cache_clear()


def kernels() -> library.Native:
    """The compiled module: built by `pip install` wherever a C compiler is (CI has one)."""
    native = library.load()
    assert native is not None, library.unavailable_reason()
    return native


def ptr(native: library.Native, t: torch.Tensor):
    assert t.is_contiguous() and t.dtype == torch.float32
    return native.ffi.cast("float *", t.data_ptr())


def doubles(native: library.Native, n: int):
    return native.ffi.new("double[]", n)


shapes = st.tuples(st.integers(1, 4), st.integers(1, 40), st.integers(1, 70))  # models, rows, cols


@settings(max_examples=40, deadline=None)
@given(
    shape=shapes,
    scale=st.sampled_from([0.1, 3.0, 40.0]),
    shift=st.sampled_from([0.0, -120.0, 95.0]),
    seed=st.integers(0, 99),
)
def test_bce_output_matches_torch(shape, scale, shift, seed):
    """Loss, ∂/∂z, bias gradient and squared error per model, also where σ(z) under- or overflows."""
    native = kernels()
    lib, p = native.lib, lambda t: ptr(native, t)
    models, rows, cols = shape
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(models, rows, cols, generator=g) * scale + shift
    bias = torch.randn(models, cols, generator=g)
    x = torch.rand(rows, cols, generator=g) * (torch.rand(rows, cols, generator=g) < 0.5)
    grad, bias_grad = torch.empty_like(z), torch.empty(models, cols)
    loss, sq = doubles(native, models), doubles(native, models)
    scale_g = 1.0 / (rows * cols)
    lib.aelab_bce_output(p(z), p(x), models, rows, cols, p(bias), scale_g, p(grad), p(bias_grad), loss, sq)
    logits = (z + bias[:, None, :]).double()
    expected = F.binary_cross_entropy_with_logits(logits, x.double().expand_as(logits), reduction="none").sum(
        dim=(1, 2)
    )
    residual = torch.sigmoid(logits) - x.double()
    assert torch.allclose(
        torch.tensor(native.ffi.unpack(loss, models), dtype=torch.float64), expected, rtol=1e-5, atol=1e-4
    )
    assert torch.allclose(
        torch.tensor(native.ffi.unpack(sq, models), dtype=torch.float64),
        residual.square().sum(dim=(1, 2)),
        rtol=1e-5,
        atol=1e-5,
    )
    assert torch.allclose(grad.double(), residual * scale_g, atol=1e-8)
    assert torch.allclose(bias_grad.double(), (residual * scale_g).sum(dim=1), atol=1e-7)
    again, again_sq = doubles(native, models), doubles(native, models)  # the evaluation twin agrees
    lib.aelab_bce_sums(p(z), p(x), p(bias), models, rows, cols, again, again_sq)
    assert native.ffi.unpack(again, models) == pytest.approx(native.ffi.unpack(loss, models), rel=1e-6, abs=1e-6)
    assert native.ffi.unpack(again_sq, models) == pytest.approx(native.ffi.unpack(sq, models), rel=1e-6, abs=1e-6)


def test_bce_propagates_nan():
    """The trainer stops on a non-finite loss; the kernel must not swallow NaN."""
    native = kernels()
    p = lambda t: ptr(native, t)  # noqa: E731
    z, x, bias = torch.zeros(2, 3), torch.full((2, 3), 0.5), torch.zeros(3)
    z[1, 2] = float("nan")
    loss, grad, bias_grad = doubles(native, 1), torch.empty(2, 3), torch.empty(3)  # kept alive during the call
    native.lib.aelab_bce_output(p(z), p(x), 1, 2, 3, p(bias), 1.0, p(grad), p(bias_grad), loss, native.ffi.NULL)
    assert loss[0] != loss[0]


@settings(max_examples=30, deadline=None)
@given(shape=shapes, add=st.sampled_from([0.0, 1e-3]), seed=st.integers(0, 99))
def test_relu_forward_and_backward_match_torch(shape, add, seed):
    native = kernels()
    lib, p = native.lib, lambda t: ptr(native, t)
    models, rows, cols = shape
    g = torch.Generator().manual_seed(seed)
    pre, bias = torch.randn(models, rows, cols, generator=g), torch.randn(models, cols, generator=g)
    h = pre.clone()
    total = lib.aelab_bias_relu(p(h), p(bias), models, rows, cols)
    expected_h = torch.relu(pre + bias[:, None, :])
    assert torch.allclose(h, expected_h, atol=1e-6) and total == pytest.approx(
        expected_h.sum().item(), rel=1e-5, abs=1e-4
    )
    upstream = torch.randn(models, rows, cols, generator=g)
    grad, bias_grad = upstream.clone(), torch.empty(models, cols)
    lib.aelab_relu_backward(p(grad), p(h), models, rows, cols, add, p(bias_grad))
    expected = (upstream + add) * (h > 0)
    assert torch.equal(grad, expected) and torch.allclose(bias_grad, expected.sum(dim=1), atol=1e-5)


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(1, 300), seed=st.integers(0, 99), steps=st.integers(1, 5), two_shares=st.booleans(), data=st.data()
)
def test_adam_matches_torch_optim_adam_on_its_range_only(n, seed, steps, two_shares, data):
    """The compiled Adam (E5) against torch.optim.Adam with Keras' ε; outside [start, end) nothing moves;
    with two shares of a batch, the gradient is their sum."""
    native = kernels()
    start = data.draw(st.integers(0, n - 1))
    end = data.draw(st.integers(start + 1, n))
    g = torch.Generator().manual_seed(seed)
    flat, grad, grad2 = torch.randn(n, generator=g), torch.zeros(n), torch.zeros(n)
    reference = torch.nn.Parameter(flat[start:end].clone())
    torch_adam = torch.optim.Adam([reference], lr=1e-2, betas=(0.9, 0.999), eps=1e-7)
    untouched = flat.clone()
    ours = FlatAdam(native, flat, grad, 1e-2, grad2=grad2 if two_shares else None)
    for _ in range(steps):
        grad.copy_(torch.randn(n, generator=g))
        grad2.copy_(torch.randn(n, generator=g) if two_shares else torch.zeros(n))
        ours.advance()
        ours.update(start, end, two_shares)
        reference.grad = (grad + grad2)[start:end].clone()
        torch_adam.step()
    assert torch.allclose(flat[start:end], reference.detach(), atol=1e-6, rtol=1e-5)
    assert torch.equal(flat[:start], untouched[:start]) and torch.equal(flat[end:], untouched[end:])
    state = torch_adam.state[reference]
    assert torch.allclose(ours.exp_avg[start:end], state["exp_avg"], atol=1e-7, rtol=1e-5)
    assert torch.allclose(ours.exp_avg_sq[start:end], state["exp_avg_sq"], atol=1e-7, rtol=1e-5)


def test_kernels_are_an_extension_of_the_package_built_at_install_time():
    """Nothing is compiled or cached at run time: the module lives beside its sources, in the package."""
    native = kernels()
    from aelab.native import _kernels

    assert Path(_kernels.__file__).parent == Path(library.__file__).parent
    assert native.isa and native.blas["library"] in ("openblas", "mkl")


def test_disabled_or_unbuildable_kernels_fall_back_with_a_warning(monkeypatch):
    from aelab.models.dense import DenseAutoencoder
    from aelab.objectives import ReconstructionObjective
    from aelab.train.engines import make_step
    from aelab.train.step import AutogradStep

    library.probed.cache_clear()
    try:
        monkeypatch.setenv("AELAB_NATIVE", "0")
        assert library.load() is None and library.unavailable_reason() == "disabled by AELAB_NATIVE=0"
        with pytest.warns(UserWarning, match="compiled step is not available"):
            step = make_step("fused", DenseAutoencoder(8, 2), ReconstructionObjective(), 1e-3)
        assert isinstance(step, AutogradStep) and step.describe()["fallback"] == "disabled by AELAB_NATIVE=0"
        monkeypatch.delenv("AELAB_NATIVE")
        library.probed.cache_clear()
        monkeypatch.setitem(sys.modules, "aelab.native._kernels", None)  # as if the install had no compiler
        assert library.load() is None and "was not built when aelab was installed" in library.unavailable_reason()
        with pytest.warns(UserWarning, match="not built"):
            step = make_step("fused", DenseAutoencoder(8, 2), ReconstructionObjective(), 1e-3)
        assert step.describe()["engine"] == "autograd" and "not built" in step.describe()["fallback"]
    finally:
        library.probed.cache_clear()


def test_log1p_polynomial_error_bound():
    """docs/engine.md (E3): the polynomial in kernels.c against log1p, with its own coefficients."""
    import re

    import numpy as np

    source = (Path(library.__file__).parent / "kernels.c").read_text()
    body = source[source.index("static inline float log1p_unit") :]
    body = body[: body.index("}")]
    coefficients = [float(c.replace(" ", "")) for c in re.findall(r"([-+]?\s*\d\.\d+(?:e-?\d+)?)f", body)]
    assert len(coefficients) == 10  # degree 9
    e = np.linspace(0.0, 1.0, 200_001)
    exact, p64 = np.log1p(e), np.zeros_like(e)
    e32, p32 = e.astype(np.float32), np.zeros(len(e), dtype=np.float32)
    for c in coefficients:
        p64 = p64 * e + np.float64(np.float32(c))
        p32 = (p32 * e32 + np.float32(c)).astype(np.float32)
    assert np.abs(p64 - exact).max() <= 1.6e-8
    assert np.abs(p32.astype(np.float64) - np.log1p(e32.astype(np.float64))).max() <= 1.1e-7


def test_one_blas_thread_holds_while_any_trainer_is_inside():
    """Two trainers (aelab reproduce's workers) overlap: the limit stays until the last one leaves."""
    native = kernels()

    def threads() -> set[int]:
        return {lib.num_threads for lib in native.controller.lib_controllers}

    with native.controller.limit(limits=2):  # as on a machine with cores to spare
        with native.one_blas_thread():
            with native.one_blas_thread():
                assert threads() == {1}
            assert threads() == {1}  # the first trainer is still inside
        assert threads() == {2}


def test_the_blas_is_chosen_by_measurement_or_by_name(monkeypatch):
    """Several candidates: each is timed on the study's products and the record keeps the times;
    AELAB_BLAS names one; a name that is not installed is refused in one line."""
    from aelab.errors import EngineError
    from aelab.native import blas

    monkeypatch.delenv("AELAB_BLAS", raising=False)
    native = kernels()
    openblas, _ = blas.scipy_openblas()
    twin = blas.Candidate("twin", openblas.address, {"library": "openblas"})
    chosen, times = blas.choose(native.ffi, [openblas, twin])
    assert chosen in (openblas, twin) and set(times) == {"openblas", "twin"} and all(t > 0 for t in times.values())
    assert chosen is blas.pick([openblas, twin], times, blas.vendor_preference(blas.cpu_vendor()))
    assert times[chosen.name] <= min(times.values()) * (1 + blas.TIE)  # the fastest, or tied with it
    monkeypatch.setenv("AELAB_BLAS", "twin")
    assert blas.choose(native.ffi, [openblas, twin]) == (twin, {})
    monkeypatch.setenv("AELAB_BLAS", "atlas")
    with pytest.raises(EngineError, match=r"^AELAB_BLAS='atlas': expected one of openblas, twin \(installed here\)$"):
        blas.choose(native.ffi, [openblas, twin])


def test_a_resume_on_another_blas_says_so(tmp_path, monkeypatch):
    """The BLAS is chosen per process: a continuation with another one is not bit-exact, and the log says why."""
    from aelab.models.dense import DenseAutoencoder
    from aelab.objectives import ReconstructionObjective
    from aelab.runs.checkpointing import restore_state, save_state
    from aelab.train.trainer import Trainer

    def trainer() -> Trainer:
        model = DenseAutoencoder(16, 3, generator=torch.Generator().manual_seed(0))
        return Trainer(
            model,
            ReconstructionObjective(),
            batch_size=4,
            epochs=1,
            learning_rate=1e-3,
            generator=torch.Generator().manual_seed(0),
            quiet=True,
            engine="fused",
        )

    save_state(tmp_path, trainer(), {"c": 1})
    lines: list[str] = []
    restore_state(tmp_path, trainer(), {"c": 1}, lines.append)
    assert len(lines) == 1 and lines[0].startswith("resuming from")  # same engine: nothing more to say
    openblas, controller = library.blas.scipy_openblas()
    other = library.blas.Candidate("other", openblas.address, {"library": "other"})  # the same sgemm, named otherwise
    library.probed.cache_clear()
    try:
        monkeypatch.setattr(library.blas, "intel_mkl", lambda: None)
        monkeypatch.setattr(library.blas, "scipy_openblas", lambda: (other, controller))
        monkeypatch.delenv("AELAB_BLAS", raising=False)
        restore_state(tmp_path, trainer(), {"c": 1}, lines.append)
        assert "continues with {'engine': 'compiled', 'threads': 1, 'blas': 'other'}" in lines[-1]
    finally:
        library.probed.cache_clear()


def test_the_blas_choice_is_kept_per_machine_in_a_private_folder(monkeypatch, tmp_path):
    """Measured once, then read back (the same BLAS in every process: resumes stay bit-exact); a record
    others could write, or a broken one, is not trusted: the candidates are measured again."""
    import os

    from aelab.native import blas

    monkeypatch.delenv("AELAB_BLAS", raising=False)
    native = kernels()
    openblas, _ = blas.scipy_openblas()
    pair = [openblas, blas.Candidate("twin", openblas.address, {"library": "openblas", "version": "x"})]
    chosen, times = blas.choose(native.ffi, pair)
    record = blas.choice_file()
    assert record.is_relative_to(tmp_path) or os.environ["XDG_CACHE_HOME"] in str(record)  # conftest's own cache
    assert oct(record.parent.stat().st_mode & 0o777) == "0o700" and oct(record.stat().st_mode & 0o777) == "0o600"
    measured = []
    monkeypatch.setattr(blas, "product_time", lambda ffi, sgemm: measured.append(1) or 1e-3)
    assert blas.choose(native.ffi, pair) == (chosen, times) and not measured  # read back, not measured
    record.chmod(0o666)  # writable by others: not trusted
    blas.choose(native.ffi, pair)
    assert measured and oct(record.stat().st_mode & 0o777) == "0o600"  # measured again and rewritten privately
    record.write_text("{not json")
    measured.clear()
    blas.choose(native.ffi, pair)
    assert measured and json_key(record) == blas.machine_key(pair)


def json_key(path) -> str:
    import json

    return json.loads(path.read_text())["key"]


def test_a_blas_tie_is_settled_by_the_vendor_and_a_clear_winner_by_its_time():
    """The short products test did not separate OpenBLAS and MKL on an Intel Xeon where whole epochs did."""
    from aelab.native import blas

    openblas = blas.Candidate("openblas", 1, {"library": "openblas"})
    mkl = blas.Candidate("mkl", 2, {"library": "mkl"})
    tie = {"openblas": 328.2, "mkl": 329.4}
    assert blas.pick([openblas, mkl], tie, blas.vendor_preference("GenuineIntel")) is mkl
    assert blas.pick([openblas, mkl], tie, blas.vendor_preference("AuthenticAMD")) is openblas
    assert blas.pick([openblas, mkl], tie, blas.vendor_preference("")) is openblas  # ARM and the rest
    clear = {"openblas": 200.0, "mkl": 329.4}
    assert blas.pick([openblas, mkl], clear, blas.vendor_preference("GenuineIntel")) is openblas
    assert blas.cpu_vendor() in ("GenuineIntel", "AuthenticAMD", "")


def test_processes_starting_together_agree_on_the_blas(monkeypatch):
    """The choice is read, or measured and written, under one lock: a process that starts while another measures
    waits, then reads that one's record instead of timing the candidates under its load (and perhaps choosing
    otherwise: MKL and OpenBLAS come within 20% of each other on an AMD EPYC, where a run and its resume must agree)."""
    import threading

    from aelab.native import blas

    monkeypatch.delenv("AELAB_BLAS", raising=False)
    native = kernels()
    openblas, _ = blas.scipy_openblas()
    pair = [openblas, blas.Candidate("twin", openblas.address, {"library": "openblas", "version": "y"})]
    measured, holding, release = [], threading.Event(), threading.Event()
    monkeypatch.setattr(blas, "product_time", lambda ffi, sgemm: measured.append(1) or 1e-3)

    def first_process() -> None:  # measures and writes "twin" while the other one starts
        with blas.choosing():
            holding.set()
            release.wait(10)
            blas.remember(blas.machine_key(pair), "twin", {"openblas": 9.0, "twin": 1.0})

    first = threading.Thread(target=first_process)
    first.start()
    holding.wait(10)
    threading.Timer(0.3, release.set).start()
    chosen, times = blas.choose(native.ffi, pair)  # blocks until the first one's record is there
    first.join()
    assert chosen.name == "twin" and times == {"openblas": 9.0, "twin": 1.0} and not measured


def test_two_training_threads_share_one_blas_limit_until_the_last_leaves():
    """A study trains two models on two threads. Each may hold its own controller of the same BLAS (both probed the
    kernels at once); the first to leave must not give the BLAS its threads back under the other (it did: the
    whole study ran 1.6× slower on two workers than on one, OpenBLAS's threads spinning under both)."""
    import threading

    from threadpoolctl import ThreadpoolController

    def blas_threads(controller) -> set[int]:
        return {lib.num_threads for lib in ThreadpoolController().lib_controllers if lib.filepath in paths(controller)}

    def paths(controller) -> set[str]:
        return {lib.filepath for lib in controller.lib_controllers}

    first, second = (ThreadpoolController().select(user_api="blas") for _ in range(2))
    assert first is not second and paths(first) == paths(second)
    before = blas_threads(first)
    held_first, held_second = library.one_thread_while_held(first), library.one_thread_while_held(second)
    held_first.__enter__()  # the first thread starts training
    held_second.__enter__()  # the second starts while the first trains
    held_first.__exit__(None, None, None)  # the first finishes while the second trains
    assert blas_threads(first) == {1}  # still one thread under the second
    held_second.__exit__(None, None, None)
    assert blas_threads(first) == before  # the last to leave gives the BLAS its threads back
    results = []
    threads = [threading.Thread(target=lambda: results.append(library.probe())) for _ in range(2)]
    library.probed.cache_clear()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seen = {id(native) for native, _ in results}
    assert len(results) == 2 and len(seen) == 1  # probed once, also by two threads at the same moment
