"""Helpers the tests share (no tests of followkit here): paths, scripted evals, a fault proxy, tiny models."""
