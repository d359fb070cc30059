"""`gancli export`: every generator of the model registry (and a CycleGAN translator) exported as
TorchScript and ONNX, each file run in a fresh process that never imports gancli, fed the z and
labels the contract's own recipe draws, and compared with the images `gancli sample` (`gancli
translate`) writes; spectral norm baked as the eval-mode forward uses it; the contract; one-line
errors that leave nothing behind."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from gancli.cli.main import app
from tests.conftest import assert_uint8_images_close, same_kernels_env, write_tiny_run

runner = CliRunner()

#: run name -> (model, label kind): every generator model of the registry and every label kind
RUNS = {"sagan-class": ("sagan", "class"), "biggan-class": ("biggan", "class"), "dcgan-class": ("dcgan", "class"),
        "cnn-attrs": ("cnn", "attrs"), "biggan-attrs": ("biggan", "attrs"), "sngan-none": ("sngan", "none"),
        "began-none": ("began", "none")}

#: (run, --no-ema?, seed, n, truncation): one `gancli sample` each, reproduced from the export
TS_JOBS = [("sagan-class", False, 3, 6, None), ("sagan-class", False, 5, 7, 0.5), ("biggan-class", False, 1, 5, None),
           ("dcgan-class", True, 2, 6, None), ("cnn-attrs", False, 4, 6, None), ("biggan-attrs", False, 6, 5, 1.0),
           ("sngan-none", False, 7, 4, None), ("began-none", False, 8, 4, None)]
ONNX_JOBS = [("sagan-class", False, 3, 6, None), ("sagan-class", False, 5, 7, 0.5), ("dcgan-class", False, 2, 6, None),
             ("biggan-attrs", False, 6, 5, None), ("began-none", False, 8, 4, None)]

# Runs in a fresh interpreter: imports torch (and onnxruntime) only; draws z and labels with the
# lines of Python the contract holds, feeds the exported file, maps its output to uint8 with the
# contract's own expression, and saves everything for the test process to compare.
FRESH = r"""
import json, sys
import torch
backend, jobs = sys.argv[1], json.loads(sys.argv[2])
if backend == "onnx":
    import onnxruntime
for job in jobs:
    contract = json.load(open(job["contract"]))
    if contract["kind"] == "generator":
        scope = {"contract": contract, "seed": job["seed"], "n": job["n"], "t": job["t"]}
        exec("\n".join(contract["sampling"]["gancli_sample_seed"]["python"]), scope)
        inputs = [scope["z"]] + ([] if scope["labels"] is None else [scope["labels"]])
    else:
        inputs = [torch.load(job["images"])]
    for spec, x in zip(contract["inputs"], inputs):
        assert str(x.dtype) == "torch." + spec["dtype"], (spec, x.dtype)
        assert [len(x) if d == "N" else d for d in spec["shape"]] == list(x.shape), (spec, x.shape)
    if backend == "torchscript":
        with torch.no_grad():
            out = torch.jit.load(job["model"])(*inputs)
    else:
        session = onnxruntime.InferenceSession(job["model"], providers=["CPUExecutionProvider"])
        feed = {spec["name"]: x.numpy() for spec, x in zip(contract["inputs"], inputs)}
        out = torch.from_numpy(session.run([contract["output"]["name"]], feed)[0])
    assert [len(out) if d == "N" else d for d in contract["output"]["shape"]] == list(out.shape)
    pixels = eval(contract["to_uint8"]["torch"], {"torch": torch, "x": out})
    torch.save({"inputs": inputs, "images": out, "pixels": pixels}, job["result"])
loaded = sorted(name for name in sys.modules if name == "gancli" or name.startswith("gancli."))
assert not loaded, loaded
print("no gancli")
"""


def write_tiny_cyclegan(run_dir: Path) -> Path:
    """A run directory with a checkpoint of a tiny, untrained CycleGAN (32 px, ch 4, one block)."""
    from gancli.checkpoint import save_checkpoint
    from gancli.config import ModelConfig
    from gancli.methods import METHODS
    from gancli.models import resolve_model

    torch.manual_seed(0)
    cfg = resolve_model(ModelConfig(name="cyclegan", res=32, ch=4, g_blocks=1, n_classes=0))
    method = METHODS.get("cyclegan")
    nets = {name: method.build_network(cfg, name) for name in method.network_names(cfg)}
    state = {"gancli_version": "0.1.0", "model_config": cfg.to_dict(), "train_config": {}, "dataset": {}, "step": 3,
             "method": "cyclegan", "method_state": {}, "networks": {k: v.state_dict() for k, v in nets.items()},
             "ema": {}}
    return save_checkpoint(Path(run_dir) / "checkpoints" / "last.pt", state)


def export(run: Path, out: Path, *options: str):
    result = runner.invoke(app, ["export", str(run), "--out", str(out), *options])
    assert result.exit_code == 0, result.output
    return result


def run_fresh(backend: str, jobs: list[dict], cwd: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", FRESH, backend, json.dumps(jobs)], capture_output=True, text=True,
                          cwd=cwd, env={"PATH": "/usr/bin:/bin", **same_kernels_env(threads=1)}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "no gancli"


def exported_jobs(root: Path, backend: str, jobs: list[tuple]) -> dict[str, dict]:
    """Exports the runs ``jobs`` name with ``backend``, writes `gancli sample`'s .npz for each job and
    a CycleGAN translation per direction, and runs every export in one fresh process."""
    suffix = {"torchscript": ".pt", "onnx": ".onnx"}[backend]
    runs = root / "runs"
    work = root / backend
    work.mkdir()
    exported, fresh, cases = {}, [], {}
    for name, no_ema, seed, n, t in jobs:
        key = (name, no_ema)
        if key not in exported:
            if not (runs / name).exists():
                model, kind = RUNS[name]
                write_tiny_run(runs / name, label_kind=kind, model=model)
            model_path = work / f"{name}{'-raw' if no_ema else ''}{suffix}"
            export(runs / name, model_path, "--format", backend, *(["--no-ema"] if no_ema else []))
            exported[key] = model_path
        case = f"{name}{'-raw' if no_ema else ''}-seed{seed}-n{n}" + (f"-t{t}" if t else "")
        npz = work / f"{case}.npz"
        sample_args = ["sample", str(runs / name), "-n", str(n), "--seed", str(seed), "--npz", str(npz)]
        sample_args += (["--truncation", str(t)] if t else []) + (["--no-ema"] if no_ema else [])
        result = runner.invoke(app, sample_args)
        assert result.exit_code == 0, result.output
        fresh.append({"model": str(exported[key]), "contract": str(exported[key].with_suffix(".json")), "seed": seed,
                      "n": n, "t": t, "result": str(work / f"{case}.result.pt")})
        cases[case] = {"run": runs / name, "ema": not no_ema, "seed": seed, "n": n, "t": t, "npz": npz,
                       "job": fresh[-1], "kind": "generator"}
    cycle = runs / "cycle"
    if not cycle.exists():
        write_tiny_cyclegan(cycle)
        inputs = root / "photos"
        inputs.mkdir()
        rng = np.random.default_rng(0)
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(inputs / f"p{i}.png")
    for direction in ("a2b", "b2a"):
        model_path = work / f"cycle-{direction}{suffix}"
        export(cycle, model_path, "--format", backend, "--direction", direction)
        translated = work / f"translated-{direction}"
        result = runner.invoke(app, ["translate", str(cycle), "--input", str(root / "photos"), "--direction", direction,
                                     "--out", str(translated)])
        assert result.exit_code == 0, result.output
        images = work / f"inputs-{direction}.pt"
        torch.save(read_as_gancli_does(sorted((root / "photos").iterdir())), images)
        fresh.append({"model": str(model_path), "contract": str(model_path.with_suffix(".json")),
                      "images": str(images), "result": str(work / f"cycle-{direction}.result.pt")})
        cases[f"cycle-{direction}"] = {"run": cycle, "direction": direction, "translated": translated,
                                       "job": fresh[-1], "kind": "translator"}
    run_fresh(backend, fresh, root)
    return cases


def read_as_gancli_does(paths: list[Path]) -> torch.Tensor:
    from gancli.data.base import to_float
    from gancli.data.image_files import load_square

    return to_float(torch.stack([load_square(p, 32) for p in paths]))


@pytest.fixture(scope="module")
def torchscript_cases(tmp_path_factory):
    return exported_jobs(tmp_path_factory.mktemp("export"), "torchscript", TS_JOBS)


@pytest.fixture(scope="module")
def onnx_cases(tmp_path_factory):
    for name in ("onnxruntime", "onnx", "onnxscript"):
        pytest.importorskip(name)
    return exported_jobs(tmp_path_factory.mktemp("export"), "onnx", ONNX_JOBS)


def check_case(case: dict) -> None:
    """The fresh process's z and labels are gancli sample's, bit for bit; its images equal the
    eager generator's within 1e-5 and `gancli sample`'s pixels within one level (translators:
    `gancli translate`'s)."""
    from gancli.config import SampleRequest
    from gancli.sampling import load_generator, sample
    from gancli.sampling.translation import load_translators, translate

    fresh = torch.load(case["job"]["result"])
    if case["kind"] == "translator":
        tr = load_translators(case["run"])
        net = tr.nets["G_AB" if case["direction"] == "a2b" else "G_BA"]
        expected = translate(net, fresh["inputs"][0])
        written = np.stack([np.asarray(Image.open(p)) for p in sorted(case["translated"].iterdir())])
    else:
        gen = load_generator(case["run"], ema=case["ema"])
        req = SampleRequest(n=case["n"], seed=case["seed"], truncation=[case["t"]] if case["t"] else None)
        ours = sample(gen, req)
        z = fresh["inputs"][0]
        assert torch.equal(z, ours.z)
        if ours.labels is None:
            assert len(fresh["inputs"]) == 1
        else:
            assert torch.equal(fresh["inputs"][1], ours.labels)
            assert torch.equal(torch.from_numpy(np.load(case["npz"])["labels"]), ours.labels)
        if case["t"]:
            assert float(z.abs().max()) <= case["t"]
            assert float((z.abs() == case["t"]).float().mean()) == 0.0  # resampled, not clamped
            assert float(z.abs().max()) > 0.9 * case["t"]  # and not scaled into a narrower normal
        with torch.no_grad():
            expected = gen.G(*fresh["inputs"]) if ours.labels is not None else gen.G(z, None)
        written = np.load(case["npz"])["images"]
    assert float((fresh["images"] - expected).abs().max()) == pytest.approx(0.0, abs=1e-5)
    # another runtime (TorchScript, onnxruntime), batch and thread count: equal up to float rounding
    # (docs/export.md promises >= 99.9 % of the values exactly)
    assert_uint8_images_close(fresh["pixels"].numpy(), written, max_fraction=0.001)


TS_CASES = [f"{n}{'-raw' if r else ''}-seed{s}-n{k}" + (f"-t{t}" if t else "") for n, r, s, k, t in TS_JOBS]
ONNX_CASES = [f"{n}{'-raw' if r else ''}-seed{s}-n{k}" + (f"-t{t}" if t else "") for n, r, s, k, t in ONNX_JOBS]


@pytest.mark.parametrize("case", TS_CASES + ["cycle-a2b", "cycle-b2a"])
def test_torchscript_export_reproduces_gancli_in_a_process_without_gancli(torchscript_cases, case):
    check_case(torchscript_cases[case])


@pytest.mark.parametrize("case", ONNX_CASES + ["cycle-a2b", "cycle-b2a"])
def test_onnx_export_reproduces_gancli_with_onnxruntime(onnx_cases, case):
    check_case(onnx_cases[case])


def test_the_contract_states_inputs_labels_output_and_the_check(torchscript_cases):
    contract = json.loads(Path(torchscript_cases["sagan-class-seed3-n6"]["job"]["contract"]).read_text())
    assert (contract["kind"], contract["format"], contract["file"]) == ("generator", "torchscript", "sagan-class.pt")
    assert contract["source"]["step"] == 7 and contract["source"]["weights"] == "EMA"
    assert contract["source"]["checkpoint"].endswith("runs/sagan-class/checkpoints/last.pt")
    assert [(i["name"], i["shape"], i["dtype"]) for i in contract["inputs"]] == [
        ("z", ["N", 128], "float32"), ("labels", ["N"], "int64")]
    assert contract["output"]["shape"] == ["N", 3, 32, 32] and contract["output"]["range"] == [-1.0, 1.0]
    assert contract["labels"]["class_names"][:3] == ["circle", "square", "triangle"]
    assert contract["labels"]["frequencies"] == [0.125] * 8
    assert contract["verified"]["max_abs_diff"] <= 1e-5 and contract["verified"]["n_inputs"] == 9
    assert any(line.startswith("spectral norm of ") for line in contract["baked_in"])
    assert "images = torch.jit.load('sagan-class.pt')(z, labels)" == contract["usage"]

    attrs = json.loads(Path(torchscript_cases["cnn-attrs-seed4-n6"]["job"]["contract"]).read_text())
    assert attrs["inputs"][1]["shape"] == ["N", 3] and attrs["inputs"][1]["dtype"] == "float32"
    assert attrs["labels"] == {"kind": "attrs", "n_attrs": 3, "attr_names": ["Male", "Smiling", "Young"],
                               "frequencies": [0.5, 0.5, 0.5]}
    assert attrs["baked_in"][0].startswith("4 batch norms")  # cnn's G has no spectral norm
    plain = json.loads(Path(torchscript_cases["sngan-none-seed7-n4"]["job"]["contract"]).read_text())
    assert [i["name"] for i in plain["inputs"]] == ["z"] and plain["labels"] == {"kind": "none"}
    assert plain["sampling"]["prior"] == "normal" and "truncation" in plain["sampling"]
    began = json.loads(Path(torchscript_cases["began-none-seed8-n4"]["job"]["contract"]).read_text())
    assert began["sampling"]["prior"] == "uniform" and "truncation" not in began["sampling"]  # BEGAN's U[-1, 1]
    cycle = json.loads(Path(torchscript_cases["cycle-b2a"]["job"]["contract"]).read_text())
    assert cycle["kind"] == "translator" and cycle["direction"] == "b2a" and cycle["source"]["network"] == "G_BA"
    assert cycle["inputs"][0]["shape"] == ["N", 3, 32, 32] and "sampling" not in cycle


def test_plain_copy_bakes_spectral_norm_as_eval_mode_uses_it_and_leaves_the_network_alone():
    from torch.nn.utils import parametrize

    from gancli.config import ModelConfig
    from gancli.export import plain_copy
    from gancli.layers.spectral import sn_layers
    from gancli.models import build_network

    G = build_network(ModelConfig(name="biggan", res=32, ch=4, n_classes=5, sn_target=2.0), "G").eval()
    layers = sn_layers(G)
    u_before = {name: m.parametrizations.weight[0]._u.clone() for name, m in layers}
    plain = plain_copy(G)
    assert not any(parametrize.is_parametrized(m) for m in plain.modules())
    modules = dict(plain.named_modules())
    for name, m in layers:
        W = m.parametrizations.weight.original
        sn = m.parametrizations.weight[0]
        W_mat = W.flatten(1) if not isinstance(m, torch.nn.ConvTranspose2d) else W.transpose(0, 1).flatten(1)
        sigma = sn._u @ W_mat @ sn._v
        assert torch.allclose(modules[name].weight, 2.0 * W / sigma, rtol=1e-6, atol=0)  # K W / (u^T W v)
        assert torch.equal(modules[name].weight, m.weight)  # exactly what the eval-mode forward computes
        assert torch.equal(sn._u, u_before[name])  # no power iteration ran
    z, y = torch.randn(3, G.config.z_dim), torch.tensor([0, 4, 2])
    with torch.no_grad():
        assert torch.allclose(plain(z, y), G(z, y), rtol=0, atol=1e-5)
    assert all(parametrize.is_parametrized(m) for _, m in layers)  # the original keeps its SN


@pytest.mark.parametrize(("out", "contract"), [("g.pt", "g.json"), ("out/g.onnx", "out/g.json"), ("g", "g.json"),
                                               ("gen.v2.pt", "gen.v2.json")])
def test_the_contract_goes_beside_the_model_with_json_for_its_suffix(out, contract):
    from gancli.export import contract_path

    assert contract_path(Path(out)) == Path(contract)


def test_summary_line_default_names_and_the_newest_run(tmp_path, monkeypatch):
    write_tiny_run(tmp_path / "runs" / "only", model="dcgan", label_kind="none", step=12)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["export"])
    assert result.exit_code == 0, result.output
    assert result.stderr == "using runs/only/checkpoints/last.pt (newest run under runs; step 12, EMA weights of G)\n"
    out = Path("runs/only/export/torchscript/G_ema-step12.pt")
    line = re.fullmatch(r"wrote runs/only/export/torchscript/G_ema-step12\.pt \((\d+\.\d) MB, torchscript\) and "
                        r"runs/only/export/torchscript/G_ema-step12\.json: max abs diff (\S+) "
                        r"against the checkpoint's G on 9 inputs\n", result.stdout)
    assert line is not None, result.stdout
    assert float(line[1]) == pytest.approx((tmp_path / out).stat().st_size / 1e6, abs=0.05)
    contract = json.loads((tmp_path / out.with_suffix(".json")).read_text())
    assert float(line[2]) == pytest.approx(contract["verified"]["max_abs_diff"], rel=0.05, abs=1e-12)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]  # nothing lands in the working directory
    again = runner.invoke(app, ["export"])  # never silently over an earlier export
    assert again.exit_code == 1 and "exists" in again.stderr
    by_name = runner.invoke(app, ["export", "only", "--out", "named.pt", "--no-ema"])  # a run by its name
    assert by_name.exit_code == 0, by_name.output
    assert json.loads((tmp_path / "named.json").read_text())["source"]["weights"] == "raw"


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def one_line_error(result, text: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
    assert text in result.stderr, result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("args", "text"), [
    (["--format", "tflite"], "unknown export format 'tflite'; choose one of: torchscript, onnx"),
    (["--out", "g.json"], "--out g.json is where its JSON contract goes"),
    (["--out", "g.onnx"], "--out g.onnx ends in .onnx, the suffix of onnx files, but --format is torchscript"),
    (["--direction", "b2a"], "--direction is for two-domain (CycleGAN) runs"),
    (["--out", "sub"], "--out sub is a directory"),
])
def test_bad_options_are_one_line_and_write_nothing(tiny_run, tmp_path, monkeypatch, args, text):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    before = files(tmp_path)
    one_line_error(runner.invoke(app, ["export", str(tiny_run), *args]), text)
    assert files(tmp_path) == before


def test_unknown_target_and_missing_ema_are_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    one_line_error(runner.invoke(app, ["export", "no/such/run.pt"]),
                   "no such checkpoint file, run directory or run name")
    write_tiny_run(tmp_path / "runs" / "raw", ema=False)
    before = files(tmp_path)
    one_line_error(runner.invoke(app, ["export", "runs/raw", "--ema"]), "has no EMA weights of G")
    assert files(tmp_path) == before


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_existing_out_or_contract_is_refused_unless_force(tiny_run, tmp_path):
    out = tmp_path / "g.pt"
    out.write_bytes(b"mine")
    one_line_error(runner.invoke(app, ["export", str(tiny_run), "--out", str(out)]),
                   f"--out {out} already exists; pass --force to replace it")
    assert out.read_bytes() == b"mine" and not (tmp_path / "g.json").exists()
    out.unlink()
    (tmp_path / "g.json").write_text("{}")
    one_line_error(runner.invoke(app, ["export", str(tiny_run), "--out", str(out)]),
                   f"the contract {tmp_path / 'g.json'} already exists; pass --force")
    assert not out.exists()
    export(tiny_run, out, "--force")
    assert json.loads((tmp_path / "g.json").read_text())["file"] == "g.pt"
    assert torch.jit.load(str(out))(torch.zeros(2, 128), torch.tensor([0, 1])).shape == (2, 3, 32, 32)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.json", "g.pt", "runs"]  # no temporary files
    # g.ts would take g.json from g.pt, and the checkpoint must not be overwritten: refused even with --force
    one_line_error(runner.invoke(app, ["export", str(tiny_run), "--out", str(tmp_path / "g.ts"), "--force"]),
                   f"{tmp_path / 'g.json'} is the contract of g.pt, which is still there")
    last = tiny_run / "checkpoints" / "last.pt"
    one_line_error(runner.invoke(app, ["export", str(tiny_run), "--out", str(last), "--force"]),
                   "would replace the checkpoint being exported")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.json", "g.pt", "runs"]
    assert sorted(p.name for p in last.parent.iterdir()) == ["last.pt"]


def test_missing_onnx_packages_are_one_line_naming_the_extra(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # import onnxscript now raises ImportError
    before = files(tmp_path)
    result = runner.invoke(app, ["export", str(tiny_run), "--format", "onnx", "--out", str(tmp_path / "g.onnx")])
    one_line_error(result, "--format onnx needs onnxscript (not installed); pip install 'gancli[onnx]'")
    assert files(tmp_path) == before


def test_a_failed_check_leaves_no_file_and_no_new_folder(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setattr("gancli.export.exporter.MAX_ABS_DIFF", -1.0)  # every export now "differs"
    before = files(tmp_path)
    result = runner.invoke(app, ["export", str(tiny_run), "--out", str(tmp_path / "new" / "deeper" / "g.pt")])
    one_line_error(result, "the torchscript export differs from the checkpoint's G by")
    assert "nothing was written" in result.stderr
    assert files(tmp_path) == before
