"""Tests of followkit.evaluate."""
