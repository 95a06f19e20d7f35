"""followkit.train.methods.METHODS is the only list of training methods: everything else derives from it."""

from __future__ import annotations

import typing

import pytest

from followkit.train.methods import METHOD_FIELDS, METHODS, methods_with


def test_every_list_of_methods_is_the_table():
    from followkit.pipeline import stage_records
    from followkit.train import RUNNERS
    from followkit.train.config import TrainConfig

    assert typing.get_args(TrainConfig.model_fields["method"].annotation) == tuple(METHODS)
    assert {name: row.runner for name, row in METHODS.items()} == RUNNERS
    for name, row in METHODS.items():
        assert stage_records()[f"train --method {name}"].reads == (row.record,)


def test_rows_name_real_fields_and_functions():
    from followkit.core.records import RECORD_TYPES
    from followkit.train.config import TrainConfig

    for name, row in METHODS.items():
        assert row.name == name
        assert row.record in RECORD_TYPES or row.record == "Instruction"
        assert set(row.settings) <= set(TrainConfig.model_fields), name
        assert set(row.loss_settings) <= set(row.settings), name  # a loss reads only its own settings
        if isinstance(row.sft_weight, str):
            assert row.sft_weight in row.settings, name
        if row.reference:
            assert {"ref_model", "precompute_ref_logps"} <= set(row.settings), name
        else:
            assert not {"ref_model", "precompute_ref_logps"} & set(row.settings), name
        if row.preference:
            assert callable(row.loss_fn()), name
        if row.sft_term:
            assert callable(row.sft_term_fn()), name
    assert [n for n, r in METHODS.items() if r.preference and not r.reference] == ["simpo", "orpo"]


def test_grpo_field_sets_and_help_panels_derive_from_the_rows():
    from followkit.train.config import GRPO_ONLY, NOT_GRPO, TrainConfig

    assert {f for f in METHOD_FIELDS if methods_with(f) == ("grpo",)} == GRPO_ONLY
    assert METHOD_FIELDS - set(METHODS["grpo"].settings) == NOT_GRPO
    assert {"num_generations", "kl_coef", "judge"} <= GRPO_ONLY
    assert {"beta", "simpo_beta", "orpo_lambda", "precompute_ref_logps", "mix"} <= NOT_GRPO
    panels = TrainConfig.CLI_PANELS
    named = [f for fields in panels.values() for f in fields]
    assert len(named) == len(set(named))  # each flag in one panel
    assert panels["--method simpo"] == ("simpo_beta", "simpo_gamma")
    assert panels["--method orpo"] == ("orpo_lambda",)
    assert panels["--method dpo, iopo"] == ("ref_model", "beta", "precompute_ref_logps")


@pytest.mark.parametrize(
    ("method", "setting", "message"),
    [
        (
            "iopo",
            {"sft_weight": 1.0},
            "sft_weight does not apply to --method iopo (sft_weight applies to --method dpo)",
        ),
        ("grpo", {"beta": 0.2}, "beta does not apply to --method grpo (beta applies to --method dpo, iopo)"),
        ("sft", {"simpo_gamma": 0.5}, "simpo_gamma applies to --method simpo"),
        ("dpo", {"orpo_lambda": 0.5}, "orpo_lambda applies to --method orpo"),
        ("simpo", {"loss_type": "ipo"}, "loss_type applies to --method dpo"),
    ],
)
def test_a_field_applies_to_the_methods_that_name_it(method, setting, message):
    from followkit.train.config import TrainConfig

    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TrainConfig(method=method, data="x", out="o", **setting)


def test_new_methods_defaults_and_a_saved_config_loads_for_every_method():
    from followkit.train.config import TrainConfig

    simpo = TrainConfig(method="simpo", data="x", out="o")
    assert (simpo.simpo_beta, simpo.simpo_gamma, simpo.simpo_gamma / simpo.simpo_beta) == (2.0, 1.0, 0.5)
    assert TrainConfig(method="orpo", data="x", out="o").orpo_lambda == 0.1
    saved = TrainConfig(method="sft", data="x", out="o").model_dump()
    for name in METHODS:
        assert TrainConfig.model_validate({**saved, "method": name}).method == name


def test_method_lookup_runs_on_the_registry():
    import pytest

    from followkit.core.errors import InputError
    from followkit.train.methods import REGISTRY, method

    assert REGISTRY.names() == list(METHODS) and all(method(n) is row for n, row in METHODS.items())
    with pytest.raises(
        InputError, match=r"^unknown training method 'dpx' \(did you mean dpo\?\); known: sft, dpo, iopo"
    ):
        method("dpx")
    with pytest.raises(InputError, match="training method registry is frozen: cannot register 'kto'"):
        REGISTRY.register("kto", "followkit.train.methods:METHODS.dpo")
