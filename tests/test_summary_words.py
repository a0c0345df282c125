"""What a run's summary.md says (issue 28): a quick or subset run says it saw part of the data set; one epoch is not
"1 epochs"; a VAE's summary leaves out "code entries exactly zero" (its code is no ReLU's output)."""

from __future__ import annotations

from aelab.runs.summary import write_summary

FINAL = {
    "train_loss": 0.2,
    "test_bce": 0.1,
    "test_bce_floor": 0.05,
    "test_bce_excess": 0.05,
    "test_mse": 0.02,
    "test_psnr_db": 17.0,
    "test_code_mean": 0.3,
    "test_code_zero_fraction": 0.4,
}
VAE_FINAL = {
    **FINAL,
    "train_reconstruction": 150.0,
    "train_kl": 5.0,
    "test_elbo": 160.0,
    "test_reconstruction": 155.0,
    "test_kl": 5.0,
    "test_kl_per_dim": [2.5, 2.5],
    "test_active_dims": 2,
}


def config(model="shallow", **given) -> dict:
    settings = {"model": model, "code_size": 2, "dataset": "mnist", "batch_size": 128, "seed": 0, "noise": None}
    return {"config": {**settings, "l1": 0.0, "train_size": None, "test_size": None, **given}}


def summary(tmp_path, run_config: dict, final: dict, n_epochs: int = 1) -> str:
    epochs = [{"epoch": e + 1, "train_loss": 0.2, "test_loss": 0.1, "seconds": 1.0} for e in range(n_epochs)]
    metrics = {"final": final, "seconds_training": 1.0, "epochs": epochs}
    return write_summary(tmp_path / "summary.md", run_config, metrics, []).read_text()


def test_a_quick_run_says_what_part_of_the_data_set_it_saw(tmp_path):
    text = summary(tmp_path, config(train_size=2000, test_size=500), FINAL)
    assert (
        "on `mnist` (a seeded subset of 2,000 of its 60,000 training images and the first 500 of its 10,000 test "
        "images: not the whole data set), 1 epoch," in text
    )
    whole = summary(tmp_path, config(), FINAL, n_epochs=3)
    assert "on `mnist`, 3 epochs," in whole and "subset" not in whole


def test_own_data_subsets_are_counted_against_its_own_split(tmp_path):
    run_config = config(dataset="/data/beats.csv", train_size=100, scale="standard")
    run_config["data"] = {
        "split": {"method": "fraction", "test_fraction": 0.2, "seed": 0, "n_train": 800, "n_test": 200},
        "identity": {"kind": "table", "path": "/data/beats.csv", "files": 1, "shape": [1000, 5], "sha256": "0" * 64},
        "scaling": {"method": "standard"},
        "loss": "mse",
    }
    run_config["description"] = {"kind": "table", "sample_shape": [5], "loss": "mse", "columns": list("abcde")}
    final = {key: FINAL[key] for key in ("train_loss", "test_mse", "test_code_mean", "test_code_zero_fraction")}
    assert "(a seeded subset of 100 of its 800 training rows: not the whole data set)" in summary(
        tmp_path, run_config, final
    )


def test_a_vae_summary_says_nothing_of_zero_code_entries(tmp_path):
    text = summary(tmp_path, config(model="vae", beta=1.0), VAE_FINAL)
    assert "exactly zero" not in text and "code entries exactly 0" not in text and "mean code activation" not in text
    assert "Test ELBO 160.00" in text
    assert "exactly zero" in summary(tmp_path, config(), FINAL)


def test_the_probe_table_tells_a_sweeps_seeds_apart():
    from aelab.tasks.probe.summary import format_probes

    rows = [
        {"features": "codes", "code_size": 8, "seed": seed, "test_bce": 0.1, "linear": 0.8, "knn": 0.85}
        for seed in (0, 1)
    ] + [{"features": "pixels", "code_size": 784, "linear": 0.84, "knn": 0.85}]
    lines = format_probes([{"folder": "runs/sweep", "rows": rows}]).splitlines()
    assert lines[0].split()[:5] == ["folder", "features", "code", "seed", "test"]
    assert [line.split()[3] for line in lines[1:4]] == ["0", "1", "–"]


def test_a_pca_row_shows_the_components_it_had_not_the_codes_width():
    """A 512-unit conv code on 1,438 samples of 256 pixels: PCA has 256 components, not 512."""
    from aelab.tasks.probe.summary import format_probes, probe_section

    rows = [
        {"features": "codes", "code_size": 512, "seed": 0, "test_bce": 0.29, "linear": 0.97, "knn": 0.98},
        {"features": "pca", "code_size": 512, "components": 256, "linear": 0.94, "knn": 0.98},
        {"features": "pixels", "code_size": 256, "linear": 0.94, "knn": 0.98},
    ]
    lines = format_probes([{"folder": "runs/conv", "rows": rows}]).splitlines()
    assert [line.split()[2] for line in lines[1:]] == ["512", "256", "256"]
    result = {"rows": rows, "raw_features": "pixels", "n_train": 1438, "n_test": 359, "config": {"neighbours": 5}}
    assert "| pca | 256 | – | – | 0.940 | 0.980 |" in probe_section(result)


def test_an_epoch_line_names_its_held_out_loss_and_a_vaes_unit():
    from aelab.models.registry import get_family
    from aelab.tasks.epoch_rules import epoch_line
    from aelab.train.trainer import EpochRecord

    record = EpochRecord(epoch=1, train_loss=418.97154, test_loss=344.62, seconds=0.12)
    vae, deep = (get_family(name).build((1, 28, 28), 2, (16,)) for name in ("vae", "deep"))
    assert (
        epoch_line(record, 5, vae, "test") == "epoch 1/5  train 418.9715  test 344.6200  0.1 s  (−ELBO, nats per image)"
    )
    assert epoch_line(record, 5, deep) == "epoch 1/5  train 418.9715  validation 344.6200  0.1 s"
    assert epoch_line(EpochRecord(2, 0.3, None, 1.0), 5, deep).endswith("no validation  1.0 s")


def test_a_batch_above_the_training_samples_says_every_step_took_them_all(tmp_path):
    text = summary(tmp_path, config(train_size=100, batch_size=512), FINAL)
    assert "batch 512 (more than the 100 training images: all of them in one step an epoch), seed 0" in text
    assert "batch 128, seed 0" in summary(tmp_path, config(), FINAL)  # the usual case says nothing more
