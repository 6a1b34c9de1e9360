"""Every registered method passes the conformance suite (`anthology.testing.conformance`) with no test
code of its own: a new method folder is picked up by the registry and checked here."""

import math

import pytest

from anthology.cli import main
from anthology.core.registry import get_method, method_names
from anthology.testing import conformance

METHODS = method_names()


@pytest.fixture(params=METHODS)
def spec(request, shared_data):
    return get_method(request.param)


def test_tiny_run_writes_its_run_folder(spec, tmp_path):
    conformance.check_tiny_run_writes_its_run_folder(spec, tmp_path)


def test_same_seed_same_summary_other_seed_other_evaluation(spec):
    conformance.check_deterministic(spec)


def test_every_optimised_parameter_changes(spec):
    conformance.check_every_trainable_parameter_changes(spec)


def test_a_killed_run_resumes_to_the_same_summary(spec, tmp_path):
    conformance.check_kill_and_resume(spec, tmp_path)


def test_bad_preset_override_and_value_are_one_line_errors(spec, tmp_path):
    conformance.check_cli_errors(spec, tmp_path, main)


def test_the_device_is_honoured_or_refused(spec, tmp_path):
    conformance.check_device(spec, tmp_path, main)


def test_the_registry_finds_every_method_folder():
    import pathlib

    import anthology.methods

    folders = {p.name for p in pathlib.Path(anthology.methods.__file__).parent.iterdir()
               if (p / "__init__.py").exists()}
    assert set(METHODS) == folders and len(METHODS) >= 5


@pytest.mark.parametrize("name", METHODS)
def test_every_numeric_field_refuses_nan_infinite_negative_and_zero_or_runs(name, shared_data):
    spec = get_method(name)
    for path in conformance.numeric_fields(spec.presets["tiny"]):
        for value in conformance.BAD_NUMBERS:
            conformance.check_bad_value(spec, path, value)


@pytest.mark.parametrize("name", METHODS)
def test_random_non_positive_or_non_finite_values_are_refused_or_run(name, shared_data):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    spec = get_method(name)

    @settings(max_examples=15, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(path=st.sampled_from(conformance.numeric_fields(spec.presets["tiny"])),
           value=st.floats(max_value=0.0) | st.sampled_from([math.nan, math.inf]) | st.integers(max_value=0))
    def property_(path, value):
        conformance.check_bad_value(spec, path, value)

    property_()
