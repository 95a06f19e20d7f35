"""Tests of followkit.report."""
