"""The theory lab (items 1-4 and the report): every claim on the --quick budget, checked against independent
computations (scipy quadrature, closed forms) where a number has one; the CLI contract; the self-contained report."""

from __future__ import annotations

import html
import json
import math
import re

import pytest
import torch
from PIL import Image
from scipy import integrate as sci_integrate
from scipy import stats

from helpers import BarLog, gk

from gankit import progress
from gankit.theory import run_experiment
from gankit.theory.densities import (gan_value, grid, jsd, kde_1d, normal_logpdf, normal_pdf, optimal_d,
                                     optimal_d_logit)
from gankit.theory.report import available_experiments, load_records, write_report
from gankit.theory.toy1d import Toy1D, Toy1DConfig

MINE = ("one-d", "optimal-d", "saturation", "lsgan")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Run this file's four experiments once on the quick budget (seed 0); the tests read the records."""
    out = tmp_path_factory.mktemp("lab")
    records = {}
    with pytest.MonkeyPatch.context() as mp:  # and record each experiment's progress bar
        for name in MINE:
            BARS[name] = BarLog()
            mp.setattr(progress, "bar", BARS[name])
            records[name] = run_experiment(name, out, quick=True, seed=0)
    return out, records


BARS: dict[str, BarLog] = {}


@pytest.mark.parametrize("name", MINE)
def test_one_experiment_draws_its_own_bar_to_the_end(lab, name):
    """`gankit explain NAME`, not only --all, shows a bar with the time left: the experiment announces its whole
    work as the bar's total and advances it to exactly that total."""
    assert BARS[name].one_full_bar(f"explain {name}"), BARS[name].bars


def _load(out, name):
    return json.loads((out / f"{name}.json").read_text())


# --------------------------------------------------------------------------------- shared helpers
def test_grid_integrals_against_closed_forms():
    x = grid(-12, 12, 24001)
    p, q = normal_pdf(x, 0, 1), normal_pdf(x, 1, 0.5)
    assert jsd(p, p, x) == pytest.approx(0.0, abs=1e-12)
    far = normal_pdf(x, 8, 0.5)  # practically disjoint from p: JSD -> log 2
    assert jsd(normal_pdf(x, -8, 0.5), far, x) == pytest.approx(math.log(2), abs=1e-9)
    half = torch.zeros_like(x)  # D = 1/2 everywhere (logit 0): V = -log 4 for any p, q
    assert gan_value(half, p, q, x) == pytest.approx(-math.log(4), abs=1e-9)
    assert torch.allclose(torch.sigmoid(optimal_d_logit(normal_logpdf(x, 0, 1), normal_logpdf(x, 1, 0.5))),
                          optimal_d(p, q), atol=1e-12)


def test_kde_recovers_a_normal_and_stays_finite_when_collapsed():
    x = grid(-5, 5, 1001)
    s = torch.randn(20000, generator=torch.Generator().manual_seed(0))
    k = kde_1d(s, x)
    assert (k - normal_pdf(x, 0, 1)).abs().max() < 0.03
    assert float(torch.trapezoid(k, x)) == pytest.approx(1.0, abs=1e-3)
    point = kde_1d(torch.zeros(50), x)
    assert torch.isfinite(point).all() and float(torch.trapezoid(point, x)) == pytest.approx(1.0, abs=1e-3)


def test_toy_gan_is_a_function_of_its_seed():
    def train(seed):
        gan = Toy1D(Toy1DConfig(seed=seed, z_dim=2))
        for _ in range(5):
            gan.d_step()
            gan.g_step()
        return torch.cat([p.detach().flatten() for p in list(gan.G.parameters()) + list(gan.D.parameters())])

    state = torch.random.get_rng_state()
    assert torch.equal(train(3), train(3))
    assert not torch.equal(train(3), train(4))
    assert torch.equal(state, torch.random.get_rng_state())  # the caller's RNG is untouched


# --------------------------------------------------------------------------------- the experiments' claims
@pytest.mark.parametrize("name", MINE)
def test_claims_hold_on_the_quick_budget(lab, name):
    out, records = lab
    record = _load(out, name)
    assert record == json.loads(json.dumps(records[name]))  # what was returned is what was written
    assert record["name"] == name and record["quick"] is True and record["seed"] == 0
    assert record["summary"] and record["claims"]
    failed = [c["claim"] for c in record["claims"] if not c["holds"]]
    assert not failed, failed
    for fig in record["figures"]:
        with Image.open(out / fig) as im:
            assert im.size[0] > 200 and im.size[1] > 100
            if fig.endswith(".gif"):
                assert im.n_frames > 2


def test_one_d_numbers(lab):
    r = _load(lab[0], "one-d")
    h = r["history"]
    assert h["step"][0] == 0 and h["step"][-1] == r["steps"]
    assert h["jsd"][0] > 0.6  # G starts almost disjoint from the data: JS near log 2
    assert r["jsd_final"] < 0.1 * r["jsd_initial"]
    assert r["minus_log4"] == pytest.approx(-math.log(4), abs=1e-5)
    assert abs(r["value_final"] + math.log(4)) < 0.01 and r["d_mean_abs_dev_final"] < 0.05


def test_optimal_d_contract_and_values_against_scipy(lab):
    r = _load(lab[0], "optimal-d")
    for key in ("max_abs_gap", "value", "value_formula"):
        assert isinstance(r[key], float)
    assert abs(r["value"] - r["value_formula"]) < 1e-4
    assert r["max_abs_gap"] < 0.05
    # independent: adaptive quadrature of V(D*, G) and of the JSD, through scipy's densities
    pd, pg = stats.norm(0, 1).pdf, stats.norm(1, 0.5).pdf

    def v_integrand(t):
        a, b = pd(t), pg(t)
        return (a * math.log(a / (a + b)) if a > 0 else 0.0) + (b * math.log(b / (a + b)) if b > 0 else 0.0)

    v_star = sci_integrate.quad(v_integrand, -12, 12, points=[0, 1], limit=200)[0]
    assert r["value"] == pytest.approx(v_star, abs=1e-6)
    assert r["jsd"] == pytest.approx((v_star + math.log(4)) / 2, abs=1e-6)
    # D's trained value cannot beat D*, and its Monte Carlo estimate agrees with the integral
    assert r["value_trained"] <= r["value"] + 1e-9
    assert r["value_trained_mc"] == pytest.approx(r["value_trained"], abs=0.01)
    lo, hi = r["support"]
    assert lo < -2 and hi > 2  # the support spans both densities' bulk


def test_saturation_gradients_match_closed_forms():
    from gankit.theory.saturation import gradient_curves

    s = torch.tensor([1e-4, 0.1, 0.5, 0.9], dtype=torch.float64)
    c = gradient_curves(s)
    assert torch.allclose(c["minimax_grad"], s, atol=1e-12)  # |d/dl log(1 - sigmoid(l))| = sigmoid(l)
    assert torch.allclose(c["nonsaturating_grad"], 1 - s, atol=1e-12)
    assert torch.allclose(c["minimax_loss"], torch.log1p(-s), atol=1e-12)
    assert torch.allclose(c["nonsaturating_loss"], -torch.log(s), atol=1e-12)


def test_saturation_numbers(lab):
    r = _load(lab[0], "saturation")
    assert r["d_fake_start"] < 0.01  # D was pre-trained to reject confidently
    assert r["first_grad_norm"]["minimax"] * 100 < r["first_grad_norm"]["nonsaturating"]
    assert r["jsd_final"]["minimax"] > 0.9 * r["jsd_start"] > 10 * r["jsd_final"]["nonsaturating"]
    # minimax under SGD stays stuck as D keeps winning
    assert r["d_fake_final"]["minimax"] < r["d_fake_start"]


def test_lsgan_pearson_identity_against_scipy(lab):
    r = _load(lab[0], "lsgan")
    first = r["pearson_identity"][0]
    assert first["p_data"] == [0.0, 1.0] and first["p_g"] == [1.0, 0.5]
    pd, pg = stats.norm(0, 1).pdf, stats.norm(1, 0.5).pdf
    half_chi2 = 0.5 * sci_integrate.quad(lambda t: (pg(t) - pd(t)) ** 2 / (pd(t) + pg(t)) if pd(t) + pg(t) > 0
                                         else 0.0, -12, 12, points=[0, 1], limit=200)[0]
    assert first["half_pearson_chi2"] == pytest.approx(half_chi2, abs=1e-7)
    assert first["g_objective_at_dstar"] == pytest.approx(half_chi2, abs=1e-7)
    # the 0-1-1 coding's objective at D* is (1/2) integral of p_g^2 / (p_data + p_g), which differs
    binary = 0.5 * sci_integrate.quad(lambda t: pg(t) ** 2 / (pd(t) + pg(t)) if pd(t) + pg(t) > 0 else 0.0,
                                      -12, 12, points=[0, 1], limit=200)[0]
    assert first["binary_coding_value"] == pytest.approx(binary, abs=1e-7)
    assert abs(binary - half_chi2) > 0.01


def test_lsgan_optimal_d_minimises_the_least_squares_loss():
    from gankit.theory.lsgan import lsgan_optimal_d

    p, q = torch.tensor([0.3, 0.05, 1e-3]), torch.tensor([0.1, 0.4, 2.0])
    a, b = -1.0, 1.0
    d = lsgan_optimal_d(p, q, a, b)

    def loss(v):
        return 0.5 * p * (v - b) ** 2 + 0.5 * q * (v - a) ** 2

    for eps in (1e-3, -1e-3):
        assert (loss(d + eps) > loss(d)).all()


def test_lsgan_stranded_fakes(lab):
    per = _load(lab[0], "lsgan")["per_objective"]
    ce = per["cross-entropy"]
    assert ce["d_value_mean"] > 0.99  # D calls them real
    assert ce["grad_norm_max"] < 1e-3 < 0.1 < per["lsgan-pearson"]["grad_norm_min"]
    assert per["lsgan-binary"]["grad_norm_min"] > 0.1
    # least squares pulls them toward the data; cross-entropy leaves them where they are
    for key in ("lsgan-pearson", "lsgan-binary"):
        assert per[key]["dist_to_data_after"] < per[key]["dist_to_data_before"] - 0.5
    assert ce["dist_to_data_after"] == pytest.approx(ce["dist_to_data_before"], abs=1e-3)


# --------------------------------------------------------------------------------- determinism
def test_same_seed_same_numbers_and_other_seed_differs(tmp_path, lab):
    again = run_experiment("lsgan", tmp_path / "a", quick=True, seed=0)
    other = run_experiment("lsgan", tmp_path / "b", quick=True, seed=1)
    first = lab[1]["lsgan"]
    strip = lambda r: {k: v for k, v in r.items() if k != "elapsed_s"}  # noqa: E731
    assert strip(again) == strip(first)
    assert other["per_objective"] != first["per_objective"]


# --------------------------------------------------------------------------------- report and CLI
def test_report_is_self_contained_and_in_registry_order(lab, tmp_path):
    out, records = lab
    path = write_report(out)
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"(src|href)\s*=\s*['\"](https?:|//)", text)  # nothing fetched from a network
    assert "<link" not in text and "<script" not in text
    srcs = re.findall(r"<img src='([^']*)'", text)
    n_figs = sum(len(r["figures"]) for r in records.values())
    assert len(srcs) == n_figs and all(s.startswith("data:image/") for s in srcs)
    assert sum(s.startswith("data:image/gif;base64,") for s in srcs) == 1
    positions = [text.index(f"id='{name}'") for name in MINE]
    assert positions == sorted(positions)
    for r in records.values():
        for c in r["claims"]:
            assert html.escape(c["claim"], quote=True) in text
    assert len(load_records(out)) >= len(MINE)
    # only the experiments that were run appear
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "lsgan.json").write_text(json.dumps(records["lsgan"]))
    for fig in records["lsgan"]["figures"]:
        (tmp_path / "only" / fig).write_bytes((out / fig).read_bytes())
    only = write_report(tmp_path / "only").read_text(encoding="utf-8")
    assert "id='lsgan'" in only and "id='one-d'" not in only


def test_cli_explain_writes_name_json(tmp_path, capsys):
    from gankit.cli import main  # in-process: the same parser and verb as the console script, without a new torch

    assert main(["explain", "lsgan", "--quick", "--seed", "2", "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "lsgan.json").read_text())
    assert record["seed"] == 2 and record["quick"] is True
    assert "lsgan: 5/5 claims hold" in capsys.readouterr().out
    for fig in record["figures"]:
        assert (tmp_path / fig).is_file()


def test_cli_explain_errors(tmp_path, capsys):
    from gankit.cli import main

    assert main(["explain", "--out", str(tmp_path)]) == 2
    assert "NAME" in capsys.readouterr().err
    assert main(["explain", "lsgan", "--all", "--out", str(tmp_path)]) == 2
    assert "not both" in capsys.readouterr().err
    for argv, message in ((["explain", "no-such", "--out", str(tmp_path)], "invalid choice"),
                          (["explain", "lsgan"], "--out")):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2 and message in capsys.readouterr().err


def test_available_experiments_lists_mine_in_order():
    names = available_experiments()
    assert [n for n in names if n in MINE] == list(MINE)


@pytest.mark.slow
def test_cli_explain_all_writes_the_report(tmp_path):
    r = gk("explain", "--all", "--quick", "--out", tmp_path)
    assert (tmp_path / "report.html").is_file()
    for name in available_experiments():
        assert (tmp_path / f"{name}.json").is_file()
        assert f"gankit: {name}:" in r.stdout


@pytest.mark.slow
@pytest.mark.parametrize("name", MINE)
def test_claims_hold_on_the_full_budget(tmp_path, name):
    record = run_experiment(name, tmp_path, quick=False, seed=0)
    failed = [c["claim"] for c in record["claims"] if not c["holds"]]
    assert not failed, failed
