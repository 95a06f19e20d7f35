"""Tests of followkit.commands: each command end to end through the CLI."""
