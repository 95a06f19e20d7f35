"""Tests of the root modules: cli, models, pipeline, and the import graph."""
