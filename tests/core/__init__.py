"""Tests of followkit.core."""
