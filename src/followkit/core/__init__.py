"""The floor every other part of followkit stands on; it imports nothing of followkit outside core.

errors (one-line InputError / ConstraintError), io (JSONL and JSON reading, atomic writing), records
(the typed records every stage reads and writes), settings (config models as flags, strict YAML),
stats, progress, paths, redact, manifest and reasoning (trace splitting). Import the submodules themselves; this package imports none of them.
"""
