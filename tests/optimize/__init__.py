"""Tests of followkit.optimize."""
