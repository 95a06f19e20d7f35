"""The floor every other part of followkit stands on; it imports nothing of followkit outside core.

errors (one-line InputError / ConstraintError), io (JSONL and JSON reading, atomic writing), records
(the typed records every stage reads and writes), settings (config models as flags, strict YAML),
stats, progress, paths, redact, manifest, reasoning (trace splitting) and registry (lazy name ->
"module:attr" tables). Import the submodules themselves; this package imports none of them.
"""
