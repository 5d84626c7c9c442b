"""Config resolution: defaults < file < `--set` settings < flags, with clear errors."""

import json
from dataclasses import asdict
from typing import get_args

import pytest

from slt import choices, run
from slt.config import RunConfig, differences, from_dict, resolve
from slt.data.augment import AugmentConfig
from slt.data.normalize import NormalizeConfig


def test_precedence_defaults_file_flags(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("model:\n  preset: tiny\n  encoder: {channels: [16, 32], downsample: 8}\noptim: {lr: 1e-3, epochs: 7}\n")
    config = resolve(path, {"optim.lr": 2e-3, "optim.batch_size": None})
    assert config.model.preset == "tiny" and config.model.encoder.channels == (16, 32)  # file over defaults
    assert config.optim.lr == 2e-3 and config.optim.epochs == 7  # flags over the file; 1e-3 read as a number
    assert config.optim.batch_size == RunConfig().optim.batch_size  # None flags leave values alone
    assert differences(config.to_dict(), RunConfig().to_dict()) == [
        "model.encoder.channels", "model.encoder.downsample", "model.preset", "optim.epochs", "optim.lr"
    ]  # fmt: skip


@pytest.mark.parametrize(
    "text, message",
    [
        ("optim: {lrr: 1}", "unknown config key(s) ['optim.lrr']"),
        ("optim: {epochs: many}", "optim.epochs must be int"),
        ("model: {feature: pixels}", "model.feature must be one of"),
        ("- a list", "must hold a mapping"),
    ],
)
def test_bad_config_files(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as error:
        resolve(path)
    assert message in str(error.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        resolve(tmp_path / "none.yaml")


def test_normalize_and_augment_are_typed_and_config_json_keeps_its_shape(tmp_path):
    """`data.normalize` and `data.augment` are dataclasses, but config.json holds them as before: every field
    spelled out, augmentation off as null. A config.json as an earlier slt wrote it loads unchanged."""
    config = resolve(None, {"data.normalize": {"use_z": True}})
    assert isinstance(config.data.normalize, NormalizeConfig) and config.data.normalize.use_z
    assert config.to_dict()["data"]["augment"] == asdict(AugmentConfig())
    path = tmp_path / "run.yaml"
    path.write_text("data: {augment: null, normalize: {hand_offsets: false}}\n")
    saved = resolve(path).to_dict()
    assert saved["data"]["augment"] is None and saved["data"]["normalize"] == {"upper_body": True, "hand_offsets": False, "hand_scale": False, "use_z": False, "mirror_left_handed": True}
    assert json.loads(json.dumps(from_dict(RunConfig, saved).to_dict())) == json.loads(json.dumps(saved))


def test_settings_go_between_the_file_and_the_flags(tmp_path):
    """`slt train --set KEY=VALUE` settings: over the file, under flags; a null is a value, not "unset"."""
    path = tmp_path / "run.yaml"
    path.write_text("optim: {epochs: 7, accumulation: 1}\n")
    config = resolve(path, {"optim.epochs": 3}, {"optim.accumulation": 2, "data.augment": None})
    assert (config.optim.epochs, config.optim.accumulation, config.data.augment) == (3, 2, None)
    path.write_text("optim: {lr: 1.0e-3}\n")
    with pytest.raises(ValueError, match=r"config key optim\.lr\.x: optim\.lr is 0\.001, not a section"):
        resolve(path, None, {"optim.lr.x": 1})


def test_choices_are_those_the_code_knows():
    """The `Literal` choices that the config checks and `--help` lists are the tables the code uses."""
    from slt.metrics import TOKENIZERS
    from slt.model.llm import LIGHT_T_PRESETS
    from slt.model.make_llm import ARCHITECTURES
    from slt.synth import STYLES

    assert get_args(choices.Preset) == tuple(LIGHT_T_PRESETS)
    assert get_args(choices.Arch) == tuple(ARCHITECTURES)
    assert get_args(choices.Style) == tuple(STYLES)
    assert get_args(choices.Tokenize) == ("auto", *TOKENIZERS)


def test_a_run_saved_before_mirroring_existed_loads_without_it(tmp_path):
    """Mirroring left-handed clips is on by default now; a run whose config.json predates the key was
    trained without it and must normalize as it was trained, while a run that names it keeps its value."""
    saved = resolve(None).to_dict()
    assert saved["data"]["normalize"]["mirror_left_handed"] is True
    del saved["data"]["normalize"]["mirror_left_handed"]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert run.load_config(tmp_path).data.normalize.mirror_left_handed is False
    saved["data"]["normalize"]["mirror_left_handed"] = True
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert run.load_config(tmp_path).data.normalize.mirror_left_handed is True
