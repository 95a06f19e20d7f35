"""Tests of followkit.rewards."""
