"""Where the tests find things, whichever folder a test file sits in."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
FIXTURES = TESTS / "fixtures"  # small input files, checked in
DATA = TESTS / "data"  # golden outputs, checked in
ARTIFACTS = TESTS / "artifacts"  # screenshots and the like, ignored by git
