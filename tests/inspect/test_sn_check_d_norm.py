"""sn-check on a D built without spectral norm (--d-norm bn | ln | wn | none): reported as
normalised otherwise by design, with what the product bound leaves out, never as a failure."""
import json

import pytest
import torch
from typer.testing import CliRunner

from gancli.cli.main import app
from gancli.config import ModelConfig, SnRequest
from gancli.inspect.sn_check import sn_check
from gancli.models import build_models, resolve_model

runner = CliRunner()

NOT_COVERED = {"bn": "batch norm (6 layers)", "ln": "layer norm (6 layers)", "wn": "weight norm (8 layers)"}


def write_run(run_dir, model="cnn", d_norm="bn"):
    """A run directory with an untrained 32 px checkpoint of ``model`` whose D has ``d_norm``,
    trained (as far as the checkpoint says) on 8-class shapes."""
    from gancli.checkpoint import save_checkpoint

    cfg = resolve_model(ModelConfig(name=model, res=32, ch=4, n_classes=8, d_norm=d_norm))
    G, D = build_models(cfg)
    dataset = {"name": "shapes", "resolution": 32, "channels": 3, "label_kind": "class", "n_classes": 8,
               "class_names": [str(i) for i in range(8)], "attr_names": [], "label_frequencies": [1 / 8] * 8,
               "size": 32}
    state = {"gancli_version": "0.1.0", "model_config": cfg.to_dict(),
             "train_config": {"loss": "hinge", "steps": 1, "dataset": "shapes", "split": "train", "data_size": 32,
                              "seed": 0},
             "dataset": dataset, "step": 1, "method": "gan", "method_state": {},
             "networks": {"G": G.state_dict(), "D": D.state_dict()}, "ema": {}}
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"model": cfg.to_dict(), "dataset": dataset}))
    return save_checkpoint(run_dir / "checkpoints" / "last.pt", state)


@pytest.mark.parametrize("d_norm", ["bn", "ln", "wn", "none"])
def test_a_d_without_sn_is_reported_as_such(tmp_path, d_norm):
    path = write_run(tmp_path / "run", d_norm=d_norm)
    report = sn_check(path, SnRequest(net="d", n=4))
    d = report["nets"]["D"]
    assert report["d_norm"] == d["normalization"] == d_norm
    rows = d["layers"]
    assert len(rows) == 9  # seven convs, the linear layer, the projection embedding
    assert all(not r["normalized"] and r["exempt"] and r["sigma_hat"] is None for r in rows)
    assert report["not_normalized"] == [] and report["drifted"] == []
    if d_norm in NOT_COVERED:
        assert any(part.startswith(NOT_COVERED[d_norm]) for part in d["not_covered"])
    else:
        assert not any(part.split(" (")[0] in ("batch norm", "layer norm", "weight norm") for part in d["not_covered"])
    assert set(d["gradient_norms"]) == {"real", "generated", "interpolated"}
    assert all(torch.isfinite(torch.tensor(v)) for v in d["gradient_norms"].values())
    assert d["lipschitz_bound"] > 0

    result = runner.invoke(app, ["sn-check", str(tmp_path / "run"), "--net", "d", "-n", "2", "--strict"])
    assert result.exit_code == 0, result.output
    assert "no SN (by design)" in result.stdout and "not normalized" not in result.stdout
    assert "carry no spectral norm" not in result.stdout


def test_weight_norm_rows_audit_the_weight_used():
    from gancli.inspect.spectral_audit import audit_layers

    _, D = build_models(ModelConfig(name="cnn", res=32, ch=4, d_norm="wn", d_norm_gamma=True))
    with torch.no_grad():
        D.convs[2].parametrizations.weight.original0.mul_(3.0)  # g three times ||v||
    rows = {r.name: r for r in audit_layers(D, "D", {}, no_sn_by_design=True)}
    row = rows["D.convs.2"]
    used = D.convs[2].weight.detach().flatten(1).double()
    v = D.convs[2].parametrizations.weight.original1.detach().flatten(1).double()
    assert row.sigma_mat == pytest.approx(float(torch.linalg.matrix_norm(used, 2)), rel=1e-6)
    assert row.sigma_mat_raw == pytest.approx(float(torch.linalg.matrix_norm(v, 2)), rel=1e-6)
    assert row.sigma_mat == pytest.approx(3 * row.sigma_mat_raw, rel=1e-5)
    assert row.exempt and not row.normalized and not row.drifted


def test_weight_norm_without_g_audits_the_unit_row_weight():
    from gancli.inspect.spectral_audit import audit_layers

    _, D = build_models(ModelConfig(name="cnn", res=32, ch=4, d_norm="wn"))
    rows = {r.name: r for r in audit_layers(D, "D", {}, no_sn_by_design=True)}
    v = D.convs[2].parametrizations.weight.original.detach().flatten(1).double()
    unit_rows = v / v.norm(dim=1, keepdim=True)  # W = v / ||v|| per output channel, by hand
    assert rows["D.convs.2"].sigma_mat == pytest.approx(float(torch.linalg.matrix_norm(unit_rows, 2)), rel=1e-6)
    assert rows["D.convs.2"].sigma_mat_raw == pytest.approx(float(torch.linalg.matrix_norm(v, 2)), rel=1e-6)


def test_an_sn_d_is_still_audited_as_before(tmp_path):
    path = write_run(tmp_path / "run", d_norm="sn")
    report = sn_check(path, SnRequest(net="d", n=2))
    rows = report["nets"]["D"]["layers"]
    assert report["d_norm"] == "sn" and all(r["normalized"] and not r["exempt"] for r in rows)
