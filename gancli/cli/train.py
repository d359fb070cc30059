"""``gancli train``: parse options -> TrainConfig -> gancli.training.train."""
from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from gancli.cli.main import command


def _split(text: Optional[str]) -> Optional[list[str]]:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


@command("train")
def train_command(
    dataset: Annotated[Optional[str], typer.Argument(help="shapes (built in), folder, cifar10, mnist, fashion-mnist, celeba.")] = None,
    path: Annotated[Optional[str], typer.Argument(help="Data location (same as --data-root), e.g. the image folder.")] = None,
    data_root: Annotated[Optional[str], typer.Option(help="Root directory of a local dataset.")] = None,
    download: Annotated[Optional[bool], typer.Option("--download", help="Download the dataset if missing (torchvision sets).")] = None,
    split: Annotated[Optional[str], typer.Option(help="Dataset split: train, test (celeba: valid, all).")] = None,
    data_size: Annotated[Optional[int], typer.Option(help="shapes: number of generated images [20000].")] = None,
    cond: Annotated[Optional[bool], typer.Option("--cond/--no-cond", help="Condition on labels [auto: yes for class-labelled data].")] = None,
    attrs: Annotated[Optional[str], typer.Option(help="celeba: attributes to condition on, e.g. Male,Smiling [all 40].")] = None,
    preset: Annotated[Optional[str], typer.Option(help="Hyperparameter preset: auto (quick for shapes, else sagan), sagan, quick [auto].")] = None,
    model: Annotated[Optional[str], typer.Option(help="dcgan, sngan, sagan, biggan [sagan].")] = None,
    res: Annotated[Optional[int], typer.Option(help="Resolution: 32, 64, 128, 256 [32].")] = None,
    loss: Annotated[Optional[str], typer.Option(help="hinge, ns, wgan-gp [hinge].")] = None,
    steps: Annotated[Optional[int], typer.Option(help="Training iterations (n_dis D steps + 1 G step each) [sagan: 100000, quick: 1600].")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Per-process batch size [sagan: 64, quick: 24].")] = None,
    lr_g: Annotated[Optional[float], typer.Option(help="G learning rate [sagan: 1e-4, quick: 4e-4].")] = None,
    lr_d: Annotated[Optional[float], typer.Option(help="D learning rate [sagan: 4e-4, quick: 1.6e-3].")] = None,
    beta1: Annotated[Optional[float], typer.Option(help="Adam beta1 [0.0].")] = None,
    beta2: Annotated[Optional[float], typer.Option(help="Adam beta2 [0.9].")] = None,
    n_dis: Annotated[Optional[int], typer.Option(help="D steps per G step [1].")] = None,
    ema: Annotated[Optional[bool], typer.Option("--ema/--no-ema", help="Keep an EMA of G's weights [on].")] = None,
    ema_decay: Annotated[Optional[float], typer.Option(help="EMA decay [sagan: 0.999, quick: 0.99].")] = None,
    lr_decay: Annotated[Optional[float], typer.Option(help="Fraction of the steps at the end over which both lrs fall linearly to 0 [0].")] = None,
    ortho_reg: Annotated[Optional[float], typer.Option(help="BigGAN orthogonal regularisation strength [0].")] = None,
    reuse_fake: Annotated[Optional[bool], typer.Option("--reuse-fake/--no-reuse-fake", help="G step reuses the D step's fakes (one G forward less; needs --n-dis 1) [sagan: off, quick: on].")] = None,
    split_d: Annotated[Optional[bool], typer.Option("--split-d/--no-split-d", help="D step as two passes, real then fake: half of D's activation memory, same gradients [off].")] = None,
    ch: Annotated[Optional[int], typer.Option(help="Channel multiplier [sagan: 64, quick: 8].")] = None,
    d_ch: Annotated[Optional[int], typer.Option(help="D's channel multiplier [sagan: same as --ch, quick: 24].")] = None,
    attn_res: Annotated[Optional[str], typer.Option(help="Self-attention resolutions, e.g. 16 or 16,32 [model default].")] = None,
    z_dim: Annotated[Optional[int], typer.Option(help="Latent size [128].")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed [0].")] = None,
    device: Annotated[Optional[str], typer.Option(help="auto, cpu, cuda, mps [auto].")] = None,
    amp: Annotated[Optional[str], typer.Option(help="Mixed precision: off, bf16, fp16 (CUDA, with a GradScaler) [off].")] = None,
    compile: Annotated[Optional[bool], typer.Option("--compile", help="torch.compile G and D.")] = None,
    out: Annotated[Optional[str], typer.Option(help="Run directory [runs/<dataset>-<model>-<res>-<time>].")] = None,
    log_every: Annotated[Optional[int], typer.Option(help="Steps between metrics.jsonl lines [sagan: 100, quick: 25].")] = None,
    sample_every: Annotated[Optional[int], typer.Option(help="Steps between sample grids [sagan: 1000, quick: 320].")] = None,
    ckpt_every: Annotated[Optional[int], typer.Option(help="Steps between checkpoints [sagan: 5000, quick: 800].")] = None,
    keep: Annotated[Optional[int], typer.Option(help="Step checkpoints kept besides last.pt; 0 keeps all [3].")] = None,
    resume: Annotated[Optional[str], typer.Option(help="Continue from a checkpoint file or run directory.")] = None,
    eval_every: Annotated[Optional[int], typer.Option(help="Steps between evaluations of G_ema into metrics.jsonl; 0: none [0].")] = None,
    eval_n: Annotated[Optional[int], typer.Option(help="Generated images per evaluation [2000].")] = None,
    eval_metrics: Annotated[Optional[str], typer.Option(help="Metrics per evaluation: a comma list of fid, is, kid, prc [fid].")] = None,
    feature_extractor: Annotated[Optional[str], typer.Option(help="Evaluation features: inception or shapes-net [shapes-net for shapes, else inception].")] = None,
    inception_weights: Annotated[Optional[str], typer.Option(help="A local copy of torch-fidelity's Inception weights.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the resolved config and exit.")] = False,
) -> None:
    """Train a GAN. With no arguments: a small class-conditional SAGAN on the built-in shapes data."""
    from gancli.errors import GancliError

    if path is not None and data_root is not None:
        raise GancliError("give the data location once: as the PATH argument or as --data-root")
    attn = None
    if attn_res is not None:
        try:
            attn = [int(r) for r in _split(attn_res)]
        except ValueError:
            raise GancliError(f"--attn-res takes comma-separated resolutions, got {attn_res!r}") from None
    given = dict(preset=preset, dataset=dataset, data_root=path or data_root, download=download, split=split,
                 data_size=data_size, cond=cond, attrs=_split(attrs), model=model, res=res, loss=loss, steps=steps,
                 batch_size=batch_size, lr_g=lr_g, lr_d=lr_d, beta1=beta1, beta2=beta2, n_dis=n_dis, ema=ema,
                 ema_decay=ema_decay, lr_decay=lr_decay, ortho_reg=ortho_reg, reuse_fake=reuse_fake, split_d=split_d, ch=ch, d_ch=d_ch, attn_res=attn,
                 z_dim=z_dim, seed=seed, device=device, amp=amp, compile=compile, out=out, log_every=log_every,
                 sample_every=sample_every, ckpt_every=ckpt_every, keep=keep, resume=resume,
                 eval_every=eval_every, eval_n=eval_n, eval_metrics=_split(eval_metrics),
                 feature_extractor=feature_extractor, inception_weights=inception_weights)
    explicit = {k: v for k, v in given.items() if v is not None}
    run_training(explicit, dry_run=dry_run)


def run_training(explicit: dict, dry_run: bool = False, show_progress: bool = True) -> None:
    """The core call behind the command (tests call it too)."""
    from gancli.config import TrainConfig
    from gancli.errors import GancliError
    from gancli.training import load_resume, resume_config, train
    from gancli.training.loop import prepare
    from gancli.training.rundir import dataset_info

    state = resume_dir = None
    if "resume" in explicit:
        state, resume_dir = load_resume(explicit["resume"])
        if "out" in explicit:
            raise GancliError("--resume continues in the checkpoint's own run directory; drop --out")
        cfg = resume_config(state, explicit)
    else:
        cfg = TrainConfig.from_options(explicit)
    cfg.validate()
    if dry_run:
        dataset, model_cfg = prepare(cfg)
        typer.echo(json.dumps({"train": cfg.to_dict(), "model": model_cfg.to_dict(),
                               "dataset": dataset_info(dataset)}, indent=2))
        return
    result = train(cfg, show_progress=show_progress, resume_state=state, resume_dir=resume_dir)
    if result.interrupted:
        typer.echo(f"interrupted at step {result.step}; saved {result.last_checkpoint}; "
                   f"continue with: gancli train --resume {result.run_dir}", err=True)
        raise typer.Exit(130)
    typer.echo(f"trained {result.step} steps in {result.wall_time:.0f} s; last grid: {result.last_grid}; "
               f"checkpoint: {result.last_checkpoint}")
    if result.last_eval is not None:
        from gancli.training.progress import format_eval

        typer.echo(f"last evaluation, {format_eval(result.last_eval)}")
