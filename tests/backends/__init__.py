"""Tests of followkit.backends."""
