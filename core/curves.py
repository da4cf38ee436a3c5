"""Plot a run's losses against steps, or a model's training sittings as its card lists them.

python -m core.curves RUN_DIR OUT.png
python -m core.curves --sittings weights OUT.png
"""
from __future__ import annotations

from pathlib import Path

from core.cli import argument_parser
from core.sitting import MODEL_CARD, card_rows
from core.train import METRIC_FIELDS, read_metrics


def plot_losses(run_dir: Path, out: Path) -> None:
    """d_loss (real + fake) and g_loss against steps, as a PNG (matplotlib comes with mediapipe)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(run_dir)
    if not rows:
        raise ValueError(f"{run_dir} has no metrics yet.")
    steps = [r["step"] for r in rows]
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    ax.plot(steps, [r["d_loss_real"] + r["d_loss_fake"] for r in rows], label="d_loss (real + fake)")
    for key in METRIC_FIELDS[1:4]:
        ax.plot(steps, [r[key] for r in rows], label=key, linewidth=0.8, alpha=0.7)
    ax.set_xlabel("step (batches of 64)")
    ax.set_ylabel("sigmoid cross-entropy")
    ax.set_ylim(0, min(8, max(r["g_loss"] for r in rows) * 1.05))
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def plot_sittings(weights: Path, out: Path) -> None:
    """Each sitting of the model card's table against the model's steps: SWD at the finest scale (the candidate's,
    and the shipped model's it was compared with) and the paired change of hole PSNR on each mask, published
    sittings filled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = card_rows((weights / MODEL_CARD).read_text())
    if not rows:
        raise ValueError(f"{weights / MODEL_CARD} lists no sittings.")
    steps = [row.steps for row in rows]
    fig, (swd, psnr) = plt.subplots(2, 1, figsize=(8, 6), dpi=100, sharex=True)
    swd.scatter([row.steps - row.added for row in rows], [row.shipped_swd[0] for row in rows], marker="_", s=200,
                color="grey", label="the shipped model it was compared with")
    for published in (False, True):
        chosen = [row for row in rows if row.published == published]
        face = "C0" if published else "none"
        swd.scatter([row.steps for row in chosen], [row.swd[0] for row in chosen], facecolors=face, edgecolors="C0",
                    label="the sitting's model, " + ("published" if published else "kept out"))
        for mask, (name, colour) in enumerate([("centre", "C1"), ("strokes", "C2")]):
            psnr.scatter([row.steps for row in chosen], [row.psnr_change[mask] for row in chosen],
                         facecolors=colour if published else "none", edgecolors=colour,
                         label=f"{name}, " + ("published" if published else "kept out"))
    swd.set_ylabel("SWD x 1e3 at the finest scale")
    swd.legend(fontsize=8)
    psnr.axhline(0, color="grey", linewidth=0.8)
    psnr.set_ylabel("hole PSNR change (dB)")
    psnr.set_xlabel("the model's training steps")
    psnr.legend(fontsize=8, ncol=2)
    for ax in (swd, psnr):
        ax.grid(alpha=0.3)
    psnr.set_xlim(min(steps) - 1000, max(steps) + 1000)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a training run's folder (its metrics.csv), or with --sittings a model's")
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--sittings", action="store_true", help="plot the model card's training sittings instead")
    args = parser.parse_args(argv)
    (plot_sittings if args.sittings else plot_losses)(args.folder, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
