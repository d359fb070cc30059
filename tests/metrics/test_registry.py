"""The metric registry: one vocabulary from --eval-metrics to the record, the table and the plot."""
import pytest
import torch

from gancli.config import EvalRequest
from gancli.errors import GancliError
from gancli.metrics.registry import METRICS, check_metrics, format_record, present


def test_one_vocabulary():
    assert METRICS.names() == ["fid", "is", "kid", "prc", "prdc"]
    assert [METRICS.get(m).keys[0] for m in METRICS.names()] == ["fid", "is_mean", "kid_mean", "precision",
                                                                 "prdc_precision"]
    assert [m for m in METRICS.names() if METRICS.get(m).needs_reference] == ["fid", "kid", "prc", "prdc"]


def test_check_metrics_orders_and_refuses():
    assert check_metrics(["kid", "fid"], 100) == ["fid", "kid"]
    assert check_metrics([], 100) == ["fid"]
    with pytest.raises(GancliError, match="unknown metric 'isc'; choose one of: fid, is, kid, prc, prdc"):
        check_metrics(["isc"], 100)
    with pytest.raises(GancliError, match=r"--is needs -n of at least 10 \(it averages over 10 splits\), got 5"):
        check_metrics(["is"], 5)
    with pytest.raises(GancliError, match=r"--prc needs --eval-n of at least 4 \(k-nearest neighbours with k = 3\)"):
        check_metrics(["prc"], 3, flag="--eval-n")


def test_format_record_shows_what_the_record_holds():
    record = {"step": 4, "fid": 7.4712, "is_mean": 3.1, "is_std": 0.02, "precision": 0.8123, "recall": 0.5,
              "class_accuracy": 0.957}
    assert [m.name for m in present(record)] == ["fid", "is", "prc"]
    assert format_record(record) == "FID 7.471, IS 3.1 ± 0.02, precision 0.812, recall 0.500, class accuracy 95.7%"
    assert METRICS.get("prc").table_rows(record) == [("precision", "0.8123"), ("recall", "0.5")]


def test_registry_computations_match_direct_formulas():
    from gancli.metrics.evaluate import compute_metrics, fid_from_features

    g = torch.Generator().manual_seed(0)
    gen = {"features": torch.randn(64, 8, generator=g, dtype=torch.float64),
           "logits": torch.randn(64, 5, generator=g, dtype=torch.float64)}
    ref = {"features": torch.randn(80, 8, generator=g, dtype=torch.float64) + 0.5}
    out = compute_metrics(["fid", "is"], gen, ref, "features", "logits", EvalRequest(seed=1))
    assert out["fid"] == pytest.approx(fid_from_features(gen["features"], ref["features"]))
    # IS on logits: exp(E KL(p(y|x) || p(y))) over 10 splits, always in [1, number of classes]
    assert 1.0 <= out["is_mean"] <= 5.0 and out["is_std"] >= 0
