"""Plot a run's losses against steps: python -m core.curves RUN_DIR OUT.png"""
from __future__ import annotations

from pathlib import Path

from core.cli import argument_parser
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


def main(argv: list[str] | None = None) -> None:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a training run's folder (its metrics.csv)")
    parser.add_argument("out", type=Path, help="the PNG to write")
    args = parser.parse_args(argv)
    plot_losses(args.run_dir, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
