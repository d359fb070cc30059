"""Feature extractors for FID / IS / KID / precision-recall, by name, built through torch-fidelity.

- ``inception``: torch-fidelity's ``inception-v3-compat`` (the TF-FID Inception port): 2048-d pool
  features for FID / KID / PR, 1008 unbiased logits for IS. Its 92 MB weights are downloaded on
  first use into torch's hub cache; offline that fails, and :func:`build_extractor` says what to do.
  A weights file already on disk (given, or in the cache) is loaded with ``weights_only=True``.
- ``shapes-factor-net``: gancli's small network of the built-in ``shapes`` data that reads every
  factor the data varies (class, shape colour, background colour, position, size): 128-d features
  that keep where the shape is, 8 class logits, 9 factor predictions. Shipped in the package: no
  download. The default for shapes runs.
- ``shapes-net``: gancli's small classifier of the built-in ``shapes`` data (64-d pooled features,
  8 logits), shipped in the package: no download. It sees the class, hardly the colours, position
  or size; the default for shapes runs before shapes-factor-net, kept so that old numbers reproduce.
  Both are registered with torch-fidelity under the same names, so torch-fidelity builds and runs
  them like any of its own extractors.
- ``shapes-pair-net``: the same network trained on both styles of ``shapes-pair`` (filled shapes and
  outlines), for CycleGAN runs on it: FID of translations and class preservation, offline.

Every extractor takes uint8 ``(N, 3, H, W)`` images, as torch-fidelity's do.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import torch
import torch_fidelity
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3 as INCEPTION_URL
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from gancli.data import traits_of
from gancli.errors import GancliError
from gancli.metrics.shapes_factor_net import WEIGHTS_PATH as FACTOR_WEIGHTS_PATH
from gancli.metrics.shapes_factor_net import load_shapes_factor_net
from gancli.metrics.shapes_net import PAIR_WEIGHTS_PATH, WEIGHTS_PATH, load_shapes_net

INCEPTION_FILE = INCEPTION_URL.rsplit("/", 1)[1]


class FeatureExtractorShapesNet(FeatureExtractorBase):
    """torch-fidelity wrapper of :class:`~gancli.metrics.shapes_net.ShapesNet`.

    forward(x uint8 (N, 3, H, W)) -> tuple of the requested features among
    ``features`` (N, 64) (global-average-pooled last stage) and ``logits`` (N, 8)."""

    default_weights = WEIGHTS_PATH
    load = staticmethod(load_shapes_net)

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        self.net = self.load(feature_extractor_weights_path or self.default_weights)
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor):
        if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"{self.name} takes uint8 (N, 3, H, W) images, got {x.dtype} {tuple(x.shape)}")
        out = self.heads(self.net.features(x.float().div_(127.5).sub_(1.0)))
        return tuple(out[name] for name in self.features_list)

    def heads(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """{layer: output} of the requested layers, from the features."""
        out = {"features": features}
        if "logits" in self.features_list:
            out["logits"] = self.net.fc(features)
        return out

    @staticmethod
    def get_provided_features_list():
        return "features", "logits"

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return {"isc": "logits", "fid": "features", "kid": "features", "prc": "features"}[metric]

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 3, 32, 32, dtype=torch.uint8)


class FeatureExtractorShapesPairNet(FeatureExtractorShapesNet):
    """shapes-net trained on both styles of shapes-pair (same layers, its own weights)."""

    default_weights = PAIR_WEIGHTS_PATH


class FeatureExtractorShapesFactorNet(FeatureExtractorShapesNet):
    """torch-fidelity wrapper of :class:`~gancli.metrics.shapes_factor_net.ShapesFactorNet`.

    forward(x uint8 (N, 3, H, W)) -> tuple of the requested features among ``features`` (N, 128)
    (the linear embedding of the flattened last stage), ``logits`` (N, 8) and ``factors`` (N, 9:
    shape colour, background colour, centre, radius, in their units)."""

    default_weights = FACTOR_WEIGHTS_PATH
    load = staticmethod(load_shapes_factor_net)

    def heads(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        out = super().heads(features)
        if "factors" in self.features_list:
            out["factors"] = self.net.factor_head(features) * self.net.factor_std + self.net.factor_mean
        return out

    @staticmethod
    def get_provided_features_list():
        return "features", "logits", "factors"


if "shapes-factor-net" not in FEATURE_EXTRACTORS_REGISTRY:
    torch_fidelity.register_feature_extractor("shapes-factor-net", FeatureExtractorShapesFactorNet)
if "shapes-net" not in FEATURE_EXTRACTORS_REGISTRY:
    torch_fidelity.register_feature_extractor("shapes-net", FeatureExtractorShapesNet)
if "shapes-pair-net" not in FEATURE_EXTRACTORS_REGISTRY:
    torch_fidelity.register_feature_extractor("shapes-pair-net", FeatureExtractorShapesPairNet)


@dataclass(frozen=True)
class ExtractorSpec:
    name: str  # gancli's name
    fidelity_name: str  # torch-fidelity's registry name
    feature_layer: str  # for FID / KID / PR
    logits_layer: str  # for IS
    classifies_shapes: bool  # its logits are the 8 shapes classes: gives conditional accuracy
    factors_layer: str | None = None  # predicted factors of the data (shapes-factor-net): gives their spreads
    made_for: tuple[str, ...] = ()  # the datasets it was trained on, the only ones its features describe (): any

    @property
    def reference_layers(self) -> list[str]:
        """What a reference's features are kept of: the feature layer, and the factors where predicted."""
        return [self.feature_layer] + ([self.factors_layer] if self.factors_layer else [])

    @property
    def layers(self) -> list[str]:
        """Every layer an evaluation may read: build the extractor with these."""
        return self.reference_layers + [self.logits_layer]


EXTRACTORS = {
    "inception": ExtractorSpec("inception", "inception-v3-compat", "2048", "logits_unbiased", False),
    "shapes-factor-net": ExtractorSpec("shapes-factor-net", "shapes-factor-net", "features", "logits", True,
                                       "factors", made_for=("shapes",)),
    "shapes-net": ExtractorSpec("shapes-net", "shapes-net", "features", "logits", True, made_for=("shapes",)),
    "shapes-pair-net": ExtractorSpec("shapes-pair-net", "shapes-pair-net", "features", "logits", True,
                                     made_for=("shapes-pair",)),
}


def extractor_spec(name: str) -> ExtractorSpec:
    if name not in EXTRACTORS:
        raise GancliError(f"unknown feature extractor '{name}'; choose one of: {', '.join(EXTRACTORS)}")
    return EXTRACTORS[name]


def check_extractor_fits(name: str, *datasets: str | None) -> None:
    """Refuses an extractor on data it was not trained on (shapes-net's features of photographs
    describe nothing, and an FID on them would be appended as if it did); None: data unknown."""
    spec = extractor_spec(name)
    for dataset in datasets:
        if not spec.made_for or dataset is None or dataset in spec.made_for:
            continue
        own = default_extractor(dataset)
        advice = (f"its features of {dataset} images measure nothing: use inception (the default for {dataset})"
                  if own == "inception" else f"for {dataset} use {own} (its default) or inception")
        raise GancliError(f"--feature-extractor {name} was trained on {' and '.join(spec.made_for)} images only; "
                          f"{advice}")


def default_extractor(dataset: str | None) -> str:
    """The built-in shapes-factor-net for a shapes run (fully offline), shapes-pair-net for
    shapes-pair, Inception for everything else."""
    return traits_of(dataset).default_extractor  # as the dataset declares it (gancli.data.DatasetTraits)


def extractor_key(name: str, weights: str | Path | None) -> str:
    """The extractor's part of a cache key: its name, plus the identity of a local weights file."""
    if weights is None:
        return name
    stat = Path(weights).stat()
    return f"{name}@{Path(weights).resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def inception_cache_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE


def missing_inception_message(err: Exception | None = None) -> str:
    why = f" ({err})" if err is not None else ""
    return (f"the Inception weights for FID/IS/KID/PR could not be loaded{why}.\n"
            f"  torch-fidelity needs {INCEPTION_FILE} (92 MB) from\n"
            f"  {INCEPTION_URL}\n"
            f"  Download it on a machine with internet and put it at {inception_cache_path()},\n"
            f"  or pass --inception-weights PATH; for a shapes run, --feature-extractor shapes-factor-net needs no download.")


def check_inception_weights(path: str | Path, cached: bool = False) -> dict[str, torch.Tensor]:
    """Load an Inception weights file with ``weights_only=True`` (a pickle that would run code is
    refused) and check it is torch-fidelity's InceptionV3 state dict; returns that state dict.

    ``cached``: the file sits in torch's hub cache (downloaded earlier, or put there by hand as
    :func:`missing_inception_message` suggests), and the messages say so."""
    path = Path(path)
    what = f"the cached Inception weights {path}" if cached else f"--inception-weights {path}"
    fix = "; delete it to download them again" if cached else ""
    if not path.is_file():
        raise GancliError(f"{what}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt, truncated, or a pickle that would run code
        raise GancliError(f"{what} is not a readable weights file ({_why_unreadable(err)}){fix}") from None
    if not isinstance(state, dict) or "fc.weight" not in state or "Conv2d_1a_3x3.conv.weight" not in state:
        raise GancliError(f"{what} does not hold torch-fidelity's InceptionV3 state dict{fix}")
    return state


def _why_unreadable(err: Exception) -> str:
    """torch's refusal names the global a crafted pickle asks for several lines down (after
    advice to retry with weights_only=False, which is wrong here): show that, else the first line."""
    asked = re.search(r"unsupported (?:global: )?global (\S+)", str(err), re.IGNORECASE)
    if asked:
        return f"a pickle that needs code to load: it asks for {asked.group(1)}"
    lines = str(err).strip().splitlines()
    return lines[0][:160] if lines else type(err).__name__


def _vetted_weights(path: Path, cached: bool) -> io.BytesIO:
    """The checked state dict, re-serialised in memory for torch-fidelity.

    torch-fidelity loads a weights path with ``weights_only=False``, and torch.hub loads its cache
    the same way: handing either the file itself would run whatever that file's pickle names
    (and a file checked first could be swapped before torch-fidelity reads it). This buffer holds
    only the tensors :func:`check_inception_weights` accepted."""
    buffer = io.BytesIO()
    torch.save(check_inception_weights(path, cached), buffer)
    buffer.seek(0)
    return buffer


def build_extractor(name: str, features: list[str], device: torch.device | str = "cpu",
                    weights: str | Path | None = None) -> FeatureExtractorBase:
    """torch-fidelity's extractor ``name`` producing ``features`` (layer names), on ``device``.

    ``weights``: a local weights file (Inception: instead of the download; shapes-net: instead of
    the shipped file). Inception weights, given or already in torch's hub cache, are loaded with
    ``weights_only=True`` (:func:`_vetted_weights`); only a missing file is left to torch-fidelity
    to download. A failed download becomes a GancliError that explains the fix."""
    from torch_fidelity.utils import create_feature_extractor

    spec = extractor_spec(name)
    kwargs = {"feature_extractor_weights_path": str(weights) if weights is not None else None, "verbose": False}
    if spec.name == "inception":
        if weights is not None:
            kwargs["feature_extractor_weights_path"] = _vetted_weights(Path(weights), cached=False)
        elif inception_cache_path().is_file():
            kwargs["feature_extractor_weights_path"] = _vetted_weights(inception_cache_path(), cached=True)
        try:
            extractor = create_feature_extractor(spec.fidelity_name, list(features), cuda=False, **kwargs)
        except OSError as err:  # URLError (offline), HTTP errors, a half-written cache file
            raise GancliError(missing_inception_message(err)) from None
        except RuntimeError as err:  # a file of the right type whose tensors do not fit
            raise GancliError(f"the Inception weights do not fit torch-fidelity's InceptionV3 ({str(err).splitlines()[0]})") from None
    else:
        extractor = create_feature_extractor(spec.fidelity_name, list(features), cuda=False, **kwargs)
    return extractor.to(device)
