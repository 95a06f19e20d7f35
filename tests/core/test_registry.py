"""followkit.core.registry: lazy "module:attr" entries, plugins, freezing, "did you mean"."""

from __future__ import annotations

import sys
from importlib.metadata import EntryPoint

import pytest

from followkit.core.errors import ConstraintError, InputError
from followkit.core.registry import Registry


def test_targets_are_imported_on_first_use(tmp_path, monkeypatch):
    (tmp_path / "fk_lazy_target.py").write_text("VALUE = 41\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg: Registry[int] = Registry("thing", {"v": "fk_lazy_target:VALUE"}, base=int)
    assert "v" in reg and reg.names() == ["v"] and "fk_lazy_target" not in sys.modules
    assert reg.get("v") == 41 and "fk_lazy_target" in sys.modules
    monkeypatch.delitem(sys.modules, "fk_lazy_target")


def test_unknown_name_suggests_and_lists_in_one_line():
    reg = Registry("benchmark", {"ifeval": "json:dumps", "ifbench": "json:loads"})
    with pytest.raises(InputError) as exc:
        reg.get("ifevl")
    assert str(exc.value) == "unknown benchmark 'ifevl' (did you mean ifeval?); known: ifeval, ifbench"
    with pytest.raises(InputError, match=r"unknown benchmark 'zzz'; known"):
        reg.get("zzz")


def test_error_type_is_the_callers():
    reg = Registry("constraint id", {"a:b": "json:dumps"}, error=ConstraintError)
    with pytest.raises(ConstraintError, match="did you mean a:b"):
        reg.spec("a:c")


def test_frozen_after_first_lookup():
    reg = Registry("thing", {"a": "json:dumps"})
    reg.register("b", "json:loads")
    assert not reg.frozen and reg.names() == ["a", "b"] and reg.frozen
    with pytest.raises(InputError, match="frozen: cannot register 'c'"):
        reg.register("c", "json:dumps")


def test_bad_specs_and_targets_are_one_line_errors():
    with pytest.raises(InputError, match="'json' is not module:attr"):
        Registry("thing", {"a": "json"})
    reg = Registry(
        "thing", {"gone": "no_such_module_xyz:f", "attr": "json:nope", "int": "json:dumps"}, base=int
    )
    with pytest.raises(InputError, match=r"thing 'gone' is not available \(no_such_module_xyz:f: "):
        reg.get("gone")
    with pytest.raises(InputError, match="thing 'attr' is not available"):
        reg.get("attr")
    with pytest.raises(InputError, match="thing 'int': json:dumps is not an instance of int"):
        reg.get("int")
    sub = Registry("codec", {"d": "json:JSONDecoder", "f": "json:dumps"}, base=object, subclass=True)
    assert sub.get("d").__name__ == "JSONDecoder"
    with pytest.raises(InputError, match="json:dumps is not a object subclass"):
        sub.get("f")


def test_plugins_from_environment_and_entry_points(monkeypatch):
    monkeypatch.setenv("FK_TEST_PLUGINS", " mine=json:loads , ")
    eps = [EntryPoint("theirs", "json:dumps", "fk.test")]
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group: eps if group == "fk.test" else [])
    reg = Registry("thing", {"a": "json:JSONDecoder"}, group="fk.test", env="FK_TEST_PLUGINS")
    assert reg.names() == ["a", "theirs", "mine"]
    assert reg.get("mine").__name__ == "loads" and reg.spec("theirs") == "json:dumps"
    monkeypatch.setenv("FK_TEST_PLUGINS", "broken")
    with pytest.raises(InputError, match="FK_TEST_PLUGINS entry 'broken' is not name=module:attr"):
        Registry("thing", env="FK_TEST_PLUGINS").names()


def test_resolve_steps_into_mappings_and_fails_as_import_error():
    from followkit.core.registry import resolve

    assert resolve("json:dumps")({"a": 1}) == '{"a": 1}'
    assert resolve("os:path.join") is __import__("os").path.join
    assert resolve("followkit.train.methods:METHODS.dpo").name == "dpo"
    for bad in ("json", "json:nope", "followkit.train.methods:METHODS.nope", "no_such_module_xyz:f"):
        with pytest.raises(ImportError):
            resolve(bad)


def test_load_keeps_the_import_error_and_fresh_rereads_plugins(monkeypatch):
    reg = Registry("thing", {"gone": "no_such_module_xyz:f"}, env="FK_TEST_PLUGINS")
    with pytest.raises(ImportError):
        reg.load("gone")
    assert reg.frozen and reg.closest("gon") == "gone" and reg.closest("zzz") is None
    monkeypatch.setenv("FK_TEST_PLUGINS", "mine=json:loads")
    again = reg.fresh()
    assert not again.frozen and again.names() == ["gone", "mine"] and reg.names() == ["gone"]
