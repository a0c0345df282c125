"""The study notebook: its .py twin holds the same cells, and it runs end to end (quick setting) on real data."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
IPYNB, TWIN = NOTEBOOKS / "autoencoder_study.ipynb", NOTEBOOKS / "autoencoder_study.py"


def cells(notebook) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def test_the_py_twin_has_the_same_cells():
    nbformat = pytest.importorskip("nbformat", reason="nbformat is a test dependency: pip install -e '.[test]'")
    jupytext = pytest.importorskip("jupytext", reason="jupytext is a test dependency: pip install -e '.[test]'")
    stored, twin = nbformat.read(IPYNB, as_version=4), jupytext.read(TWIN)
    assert cells(twin) == cells(stored), (
        "notebook and twin differ: run `jupytext --sync notebooks/autoencoder_study.ipynb`"
    )
    assert len(stored.cells) > 10 and {kind for kind, _ in cells(stored)} == {"markdown", "code"}
    assert not any(cell.get("outputs") for cell in stored.cells), "store the notebook without outputs"


@pytest.fixture
def python3_kernel(tmp_path, monkeypatch) -> str:
    """A kernel spec named python3 that runs this interpreter (the venv's), found before any user-wide one."""
    pytest.importorskip("ipykernel", reason="ipykernel is a test dependency: pip install -e '.[test]'")
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    spec.joinpath("kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (aelab test)",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    return "python3"


@pytest.mark.slow
def test_the_notebook_runs_end_to_end(real_data_dir, python3_kernel, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="nbformat is a test dependency: pip install -e '.[test]'")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is a test dependency: pip install -e '.[test]'")
    monkeypatch.setenv("AELAB_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("AELAB_DATA_DIR", str(real_data_dir))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(IPYNB, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name=python3_kernel, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, if any cell fails

    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    text = "".join(out.get("text", "") for out in outputs if out.output_type == "stream")
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    assert "QUICK = True" in text and "all 8 checks passed" in text
    assert len(images) == 4 * 3 + 1  # three figures per model, and the sweep
    for model in ("shallow", "deep", "denoising", "sparse"):
        assert f"{model}: 1 epoch(s)" in text
        assert (tmp_path / "runs" / "notebook-quick" / model / "finished.json").is_file()
    assert (tmp_path / "runs" / "notebook-quick" / "sweep" / "sweep.json").is_file()
    assert "bias: the test excess falls from" in text and "variance: the gap goes from" in text
