"""Real processes for the tests and the benchmarks: gunicorn on a private port, free ports,
orderly shutdown. Both `tests/` and `benchmarks/` use it; it imports neither.
"""
