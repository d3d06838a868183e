import json

import pytest

from gankit.config import TrainConfig
from gankit.errors import ConfigError


def test_defaults_round_trip_through_json(tmp_path):
    cfg = TrainConfig(steps=10, lsgan_abc=(-1.0, 1.0, 0.0), toy_options={"mu": 2.0})
    p = tmp_path / "c.json"
    p.write_text(cfg.to_json())
    assert TrainConfig.from_json_file(p) == cfg


def test_unknown_key_is_named(tmp_path):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"lr_G": 1e-3, "steps": 5}))
    with pytest.raises(ConfigError, match=r"unknown config key.*'lr_G'") as e:
        TrainConfig.from_json_file(p)
    assert str(p) in str(e.value)


@pytest.mark.parametrize("key,value", [("steps", "100"), ("steps", 1.5), ("conditional", 1), ("lr_g", "fast"),
                                       ("grad_clip", [1]), ("lsgan_abc", (1.0, 2.0))])
def test_wrong_type_is_named(key, value):
    with pytest.raises(ConfigError, match=repr(key)):
        TrainConfig.from_dict({key: value})


@pytest.mark.parametrize("key,value", [("steps", 0), ("batch_size", -1), ("lr_d", 0.0), ("beta1", 1.0),
                                       ("ema", 1.0), ("label_smoothing", 0.6), ("prior", "cauchy"),
                                       ("channels", 2), ("cond_d", "dot")])
def test_out_of_range_is_named(key, value):
    with pytest.raises(ConfigError, match=repr(key)):
        TrainConfig(**{key: value})


def test_ints_accepted_for_floats():
    assert TrainConfig(lr_g=1, grad_clip=5).lr_g == 1


def test_bad_json_file(tmp_path):
    p = tmp_path / "c.json"
    p.write_text("{not json")
    with pytest.raises(ConfigError, match="not a readable JSON config"):
        TrainConfig.from_json_file(p)
