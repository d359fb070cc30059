"""The gradient penalty needs a critic whose output for one input does not depend on the others:
batch norm in D is refused with it; with LN (or no normalisation) the joint pass over [real; fake;
x_hat] gives each sample's own penalty, as separate passes do."""
import pytest
import torch
from typer.testing import CliRunner

from gancli.cli.main import app
from gancli.config import ModelConfig, TrainConfig
from gancli.errors import GancliError
from gancli.losses import interpolates, penalty_of
from gancli.methods import METHODS
from gancli.models import build_network


@pytest.mark.parametrize("options", [
    {"preset": "bn", "loss": "wgan-gp"},
    {"preset": "wgan-gp", "d_norm": "bn"},
    {"preset": "bn", "loss": "hinge", "gp_weight": 5.0},
])
def test_a_penalty_with_a_batch_norm_critic_is_refused(options):
    cfg = TrainConfig.from_options({"dataset": "shapes", **options})
    with pytest.raises(GancliError, match="needs a critic without batch norm"):
        METHODS.get("gan").check_config(cfg)


def test_the_refusal_is_one_line_and_writes_nothing(tmp_path):
    result = CliRunner().invoke(app, ["train", "--preset", "wgan-gp", "--d-norm", "bn", "--steps", "1",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "Gulrajani" in result.output and not (tmp_path / "run").exists()
    # --gp-weight 0 turns the penalty off: BN is then allowed
    cfg = TrainConfig.from_options({"preset": "wgan-gp", "d_norm": "bn", "gp_weight": 0.0})
    METHODS.get("gan").check_config(cfg)


def _penalties(d_norm: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The penalty on x_hat from D's joint pass over [real; fake; x_hat], and from a pass over x_hat alone."""
    torch.manual_seed(0)
    D = build_network(ModelConfig(name="cnn", res=32, ch=8, d_norm=d_norm), "D").double().train()
    real, fake = torch.rand(4, 3, 32, 32, dtype=torch.float64) * 2 - 1, torch.rand(4, 3, 32, 32, dtype=torch.float64) * 2 - 1
    x_hat = interpolates(real, fake, generator=torch.Generator().manual_seed(1))
    joint = penalty_of(D(torch.cat([real, fake, x_hat]))[8:], x_hat)
    alone = penalty_of(D(x_hat), x_hat)
    return joint, alone


@pytest.mark.parametrize("d_norm", ["ln", "none"])
def test_without_batch_statistics_the_joint_pass_gives_each_sample_its_own_penalty(d_norm):
    joint, alone = _penalties(d_norm)
    torch.testing.assert_close(joint, alone, rtol=1e-10, atol=1e-12)


def test_with_batch_norm_the_penalty_would_couple_the_samples():
    joint, alone = _penalties("bn")
    assert (joint - alone).abs() > 1e-3 * alone.abs()  # what the refusal prevents
