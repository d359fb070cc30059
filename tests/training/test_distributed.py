"""DistributedDataParallel on 2 gloo processes: WGAN-GP's penalty and cross-replica BN keep the
ranks' networks bit-identical; cross-replica BN equals BN over the global batch."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_ranks(tmp_path, port: int, *options: str) -> list[dict]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    env.pop("WORLD_SIZE", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(port),
           str(ROOT / "tests" / "training" / "ddp_worker.py"), str(tmp_path), *options]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return [torch.load(tmp_path / f"rank-{r}.pt", weights_only=True) for r in (0, 1)]


def _assert_ranks_equal(states: list[dict], bn_stats: bool) -> None:
    """Every parameter (and SN vector) equal on both ranks; BN running statistics too with
    cross-replica BN (without it each rank's statistics are of its own half of the batch)."""
    a, b = states
    for net in a:
        for key, value in a[net].items():
            if not bn_stats and ("running_" in key or "num_batches_tracked" in key):
                continue
            torch.testing.assert_close(b[net][key], value, rtol=0, atol=0, msg=lambda m: f"{net}.{key}: {m}")


@pytest.mark.parametrize("options", [("loss=wgan-gp",), ("loss=hinge", "gp_weight=5.0"),
                                     ("model=dcgan", "sync_bn=true"),
                                     ("method=began", "model=began", "z_dim=16", "lambda_k=0.5")])
def test_ranks_stay_bit_identical(tmp_path, options):
    states = _run_ranks(tmp_path, _free_port(), *options)
    _assert_ranks_equal(states, bn_stats="sync_bn=true" in options)
    # and training moved the weights (a penalty step that never ran would also leave ranks equal)
    g = states[0]["G"]
    assert all(torch.isfinite(v).all() for v in g.values() if v.is_floating_point())


AFFINE = (torch.tensor([1.0, 2.0, 0.5]), torch.tensor([0.0, -1.0, 1.0]))  # BN(3)'s weight and bias


def _cross_replica_worker(rank: int, port: int, x: torch.Tensor, loss_weights: torch.Tensor, sizes: tuple[int, int],
                          out: str) -> None:
    import torch.distributed as dist

    from gancli.layers.sync_bn import CrossReplicaBatchNorm2d

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    bn = CrossReplicaBatchNorm2d(3)
    with torch.no_grad():
        bn.weight.copy_(AFFINE[0])
        bn.bias.copy_(AFFINE[1])
    rows = slice(sum(sizes[:rank]), sum(sizes[: rank + 1]))
    part = x[rows].clone().requires_grad_(True)
    y = bn(part)
    (y * loss_weights[rows]).sum().backward()
    torch.save({"y": y.detach(), "grad": part.grad, "mean": bn.running_mean, "var": bn.running_var,
                "gw": bn.weight.grad, "gb": bn.bias.grad}, f"{out}/bn-{rank}.pt")
    dist.barrier()  # neither rank tears gloo down while the other still talks to it (an abort 1 run in 20)
    dist.destroy_process_group()


def _cross_replica_bn(tmp_path, x: torch.Tensor, loss_weights: torch.Tensor, sizes: tuple[int, int]) -> list[dict]:
    """One training step of CrossReplicaBatchNorm2d(3) on 2 gloo ranks, rank r holding the next
    sizes[r] samples of x; each rank's loss is sum(y * loss_weights) over its rows."""
    import torch.multiprocessing as mp

    mp.start_processes(_cross_replica_worker, args=(_free_port(), x, loss_weights, sizes, str(tmp_path)), nprocs=2,
                       start_method="spawn")
    return [torch.load(tmp_path / f"bn-{r}.pt", weights_only=True) for r in (0, 1)]


def _global_bn(x: torch.Tensor, loss_weights: torch.Tensor, dtype: torch.dtype):
    """nn.BatchNorm2d(3) in ``dtype`` on the whole batch: the module, its output and x's gradient."""
    from torch import nn

    bn = nn.BatchNorm2d(3).to(dtype)
    with torch.no_grad():
        bn.weight.copy_(AFFINE[0])
        bn.bias.copy_(AFFINE[1])
    full = x.to(dtype).requires_grad_(True)
    y = bn(full)
    (y * loss_weights.to(dtype)).sum().backward()
    return bn, y.detach(), full.grad


def test_cross_replica_bn_equals_bn_over_the_global_batch(tmp_path):
    x = torch.randn(6, 3, 4, 4, generator=torch.Generator().manual_seed(0)) * 2 + 1
    weights = torch.cat([torch.arange(3 * 3 * 16).view(3, 3, 4, 4)] * 2)  # each rank weighted its half alike
    parts = _cross_replica_bn(tmp_path, x, weights, (3, 3))

    bn, y, grad = _global_bn(x, weights, torch.float32)
    torch.testing.assert_close(torch.cat([p["y"] for p in parts]), y, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.cat([p["grad"] for p in parts]), grad, rtol=1e-4, atol=1e-4)
    for p in parts:
        torch.testing.assert_close(p["mean"], bn.running_mean, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(p["var"], bn.running_var, rtol=1e-5, atol=1e-6)
    # the affine parameters' gradients are per rank here (DDP would average them)
    torch.testing.assert_close(parts[0]["gw"] + parts[1]["gw"], bn.weight.grad, rtol=1e-4, atol=1e-3)


def test_cross_replica_bn_keeps_float32_accuracy_far_from_zero(tmp_path):
    """Channels with mean/std 100, 1,000 and 3,000 (E[x^2] - mean^2 in float32 is off by 2e-3, 0.2
    and 0.5 in y there), on ranks of unequal size whose means differ by 1.5 std, against BN in
    float64 on the whole batch: y and x's gradient within 1e-5 (float32 BN on one process: 7e-5)."""
    ratios = (100.0, 1000.0, 3000.0)
    std = torch.tensor([0.5, 1.0, 2.0])[None, :, None, None]
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(6, 3, 8, 8, generator=gen) + torch.tensor(ratios)[None, :, None, None]) * std
    x[2:] += 1.5 * std
    weights = torch.randn(6, 3, 8, 8, generator=gen)
    parts = _cross_replica_bn(tmp_path, x, weights, (2, 4))

    bn, y, grad = _global_bn(x, weights, torch.float64)
    found = {"y": torch.cat([p["y"] for p in parts]), "grad": torch.cat([p["grad"] for p in parts])}
    for c, ratio in enumerate(ratios):
        for key, expected in (("y", y), ("grad", grad)):
            torch.testing.assert_close(found[key][:, c].double(), expected[:, c], rtol=0, atol=1e-5,
                                       msg=lambda m: f"{key}, mean/std {ratio:g}: {m}")
        for p in parts:
            torch.testing.assert_close(p["mean"][c].double(), bn.running_mean[c], rtol=1e-6, atol=0)
            torch.testing.assert_close(p["var"][c].double(), bn.running_var[c], rtol=0, atol=1e-6,
                                       msg=lambda m: f"running_var, mean/std {ratio:g}: {m}")
    for key, expected in (("gw", bn.weight.grad), ("gb", bn.bias.grad)):
        torch.testing.assert_close((parts[0][key] + parts[1][key]).double(), expected, rtol=1e-5, atol=1e-4)


def _torchrun_train(tmp_path, port: int, *args: str, nproc: int = 2, check: bool = True):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    env.pop("WORLD_SIZE", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc), "--master-port", str(port),
           "-m", "gancli", "train", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


TINY_DDP = ["--ch", "4", "--d-ch", "4", "--batch-size", "4", "--data-size", "64", "--device", "cpu", "--log-every", "2",
            "--sample-every", "100", "--ckpt-every", "3", "--steps", "6"]


def test_resume_under_torchrun_is_exact_and_a_world_change_is_refused(tmp_path):
    from gancli.checkpoint import load_checkpoint

    whole = _torchrun_train(tmp_path, _free_port(), *TINY_DDP, "--out", str(tmp_path / "whole"))
    assert whole.stdout.count("trained 6 steps") == 1 and "checkpoint: None" not in whole.stdout  # rank 0 reports
    final = load_checkpoint(tmp_path / "whole" / "checkpoints" / "last.pt")
    assert final["world"] == 2 and len(final["rng_ranks"]) == 2
    assert not torch.equal(final["rng_ranks"][0]["torch"], final["rng_ranks"][1]["torch"])
    # cut the run back to its step-3 checkpoint and resume it on two processes
    import shutil

    shutil.copytree(tmp_path / "whole", tmp_path / "cut")
    ckpts = tmp_path / "cut" / "checkpoints"
    (ckpts / "last.pt").write_bytes((ckpts / "step-3.pt").read_bytes())
    (ckpts / "step-6.pt").unlink()
    _torchrun_train(tmp_path, _free_port(), "--resume", str(tmp_path / "cut"))
    resumed = load_checkpoint(ckpts / "last.pt")
    for net in final["networks"]:
        for key, value in final["networks"][net].items():
            torch.testing.assert_close(resumed["networks"][net][key], value, rtol=0, atol=0,
                                       msg=lambda m: f"{net}.{key}: {m}")
    # one process would halve the global batch: refused, naming the count to use
    from typer.testing import CliRunner

    from gancli.cli.main import app

    result = CliRunner().invoke(app, ["train", "--resume", str(tmp_path / "whole"), "--steps", "8"])
    assert result.exit_code == 1 and "the checkpoint was trained on 2 processes" in result.stderr
    assert "torchrun --nproc-per-node 2" in result.stderr and result.stderr.count("\n") == 1


def test_a_rank_lost_mid_step_is_one_line():
    from types import SimpleNamespace

    from gancli.errors import GancliError
    from gancli.training.distributed import step_with_peers

    def step():
        raise RuntimeError("[../third_party/gloo/gloo/transport/tcp/pair.cc:534] Connection closed by peer [127.0.0.1]:1")

    trainer = SimpleNamespace(dist=SimpleNamespace(enabled=True, rank=0), step=11, train_step=step)
    with pytest.raises(GancliError, match=r"another process of this torchrun run stopped during step 12 .*Connection "
                                          r"closed by peer.*resume from runs/x/checkpoints/last.pt"):
        step_with_peers(trainer, Path("runs/x/checkpoints/last.pt"))

    def bug():
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    trainer.train_step = bug
    with pytest.raises(RuntimeError, match="mat1"):  # a bug keeps its traceback
        step_with_peers(trainer, None)
