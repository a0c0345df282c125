"""The anomaly metrics and thresholds on synthetic scores: properties and the metrics' definitions, no typed-in
results."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aelab.config import AnomalyConfig, ProbeConfig, parse_classes
from aelab.errors import ConfigError, InputError
from aelab.tasks.anomaly.metrics import detection, quantile_threshold, ranking, sd_threshold, thresholds, top_anomalies


def labelled_scores(seed: int = 0, n: int = 200):
    rng = np.random.default_rng(seed)
    is_anomaly = rng.random(n) < 0.3
    is_anomaly[:2] = [True, False]  # both classes present
    return rng.random(n), is_anomaly


def test_a_perfect_score_has_auroc_and_auprc_one_and_its_reverse_auroc_zero():
    noise, is_anomaly = labelled_scores()
    perfect = is_anomaly + 0.01 * noise  # every anomaly above every normal image
    assert ranking(perfect, is_anomaly) == pytest.approx({"auroc": 1.0, "auprc": 1.0})
    assert ranking(-perfect, is_anomaly)["auroc"] == 0.0


def test_auroc_is_the_probability_that_an_anomaly_outscores_a_normal_image():
    scores, is_anomaly = labelled_scores(1)
    pairs = scores[is_anomaly][:, None] - scores[~is_anomaly][None, :]  # every (anomaly, normal) pair
    assert ranking(scores, is_anomaly)["auroc"] == pytest.approx((pairs > 0).mean() + 0.5 * (pairs == 0).mean())


def test_a_constant_score_is_chance():
    _, is_anomaly = labelled_scores(2)
    result = ranking(np.ones(len(is_anomaly)), is_anomaly)
    assert result["auroc"] == 0.5
    assert result["auprc"] == pytest.approx(is_anomaly.mean())  # chance AUPRC: the share of anomalies


@pytest.mark.parametrize(
    "scores, labels",
    [
        (np.array([0.1, 0.2]), np.array([True, True])),  # no normal image
        (np.array([0.1, 0.2]), np.array([True])),  # one label short
        (np.array([0.1, np.nan]), np.array([True, False])),  # a non-finite score
        (np.zeros((2, 2)), np.array([True, False])),  # not 1-D
    ],
)
def test_bad_scores_or_labels_are_refused_in_one_line(scores, labels):
    with pytest.raises(InputError) as error:
        ranking(scores, labels)
    assert "\n" not in str(error.value) and "expected" in str(error.value)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=2, max_size=300), st.floats(0.5, 0.99))
def test_the_quantile_threshold_flags_at_most_its_share_of_the_training_scores(train, q):
    train = np.array(train)
    flagged = (train > quantile_threshold(train, q)).mean()
    assert flagged <= 1 - q + 1 / len(train) + 1e-12


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=100), st.floats(0, 5))
def test_the_sd_threshold_is_mean_plus_k_sd_and_grows_with_k(train, k):
    train = np.array(train)
    assert sd_threshold(train, k) == pytest.approx(train.mean() + k * train.std(), abs=1e-9)
    assert sd_threshold(train, k + 1) >= sd_threshold(train, k) - 1e-9


def test_precision_recall_f1_follow_their_definitions():
    scores, is_anomaly = labelled_scores(3)
    cut = 0.5
    found = detection(scores, is_anomaly, cut)
    flagged = scores > cut
    tp = (flagged & is_anomaly).sum()
    precision, recall = tp / flagged.sum(), tp / is_anomaly.sum()
    assert found["precision"] == pytest.approx(precision) and found["recall"] == pytest.approx(recall)
    assert found["f1"] == pytest.approx(2 * precision * recall / (precision + recall))
    assert found["flagged"] == flagged.sum()


def test_a_threshold_above_every_score_flags_nothing_and_precision_is_zero():
    scores, is_anomaly = labelled_scores(4)
    found = detection(scores, is_anomaly, scores.max())
    assert found["flagged"] == 0 and found["precision"] == 0.0 and found["recall"] == 0.0


def test_both_threshold_rules_are_reported_by_name():
    train = np.arange(100.0)
    cuts = thresholds(train, 0.9, 2.0)
    assert cuts == {"quantile 0.9": quantile_threshold(train, 0.9), "mean + 2 sd": sd_threshold(train, 2.0)}


def test_top_anomalies_are_the_highest_and_lowest_scores_in_rank_order():
    scores = np.array([0.3, 0.9, 0.1, 0.9, 0.5])
    most, least = top_anomalies(scores, 2)
    assert most.tolist() == [1, 3]  # ties keep index order
    assert least.tolist() == [2, 0]
    assert [len(x) for x in top_anomalies(scores, 10)] == [5, 5]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 99), min_size=1, max_size=10, unique=True))
def test_classes_parse_back_sorted_from_any_order(classes):
    assert parse_classes(",".join(map(str, classes))) == tuple(sorted(classes))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=12))
def test_classes_text_either_parses_or_is_a_one_line_config_error(text):
    try:
        classes = parse_classes(text)
    except ConfigError as error:
        assert "\n" not in str(error) and "--classes" in str(error)
    else:
        assert list(classes) == sorted(set(classes)) and min(classes) >= 0


@pytest.mark.parametrize(
    "settings_, option",
    [
        ({"quantile": 1.0}, "--quantile"),
        ({"quantile": 0.2}, "--quantile"),
        ({"sd_multiplier": -1}, "--sd-multiplier"),
        ({"neighbours": 0}, "--neighbours"),
        ({"seeds": 0}, "--seeds"),
        ({"classes": (3, 1)}, "--classes"),
        ({"classes": ()}, "--classes"),
        ({"score": "mae"}, "--score"),
        ({"model": "shalow"}, "shallow"),
        ({"code_size": 0}, "--code-size"),
    ],
)
def test_a_bad_anomaly_setting_is_one_line_naming_it(settings_, option):
    with pytest.raises(ConfigError) as error:
        AnomalyConfig(**settings_)
    assert option in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    "settings_, option",
    [
        ({"neighbours": 0}, "--neighbours"),
        ({"tsne_size": 0}, "--tsne-size"),
        ({"seed": -1}, "--seed"),
        ({"max_iter": 0}, "--max-iter"),
        ({"tol": 0}, "--tol"),
        ({"tol": 1.5}, "--tol"),
    ],
)
def test_a_bad_probe_setting_is_one_line_naming_it(settings_, option):
    with pytest.raises(ConfigError) as error:
        ProbeConfig(**settings_)
    assert option in str(error.value)


def test_an_anomaly_config_round_trips_through_json():
    config = AnomalyConfig(classes=(1, 4), seeds=3, quantile=0.99)
    assert AnomalyConfig.from_json(config.to_json()) == config
