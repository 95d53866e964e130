"""One module per part of the suite; each has `run(long: bool) -> list[Figure]`.

The tests in `tests/reliability/` call `run(long=False)` (the short version CI runs) and
assert every must-be-zero figure; `tests/reliability/report.py` calls `run(long=True)` and
prints the figures as a table.
"""
