"""Tests of followkit.select."""
