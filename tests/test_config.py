"""Config resolution: defaults < file < flags, with clear errors."""

import pytest

from slt.config import RunConfig, differences, resolve


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
