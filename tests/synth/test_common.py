"""`--teacher auto:CAR_JSON`: a synthesis role resolves to the teacher CAR ranked first."""

from __future__ import annotations

from pathlib import Path

import pytest

from followkit.core.errors import BackendError, InputError
from followkit.core.io import write_json
from followkit.synth.common import load_role


def test_auto_spec_resolves_to_car_best_teacher(tmp_path: Path) -> None:
    car = tmp_path / "car.json"
    write_json(
        car,
        {
            "ranking": ["b", "a"],
            "teachers": [{"name": "a", "model": "embedded"}, {"name": "b", "model": "openai:teacher-b"}],
        },
    )
    # The best teacher is an openai model with no server configured: the error proves it was chosen.
    with pytest.raises(BackendError, match="teacher-b|base"):
        load_role(f"auto:{car}", base_url=None)


def test_auto_spec_without_model_is_a_clear_error(tmp_path: Path) -> None:
    car = tmp_path / "car.json"
    write_json(car, {"ranking": ["a"], "teachers": [{"name": "a"}]})
    with pytest.raises(InputError, match="has no model spec"):
        load_role(f"auto:{car}", base_url=None)
