"""``gancli attn-map``: parse options -> gancli.inspect.attention.attention_map_files."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from gancli.cli.app import DEVICE_HELP, RunTarget, command
from gancli.config import AttnRequest

D = AttnRequest  # the defaults


@command("attn-map", examples=[
    ("gancli attn-map demo --point 16,16 --point 4,28 --seed 1", "where G's attention looks from two output pixels, into runs/demo/attn/attn-g-seed1-n4-16,16+4,28.png"),
    ("gancli attn-map demo --net d --image cat.png --entropy --out d-attn.png", "D's attention on an image file, with the entropy of every query"),
])
def attn_map_command(
    target: RunTarget = None,
    point: Annotated[Optional[list[str]], typer.Option("--point", help="Query pixel X,Y of the output image, origin top-left; repeatable [the centre].")] = None,
    n: Annotated[int, typer.Option("-n", "--n", help="Images (rows).")] = D.n,
    net: Annotated[str, typer.Option(help="g: G's attention on generated images; d: D's attention.")] = D.net,
    layer: Annotated[Optional[str], typer.Option(help="One attention block by name (G.attn2) or index (0) [every block, one row each].")] = None,
    image: Annotated[Optional[list[Path]], typer.Option("--image", help="--net d: an image file to look at; repeatable [images from the run's training data].")] = None,
    generated: Annotated[bool, typer.Option("--generated", help="--net d: look at generated images instead of real ones [off: real].")] = False,
    class_: Annotated[Optional[str], typer.Option("--class", help="Class index or name for generated images [drawn as in the data].")] = None,
    truncation: Annotated[Optional[float], typer.Option(help="Truncate z to [-t, t] [off].")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed for z, labels and the choice of real images [random, printed].")] = None,
    ema: Annotated[Optional[bool], typer.Option("--ema/--no-ema", help="G's EMA weights [yes when the checkpoint has them].")] = None,
    entropy: Annotated[bool, typer.Option("--entropy", help="Add a column: the attention entropy at every query position [off].")] = False,
    raw: Annotated[bool, typer.Option("--raw", help="Also save the maps as .npy beside the PNG [off].")] = False,
    out: Annotated[Optional[Path], typer.Option(help="PNG to write (a file there is replaced). Without it: a name that says what was drawn, in the run's attn/ folder (the current folder for a loose checkpoint), -2, -3 added rather than replace an earlier file [in RUN/attn/, named after the network, seed, n and points].")] = None,
    device: Annotated[str, typer.Option(help=DEVICE_HELP)] = "auto",
    labels: Annotated[bool, typer.Option("--labels/--no-labels", help="Name each row's image and block and each column's query point in a margin.")] = True,
) -> None:
    """Show where self-attention looks: for each query pixel, the attention map overlaid on the image."""
    from gancli.api import write_attention_maps

    result = write_attention_maps(target, list(point or []), n, net=net, layer=layer, images=list(image or []),
                                  generated=generated, classes=class_, truncation=truncation, seed=seed, ema=ema,
                                  entropy=entropy, raw=raw, out=out, device=device, labels=labels)
    for line in result.gamma_lines:
        typer.echo(line, err=True)
    files = [str(result.path)] + ([str(result.raw_path)] if result.raw_path else [])
    typer.echo(f"wrote {', '.join(files)}: {result.rows} rows x {result.cols} columns "
               f"({', '.join(result.block_names)}; points {' '.join(f'{x},{y}' for x, y in result.points)}), seed {result.seed}")
