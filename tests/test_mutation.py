"""`tests/mutation.py`, the cosmic-ray driver: its targets exist, and a session is never resumed on a changed module
(cosmic-ray itself is not run here: a pass takes minutes per module, see docs/testing.md)."""

from __future__ import annotations

import hashlib

import pytest

from tests import mutation
from tests.mutation import ROOT, TARGETS, config_toml, line_ranges, run_target


@pytest.mark.parametrize("module", sorted(TARGETS))
def test_every_target_its_functions_and_its_tests_exist(module):
    """A renamed function or test file would make a target mutate nothing, or run no test, without a word."""
    target = TARGETS[module]
    assert (ROOT / module).is_file() and all((ROOT / t).is_file() for t in target.tests)
    ranges = line_ranges(ROOT / module, target.functions) if target.functions else []
    assert len(ranges) == len(target.functions)
    for r in ranges:
        start, end = map(int, r.split("-"))
        assert start < end


def test_line_ranges_are_the_functions_lines_and_name_a_missing_one(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("def f():\n    return 1\n\n\nclass C:\n    def g(self):\n        x = 1\n        return x\n")
    assert line_ranges(path, ("f", "C.g")) == ["1-2", "6-8"]
    with pytest.raises(SystemExit, match="no function h"):
        line_ranges(path, ("h",))


def test_config_mutates_only_the_named_functions_and_runs_the_targets_tests():
    target = TARGETS["modeling_gpt1/modeling_gpt1.py"]
    text = config_toml(target, ["10-20", "30-40"])
    assert 'module-path = "modeling_gpt1/modeling_gpt1.py"' in text
    assert 'lines = { "modeling_gpt1/modeling_gpt1.py" = ["10-20", "30-40"] }' in text
    assert "-m pytest -x -q -p no:cacheprovider tests/test_finetuning_metrics.py tests/test_modeling_gpt1.py" in text
    assert "core/VariableReplacer" in text


def test_a_session_is_not_resumed_on_a_changed_module(tmp_path, monkeypatch):
    """The session's mutants are line positions in the module as it was: on a changed module they would mutate the
    wrong code, so the run stops before copying or running anything."""
    target = TARGETS["gpt1/training.py"]
    work = tmp_path / target.name
    work.mkdir()
    (work / f"{target.name}.sqlite").write_bytes(b"")
    (work / f"{target.name}.sha256").write_text(hashlib.sha256(b"the module as it was").hexdigest())
    monkeypatch.setattr(mutation, "copy_checkout", lambda work: pytest.fail("copied a changed module's session"))
    with pytest.raises(SystemExit, match=r"gpt1/training\.py changed since .* delete .* to start again"):
        run_target(target, work)
