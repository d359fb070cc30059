"""The registries are the one source of what gancli offers: what each entry declares (a metric's
plot traits, a dataset's traits, a model's options, a block's residual sum) is what the rest of the
package uses, and every help text that lists a registry's choices lists all of them. Parametrised
over the registries' own names, so a new entry is checked without editing this file."""
from __future__ import annotations

import re
import typing

import pytest
import torch
import typer

from gancli.cli.app import registry_names
from gancli.cli.main import COMMANDS
from gancli.config import OWNED_OPTIONS, PRESETS, ModelConfig, auto_preset
from gancli.data import DATASETS, PAIR_DATASETS, traits_of
from gancli.errors import GancliError
from gancli.inspect.spectral_audit import not_covered
from gancli.losses import LOSSES, get_loss
from gancli.methods import METHODS
from gancli.metrics.extractors import EXTRACTORS, default_extractor
from gancli.metrics.registry import METRICS, curve_traits
from gancli.models import MODELS, build_network, resolve_model


def _registry_options():
    """(command, option, registry) for every option whose completion offers a registry's names."""
    for command in COMMANDS:
        for name, hint in typing.get_type_hints(command, include_extras=True).items():
            if typing.get_origin(hint) is not typing.Annotated:
                continue
            info = next((m for m in typing.get_args(hint)[1:]
                         if isinstance(m, (typer.models.OptionInfo, typer.models.ArgumentInfo))), None)
            registry = getattr(getattr(info, "autocompletion", None), "registry", None)
            if registry is not None:
                yield pytest.param(info.help, registry, id=f"{command.command_name}-{name}")


@pytest.mark.parametrize("help_text, registry", list(_registry_options()))
def test_a_help_that_lists_choices_lists_every_entry(help_text, registry):
    """--help cannot read the registries (they import torch; help stays under a second without it),
    so the lists are written in the help texts and checked here against the registries."""
    missing = [name for name in registry_names(registry)
               if not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", help_text)]
    assert not missing, f"{registry}: the help does not name {missing}: {help_text!r}"


def test_every_registry_is_offered_somewhere():
    offered = {values[1] for values in (p.values for p in _registry_options())}
    assert {"datasets", "models", "methods", "losses", "presets", "metrics", "extractors", "hparams", "loggers",
            "formats"} == offered


@pytest.mark.parametrize("name", METRICS.names())
def test_a_metrics_plot_traits_are_its_own_keys(name):
    metric = METRICS.get(name)
    keys = set(metric.keys)
    assert {key for key, _ in metric.series} <= keys and set(metric.log_scale) <= keys
    assert {key for key, _ in metric.bounds} <= keys
    traits = curve_traits()
    for key, _ in metric.series:
        assert (key in traits.reference_free) is (not metric.needs_reference)


def test_curve_traits_come_from_the_metrics():
    traits = curve_traits()
    assert traits.log_scale == {"fid", "kid_mean"}
    assert traits.bounds == {"precision": (0.0, 1.0), "recall": (0.0, 1.0), "class_accuracy": (0.0, 100.0)}
    assert traits.reference_free == {"is_mean", "class_accuracy"} and traits.percent == {"class_accuracy"}


@pytest.mark.parametrize("name", DATASETS.names() + PAIR_DATASETS.names())
def test_a_datasets_traits_name_things_that_exist(name):
    traits = traits_of(name)
    assert traits.default_extractor in EXTRACTORS and default_extractor(name) == traits.default_extractor
    assert auto_preset(name) in PRESETS
    if traits.shapes_scenes:  # what reads its factors and classes is there
        assert EXTRACTORS[traits.default_extractor].classifies_shapes


def test_dataset_traits_say_what_name_tests_said():
    assert [n for n in DATASETS.names() + PAIR_DATASETS.names() if traits_of(n).generated] == ["shapes", "shapes-pair"]
    assert [n for n in DATASETS.names() if not traits_of(n).class_labels] == ["celeba"]
    assert traits_of(None) == traits_of("no-such-data") == traits_of("folder")


@pytest.mark.parametrize("owner", list(OWNED_OPTIONS))
def test_owned_options_belong_to_a_registered_method_or_dataset(owner):
    assert owner in METHODS or owner in DATASETS or owner in PAIR_DATASETS


@pytest.mark.parametrize("name", LOSSES.names())
def test_every_loss_builds_and_gives_finite_values(name):
    loss = get_loss(name)
    real, fake = torch.tensor([0.5, -1.0]), torch.tensor([-0.3, 2.0])
    assert torch.isfinite(loss.d_loss(real, fake)) and torch.isfinite(loss.g_loss(fake))


@pytest.mark.parametrize("name", MODELS.names())
def test_a_models_own_options_are_refused_elsewhere(name):
    spec = MODELS.get(name)
    res = 32 if 32 in spec.resolutions else spec.resolutions[0]
    given = {"g_blocks": 2, "mbstd": 2}
    for option, value in given.items():
        cfg = ModelConfig(name=name, res=res, ch=4, **{option: value})
        if option in spec.options:
            assert getattr(resolve_model(cfg), option) == value
        else:
            with pytest.raises(GancliError, match=f"--{option.replace('_', '-')} is an option of .*not of {name}"):
                resolve_model(cfg)


@pytest.mark.parametrize("name", MODELS.names())
def test_residual_blocks_say_so_to_sn_check(name):
    """sn-check lists residual sums as outside its product bound because the blocks declare them
    (``residual = True``), not by class name: ResNet blocks and CycleGAN's reflection blocks."""
    spec = MODELS.get(name)
    res = 32 if 32 in spec.resolutions else spec.resolutions[0]
    cfg = ModelConfig(name=name, res=res, ch=4, z_dim=8, **({"g_blocks": 1} if "g_blocks" in spec.options else {}))
    for which in ("G", "D"):
        net = build_network(cfg, which)
        residual = [m for m in net.modules() if getattr(m, "residual", False)]
        sums = any("residual sums" in part for part in not_covered(net))
        assert sums is bool(residual), (name, which)
    expected = {"sngan", "sagan", "biggan", "cyclegan"}
    assert (name in expected) is any(getattr(m, "residual", False) for m in build_network(cfg, "G").modules())


@pytest.mark.parametrize("name", DATASETS.names() + PAIR_DATASETS.names())
def test_download_is_refused_where_there_is_nothing_to_fetch(name):
    from gancli.config import TrainConfig
    from gancli.training import prepare

    options = {"dataset": name, "download": True, "data_root": "/nonexistent", "data_size": 8}
    if name in PAIR_DATASETS:
        options.update(method="cyclegan", model="cyclegan", preset="cyclegan-quick")
    if traits_of(name).downloadable:
        assert name in ("cifar10", "mnist", "fashion-mnist", "celeba")
        return
    with pytest.raises(GancliError, match=f"--download fetches cifar10, mnist, fashion-mnist, celeba; {name} "):
        prepare(TrainConfig.from_options(options))
