"""Checkpoint format 2 (method, networks by name) and the reading of format-1 files of gancli 0.1."""
import torch

from gancli.checkpoint import files_by_step, load_checkpoint, run_dir_of, run_folder_of, save_checkpoint


def _v1_state(tiny_run):
    """The tiny run's checkpoint written as gancli 0.1 did: G, D, G_ema, opt_g, opt_d at the top."""
    v2 = load_checkpoint(tiny_run / "checkpoints" / "last.pt")
    state = {k: v for k, v in v2.items() if k not in ("networks", "ema", "optimizers", "method", "method_state")}
    state.update(format_version=1, G=v2["networks"]["G"], D=v2["networks"]["D"], G_ema=v2["ema"]["G"],
                 opt_g={"state": {}, "param_groups": []}, opt_d={"state": {}, "param_groups": []})
    return v2, state


def test_a_format_1_checkpoint_reads_as_format_2(tiny_run, tmp_path):
    import torch as t

    v2, v1 = _v1_state(tiny_run)
    path = tmp_path / "old.pt"
    t.save({"format": "gancli-checkpoint", **v1}, path)  # bypass save_checkpoint's version stamp
    state = load_checkpoint(path)
    assert state["format_version"] == 2 and state["method"] == "gan" and state["method_state"] == {}
    assert sorted(state["networks"]) == ["D", "G"] and sorted(state["optimizers"]) == ["d", "g"]
    for key, value in v2["ema"]["G"].items():
        torch.testing.assert_close(state["ema"]["G"][key], value, rtol=0, atol=0)
    assert "G" not in state and "opt_g" not in state


def test_a_format_1_checkpoint_without_ema_has_no_ema(tiny_run, tmp_path):
    _, v1 = _v1_state(tiny_run)
    v1["G_ema"] = None
    torch.save({"format": "gancli-checkpoint", **v1}, tmp_path / "old.pt")
    assert load_checkpoint(tmp_path / "old.pt")["ema"] == {}


def test_the_sample_command_reads_a_format_1_checkpoint(tiny_run, tmp_path):
    from typer.testing import CliRunner

    from gancli.cli.main import app

    _, v1 = _v1_state(tiny_run)
    torch.save({"format": "gancli-checkpoint", **v1}, tiny_run / "checkpoints" / "last.pt")
    result = CliRunner().invoke(app, ["sample", str(tiny_run), "-n", "4", "--seed", "0", "--out", str(tmp_path / "s.png")])
    assert result.exit_code == 0, result.output
    assert "EMA weights" in result.stderr and (tmp_path / "s.png").exists()


def test_run_folders_and_step_files(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    for name in ("step-10.pt", "step-9.pt", "step-x.pt", "last.pt"):
        (run / "checkpoints" / name).write_bytes(b"")
    assert [p.name for p in files_by_step(run / "checkpoints", "pt")] == ["step-9.pt", "step-10.pt"]
    assert run_folder_of(run / "checkpoints" / "last.pt") == run
    assert run_folder_of(tmp_path / "loose.pt") == tmp_path
    assert run_dir_of(run / "checkpoints" / "last.pt") is None  # no config.json: not a run directory
    (run / "config.json").write_text("{}")
    assert run_dir_of(run / "checkpoints" / "last.pt") == run
    assert save_checkpoint(tmp_path / "x.pt", {"step": 1}).exists()


def test_resume_continues_a_format_1_run(tmp_path):
    """A run trained by gancli 0.1 (format-1 checkpoint, flat train config) resumes and trains on."""
    from gancli.config import TrainConfig
    from gancli.training import load_resume, resume_config, train

    cfg = TrainConfig.from_flat({"ch": 4, "batch_size": 4, "data_size": 32, "steps": 2, "ckpt_every": 2,
                                 "log_every": 1, "device": "cpu", "out": str(tmp_path / "run")})
    first = train(cfg, show_progress=False)
    v2 = load_checkpoint(first.last_checkpoint)
    flat = {k: v for k, v in v2["train_config"].items() if k != "model"}
    flat.update(model="sagan", res=32, ch=4, d_ch=None, z_dim=128, attn_res=None, dry_run=False)
    v1 = {k: v for k, v in v2.items() if k not in ("networks", "ema", "optimizers", "method", "method_state")}
    v1.update(format_version=1, train_config=flat, G=v2["networks"]["G"], D=v2["networks"]["D"],
              G_ema=v2["ema"]["G"], opt_g=v2["optimizers"]["g"], opt_d=v2["optimizers"]["d"])
    path = tmp_path / "run" / "checkpoints" / "last.pt"
    path.unlink()
    for old in (tmp_path / "run" / "checkpoints").glob("step-*.pt"):
        old.unlink()
    torch.save(v1, path)
    state, run_dir = load_resume(str(tmp_path / "run"))
    resumed = train(resume_config(state, {"steps": 4}), show_progress=False, resume_state=state, resume_dir=run_dir)
    assert resumed.step == 4 and resumed.steps_done == 2
    after = load_checkpoint(resumed.last_checkpoint)
    assert after["format_version"] == 2 and after["train_config"]["model"]["ch"] == 4


def _strip_revision(run, step_files=True):
    """Rewrites a run's checkpoints as gancli 0.1 stored their configs: no revision, d_norm_gamma, z_dist."""
    for path in (run / "checkpoints").glob("*.pt"):
        state = load_checkpoint(path)
        for model in (state["model_config"], state["train_config"]["model"]):
            for key in ("revision", "d_norm_gamma", "z_dist"):
                model.pop(key, None)
        save_checkpoint(path, {k: v for k, v in state.items() if k not in ("format", "format_version")})


def test_runs_trained_under_revision_1_load_sample_and_resume(tmp_path):
    """Checkpoints from before the paper-fidelity fixes hold D's bn with a gamma (and BEGAN's wider
    encoder and Gaussian z): their configs carry no revision, and they rebuild the nets they trained."""
    from typer.testing import CliRunner

    from gancli.cli.main import app
    from gancli.config import TrainConfig
    from gancli.methods import load_run_checkpoint
    from gancli.training import load_resume, resume_config, train

    common = {"ch": 4, "batch_size": 4, "data_size": 32, "steps": 2, "ckpt_every": 2, "log_every": 1,
              "device": "cpu", "revision": 1}
    runs = {"bn": {"preset": "bn", "model": "cnn", "z_dim": 16}, "began": {"preset": "began", "z_dim": 16}}
    for name, options in runs.items():
        cfg = TrainConfig.from_options({**options, **common, "out": str(tmp_path / name)})
        train(cfg, show_progress=False)
        _strip_revision(tmp_path / name)
        ckpt = load_run_checkpoint(tmp_path / name)
        assert ckpt.model_config.revision == 1 and ckpt.model_config.z_dist == "normal"
        state, run_dir = load_resume(str(tmp_path / name))
        resumed = train(resume_config(state, {"steps": 4}), show_progress=False, resume_state=state, resume_dir=run_dir)
        assert resumed.step == 4
        assert load_checkpoint(resumed.last_checkpoint)["model_config"]["revision"] == 1
        result = CliRunner().invoke(app, ["sample", str(tmp_path / name), "-n", "2", "--truncation", "0.5",
                                          "--out", str(tmp_path / f"{name}.png")])
        assert result.exit_code == 0, result.output  # Gaussian z: truncation applies
    bn = load_run_checkpoint(tmp_path / "bn")
    assert bn.model_config.d_norm_gamma is True
    D, _ = bn.network("D")
    assert all(m.weight is not None for m in D.modules() if isinstance(m, torch.nn.BatchNorm2d))
