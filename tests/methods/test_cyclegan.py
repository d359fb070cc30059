"""--method cyclegan: the model entry, one iteration against hand-assembled losses, the data and
option checks, tiny real runs (logs, grids, the collapse ratio) and a bit-exact resume."""
import copy
import json

import pytest
import torch
import torch.nn.functional as F

from gancli.checkpoint import load_checkpoint
from gancli.config import ModelConfig, TrainConfig
from gancli.errors import GancliError
from gancli.methods import METHODS
from gancli.methods.base import TrainContext
from gancli.models import build_network, count_parameters, resolve_model
from gancli.training import load_resume, resume_config, train
from tests.methods.conftest import assert_same

STATS = ("d_a", "d_b", "g_a", "g_b", "cycle_a", "cycle_b", "idt_a", "idt_b")


def cycle_cfg(tmp_path, name="run", **options):
    """A 4-step CycleGAN on 24 shapes-pair scenes per domain at 32 px: ch 4, one residual block."""
    return TrainConfig.from_options({"dataset": "shapes-pair", "res": 32, "steps": 4, "data_size": 24, "batch_size": 2,
                                     "ch": 4, "g_blocks": 1, "pool_size": 3, "device": "cpu", "log_every": 2,
                                     "sample_every": 2, "ckpt_every": 100, "out": str(tmp_path / name), **options})


# ---------------------------------------------------------------------------------------------- model
def test_cyclegan_model_has_the_papers_networks_and_defaults():
    cfg = resolve_model(ModelConfig(name="cyclegan", res=256))
    assert (cfg.g_blocks, cfg.d_norm, cfg.init, cfg.ch, cfg.d_ch) == (9, "instance", "normal", 64, 64)
    assert count_parameters(build_network(cfg, "G")) == 11_378_179  # ResNet-9, ngf 64
    assert count_parameters(build_network(cfg, "D")) == 2_764_737  # 70x70 PatchGAN, ndf 64
    assert resolve_model(ModelConfig(name="cyclegan", res=128)).g_blocks == 6
    small = resolve_model(ModelConfig(name="cyclegan", res=64, ch=8))
    G, D = build_network(small, "G"), build_network(small, "D")
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    assert G(x).shape == x.shape and D(x).shape == (2, 1, 6, 6)


def test_sn_patch_d_is_spectrally_normalised_once_and_g_blocks_belongs_to_cyclegan():
    from gancli.layers import sn_layers

    D = build_network(ModelConfig(name="cyclegan", res=32, ch=8, d_norm="sn"), "D")
    assert len(sn_layers(D)) == 5  # every conv, each wrapped once
    assert not any(isinstance(m, torch.nn.InstanceNorm2d) for m in D.modules())
    with pytest.raises(GancliError, match="--g-blocks is an option of cyclegan, not of sagan"):
        resolve_model(ModelConfig(name="sagan", g_blocks=3))
    with pytest.raises(GancliError, match="supports --d-norm instance, bn, sn, none, not 'ln'"):
        resolve_model(ModelConfig(name="cyclegan", d_norm="ln"))


# ---------------------------------------------------------------------------------------------- one iteration
def _method(cfg, a, b):
    model_cfg = resolve_model(ModelConfig(**{**cfg.model.to_dict(), "channels": 3}))
    batches = {"A": a, "B": b}
    ctx = TrainContext(cfg=cfg, model_cfg=model_cfg, device=torch.device("cpu"), distributed=False,
                       next_batch=lambda domain: (batches[domain], None), fake_labels=lambda n: None,
                       place=lambda net: net)
    return METHODS.get("cyclegan")(ctx)


@pytest.mark.parametrize("loss", ["ls", "hinge"])
def test_one_iteration_reports_the_loss_terms_as_assembled_by_hand(tmp_path, loss):
    cfg = cycle_cfg(tmp_path, loss=loss, lambda_cyc=7.0, lambda_id=0.3)
    g = torch.Generator().manual_seed(3)
    a, b = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    method = _method(cfg, a, b)
    nets = {name: copy.deepcopy(net) for name, net in method.nets.items()}  # the weights before the step
    stats = method.train_step()

    adv_g = (lambda d: ((d - 1) ** 2).mean()) if loss == "ls" else (lambda d: -d.mean())
    adv_real = (lambda d: ((d - 1) ** 2).mean()) if loss == "ls" else (lambda d: F.relu(1 - d).mean())
    adv_fake = (lambda d: (d ** 2).mean()) if loss == "ls" else (lambda d: F.relu(1 + d).mean())
    with torch.no_grad():
        fake_b, fake_a = nets["G_AB"](a), nets["G_BA"](b)
        expected = {
            "g_a": adv_g(nets["D_B"](fake_b)), "g_b": adv_g(nets["D_A"](fake_a)),
            "cycle_a": 7.0 * (nets["G_BA"](fake_b) - a).abs().mean(),
            "cycle_b": 7.0 * (nets["G_AB"](fake_a) - b).abs().mean(),
            "idt_a": 7.0 * 0.3 * (nets["G_AB"](b) - b).abs().mean(),
            "idt_b": 7.0 * 0.3 * (nets["G_BA"](a) - a).abs().mean(),
            # the pools are still filling: D sees this step's fakes; D's loss is halved
            "d_a": 0.5 * (adv_real(nets["D_A"](a)) + adv_fake(nets["D_A"](fake_a))),
            "d_b": 0.5 * (adv_real(nets["D_B"](b)) + adv_fake(nets["D_B"](fake_b))),
        }
    assert set(stats) == set(STATS)
    for key, value in expected.items():
        torch.testing.assert_close(stats[key], value, rtol=1e-4, atol=1e-5, msg=key)
    for name, net in method.nets.items():  # one Adam step moved every network
        assert any(not torch.equal(p, q) for p, q in zip(net.parameters(), nets[name].parameters())), name
    assert len(method.pools["A"]) == len(method.pools["B"]) == 2


def test_lambda_id_zero_skips_the_identity_terms(tmp_path):
    a = b = torch.rand(1, 3, 32, 32) * 2 - 1
    stats = _method(cycle_cfg(tmp_path, lambda_id=0.0), a, b).train_step()
    assert float(stats["idt_a"]) == float(stats["idt_b"]) == 0.0 and float(stats["cycle_a"]) > 0


@pytest.mark.parametrize("options, match", [
    ({"loss": "wgan-gp"}, "takes --loss ls, hinge, ns"),
    ({"n_dis": 2}, "--n-dis must be 1"),
    ({"model": "sagan"}, "needs --model cyclegan"),
    ({"reuse_fake": True}, "--reuse-fake is an option of --method gan"),
    ({"eval_every": 2}, "a CycleGAN run is scored after training with gancli eval RUN"),
    ({"narrow_b": True, "dataset": "pair"}, None),
])
def test_bad_options_are_one_clear_error(tmp_path, options, match):
    if match is None:  # --narrow-b on folder pairs: refused when the data is built
        cfg = cycle_cfg(tmp_path, **options, data_root=str(tmp_path))
        with pytest.raises(GancliError, match="--narrow-b narrows the built-in shapes-pair"):
            train(cfg, show_progress=False)
        return
    with pytest.raises(GancliError, match=match):
        train(cycle_cfg(tmp_path, **options), show_progress=False)
    assert not (tmp_path / "run").exists()


def test_the_data_chooses_the_method_and_mismatches_are_refused(tmp_path):
    assert TrainConfig.from_options({"dataset": "shapes-pair"}).preset == "cyclegan-quick"
    assert TrainConfig.from_options({"dataset": "pair"}).method == "cyclegan"
    assert TrainConfig.from_options({"dataset": "pair"}).batch_size == 1
    with pytest.raises(GancliError, match="shapes-pair is two-domain data, for translation: train it with --method cyclegan"):
        train(cycle_cfg(tmp_path, preset="quick", model="sagan", method="gan", loss="hinge", g_blocks=None),
              show_progress=False)
    with pytest.raises(GancliError, match="--method cyclegan translates between two domains"):
        train(cycle_cfg(tmp_path, dataset="shapes", preset="cyclegan-quick"), show_progress=False)


def test_pair_dataset_names_in_config_match_the_registry():
    from gancli.config import PAIR_DATASET_NAMES
    from gancli.data import PAIR_DATASETS

    assert tuple(PAIR_DATASETS.names()) == PAIR_DATASET_NAMES


# ---------------------------------------------------------------------------------------------- tiny runs
def test_tiny_run_logs_the_eight_losses_draws_triplet_grids_and_saves_four_networks(tmp_path):
    from PIL import Image

    result = train(cycle_cfg(tmp_path), show_progress=False)
    run = tmp_path / "run"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    for r in records:
        assert all(isinstance(r[k], float) and r[k] >= 0 for k in STATS)
        assert 0 <= r["collapse_ab"] and 0 <= r["collapse_ba"]
        assert r["lr_g"] == pytest.approx(2e-4) or r["step"] > 2  # constant, then the linear decay
    # 8 test images per domain, 6 columns (a, G_AB(a), G_BA(G_AB(a)), b, G_BA(b), G_AB(G_BA(b))), 2x scale
    grid = Image.open(result.last_grid)
    assert grid.size == (2 * (6 * 34 + 2), 2 * (8 * 34 + 2))
    assert not (run / "samples" / "real.png").exists()  # the grid shows its real inputs
    state = load_checkpoint(result.last_checkpoint)
    assert state["method"] == "cyclegan" and sorted(state["networks"]) == ["D_A", "D_B", "G_AB", "G_BA"]
    assert sorted(state["optimizers"]) == ["d", "g"] and state["ema"] == {}
    assert state["method_state"]["pool_a"]["count"] == 3  # full: 4 steps x 2 images into a pool of 3
    assert set(state["data_position"]) == {"A", "B"}
    assert state["dataset"]["domains"]["A"]["size"] == 24 and state["train_config"]["model"]["g_blocks"] == 1


def test_resume_is_bit_exact_with_the_image_pools(tmp_path):
    straight = train(cycle_cfg(tmp_path, "straight", steps=6, ckpt_every=100), show_progress=False)
    train(cycle_cfg(tmp_path, "split", steps=3, ckpt_every=100), show_progress=False)
    state, run_dir = load_resume(str(tmp_path / "split"))
    assert state["method_state"]["pool_b"]["count"] == 3
    resumed = train(resume_config(state, {"steps": 6}), show_progress=False, resume_state=state, resume_dir=run_dir)
    a, b = load_checkpoint(straight.last_checkpoint), load_checkpoint(resumed.last_checkpoint)
    for part in ("networks", "optimizers", "method_state", "data_position", "rng"):
        assert_same(a[part], b[part], part)
    straight_log = [json.loads(l) for l in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()]
    split_log = [json.loads(l) for l in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    for x, y in zip(straight_log[-1:], split_log[-1:]):  # the same losses at step 6
        assert x["step"] == y["step"] == 6 and all(x[k] == y[k] for k in STATS)


def test_pool_draws_depend_on_the_seed_only(tmp_path):
    one = train(cycle_cfg(tmp_path, "one", steps=2), show_progress=False)
    two = train(cycle_cfg(tmp_path, "two", steps=2), show_progress=False)
    assert_same(load_checkpoint(one.last_checkpoint)["method_state"], load_checkpoint(two.last_checkpoint)["method_state"])


class _Constant(torch.nn.Module):
    """A "translator" whose output is the same image whatever the input: total collapse."""

    def forward(self, x):
        return torch.zeros_like(x) + torch.linspace(-1, 1, x.shape[-1])


def test_collapse_alarm_fires_once_armed_and_is_saved_with_the_method(tmp_path):
    from gancli.methods.cyclegan import TranslationLayout

    method = _method(cycle_cfg(tmp_path, steps=100), torch.zeros(1), torch.zeros(1))
    squares = torch.full((9, 3, 32, 32), -1.0)
    for i, (x, y) in enumerate([(x, y) for x in (0, 12, 24) for y in (0, 12, 24)]):
        squares[i, :, y: y + 8, x: x + 8] = 1.0
    layout = TranslationLayout(a=squares, b=squares.flip(1))
    identity = {"G_AB": torch.nn.Identity(), "G_BA": torch.nn.Identity()}
    collapsed = {"G_AB": _Constant(), "G_BA": torch.nn.Identity()}
    ratios, alarm = method.watch(collapsed, layout, step=5)  # early: a new G draws nothing yet
    assert ratios["collapse_ab"] < 0.5 and ratios["collapse_ba"] == pytest.approx(1.0) and alarm is None
    assert not method.alarm_armed
    ratios, alarm = method.watch(identity, layout, step=10)  # both directions draw layouts: armed
    assert ratios == {"collapse_ab": pytest.approx(1.0), "collapse_ba": pytest.approx(1.0)} and alarm is None
    _, alarm = method.watch(collapsed, layout, step=15)
    assert alarm.startswith("collapse at step 15: translations share one pose (ratio A->B 0.00 < 0.5")
    resumed = _method(cycle_cfg(tmp_path, steps=100), torch.zeros(1), torch.zeros(1))
    resumed.load_state_dict(method.state_dict())
    assert resumed.watch(collapsed, layout, step=20)[1] is not None
    fresh = _method(cycle_cfg(tmp_path, steps=100), torch.zeros(1), torch.zeros(1))
    assert fresh.watch(collapsed, layout, step=25)[1] is not None  # armed at 25% of the steps regardless
