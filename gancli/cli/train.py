"""``gancli train``: parse options -> TrainConfig -> gancli.training.train.

Every field of ``TrainConfig``, of its owned option sets (``gancli.config.owned``) and every user-set
field of ``ModelConfig`` is an option here (tests/cli/test_front_door.py checks it); the defaults
shown in ``--help`` are read from those dataclasses and the presets.
"""
from __future__ import annotations

import json
import shlex
import signal
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from gancli.cli.app import command, complete_runs, completer, split_list
from gancli.config import HPARAMS, MODEL_OPTIONS, OWNED_FIELDS, PRESETS, ModelConfig, TrainConfig, default, owned_default


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def d(option: str, unset: str | None = None) -> str:
    """The default of a train option as help text: ``[64]``, or per preset ``[sagan: 64, quick: 8]``;
    ``unset`` says what a None default means (e.g. "the model's")."""
    base = (default(ModelConfig, MODEL_OPTIONS[option]) if option in MODEL_OPTIONS
            else owned_default(option) if option in OWNED_FIELDS else default(TrainConfig, option))
    shown = unset if (base is None and unset) else _text(base)
    by_preset = {name: _text(values[option]) for name, values in PRESETS.items()
                 if option in values and values[option] != base}  # a preset that keeps the default adds nothing
    if by_preset:
        return "[" + ", ".join([f"sagan: {shown}"] + [f"{k}: {v}" for k, v in by_preset.items()]) + "]"
    return f"[{shown}]"


#: the panels of `gancli train --help`
P_DATA = "Data"
P_MODEL = "Model"
P_METHOD = "Method and loss"
P_OPTIM = "Optimisation"
P_RUN = "Run directory and cadence"
P_EVAL = "Evaluation during training"
P_PERF = "Performance and devices"

COND_MODE_DEFAULT = "the model's: concat for dcgan, else proj"


@command("train", examples=[
    ("gancli train", "the default run: a class-conditional SAGAN on the built-in shapes data (about 3 minutes on 2 cores)"),
    ("gancli train cifar10 --data-root ~/data --preset sagan --name c10 --logger tensorboard", "the SAGAN paper's setup on CIFAR-10 as runs/c10, also logged to TensorBoard"),
    ("gancli train --resume c10 --steps 200000", "continue the run named c10 up to step 200,000"),
])
def train_command(
    dataset: Annotated[Optional[str], typer.Argument(autocompletion=completer("datasets"), help=f"shapes (built in), folder, cifar10, mnist, fashion-mnist, celeba; two-domain (CycleGAN): shapes-pair (built in), pair {d('dataset')}.")] = None,
    path: Annotated[Optional[str], typer.Argument(help="Data location (same as --data-root), e.g. the image folder, or pair's DIR with trainA/ trainB/ testA/ testB/ [none: --data-root's].")] = None,
    data_root: Annotated[Optional[str], typer.Option(rich_help_panel=P_DATA, help="Root directory of a local dataset [./data for cifar10, mnist, fashion-mnist, celeba; folder and pair need one].")] = None,
    download: Annotated[Optional[bool], typer.Option("--download", rich_help_panel=P_DATA, help="Download the dataset if missing (torchvision sets) [off: offline].")] = None,
    split: Annotated[Optional[str], typer.Option(rich_help_panel=P_DATA, help=f"Dataset split: train, test (celeba: valid, all) {d('split')}.")] = None,
    data_size: Annotated[Optional[int], typer.Option(rich_help_panel=P_DATA, help="shapes: number of generated images [20000]; others: a random subset [all].")] = None,
    cond: Annotated[Optional[bool], typer.Option("--cond/--no-cond", rich_help_panel=P_DATA, help="Condition on labels [auto: yes for class-labelled data].")] = None,
    attrs: Annotated[Optional[str], typer.Option(rich_help_panel=P_DATA, help="celeba: attributes to condition on, e.g. Male,Smiling [all 40].")] = None,
    preset: Annotated[Optional[str], typer.Option(rich_help_panel=P_METHOD, autocompletion=completer("presets"), help=f"Hyperparameter preset: auto (quick for shapes, cyclegan-quick for shapes-pair, cyclegan for pair, else sagan), {', '.join(PRESETS)} [auto].")] = None,
    method: Annotated[Optional[str], typer.Option(rich_help_panel=P_METHOD, autocompletion=completer("methods"), help=f"Training method: gan (a G/D pair with --loss), began, ebgan, cyclegan (two-domain data) {d('method')}.")] = None,
    model: Annotated[Optional[str], typer.Option(rich_help_panel=P_MODEL, autocompletion=completer("models"), help=f"dcgan, cnn, sngan, sagan, biggan, began, cyclegan {d('model')}.")] = None,
    res: Annotated[Optional[int], typer.Option(rich_help_panel=P_MODEL, help=f"Resolution: 28 (dcgan, cnn, began), 32, 64, 128, 256 {d('res')}.")] = None,
    ch: Annotated[Optional[int], typer.Option(rich_help_panel=P_MODEL, help=f"Channel multiplier {d('ch')}.")] = None,
    d_ch: Annotated[Optional[int], typer.Option(rich_help_panel=P_MODEL, help=f"D's channel multiplier {d('d_ch', 'same as --ch')}.")] = None,
    z_dim: Annotated[Optional[int], typer.Option(rich_help_panel=P_MODEL, help=f"Latent size {d('z_dim')}.")] = None,
    attn_res: Annotated[Optional[str], typer.Option(rich_help_panel=P_MODEL, help=f"Self-attention resolutions, e.g. 16 or 16,32 {d('attn_res', 'the model default')}.")] = None,
    attn_pool: Annotated[Optional[bool], typer.Option("--attn-pool/--no-attn-pool", rich_help_panel=P_MODEL, help=f"2x2 max-pool the attention keys and values (SAGAN, BigGAN) {d('attn_pool')}.")] = None,
    cond_mode: Annotated[Optional[str], typer.Option(rich_help_panel=P_MODEL, help=f"Conditioning: proj (CBN in G + projection D) or concat (dcgan's cGAN) {d('cond_mode', COND_MODE_DEFAULT)}.")] = None,
    sn_g: Annotated[Optional[bool], typer.Option("--sn-g/--no-sn-g", rich_help_panel=P_MODEL, help=f"Spectral norm in G {d('sn_g', 'the model default: on for sagan, biggan')}.")] = None,
    sn_d: Annotated[Optional[bool], typer.Option("--sn-d/--no-sn-d", rich_help_panel=P_MODEL, help=f"Spectral norm in D (the same as --d-norm sn / none) {d('sn_d')}.")] = None,
    d_norm: Annotated[Optional[str], typer.Option(rich_help_panel=P_MODEL, help=f"D's normalisation: sn, bn, ln, wn, none (the SNGAN paper's baselines); cyclegan: instance, bn, sn, none {d('d_norm', 'sn; cyclegan: instance')}.")] = None,
    d_norm_gamma: Annotated[Optional[bool], typer.Option("--d-norm-gamma/--no-d-norm-gamma", rich_help_panel=P_MODEL, help="A learnable scale gamma in D's bn / ln (g in wn) [off: the SNGAN paper's baselines have none].")] = None,
    z_dist: Annotated[Optional[str], typer.Option(rich_help_panel=P_MODEL, help="Latent prior: normal (N(0, I)) or uniform (U[-1, 1]) [the model's: uniform for began, else normal].")] = None,
    sn_target: Annotated[Optional[float], typer.Option(rich_help_panel=P_MODEL, help=f"Spectral norm target K in W K / sigma(W) {d('sn_target')}.")] = None,
    init: Annotated[Optional[str], typer.Option(rich_help_panel=P_MODEL, help=f"Weight init: ortho, xavier, normal, default {d('init', 'the model default')}.")] = None,
    shared_dim: Annotated[Optional[int], typer.Option(rich_help_panel=P_MODEL, help=f"biggan: shared class-embedding size {d('shared_dim')}.")] = None,
    hier: Annotated[Optional[bool], typer.Option("--hier/--no-hier", rich_help_panel=P_MODEL, help=f"biggan: hierarchical z, one chunk per block {d('hier')}.")] = None,
    g_blocks: Annotated[Optional[int], typer.Option(rich_help_panel=P_MODEL, help=f"cyclegan: residual blocks of the ResNet generator {d('g_blocks', '6 at <= 128 px, 9 at 256')}.")] = None,
    loss: Annotated[Optional[str], typer.Option(rich_help_panel=P_METHOD, autocompletion=completer("losses"), help=f"hinge, ns, wgan-gp, ls {d('loss')}.")] = None,
    gp_weight: Annotated[Optional[float], typer.Option(rich_help_panel=P_METHOD, help="Gradient-penalty weight lambda [the loss's: 10 for wgan-gp, else 0].")] = None,
    gamma: Annotated[Optional[float], typer.Option(rich_help_panel=P_METHOD, help=f"began: diversity ratio gamma that k_t steers to {d('gamma')}.")] = None,
    lambda_k: Annotated[Optional[float], typer.Option(rich_help_panel=P_METHOD, help=f"began: learning rate of k_t {d('lambda_k')}.")] = None,
    lr_halving: Annotated[Optional[int], typer.Option(rich_help_panel=P_METHOD, help=f"began: halve both lrs when M_global has not improved for this many steps; 0: off {d('lr_halving')}.")] = None,
    margin: Annotated[Optional[float], typer.Option(rich_help_panel=P_METHOD, help=f"ebgan: margin m of D's hinge on fake energies {d('margin')}.")] = None,
    pt_weight: Annotated[Optional[float], typer.Option(rich_help_panel=P_METHOD, help=f"ebgan: weight of the pulling-away term; 0: none {d('pt_weight')}.")] = None,
    lambda_cyc: Annotated[Optional[float], typer.Option(rich_help_panel=P_METHOD, help=f"cyclegan: weight of each cycle-consistency L1 term {d('lambda_cyc')}.")] = None,
    lambda_id: Annotated[Optional[float], typer.Option(rich_help_panel=P_METHOD, help=f"cyclegan: identity-loss weight relative to --lambda-cyc; 0: none {d('lambda_id')}.")] = None,
    pool_size: Annotated[Optional[int], typer.Option(rich_help_panel=P_METHOD, help=f"cyclegan: images in each D's history pool; 0: none {d('pool_size')}.")] = None,
    augment: Annotated[Optional[str], typer.Option(rich_help_panel=P_METHOD, help="gan: augment every image D sees, real and generated: diffaug (DiffAugment: color,translation,cutout, or diffaug:OPS) or ada (adaptive, Karras et al. 2020) [none].")] = None,
    ada_target: Annotated[Optional[float], typer.Option(rich_help_panel=P_METHOD, help=f"ada: the overfitting heuristic E[sign D(x_real)] that p is steered to {d('ada_target')}.")] = None,
    ada_interval: Annotated[Optional[int], typer.Option(rich_help_panel=P_METHOD, help=f"ada: iterations between adjustments of p {d('ada_interval')}.")] = None,
    ada_kimg: Annotated[Optional[float], typer.Option(rich_help_panel=P_METHOD, help=f"ada: thousands of real images over which p can rise from 0 to 1 {d('ada_kimg')}.")] = None,
    reg: Annotated[Optional[list[str]], typer.Option(rich_help_panel=P_METHOD, help="gan: a D regulariser NAME[:weight], repeatable: lecam (0.3), cr (10), bcr (10), r1 (gamma 10) [none].")] = None,
    accumulate: Annotated[Optional[int], typer.Option(rich_help_panel=P_OPTIM, help=f"gan: each step over this many batches of --batch-size, one optimizer step (a K times larger batch in the memory of one) {d('accumulate')}.")] = None,
    mbstd: Annotated[Optional[int], typer.Option(rich_help_panel=P_MODEL, help=f"D: minibatch standard deviation over groups of this many images (ProGAN); 0: off {d('mbstd')}.")] = None,
    narrow_b: Annotated[Optional[bool], typer.Option("--narrow-b", rich_help_panel=P_DATA, help="shapes-pair: every B shape at one position and size, to reproduce CycleGAN's collapse [off].")] = None,
    hparams: Annotated[Optional[str], typer.Option(rich_help_panel=P_OPTIM, autocompletion=completer("hparams"), help=f"Named optimiser setting (lr, betas, n_dis, lr decay): {', '.join(HPARAMS)} (A-F: the SNGAN paper's, report-A..C: the 2018 report's) {d('hparams', 'none')}.")] = None,
    steps: Annotated[Optional[int], typer.Option(rich_help_panel=P_OPTIM, help=f"Training iterations (n_dis D steps + 1 G step each) {d('steps')}.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(rich_help_panel=P_OPTIM, help=f"Per-process batch size {d('batch_size')}.")] = None,
    lr_g: Annotated[Optional[float], typer.Option(rich_help_panel=P_OPTIM, help=f"G learning rate {d('lr_g')}.")] = None,
    lr_d: Annotated[Optional[float], typer.Option(rich_help_panel=P_OPTIM, help=f"D learning rate {d('lr_d')}.")] = None,
    beta1: Annotated[Optional[float], typer.Option(rich_help_panel=P_OPTIM, help=f"Adam beta1 {d('beta1')}.")] = None,
    beta2: Annotated[Optional[float], typer.Option(rich_help_panel=P_OPTIM, help=f"Adam beta2 {d('beta2')}.")] = None,
    n_dis: Annotated[Optional[int], typer.Option(rich_help_panel=P_OPTIM, help=f"D steps per G step {d('n_dis')}.")] = None,
    ema: Annotated[Optional[bool], typer.Option("--ema/--no-ema", rich_help_panel=P_OPTIM, help=f"Keep an EMA of G's weights {d('ema')}.")] = None,
    ema_decay: Annotated[Optional[float], typer.Option(rich_help_panel=P_OPTIM, help=f"EMA decay {d('ema_decay')}.")] = None,
    ema_start: Annotated[Optional[int], typer.Option(rich_help_panel=P_OPTIM, help=f"Steps before the EMA starts averaging (it copies G until then) {d('ema_start')}.")] = None,
    lr_decay: Annotated[Optional[float], typer.Option(rich_help_panel=P_OPTIM, help=f"Fraction of the steps at the end over which both lrs fall linearly to 0 {d('lr_decay')}.")] = None,
    ortho_reg: Annotated[Optional[float], typer.Option(rich_help_panel=P_OPTIM, help=f"BigGAN orthogonal regularisation strength {d('ortho_reg')}.")] = None,
    reuse_fake: Annotated[Optional[bool], typer.Option("--reuse-fake/--no-reuse-fake", rich_help_panel=P_OPTIM, help=f"G step reuses the D step's fakes (one G forward less; needs --n-dis 1) {d('reuse_fake')}.")] = None,
    split_d: Annotated[Optional[bool], typer.Option("--split-d/--no-split-d", rich_help_panel=P_OPTIM, help=f"D step as two passes, real then fake: half of D's activation memory, same gradients {d('split_d')}.")] = None,
    seed: Annotated[Optional[int], typer.Option(rich_help_panel=P_OPTIM, help=f"Random seed {d('seed')}.")] = None,
    data_seed: Annotated[Optional[int], typer.Option(rich_help_panel=P_DATA, help="Seed of the data (shapes' scenes, --data-size subsets), so that runs of several --seed values see the same data [--seed].")] = None,
    device: Annotated[Optional[str], typer.Option(rich_help_panel=P_PERF, help=f"auto, cpu, cuda, cuda:N, mps {d('device')}.")] = None,
    amp: Annotated[Optional[str], typer.Option(rich_help_panel=P_PERF, help=f"Mixed precision: off, bf16, fp16 (CUDA, with a GradScaler) {d('amp')}.")] = None,
    compile: Annotated[Optional[bool], typer.Option("--compile", rich_help_panel=P_PERF, help="torch.compile the networks [off].")] = None,
    sync_bn: Annotated[Optional[bool], typer.Option("--sync-bn/--no-sync-bn", rich_help_panel=P_PERF, help=f"Under torchrun: batch-norm statistics over the global batch (BigGAN's cross-replica BN) {d('sync_bn')}.")] = None,
    name: Annotated[Optional[str], typer.Option(rich_help_panel=P_RUN, help="Name the run: its directory is runs/NAME, and every command takes NAME for it [none: a new folder in runs/ named after the dataset, model, resolution and start time].")] = None,
    out: Annotated[Optional[str], typer.Option(rich_help_panel=P_RUN, help="Run directory, anywhere (instead of --name) [a new folder in runs/ named after the dataset, model, resolution and start time].")] = None,
    log_every: Annotated[Optional[int], typer.Option(rich_help_panel=P_RUN, help=f"Steps between metrics.jsonl lines {d('log_every')}.")] = None,
    sample_every: Annotated[Optional[int], typer.Option(rich_help_panel=P_RUN, help=f"Steps between sample grids {d('sample_every')}.")] = None,
    ckpt_every: Annotated[Optional[int], typer.Option(rich_help_panel=P_RUN, help=f"Steps between checkpoints {d('ckpt_every')}.")] = None,
    keep: Annotated[Optional[int], typer.Option(rich_help_panel=P_RUN, help=f"Step checkpoints kept besides last.pt; 0 keeps all {d('keep')}.")] = None,
    resume: Annotated[Optional[str], typer.Option(rich_help_panel=P_RUN, autocompletion=complete_runs, help="Continue a run: its name under ./runs, its directory or a checkpoint file [none: a new run].")] = None,
    allow_data_change: Annotated[Optional[bool], typer.Option("--allow-data-change", rich_help_panel=P_RUN, help="With --resume: go on although the dataset changed (no longer an exact resume) [off].")] = None,
    eval_every: Annotated[Optional[int], typer.Option(rich_help_panel=P_EVAL, help=f"Steps between evaluations of G_ema into metrics.jsonl; 0: none {d('eval_every')}.")] = None,
    eval_n: Annotated[Optional[int], typer.Option(rich_help_panel=P_EVAL, help=f"Generated images per evaluation {d('eval_n')}.")] = None,
    eval_metrics: Annotated[Optional[str], typer.Option(rich_help_panel=P_EVAL, autocompletion=completer("metrics", comma_list=True), help=f"Metrics per evaluation: a comma list of fid, is, kid, prc, prdc {d('eval_metrics')}.")] = None,
    feature_extractor: Annotated[Optional[str], typer.Option(rich_help_panel=P_EVAL, autocompletion=completer("extractors"), help="Evaluation features: inception, shapes-factor-net, shapes-net or shapes-pair-net [shapes-factor-net for shapes, shapes-pair-net for shapes-pair, else inception].")] = None,
    inception_weights: Annotated[Optional[str], typer.Option(rich_help_panel=P_EVAL, help="A local copy of torch-fidelity's Inception weights [none: torch-fidelity's cache].")] = None,
    logger: Annotated[Optional[list[str]], typer.Option(rich_help_panel=P_RUN, autocompletion=completer("loggers"), help="Also log to: tensorboard (event files in RUN/tb/; the tensorboard extra of gancli); repeatable [none: metrics.jsonl only].")] = None,
    config: Annotated[Optional[Path], typer.Option(rich_help_panel=P_RUN, help="Options from a file: a TOML table of train options (steps = 2000, model = \"sagan\"), or a run's config.json to train it again (into a new run directory); options given here override the file's [none].")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", rich_help_panel=P_RUN, help="Print the resolved config and exit; on stderr, the run's time and memory predicted from a warm-up and two timed iterations in memory [off].")] = False,
    predict: Annotated[bool, typer.Option("--predict/--no-predict", rich_help_panel=P_RUN, help="With --dry-run: measure those iterations to predict the run's time and memory [predict].")] = True,
) -> None:
    """Train a GAN (or CycleGAN on two-domain data). With no arguments: a small class-conditional SAGAN on the built-in shapes data."""
    given = dict(locals())  # every option by its TrainConfig name (the signature is the one list of them)
    from gancli.errors import GancliError

    del given["dry_run"], given["predict"]
    if attn_res is not None:
        try:
            given["attn_res"] = [int(r) for r in split_list(attn_res)]
        except ValueError:
            raise GancliError(f"--attn-res takes comma-separated resolutions, got {attn_res!r}") from None
    given.update(attrs=split_list(attrs), eval_metrics=split_list(eval_metrics))
    explicit = {k: v for k, v in given.items() if v is not None}
    run_training(explicit, dry_run=dry_run, predict=predict)


def run_training(explicit: dict, dry_run: bool = False, show_progress: bool = True, predict: bool = True) -> None:
    """The command's call of ``gancli.api`` (a dry run's plan, or the run) and what it prints."""
    from gancli import api

    if dry_run:
        plan = api.plan_training(**explicit)
        typer.echo(json.dumps(plan.config, indent=2))
        if predict:
            typer.echo(plan.predict().line(), err=True)
        return
    result = api.train(progress=show_progress, **explicit)
    if not result.is_main:  # another rank of a torchrun run: rank 0 reports
        if result.interrupted:
            raise typer.Exit(128 + int(result.signal or signal.SIGINT))
        return
    if result.skipped:
        typer.echo(f"note: the dataset's loader skipped files: {result.skipped}", err=True)
    if result.metrics_dropped:
        typer.echo(f"resumed at step {result.step - result.steps_done}: dropped {result.metrics_dropped} "
                   "metrics.jsonl records logged after that checkpoint", err=True)
    if result.interrupted:
        name = signal.Signals(result.signal).name if result.signal else "SIGINT"
        typer.echo(f"stopped by {name} at step {result.step}; saved {result.last_checkpoint}; "
                   f"continue with: gancli train --resume {shlex.quote(str(result.run_dir))}", err=True)
        raise typer.Exit(128 + int(result.signal or signal.SIGINT))
    span = f" (steps {result.step - result.steps_done} -> {result.step})" if result.steps_done != result.step else ""
    if result.steps_done == 0 and result.last_eval is not None:
        typer.echo(f"redid the evaluation of step {result.step} (cut off when the run last stopped)", err=True)
    typer.echo(f"trained {result.steps_done} steps{span} in {result.wall_time:.0f} s; last grid: {result.last_grid}; "
               f"checkpoint: {result.last_checkpoint}")
    if result.last_eval is not None:
        from gancli.training.progress import format_eval

        typer.echo(f"last evaluation, {format_eval(result.last_eval)}")
