"""followkit in lm-evaluation-harness: task YAML plus a metrics module that calls followkit's checkers."""
