"""Metric sinks behind one small protocol: console (rich progress), JSONL and TensorBoard."""

from anthology.tracking.base import MultiTracker, NullTracker, Tracker, make_tracker

__all__ = ["MultiTracker", "NullTracker", "Tracker", "make_tracker"]
