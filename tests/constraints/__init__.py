"""Tests of followkit.constraints."""
