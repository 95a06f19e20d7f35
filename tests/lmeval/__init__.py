"""Tests of followkit.lmeval."""
