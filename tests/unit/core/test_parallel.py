import pytest

from anthology.core.parallel import run_jobs


def square(x: int) -> int:
    return x * x


def test_in_process_jobs_keep_order_and_report_each():
    seen = []
    assert run_jobs(square, [3, 1, 2], workers=1, on_result=lambda i, r: seen.append((i, r))) == [9, 1, 4]
    assert seen == [(0, 9), (1, 1), (2, 4)]


@pytest.mark.learning
def test_worker_processes_return_results_in_job_order():
    seen = []
    assert run_jobs(square, list(range(5)), workers=2, on_result=lambda i, r: seen.append(i)) == [0, 1, 4, 9, 16]
    assert sorted(seen) == list(range(5))


def test_unknown_backend_and_missing_ray_are_user_errors():
    import importlib.util

    from anthology.core.errors import MissingExtraError, UnknownNameError

    with pytest.raises(UnknownNameError, match="parallel backend"):
        run_jobs(square, [1], backend="slurm")
    if importlib.util.find_spec("ray") is None:
        with pytest.raises(MissingExtraError, match=r"anthology-ml\[ray\]"):
            run_jobs(square, [1], backend="ray")
