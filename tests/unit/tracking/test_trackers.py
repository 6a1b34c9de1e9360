import io

from rich.console import Console

from anthology.core.run_dir import RunDir
from anthology.tracking import MultiTracker, make_tracker
from anthology.tracking.console import ConsoleTracker
from anthology.tracking.jsonl import JsonlTracker
from anthology.tracking.tensorboard import TensorBoardTracker


def test_jsonl_appends_records_and_marks_a_resume(tmp_path):
    run = RunDir.create("m", "tiny", 0, tmp_path)
    tracker = JsonlTracker(run)
    tracker.start(10)
    tracker.log(1, {"train/loss": 2.0})
    tracker.start(10, initial_step=5)
    tracker.log(6, {"train/loss": 1.0})
    assert run.read_metrics() == [{"step": 1, "train/loss": 2.0}, {"event": "resume", "step": 5},
                                  {"step": 6, "train/loss": 1.0}]


def test_console_shows_progress_and_metrics():
    out = io.StringIO()
    tracker = ConsoleTracker(Console(file=out, width=120, force_terminal=False))
    tracker.start(4, description="train")
    tracker.log(4, {"train/loss": 0.25, "job": "a/b"})
    tracker.close()
    text = out.getvalue()
    assert "4/4" in text and "loss=0.25" in text and "job=a/b" in text


def test_tensorboard_writes_event_files(tmp_path):
    tracker = TensorBoardTracker(tmp_path / "tb")
    tracker.log(1, {"train/loss": 1.0, "note": "text is skipped"})
    tracker.close()
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_make_tracker_fans_out_to_every_sink(tmp_path):
    run = RunDir.create("m", "tiny", 0, tmp_path)
    tracker = make_tracker(run, console=False, tensorboard=True)
    assert isinstance(tracker, MultiTracker) and len(tracker.trackers) == 2
    tracker.log(1, {"a/b": 1.0})
    tracker.close()
    assert run.read_metrics() == [{"step": 1, "a/b": 1.0}]
