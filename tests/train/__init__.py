"""Tests of followkit.train."""
