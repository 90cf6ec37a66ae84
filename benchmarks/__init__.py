"""Benchmarks of `tflite_lowrank`: the scripts behind `benchmarks/results/`.

Run a script from the repository root as a module, e.g.
`.venv/bin/python -m benchmarks.frontier --report`. The shared pieces are
`harness` (environment, data, training with dev selection, LiteRT files), `stats`
(means, standard deviations and errors, paired deltas) and `store` (the resumable
JSON-lines results).
"""
