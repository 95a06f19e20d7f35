"""Tests of followkit.kcif."""
