"""`aelab.Autoencoder`: the study's autoencoders as a scikit-learn estimator, and `aelab.load`.

    >>> ae = aelab.Autoencoder(model="deep", code_size=32, epochs=10).fit(X_train, X_test=X_test)
    >>> codes = ae.transform(X_test)              # (n, 32) NumPy, no gradients
    >>> ae.save("runs/mine"); aelab.load("runs/mine").score(X_test)

Parameters come from `TrainConfig` (one source of truth with the CLI and config.json): each of its
fields is a constructor argument with the same default, except `dataset`, `train_size` and
`test_size`, which say which data to load — here the data is the `X` given to `fit` (take a
subset with `X[:n]`). Training is `aelab train`'s: the same seeded generators, model, engine and
`Trainer`, so a fit on the same images gives the same weights bit for bit.

How the scikit-learn conventions are kept, and where aelab asks more of itself:
- `__init__` stores every argument unchanged (so `get_params`, `clone` and `set_params` work; only a
  renamed value, engine "fused", is stored as today's "compiled", with a deprecation warning), then
  checks them by building a `TrainConfig` it does not keep: a typo in a name or a bad value is
  refused when the object is made, with a close-match suggestion, rather than at `fit` as
  scikit-learn's own estimators do. `set_params` checks the new values together before changing
  anything; `fit` builds the config again, so attributes assigned directly are checked too.
- `fit(X, y=None, X_test=None)`: `y` is there because a `Pipeline` passes labels positionally; it
  is ignored, but an image array in its place (a mistaken `fit(X, X_test)`) is refused.
- `score` is −BCE (higher is better, as model selection expects); `evaluate` gives every metric.

scikit-learn's `check_estimator` passes except the checks in `NOT_APPLICABLE`, each with its reason
(tests/test_api_sklearn.py runs them all and requires exactly those to fail): since any (n, …) array
is data, scikit-learn's generated tables train like any table, and what is left is
wording (aelab names the argument and place its own way) and refusing rather than converting.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from aelab.config import TrainConfig
from aelab.data.arrays import shared_tensor
from aelab.data.custom.in_memory import ARRAYS, as_array, frame_features, is_frame
from aelab.data.custom.new_samples import new_rows, own_units
from aelab.data.description import Description, described
from aelab.devices import reading_saved
from aelab.errors import ConfigError, InputError
from aelab.objectives import output_of
from aelab.registries import lookup
from aelab.runs.saved import SavedRun, read_run, save_run
from aelab.tasks.anomaly.scores import reconstruction_scores
from aelab.tasks.fit_dataset import fit_data
from aelab.tasks.fit_options import HELP, FitOptions, fit_model
from aelab.tasks.recipe import resolve, without_unused
from aelab.train.metrics import reconstruction_metrics

DATA_FIELDS = ("dataset", "train_size", "test_size")  # which data to load: in the API that is fit's X
PARAMETERS = {f.name: f for f in dataclasses.fields(TrainConfig) if f.name not in DATA_FIELDS}
FIT_OPTIONS = {f.name: f for f in dataclasses.fields(FitOptions)}  # the API's own: verbose, validation, stopping
BATCH = 10_000  # samples per forward pass in encode/decode/evaluate, to bound the temporaries' memory
__all__ = ["ARRAYS", "NOT_APPLICABLE", "Autoencoder", "load"]

OWN_WORDING = (
    "scikit-learn looks for its own wording of this refusal; aelab refuses it with one line naming the "
    "argument, the shape or the place and what was expected (tests/test_api_inputs.py, tests/test_api_any_data.py)"
)
NOT_APPLICABLE = {  # scikit-learn check → why it does not apply; the contract test requires exactly these to fail
    "check_do_not_raise_errors_in_init_or_set_params": (
        "bad settings are refused when the object is made or changed, with a close-match suggestion (a typo is "
        "caught where it is made, not at fit)"
    ),
    "check_dtype_object": (
        "an object array is refused (one line: expected numbers) rather than converted: a column of Python objects "
        "is not guessed at, and scikit-learn then expects its own wording for strings"
    ),
    **dict.fromkeys(
        (
            "check_complex_data",
            "check_estimators_empty_data_messages",
            "check_estimators_nan_inf",
            "check_fit2d_predict1d",
            "check_n_features_in_after_fitting",
        ),
        OWN_WORDING,
    ),
}


def _check_settings(values: dict) -> tuple[TrainConfig, FitOptions]:
    """The resolved TrainConfig and the FitOptions of estimator settings `values`; a bad name or value is a one-line
    ConfigError."""
    for name in values:
        lookup(name, {**PARAMETERS, **FIT_OPTIONS}, "Autoencoder setting")
    hidden = values.get("hidden_sizes")
    if isinstance(hidden, (list, np.ndarray)):  # a list is as good as a tuple from Python
        values = {**values, "hidden_sizes": tuple(int(h) if isinstance(h, np.integer) else h for h in hidden)}
    options = FitOptions(**{k: v for k, v in values.items() if k in FIT_OPTIONS})
    config = TrainConfig(dataset=ARRAYS, **{k: v for k, v in values.items() if k in PARAMETERS})
    return resolve(config), options


def warn_user(line: str) -> None:
    """A setting that does nothing, said as a UserWarning from the caller's line (`fit`'s caller)."""
    warnings.warn(line, UserWarning, stacklevel=4)


def _current(values: dict) -> dict:
    """Values since renamed (engine "fused", now "compiled") as today's, with a deprecation warning where given:
    the estimator then holds today's name, so `get_params`, `clone` and `fit` do not warn again."""
    return {
        name: PARAMETERS[name].metadata["setting"].current(value) if name in PARAMETERS else value
        for name, value in values.items()
    }


class Autoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    def __init__(self, **settings):
        settings = _current(settings)
        for name, field in {**PARAMETERS, **FIT_OPTIONS}.items():
            setattr(self, name, settings.get(name, field.default))
        _check_settings(settings)

    def set_params(self, **params):
        """Change settings; the new values are checked together first, so a refused call changes nothing."""
        params = _current(params)
        if params:
            _check_settings({**self.get_params(deep=False), **params})
        return super().set_params(**params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # codes and samples come back as float32
        return tags

    def fit(self, X, y=None, X_test=None) -> Autoencoder:
        """Train on `X` and return self; validation data (X_test, else a held-out `validation_fraction` of X) is
        scored after every epoch.

        X: samples (n, …) as NumPy or torch — (n, L) signals or features, (n, H, W), (n, C, H, W) or channels-last
        (n, H, W, C) images (C in 1, 3, 4), uint8 or any numbers (rows of 784 are 28×28 images, as load_dataset's) —
        a DataFrame (its numeric columns; `label_column` names the labels), a path (read as `aelab train --dataset
        PATH` reads it) or an opened Dataset (aelab.open_dataset / load_dataset). Arrays are scaled (`scale`) and
        given a loss (`loss`) as files are: the statistics from the training part only. X_test: as X (arrays only;
        a path or a Dataset brings its own test split). y: ignored (a Pipeline passes labels).
        Sets `model_`, `config_` (the resolved TrainConfig), `description_` (what the data is, how it was scaled),
        `history_` (one dict per epoch: epoch, train_loss, test_loss — the validation loss, None without
        validation data — seconds, train_parts), `final_` (metrics.json's final; only train_* without validation
        data), `best_epoch_` and `stopped_epoch_` (early stopping, callbacks; else None), `sample_shape_` (a
        sample's shape as given), `n_features_in_` and, for a DataFrame, `feature_names_in_`. The estimator keeps
        a reference to the validation rows for `save`'s figures, as scikit-learn's nearest-neighbour estimators
        keep theirs: a pickled fitted estimator includes them.
        """
        config, options = _check_settings(self.get_params(deep=False))
        config = without_unused(config, lambda name, value: f"{name}={value!r}", warn_user)
        if y is not None and np.asarray(y).ndim > 1:
            raise InputError(
                f"y: shape {np.asarray(y).shape}: fit takes no targets (an autoencoder's target is X): "
                "pass validation samples as X_test=..."
            )
        data = fit_data(X, X_test, config, options.validation_fraction)
        fitted = fit_model(data, options)
        # Fitted attributes only now, all together: a fit that fails leaves the estimator as it was.
        self.model_, self.config_, self.description_, self.data_record_ = (
            fitted.model, fitted.config, data.description, data.record
        )  # fmt: skip
        self.sample_shape_, self.n_features_in_ = data.own_shape, data.description.n_features
        self.history_, self.final_ = fitted.history, fitted.final
        self.best_epoch_, self.stopped_epoch_ = fitted.best_epoch, fitted.stopped_epoch
        if is_frame(X):
            self.feature_names_in_ = np.asarray(data.description.columns, dtype=object)
        self._trainer_state, self._data_source = fitted.trainer_state, data.source
        self._evaluation = None if data.test is None else (data.test, fitted.test_inputs)
        return self

    @property
    def _n_features_out(self) -> int:  # ClassNamePrefixFeaturesOutMixin: names autoencoder0, … per code unit
        return self.model_.code_size  # the model's: a conv model's code is fixed by its architecture

    def _description(self) -> Description:
        """What the model's data is: fit's, or (an estimator from an older aelab.load) read from its record."""
        if getattr(self, "description_", None) is not None:
            return self.description_
        return described({"data": self.data_record_, "config": {"loss": self.config_.loss}})

    def _rows(self, X) -> torch.Tensor:
        """Samples as the caller holds them → the scaled float32 rows the model takes (checked: fitted first)."""
        check_is_fitted(self)
        description = self._description()
        array = frame_features(X, description.columns, "X") if is_frame(X) else as_array(X, "X")
        return new_rows(array, "X", description, self.sample_shape_)

    def _given(self, outputs: np.ndarray, X) -> np.ndarray:
        """Model outputs back in X's own shape, layout and units (a DataFrame of the feature columns for one)."""
        description = self._description()
        shape = description.sample_shape if is_frame(X) else as_array(X, "X").shape[1:]
        samples = own_units(outputs, description, tuple(shape), self.sample_shape_)
        return type(X)(samples, index=X.index, columns=list(description.columns)) if is_frame(X) else samples

    @torch.no_grad()
    def _batched(self, function, x: torch.Tensor) -> np.ndarray:
        return torch.cat([function(x[i : i + BATCH]) for i in range(0, len(x), BATCH)]).numpy()

    def _output(self, codes: torch.Tensor) -> torch.Tensor:
        return output_of(self.model_.decode(codes), self.config_.loss)  # sigmoid for BCE, linear for MSE

    def encode(self, X) -> np.ndarray:
        """The codes of samples `X` (as given to fit): float32 (n, code_size), a NumPy array, no gradients."""
        rows = self._rows(X)  # first: it says so when the model is not fitted yet
        return self._batched(self.model_.encode, rows)

    def transform(self, X) -> np.ndarray:
        """`encode` (scikit-learn's name: in a Pipeline the codes are the features the next step sees)."""
        return self.encode(X)

    def decode(self, codes) -> np.ndarray:
        """Samples from codes (n, code_size): float32 in fit's sample shape, layout and units (the scaling undone,
        Description.original_units: uint8 pixels come back as 0–255 floats, a table's values in its own units)."""
        check_is_fitted(self)
        outputs = self._batched(self._output, _as_codes(codes, self.model_.code_size))
        return own_units(outputs, self._description(), self.sample_shape_, self.sample_shape_)

    def inverse_transform(self, X) -> np.ndarray:
        """`decode` (scikit-learn's name)."""
        return self.decode(X)

    def reconstruct(self, X) -> np.ndarray:
        """The model's output for samples `X`: float32 in X's own shape and layout (channels-last in, channels-last
        out) and fit's units (the scaling undone); a DataFrame of the feature columns for a DataFrame."""
        rows = self._rows(X)  # first: it says so when the model is not fitted yet
        outputs = self._batched(lambda b: self._output(self.model_.encode(b)), rows)
        return self._given(outputs, X)

    def evaluate(self, X) -> dict[str, float]:
        """Metrics of reconstructing `X` in the scaled space the model works in (train.metrics): bce, bce_floor (the
        values' entropy, below which no model can go), bce_excess (BCE models), mse, psnr_db, code_mean,
        code_zero_fraction."""
        rows = self._rows(X)  # first: it says so when the model is not fitted yet
        return reconstruction_metrics(self.model_, rows, loss=self._description().loss)

    def score_samples(self, X) -> np.ndarray:
        """Per-sample anomaly score of `X`: the sum of squared reconstruction error Σ_d (x_d − x̂_d)² over the values
        in the scaled space the model works in, float64 (n,). **Higher = more anomalous** — the opposite sign of
        scikit-learn's outlier detectors (IsolationForest, LocalOutlierFactor), whose `score_samples` is higher for
        more normal samples; an autoencoder's natural score is its error, and `aelab anomaly` ranks by it
        (tasks/anomaly/scores.py)."""
        rows = self._rows(X)  # first: it says so when the model is not fitted yet
        return reconstruction_scores(self.model_, rows, self.config_.loss)["sse"]  # MSE data: of the linear output

    def score(self, X, y=None) -> float:
        """−BCE of reconstructing `X` (−MSE for a model trained with MSE): higher is better, as model selection
        expects."""
        metrics = self.evaluate(X)
        return -metrics["bce"] if "bce" in metrics else -metrics["mse"]

    def save(self, folder: str | os.PathLike, force: bool = False) -> Path:
        """Write an ordinary run folder (the files of `aelab train`), figures and metrics from the validation data.

        A folder that already holds a run is refused unless `force` (as `aelab train --force`).
        """
        check_is_fitted(self)
        if getattr(self, "_evaluation", None) is None or self._trainer_state is None:
            fitted_without = self.history_ and self.history_[-1].get("test_loss") is None
            why = (
                "was fitted without validation data (validation_fraction=0 and no X_test), which a run folder's "
                "test metrics and figures are drawn from: expected a fit with X_test= or validation_fraction > 0"
                if fitted_without
                else "was loaded without its test images or checkpoint: expected a fitted one (its run folder is "
                "already saved where it was loaded from)"
            )
            raise ConfigError(f"{folder}: this Autoencoder {why}")
        run = SavedRun(
            self.config_,
            self.model_,
            self.history_,
            self.final_,
            sum(e["seconds"] for e in self.history_),
            self._trainer_state,
            self._data_source,
            getattr(self, "data_record_", None),
            description=self._description(),
        )
        return save_run(folder, run, *self._evaluation, force=force)


def _as_codes(codes, code_size: int) -> torch.Tensor:
    """Codes as a float32 tensor (n, code_size), refusing another shape or non-finite values."""
    array = codes.detach().cpu().numpy() if isinstance(codes, torch.Tensor) else np.asarray(codes)
    if array.ndim != 2 or array.shape[1] != code_size or len(array) == 0 or not np.issubdtype(array.dtype, np.number):
        raise InputError(f"codes: shape {array.shape}, dtype {array.dtype}: expected numbers of shape (n, {code_size})")
    if not np.isfinite(array).all():
        row, column = np.argwhere(~np.isfinite(array))[0]
        raise InputError(f"codes: {array[row, column]} at row {row}, unit {column}: expected finite values")
    return shared_tensor(np.ascontiguousarray(array, dtype=np.float32))


def load(folder: str | os.PathLike, code_size: int | None = None, seed: int | None = None) -> Autoencoder:
    """The fitted Autoencoder of a finished run folder: `aelab train`'s, `Autoencoder.save`'s, or one model of a sweep.

    A sweep's folder (`aelab sweep`, or a study grid's cells that differ only in code size and seed, trained
    together) holds one model per code size and seed: `code_size` and `seed` say which, and it comes back as
    `aelab train` would have trained it alone (its weights copied bit for bit from the batched model; `history_`
    and `final_` its own entries in sweep.json). Without them a sweep of several models is refused with the
    (code size, seed) pairs it holds. On a one-model folder they are optional and must be its model's own.

    `save` needs the test images, which a folder does not keep: a loaded estimator encodes, decodes
    and scores, and is saved again by fitting it.
    """
    run = read_run(folder, code_size, seed)
    with reading_saved():  # a run trained on a GPU loads on any machine (its device checked by name only)
        estimator = Autoencoder(**given_parameters(run.config))
    estimator.model_, estimator.config_ = run.model, run.config
    estimator.n_features_in_, estimator.sample_shape_ = run.model.n_features, (run.model.n_features,)
    estimator.history_, estimator.final_ = run.history, run.final
    estimator._trainer_state, estimator._evaluation, estimator._data_source = run.trainer_state, None, run.data_source
    estimator.data_record_ = run.data_record
    if run.data_record is not None:  # your own data: new samples come in its sample shape and are scaled as recorded
        estimator.sample_shape_ = tuple(run.data_record["sample_shape"])
    estimator.description_ = run.description  # what the data is: new samples checked, outputs given back, by it
    return estimator


def given_parameters(config: TrainConfig) -> dict:
    """The settings of a saved config that differ from what its model family resolves by itself: a loaded deep model
    is `Autoencoder(model='deep', epochs=1)`, not one that seems to have asked for noise_factor=0.2 and l1=0.0 (the
    family's own values, which it resolves again when refitted)."""
    family = resolve(TrainConfig(model=config.model))
    return {
        name: getattr(config, name)
        for name in PARAMETERS
        if name == "model" or getattr(config, name) != getattr(family, name)
    }


def _parameter_docs() -> str:
    lines = []
    for name, field in PARAMETERS.items():
        lines += [f"    {name} : {field.type}, default={field.default!r}", f"        {field.metadata.get('help', '')}"]
    for name, field in FIT_OPTIONS.items():
        lines += [f"    {name} : {field.type}, default={field.default!r}", f"        {HELP[name]}"]
    return "\n".join(lines)


Autoencoder.__init__.__signature__ = inspect.Signature(  # so get_params, clone, help() and IDEs see the settings
    [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    + [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type)
        for name, f in {**PARAMETERS, **FIT_OPTIONS}.items()
    ]
)
Autoencoder.__doc__ = f"""An autoencoder (any model family) as a scikit-learn transformer, on any data.

The code layer's activations are the features (`transform`), reconstructions come back with
`inverse_transform`/`reconstruct` in the caller's own shape, layout and units, and `save` writes an
ordinary run folder. The settings are `aelab train`'s options (TrainConfig) and the fit's own
(verbose, validation_fraction, early_stopping_patience, callbacks), checked when the object is made;
see the aelab.api docstring.

Parameters
----------
{_parameter_docs()}

Attributes (after fit)
----------------------
    model_ : torch.nn.Module, the trained model (eval mode; with early stopping the best epoch's weights)
    config_ : TrainConfig, the settings with the model family's and the data's defaults filled in (scale, loss)
    description_ : aelab.data.description.Description, what the data is (kind, sample shape, scaling, columns)
    history_ : list of dict, one per epoch: epoch, train_loss, test_loss (validation; None without), seconds,
        train_parts
    final_ : dict, the final metrics as metrics.json has them (test_bce, test_mse, …; train_* only without
        validation data)
    best_epoch_, stopped_epoch_ : int or None, early stopping's best epoch and the epoch training stopped after
    sample_shape_ : tuple, a sample's shape as fit was given it
    n_features_in_ : int, the values per sample
"""
