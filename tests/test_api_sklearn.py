"""scikit-learn's own estimator checks: all pass except the ones `aelab.api.NOT_APPLICABLE` lists, with why.

scikit-learn feeds generated tables (a few columns, any values), which the API trains on like any
table (issue 26); the listed ones fail on wording (aelab names the argument and place its own way) or
on refusing what scikit-learn would convert (object arrays), each with its reason.
"""

from __future__ import annotations

import warnings

from sklearn.utils.estimator_checks import check_estimator

import aelab
from aelab.api import NOT_APPLICABLE


def test_check_estimator_fails_exactly_the_checks_that_do_not_apply():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns about each expected failure
        results = check_estimator(
            aelab.Autoencoder(code_size=2, epochs=1, batch_size=4),
            expected_failed_checks=NOT_APPLICABLE,
            on_fail=None,
            on_skip=None,
        )
    outcome: dict[str, set[str]] = {}
    for result in results:
        outcome.setdefault(result["check_name"], set()).add(result["status"])
    unexpected = {name: status for name, status in outcome.items() if status - {"passed", "skipped", "xfail"}}
    assert not unexpected
    passed = {name for name, status in outcome.items() if status == {"passed"}}
    assert len(passed) >= 30  # clone, get/set_params, unfitted, fit returns self, pickle, idempotence, pipelines, …
    assert not passed & set(NOT_APPLICABLE), "a listed check passes: take it off the list"
    assert {
        "check_estimator_cloneable",
        "check_get_params_invariance",
        "check_set_params",
        "check_no_attributes_set_in_init",
        "check_estimators_unfitted",
        "check_parameters_default_constructible",
        "check_fit_idempotent",
        "check_estimators_pickle",
        "check_transformer_general",
        "check_pipeline_consistency",
        "check_methods_subset_invariance",
    } <= passed
