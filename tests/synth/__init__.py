"""Tests of followkit.synth."""
