"""The benchmark: `python tests/bench/run.py` (not collected as tests; see run.py)."""
