"""Precision, recall, density, coverage and nearest neighbours against brute-force numpy/scipy
computations of the formulas (Naeem et al. 2020), and on hand-made sets whose answers are known."""
import numpy as np
import pytest
import scipy.spatial.distance
import torch

import gancli.metrics.knn as knn
from gancli.config import EvalRequest
from gancli.metrics.evaluate import compute_metrics


def brute_force_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """The four formulas, written out on full distance matrices."""
    real_real = scipy.spatial.distance.cdist(real, real)
    fake_fake = scipy.spatial.distance.cdist(fake, fake)
    real_fake = scipy.spatial.distance.cdist(real, fake)  # (N, M)
    real_radius = np.sort(real_real, axis=1)[:, k]  # column 0 is the point itself
    fake_radius = np.sort(fake_fake, axis=1)[:, k]
    in_real_ball = real_fake < real_radius[:, None]  # [i, j]: fake j inside real i's ball
    in_fake_ball = real_fake < fake_radius[None, :]  # [i, j]: real i inside fake j's ball
    return {"precision": in_real_ball.any(axis=0).mean(), "recall": in_fake_ball.any(axis=1).mean(),
            "density": in_real_ball.sum() / (k * fake.shape[0]),
            "coverage": (real_fake.min(axis=1) < real_radius).mean()}


@pytest.mark.parametrize("k", [1, 5])
def test_prdc_matches_the_formulas_written_out(k, monkeypatch):
    monkeypatch.setattr(knn, "BLOCK_ELEMENTS", 500)  # many blocks of a few rows each
    rng = np.random.default_rng(3)
    real = rng.normal(size=(300, 8))
    fake = 0.8 * rng.normal(size=(200, 8)) + np.r_[0.7, np.zeros(7)]  # shifted, narrower: all four < 1
    ours = knn.prdc(torch.from_numpy(real), torch.from_numpy(fake), k=k)
    expected = brute_force_prdc(real, fake, k)
    assert ours == pytest.approx(expected, abs=1e-12)
    assert 0.1 < expected["recall"] < 0.9 and 0.1 < expected["coverage"] < 0.95  # not a trivial case


def test_identical_sets_are_fully_covered_and_far_sets_score_zero():
    rng = np.random.default_rng(4)
    real = torch.from_numpy(rng.normal(size=(400, 6)))
    same = knn.prdc(real, real.clone(), k=5)
    # every real sample's nearest fake is itself, at distance 0 < its radius
    assert same["coverage"] == 1.0 and same["precision"] == 1.0 and same["recall"] == 1.0
    # real ball i holds itself and its 4 nearest (the 5th sits on the boundary, which is outside),
    # so density = 5 N / (5 N) = 1; rounding decides a few of those exact ties either way
    assert brute_force_prdc(real.numpy(), real.numpy(), 5)["density"] == 1.0
    assert same["density"] == pytest.approx(1.0, abs=0.01)
    far = knn.prdc(real, real + 100.0, k=5)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_a_collapsed_fake_set_keeps_precision_but_loses_recall_and_coverage():
    rng = np.random.default_rng(5)
    real = torch.from_numpy(rng.normal(size=(500, 4)))
    collapsed = real[:10].repeat(50, 1) + 1e-3 * torch.from_numpy(rng.normal(size=(500, 4)))
    out = knn.prdc(real, collapsed, k=5)
    # recall: only the 10 originals lie in the copies' tiny balls; coverage: the balls that hold one
    # of the 10 are those of their reverse 5-nearest neighbours, about 10 * 6 of 500
    assert out["precision"] == 1.0 and out["recall"] == pytest.approx(10 / 500) and out["coverage"] < 0.2
    # density is fidelity, not diversity: each copy lies in as many real balls as its original does
    assert out["density"] == pytest.approx(brute_force_prdc(real.numpy(), collapsed.numpy(), 5)["density"], abs=1e-12)
    assert 0.8 < out["density"] < 1.6


def test_registry_prdc_is_the_k5_computation_on_the_feature_layer():
    g = torch.Generator().manual_seed(0)
    gen = {"features": torch.randn(60, 5, generator=g, dtype=torch.float64)}
    ref = {"features": torch.randn(80, 5, generator=g, dtype=torch.float64)}
    out = compute_metrics(["prdc"], gen, ref, "features", "logits", EvalRequest())
    expected = brute_force_prdc(ref["features"].numpy(), gen["features"].numpy(), 5)
    assert out["prdc_k"] == 5
    assert [out["prdc_precision"], out["prdc_recall"], out["density"], out["coverage"]] == pytest.approx(
        [expected["precision"], expected["recall"], expected["density"], expected["coverage"]], abs=1e-12)


def test_nearest_matches_argsort_of_the_full_matrix(monkeypatch):
    monkeypatch.setattr(knn, "BLOCK_ELEMENTS", 300)
    rng = np.random.default_rng(6)
    queries, reference = rng.normal(size=(50, 7)), rng.normal(size=(120, 7)) + 0.2
    distances, indices = knn.nearest(torch.from_numpy(queries), torch.from_numpy(reference), k=5)
    full = scipy.spatial.distance.cdist(queries, reference)
    order = np.argsort(full, axis=1)[:, :5]
    assert np.array_equal(indices.numpy(), order)
    assert distances.numpy() == pytest.approx(np.take_along_axis(full, order, axis=1), abs=1e-12)


def test_bad_shapes_and_k_are_refused():
    with pytest.raises(ValueError, match="same d"):
        knn.prdc(torch.zeros(10, 3), torch.zeros(10, 4))
    with pytest.raises(ValueError, match="1 <= k < n"):
        knn.kth_neighbour_distances(torch.zeros(5, 2), 5)
