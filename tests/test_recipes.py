"""Default recipes: unset fields are filled per data family, model and loss; explicit values always win."""

import json

import pytest

import gankit
from gankit.config import RECIPE_FIELDS, TrainConfig
from gankit.recipes import recipe, resolve


def test_image_and_toy_recipes_differ_and_fill_every_field():
    img = resolve(TrainConfig(dataset="mnist5k", model="dcgan"))
    toy = resolve(TrainConfig(dataset="ring8", model="mlp"))
    for cfg in (img, toy):
        for name in RECIPE_FIELDS:
            if name != "depth" and (name != "d_width" or cfg.width is not None):  # depth None: the MLP's own
                assert getattr(cfg, name) is not None, name
    assert (img.lr_g, img.beta1, img.beta2, img.z_dim) == (2e-4, 0.5, 0.999, 100)  # the DCGAN optimiser
    assert toy.batch_size > img.batch_size and toy.z_dim != img.z_dim
    assert img.width == 64 and img.d_width == 32


def test_wgan_gp_recipe_uses_five_critic_steps():
    cfg = resolve(TrainConfig(dataset="mnist5k", loss="wgan-gp"))
    assert cfg.d_steps == 5 and cfg.beta2 == 0.9 and cfg.lr_d == 1e-4
    assert recipe("ring8", "mlp", "wgan-gp")["d_steps"] == 5


def test_conditional_image_recipe_seeks_modes():
    assert resolve(TrainConfig(dataset="mnist5k", conditional=True)).mode_seeking == 0.3
    assert resolve(TrainConfig(dataset="mnist5k")).mode_seeking == 0.0
    assert resolve(TrainConfig(dataset="ring8", model="mlp", conditional=True)).mode_seeking == 0.0
    assert resolve(TrainConfig(dataset="mnist5k", conditional=True, mode_seeking=1.0)).mode_seeking == 1.0
    # the recipe's term steps aside where it cannot pair rows; an explicit request is refused there instead
    assert resolve(TrainConfig(dataset="mnist5k", conditional=True, reuse_fake=True)).mode_seeking == 0.0
    assert resolve(TrainConfig(dataset="mnist5k", conditional=True, batch_size=33)).mode_seeking == 0.0


def test_explicit_values_win_and_width_sizes_both_networks():
    cfg = resolve(TrainConfig(dataset="mnist5k", steps=7, lr_d=1e-3, ema=0.0, width=8))
    assert (cfg.steps, cfg.lr_d, cfg.ema, cfg.width, cfg.d_width) == (7, 1e-3, 0.0, 8, 8)
    assert cfg.lr_g == recipe("mnist5k", "dcgan-dense", "nonsaturating")["lr_g"] == 1e-3  # the unset one: the recipe's
    assert resolve(TrainConfig(width=8, d_width=4)).d_width == 4
    assert resolve(cfg) == cfg  # idempotent: a resumed run's config is already resolved


@pytest.mark.parametrize("kw, model", [
    ({}, "dcgan-dense"), ({"dataset": "mnist"}, "dcgan-dense"), ({"dataset": "fashion_mnist"}, "dcgan-dense"),
    ({"method": "infogan"}, "dcgan-dense"), ({"dataset": "ring8"}, "mlp"), ({"conditional": True}, "dcgan"),
    ({"dataset": "mnist", "image_size": 32}, "dcgan"), ({"dataset": "coloured-mnist"}, "dcgan"),
    ({"method": "acgan", "conditional": True}, "dcgan"), ({"model": "classic"}, "classic")])
def test_a_run_that_names_no_model_gets_the_recipes(kw, model):
    assert resolve(TrainConfig(**kw)).model == model


def test_dense_recipe_trains_as_chen_et_al_at_half_width():
    cfg = resolve(TrainConfig())
    assert (cfg.width, cfg.d_width, cfg.batch_size, cfg.lr_g, cfg.lr_d, cfg.steps) == (32, 32, 64, 1e-3, 2e-4, 5000)
    assert (cfg.beta1, cfg.beta2, cfg.z_dim, cfg.ema, cfg.loss) == (0.5, 0.999, 100, 0.999, "nonsaturating")
    for full in ("mnist", "fashion-mnist"):  # the full sets train three times as long
        assert resolve(TrainConfig(dataset=full)).steps == 15000
        assert resolve(TrainConfig(dataset=full, model="dcgan")).steps == 3000


def test_classic_recipe_halves_its_width():
    cfg = resolve(TrainConfig(dataset="mnist5k", model="classic"))
    assert cfg.width == 32 and cfg.d_width == 32 and cfg.depth is None
    assert resolve(TrainConfig(dataset="mnist5k", model="classic", width=64)).d_width == 64


def test_grid25_recipe_is_deeper_and_longer():
    grid, ring = resolve(TrainConfig(dataset="grid25", model="mlp")), resolve(TrainConfig(dataset="ring8", model="mlp"))
    assert (grid.depth, grid.steps) == (3, 16000)
    assert ring.depth is None and ring.steps == 4000  # ring8 keeps the MLP's two hidden layers
    assert (grid.width, grid.lr_g, grid.r1, grid.ema) == (ring.width, ring.lr_g, ring.r1, ring.ema)
    assert resolve(TrainConfig(dataset="grid25", model="mlp", depth=2, steps=5)).depth == 2  # explicit wins


def test_run_config_json_holds_resolved_values(tmp_path):
    out = tmp_path / "run"
    gankit.train(TrainConfig(dataset="ring8", model="mlp", steps=3, width=16, out=str(out), progress=False))
    saved = json.loads((out / "config.json").read_text())
    assert saved["batch_size"] == recipe("ring8", "mlp", "nonsaturating")["batch_size"]
    assert saved["steps"] == 3 and saved["width"] == 16 and saved["d_width"] == 16
    assert all(saved[k] is not None for k in ("lr_g", "lr_d", "beta2", "ema", "r1", "z_dim", "d_steps"))
    assert saved["ema"] == 0.999 and gankit.load(out).uses_ema  # toys sample from the EMA copy too


@pytest.mark.parametrize("bad", [{"ema": 1.0}, {"r1": -1.0}, {"d_width": 0}, {"depth": 0}, {"z_dim": 0}])
def test_bad_recipe_fields_are_refused(bad):
    with pytest.raises(gankit.ConfigError, match=next(iter(bad))):
        TrainConfig(**bad)


def test_mlp_checkpoint_saved_before_depth_existed_loads_with_its_own_depth(tmp_path):
    # grid25's recipe is now 3 hidden layers; a run saved earlier had 2 and no "depth" key in its config
    from gankit import checkpoint as ckpt

    out = tmp_path / "old"
    gankit.train(TrainConfig(dataset="grid25", model="mlp", steps=2, depth=2, width=8, out=str(out), progress=False))
    file = ckpt.latest_checkpoint(out)
    tensors, meta = ckpt.load(file)
    del meta["config"]["depth"]
    ckpt.save(file, tensors, meta)
    G = gankit.load(out)
    assert G.config.depth == 2 and G.sample(5).shape == (5, 2)


def test_mlp_run_saved_before_depth_existed_resumes_with_its_own_depth(tmp_path):
    # resuming must not build the recipe's 3 hidden layers around a 2-layer run's weights
    import json

    from gankit import checkpoint as ckpt
    from gankit.training import resume

    out = tmp_path / "old"
    gankit.train(TrainConfig(dataset="grid25", model="mlp", steps=2, depth=2, width=8, ckpt_every=2,
                             out=str(out), progress=False))
    for _, file in ckpt.list_checkpoints(out):
        tensors, meta = ckpt.load(file)
        del meta["config"]["depth"]
        ckpt.save(file, tensors, meta)
    cfg = json.loads((out / "config.json").read_text())
    del cfg["depth"]
    (out / "config.json").write_text(json.dumps(cfg))
    result = resume(out, steps=4, progress=False)
    assert result.step == 4
    G = gankit.load(out)
    assert G.config.depth == 2 and G.step == 4
