"""Named sets of options: the presets (``--preset``), the optimiser settings (``--hparams``), and
which preset a dataset gets by default.
"""
from __future__ import annotations

from typing import Any

from gancli.errors import GancliError


#: Hyperparameter presets (as StyleGAN2-ADA's --cfg): a preset sets these options (train or model
#: fields by their flag names), options given explicitly override it. "sagan" is the dataclass
#: defaults below (Zhang et al. 2019: hinge, Adam(0.0, 0.9), lr_G 1e-4, lr_D 4e-4, n_dis 1,
#: batch 64, ch 64). "quick" is for the built-in shapes data on a laptop CPU: narrow nets with D
#: three times G's multiplier, batch 24, G and D both at 4e-4 (D at 4x G's rate, the TTUR ratio,
#: collapsed this small G), --reuse-fake and a short EMA horizon: a few minutes on 2 cores give
#: class-correct shapes in more of the data's variety (docs/training.md has the trials).
PRESETS: dict[str, dict[str, Any]] = {
    "sagan": {},
    "quick": {"ch": 8, "d_ch": 24, "batch_size": 24, "lr_g": 4e-4, "lr_d": 4e-4, "reuse_fake": True,
              "ema_decay": 0.99, "steps": 1600, "log_every": 25, "sample_every": 320, "ckpt_every": 800},
    # Miyato et al. 2018's CIFAR-10 ResNet setting (their best SN-GAN): the ResNet G/D, hinge, Adam 2e-4,
    # betas (0, 0.9), n_dis 5, lr falling linearly to 0, batch 64
    "sngan-resnet": {"model": "sngan", "d_norm": "sn", "loss": "hinge", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.0,
                     "beta2": 0.9, "n_dis": 5, "lr_decay": 1.0, "batch_size": 64, "ema": False},
    # Brock et al. 2019: Adam (0, 0.999), lr_G 1e-4, lr_D 4e-4, n_dis 2, G-EMA 0.9999 from step 20000,
    # orthogonal regularisation 1e-4, hinge
    "biggan": {"model": "biggan", "loss": "hinge", "lr_g": 1e-4, "lr_d": 4e-4, "beta1": 0.0, "beta2": 0.999,
               "n_dis": 2, "ema_decay": 0.9999, "ema_start": 20000, "ortho_reg": 1e-4},
    # The rows of the SNGAN reproducibility report (shared/seeds/002), on one footing: the paper's
    # standard CNN (Miyato et al. 2018, Table 3) for the four gan rows, the report's first optimiser
    # setting report-A (lr 1e-3, betas (0.5, 0.9), one D step, constant lr), batch 64, no EMA; the
    # standard (non-saturating) loss, as the report's code trains its SNGAN, BN and LN rows and as
    # Miyato et al. compare the normalisations; so the rows differ in the normalisation or the loss
    "sngan": {"model": "cnn", "d_norm": "sn", "loss": "ns", "hparams": "report-A", "batch_size": 64, "ema": False},
    # WGAN-GP keeps Gulrajani et al.'s n_critic 5 under every setting (PRESET_PINS), as the report's code does
    "wgan-gp": {"model": "cnn", "d_norm": "none", "loss": "wgan-gp", "n_dis": 5, "hparams": "report-A",
                "batch_size": 64, "ema": False},
    "bn": {"model": "cnn", "d_norm": "bn", "loss": "ns", "hparams": "report-A", "batch_size": 64, "ema": False},
    "ln": {"model": "cnn", "d_norm": "ln", "loss": "ns", "hparams": "report-A", "batch_size": 64, "ema": False},
    "began": {"method": "began", "model": "began", "z_dim": 64, "ch": 32, "batch_size": 16, "gamma": 0.5,
              "lambda_k": 0.001, "hparams": "report-A", "ema": False},
    "ebgan": {"method": "ebgan", "model": "began", "z_dim": 64, "ch": 32, "batch_size": 64, "margin": 1.0,
              "pt_weight": 0.1, "hparams": "report-A", "ema": False},
    # Zhu et al. 2017 as junyanz/pytorch-CycleGAN-and-pix2pix trains it: LSGAN, Adam 2e-4 (0.5, 0.999),
    # batch 1, lambda_cyc 10, identity 0.5, pools of 50; 100 epochs constant + 100 decaying to 0
    # (on ~1000 images: 200,000 iterations, the second half decaying); no EMA
    "cyclegan": {"method": "cyclegan", "model": "cyclegan", "loss": "ls", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5,
                 "beta2": 0.999, "batch_size": 1, "steps": 200_000, "lr_decay": 0.5, "ema": False,
                 "log_every": 100, "sample_every": 5000, "ckpt_every": 10_000},
    # the default on the built-in shapes-pair: the paper's recipe with narrower nets (ch 16) and batch 4,
    # so that the translations are right within ~5 CPU minutes (docs/cyclegan.md)
    "cyclegan-quick": {"method": "cyclegan", "model": "cyclegan", "loss": "ls", "ch": 16, "lr_g": 2e-4,
                       "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999, "batch_size": 4, "steps": 1800,
                       "lr_decay": 0.5, "ema": False, "log_every": 25, "sample_every": 300, "ckpt_every": 900},
}

#: Named optimiser settings: each sets the learning rate (both G and D), Adam's betas, n_dis and the
#: lr decay, so a setting replaces a preset's optimiser whole. A-F are Table 1 of Miyato et al. 2018
#: (constant lr: the table names no schedule); report-A..C are the three the SNGAN reproducibility
#: report prints (ten times A-C's learning rate), with what the report's code trains under each:
#: one D step per G step and a constant lr. Explicit options win.
HPARAMS: dict[str, dict[str, Any]] = {
    "A": {"lr": 1e-4, "beta1": 0.5, "beta2": 0.9, "n_dis": 5, "lr_decay": 0.0},
    "B": {"lr": 1e-4, "beta1": 0.5, "beta2": 0.999, "n_dis": 1, "lr_decay": 0.0},
    "C": {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "n_dis": 1, "lr_decay": 0.0},
    "D": {"lr": 1e-3, "beta1": 0.5, "beta2": 0.9, "n_dis": 5, "lr_decay": 0.0},
    "E": {"lr": 1e-3, "beta1": 0.5, "beta2": 0.999, "n_dis": 5, "lr_decay": 0.0},
    "F": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "n_dis": 5, "lr_decay": 0.0},
    "report-A": {"lr": 1e-3, "beta1": 0.5, "beta2": 0.9, "n_dis": 1, "lr_decay": 0.0},
    "report-B": {"lr": 1e-3, "beta1": 0.5, "beta2": 0.999, "n_dis": 1, "lr_decay": 0.0},
    "report-C": {"lr": 2e-3, "beta1": 0.5, "beta2": 0.999, "n_dis": 1, "lr_decay": 0.0},
}

#: Options a preset keeps whatever ``--hparams`` says, because they belong to the system it trains,
#: not to the optimiser setting: WGAN-GP's n_critic 5 (Gulrajani et al. 2017; the report's code keeps
#: it under each of its settings). An explicit option still wins.
PRESET_PINS: dict[str, tuple[str, ...]] = {"wgan-gp": ("n_dis",)}


def hparams_options(name: str) -> dict[str, Any]:
    """The train options a named setting sets (lr goes to both lr_g and lr_d)."""
    if name not in HPARAMS:
        raise GancliError(f"unknown hparams '{name}'; choose one of: {', '.join(HPARAMS)}")
    setting = dict(HPARAMS[name])
    lr = setting.pop("lr")
    return {"lr_g": lr, "lr_d": lr, **setting}

#: two-domain datasets (gancli.data.PAIR_DATASETS): they train CycleGAN unless told otherwise
PAIR_DATASET_NAMES = ("pair", "shapes-pair")


def dataset_seed(train_config: dict[str, Any]) -> int:
    """The data seed of a saved train config (``data_seed``, else ``seed``; configs from before
    --data-seed have only ``seed``)."""
    value = train_config.get("data_seed")
    return int(train_config.get("seed", 0) if value is None else value)


def auto_preset(dataset: str) -> str:
    """The preset ``--preset auto`` picks: the data chooses (two-domain data trains CycleGAN)."""
    if dataset in PAIR_DATASET_NAMES:
        return "cyclegan-quick" if dataset == "shapes-pair" else "cyclegan"
    return "quick" if dataset == "shapes" else "sagan"
