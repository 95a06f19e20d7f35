"""Tests of followkit.judges."""
