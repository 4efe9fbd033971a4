"""Benchmarks of the harness: per-test cost, startup, scaling and memory (``python bench/run.py``).

Scripts that print figures; nothing here asserts a timing. ``docs/performance.md`` holds the
figures of a real run and how to read them.
"""
