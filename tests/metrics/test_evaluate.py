"""The eval core: metric values against direct numpy/scipy computations, streaming against
torch-fidelity's own pipeline, labels, references, caching, and the offline Inception path."""
import json
import urllib.error

import numpy as np
import pytest
import scipy.linalg
import torch
from torch.utils.data import Dataset

from gancli.errors import GancliError
from gancli.metrics.evaluate import (EvalRequest, chunked_fid, class_accuracy, evaluate, fid_from_features,
                                     generated_features, make_extract, per_class_fid)
from gancli.metrics.extractors import INCEPTION_URL, build_extractor
from gancli.sampling import load_generator
from tests.conftest import write_tiny_run


def scipy_fid(a: np.ndarray, b: np.ndarray) -> float:
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCLI_CACHE_DIR", str(tmp_path / "cache"))


def test_frechet_distance_matches_scipy_on_correlated_features():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6)) + 0.7
    fid = fid_from_features(torch.from_numpy(a), torch.from_numpy(b))
    assert fid == pytest.approx(scipy_fid(a, b), rel=1e-6)
    assert fid > 1.0  # a real difference, not a near-zero that anything would match
    assert fid_from_features(torch.from_numpy(a), torch.from_numpy(a)) == pytest.approx(0.0, abs=1e-8)


def test_chunks_and_per_class_are_fids_of_the_right_subsets():
    rng = np.random.default_rng(1)
    gen, ref = torch.from_numpy(rng.normal(size=(90, 4))), torch.from_numpy(rng.normal(size=(60, 4)) + 0.3)
    mean, std, values = chunked_fid(gen, ref, 3)
    expected = [scipy_fid(gen[i * 30:(i + 1) * 30].numpy(), ref.numpy()) for i in range(3)]
    assert values == pytest.approx(expected, rel=1e-6)
    assert mean == pytest.approx(np.mean(expected)) and std == pytest.approx(np.std(expected))
    gen_y, ref_y = torch.arange(90) % 3, torch.arange(60) % 3
    gen_y[gen_y == 2] = 1  # no generated image of class 2
    per = per_class_fid(gen, gen_y, ref, ref_y, ["a", "b", "c"])
    assert per["a"] == pytest.approx(scipy_fid(gen[gen_y == 0].numpy(), ref[ref_y == 0].numpy()), rel=1e-6)
    assert per["b"] == pytest.approx(scipy_fid(gen[gen_y == 1].numpy(), ref[ref_y == 1].numpy()), rel=1e-6)
    assert per["c"] is None


def test_class_accuracy_from_hand_made_logits():
    logits = torch.tensor([[3.0, 0, 0], [0, 2.0, 0], [0, 0, 1.0], [1.0, 0, 0], [0, 0, 5.0]])
    labels = torch.tensor([0, 1, 1, 2, 2])
    overall, per = class_accuracy(logits, labels, ["x", "y", "z"])
    assert overall == pytest.approx(3 / 5)
    assert per == {"x": 1.0, "y": 0.5, "z": 0.5}


def test_generated_labels_follow_the_data_and_batch_size_does_not_matter(tmp_path):
    freq = [0.5, 0.3, 0.2, 0, 0, 0, 0, 0]
    ckpt = write_tiny_run(tmp_path / "run", label_frequencies=freq)
    gen = load_generator(ckpt)
    extract = make_extract(build_extractor("shapes-net", ["features", "logits"]), "cpu")
    a = generated_features(gen.G, gen.model_config, gen.dataset, 2000, extract, ["features"], seed=3, batch_size=500)
    counts = torch.bincount(a.labels, minlength=8).float() / 2000
    assert counts[:3].tolist() == pytest.approx([0.5, 0.3, 0.2], abs=0.04) and counts[3:].sum() == 0
    small = generated_features(gen.G, gen.model_config, gen.dataset, 40, extract, ["features"], seed=3, batch_size=7)
    big = generated_features(gen.G, gen.model_config, gen.dataset, 40, extract, ["features"], seed=3, batch_size=40)
    assert torch.equal(small.labels, big.labels)
    # the same images up to a rare one-level flip in uint8 where G's float output differs in the last
    # bit between batch sizes (conv kernels differ with the batch and thread count): rows of
    # different images differ by O(1), a flipped pixel moves a feature by well under 0.02
    assert torch.allclose(small.features["features"], big.features["features"], atol=2e-2)


def _fakes_as_evaluated(gen, n: int, seed: int) -> torch.Tensor:
    """The uint8 images `evaluate` draws for ``seed``, made here in one batch: z and labels from the
    command's two seeded generators, quantised as a saved PNG would be."""
    from gancli.sampling import data_labels, seeded_generators, truncated_normal

    z_gen, label_gen = seeded_generators(seed)
    z = truncated_normal(n, gen.model_config.z_dim, None, z_gen)
    y = data_labels(gen, n, label_gen)
    with torch.no_grad():
        return ((gen.G(z, y).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


class _Images(Dataset):
    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i]


@pytest.mark.parametrize("extractor", [None, "shapes-net"])  # None: the default, shapes-factor-net
def test_streaming_equals_torch_fidelity_on_the_same_images(tiny_run, tmp_path, extractor):
    """Our path (G -> uint8 -> extractor, batch by batch) against torch-fidelity's own pipeline over
    the same images materialised as a tensor dataset: the same FID and KID."""
    import torch_fidelity

    from gancli.data import build_dataset

    req = EvalRequest(metrics=["fid", "kid"], n=64, ref_n=96, seed=5, batch_size=16, kid_subsets=10, kid_subset_size=32,
                      feature_extractor=extractor)
    result = evaluate(tiny_run, req, log=False)
    assert result.feature_extractor == (extractor or "shapes-factor-net")
    fake = _fakes_as_evaluated(load_generator(tiny_run), 64, seed=5)
    real = build_dataset("shapes", res=32, cond=True, size=96, seed=0).images
    theirs = torch_fidelity.calculate_metrics(input1=_Images(fake), input2=_Images(real), fid=True, kid=True,
                                              feature_extractor=result.feature_extractor, kid_subsets=10, kid_subset_size=32,
                                              rng_seed=2025, cuda=False, cache=False, verbose=False, save_cpu_ram=True)
    assert result.metrics["fid"] == pytest.approx(theirs["frechet_inception_distance"], rel=1e-4)
    assert result.metrics["kid_mean"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-3)
    assert result.metrics["fid"] > 1.0  # an untrained G is far from the data


def test_reference_features_are_cached_by_key(tiny_run, tmp_path, monkeypatch):
    calls = []
    import gancli.metrics.reference as reference

    real = reference.reference_features

    def counting(ref, extract, *args, **kwargs):
        def wrapped(images):
            calls.append(len(images))
            return extract(images)
        return real(ref, wrapped, *args, **kwargs)

    monkeypatch.setattr("gancli.metrics.evaluate.reference_features", counting)
    req = EvalRequest(n=16, ref_n=40, batch_size=20)
    first = evaluate(tiny_run, req, log=False)
    assert first.reference_cached is False and sum(calls) == 40
    second = evaluate(tiny_run, req, log=False)
    assert second.reference_cached is True and sum(calls) == 40
    assert second.metrics["fid"] == pytest.approx(first.metrics["fid"], rel=1e-9)
    evaluate(tiny_run, EvalRequest(n=16, ref_n=40, batch_size=20, cache=False), log=False)
    evaluate(tiny_run, EvalRequest(n=16, ref_n=30, batch_size=20), log=False)  # another count: another key
    assert sum(calls) == 40 + 40 + 30
    assert len(list((tmp_path / "cache").glob("shapes-train-32px-shapes-factor-net-*.pt"))) == 2


def test_metrics_jsonl_gets_one_eval_line_with_the_step(tiny_run):
    result = evaluate(tiny_run, EvalRequest(metrics=["fid", "is", "prc"], n=24, ref_n=30, per_class=True, chunks=2))
    last = json.loads((tiny_run / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["event"] == "eval" and last["step"] == 7 and last["n"] == 24
    assert last["fid"] == pytest.approx(result.metrics["fid"])
    assert set(last["fid_per_class"]) == {"circle", "square", "triangle", "ring", "plus", "circle-pair",
                                          "triangle-pair", "stripes"}
    assert 1.0 <= last["is_mean"] <= 8.0 and 0 <= last["precision"] <= 1 and 0 <= last["class_accuracy"] <= 1
    assert len(last["fid_chunks"]) == 2 and last["chunk_size"] == 12


def test_folder_and_npz_references_and_their_errors(tiny_run, tmp_path):
    from PIL import Image

    folder = tmp_path / "ref"
    folder.mkdir()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 32, 32, 3), dtype=np.uint8)
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i}.png")
    from_folder = evaluate(tiny_run, EvalRequest(n=8, ref=str(folder)), log=False)
    np.savez(tmp_path / "ref.npz", images=images)
    from_npz = evaluate(tiny_run, EvalRequest(n=8, ref=str(tmp_path / "ref.npz")), log=False)
    assert from_folder.reference_n == from_npz.reference_n == 6
    assert from_folder.metrics["fid"] == pytest.approx(from_npz.metrics["fid"], rel=1e-6)  # same pixels, same FID
    np.savez(tmp_path / "big.npz", images=np.zeros((4, 64, 64, 3), np.uint8))
    with pytest.raises(GancliError, match="resolution mismatch.*64x64.*32x32"):
        evaluate(tiny_run, EvalRequest(n=8, ref=str(tmp_path / "big.npz")), log=False)
    with pytest.raises(GancliError, match="not a readable directory"):
        evaluate(tiny_run, EvalRequest(n=8, ref=str(tmp_path / "nowhere")), log=False)
    with pytest.raises(GancliError, match="at least 2"):
        EvalRequest(n=1).check()


# ---------------------------------------------------------------------------------------- Inception, offline
@pytest.fixture(scope="module")
def inception_weights(tmp_path_factory):
    """A weights file with the structure of torch-fidelity's InceptionV3 (random values), made here:
    the whole Inception path runs without a download."""
    from unittest import mock

    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    torch.manual_seed(0)
    with mock.patch("torch_fidelity.feature_extractor_inceptionv3.load_state_dict_from_url", return_value={}), \
            mock.patch.object(FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None):
        net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    path = tmp_path_factory.mktemp("inception") / "inception.pth"
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()}, path)
    return path


@pytest.mark.filterwarnings("ignore:Matrix is singular")  # 6 samples in 2048 dimensions: singular, still exact
def test_inception_fid_from_a_local_weights_file_matches_scipy(tiny_run, inception_weights):
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    from gancli.data import build_dataset
    req = EvalRequest(metrics=["fid"], n=6, ref_n=5, feature_extractor="inception", inception_weights=str(inception_weights))
    result = evaluate(tiny_run, req, log=False)
    assert result.feature_extractor == "inception"
    net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(inception_weights))
    fake = _fakes_as_evaluated(load_generator(tiny_run), 6, seed=0)
    with torch.no_grad():
        ds = build_dataset("shapes", res=32, cond=True, size=96, seed=0)
        from gancli.data.base import subset_indices
        real = ds.images[torch.from_numpy(subset_indices(96, 5, seed=0))]
        a, b = net(fake)[0].double().numpy(), net(real)[0].double().numpy()
    assert result.metrics["fid"] == pytest.approx(scipy_fid(a, b), rel=1e-3, abs=1e-6)


def test_offline_inception_explains_where_the_file_goes(tiny_run, monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr("torch_fidelity.feature_extractor_inceptionv3.load_state_dict_from_url", offline)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(GancliError) as err:
        evaluate(tiny_run, EvalRequest(n=4, feature_extractor="inception"), log=False)
    message = str(err.value)
    assert INCEPTION_URL in message and "--inception-weights" in message
    assert str(tmp_path / "torch" / "hub" / "checkpoints" / "weights-inception-2015-12-05-6726825d.pth") in message
    pickle_path = tmp_path / "evil.pth"
    torch.save({"fc.weight": torch.zeros(1)}, pickle_path)
    with pytest.raises(GancliError, match="does not hold torch-fidelity's InceptionV3"):
        evaluate(tiny_run, EvalRequest(n=4, feature_extractor="inception", inception_weights=str(pickle_path)), log=False)


def test_a_folder_dataset_key_changes_with_its_files(tmp_path):
    from gancli.metrics.reference import dataset_key

    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"1")
    first = dataset_key("folder", str(folder), "train", None, 0, 32)
    (folder / "a.png").write_bytes(b"22")
    assert dataset_key("folder", str(folder), "train", None, 0, 32) != first
    assert dataset_key("cifar10", None, "train", None, 0, 32)["root"] == str((tmp_path.cwd() / "data").resolve())
