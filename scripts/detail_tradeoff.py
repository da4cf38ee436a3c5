"""Where the true photo's fine detail sits in a filled hole, and what each way of adding detail costs (issue 20).

    python scripts/detail_tradeoff.py ../shared/data/lfw-dev [--weights weights] [--limit 48]

For the centre and stroke masks, at each photo's own resolution: the share of the truth's high-band energy (core.detail)
held by the hole's top 10% of pixels (edges: eyelids, brows, lips), and each way's detail ratio on the truth's edges
(the hole's top 10% of pixels by the gradient of the truth blurred at 2 px) and elsewhere, and its detail in place
(core.detail.detail_in_place: the truth's detail where the truth has it, which no copied texture raises); how right
G's own fine band is by distance from the hole's border (its least-squares weight on the truth less the blurred fill:
1 = right, 0 = no better than none); then hole PSNR, detail ratio and seam excess of the fill without the photo's
detail, with it (the default: core.detail), with all of G's gradients kept in the blend (guidance 1), with G's face
sharpened before the paste-back (unsharp mask, sigma 1 px), and with core.detail's choices undone one at a time: the
fill's own fine band dropped or kept whole (OWN_BAND 0 or 1), the border mixed as the interior (BORDER_OWN OWN_BAND,
BORDER_COPY 1), the match on shape alone (COLOUR 0). Last, the least PSNR any detail that is uncorrelated with the
truth (noise) must cost to bring the detail ratio to 0.8: it adds its energy to the error; and how much more of the
truth's fine band a fill would have to draw in place (core.detail.detail_in_place) to reach 0.8 within 0.2 dB, from the
band's share of the error: E (d - 2p + 1) for the truth's band energy E, detail ratio d and detail in place p. With
--crops OUT.png, the first 8 holes at 100%: truth, no detail, the default, the default with the fill's own band dropped.
"""
from __future__ import annotations

import contextlib
import sys
from dataclasses import replace
from pathlib import Path
from unittest import mock

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.align import FaceAligner, find_images, load_faces  # noqa: E402
from core.cli import argument_parser  # noqa: E402
from core.face_filler import FaceFiller  # noqa: E402
from core.evaluate import eval_masks, hole_psnr, seam_excess  # noqa: E402
from core.detail import BAND, OWN_BAND, SIGMA, detail_in_place, detail_ratio, high_band  # noqa: E402
from core.images import save_png  # noqa: E402
from core.inpaint import paste_back, photo_fill  # noqa: E402
from core.weights import load_model  # noqa: E402

TARGET = 0.8  # issue 20's detail ratio
BUDGET_DB = 0.2  # issue 20's most hole PSNR the detail may cost
DISTANCES = ((0, 1), (1, 2), (2, 5), (5, 10), (10, np.inf))  # px from the hole's border, for G's band's weight


def sharpened(face: np.ndarray, amount: float) -> np.ndarray:
    """face plus amount times its own high band (an unsharp mask at the band detail_ratio measures); 0: face."""
    return face + amount * (face - cv2.GaussianBlur(face, (0, 0), SIGMA)) if amount else face


def edge_strength(image: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """Squared gradient of image blurred at sigma px, summed over channels: its edges (lip lines, nostrils, eyelids),
    chosen without its fine band, so that a texture of the right level is as detailed on them as elsewhere."""
    soft = cv2.GaussianBlur(np.asarray(image, np.float32), (0, 0), sigma)
    return (cv2.Sobel(soft, cv2.CV_32F, 1, 0) ** 2 + cv2.Sobel(soft, cv2.CV_32F, 0, 1) ** 2).sum(axis=-1)


def hole_crop(image: np.ndarray, fill: np.ndarray, half: int = 40) -> np.ndarray:
    rows, cols = np.where(fill)
    y, x = (rows.min() + rows.max()) // 2, (cols.min() + cols.max()) // 2
    return image[max(y - half, 0) : y + half, max(x - half, 0) : x + half]


def main() -> None:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of face photos (not aligned)")
    parser.add_argument("--weights", type=Path, default=Path("weights"))
    parser.add_argument("--limit", type=int, default=48, help="photos used")
    parser.add_argument("--crops", type=Path, help="write the first 8 holes at 100%% here, one file per mask")
    args = parser.parse_args()
    model = load_model(args.weights)
    size = model.config.image_size
    with FaceAligner(max_faces=1) as aligner:
        faces, sources, _ = load_faces(find_images(args.folder)[: args.limit + 16], size, aligner)
    kept = [i for i, source in enumerate(sources) if source is not None][: args.limit]
    faces, sources = np.stack([faces[i] for i in kept]), [sources[i] for i in kept]
    config = model.completion
    no_detail, guided = replace(config, photo_detail=False), replace(config, guidance=1.0)
    ways = {  # name -> (sharpening of G's face, paste-back settings, core.detail's settings changed)
        "no detail": (0.0, no_detail, {}),
        "the photo's detail (default)": (0.0, config, {}),
        "guidance 1, no detail": (0.0, replace(guided, photo_detail=False), {}),
        "guidance 1, detail": (0.0, guided, {}),
        "sharpened x1, guidance 1": (1.0, replace(guided, photo_detail=False), {}),
        "detail, own band dropped": (0.0, config, {"OWN_BAND": 0.0}),
        "detail, own band kept whole": (0.0, config, {"OWN_BAND": 1.0}),
        "detail, border as the interior": (0.0, config, {"BORDER_OWN": OWN_BAND, "BORDER_COPY": 1.0}),
        "detail, matched on shape alone": (0.0, config, {"COLOUR": 0.0}),
    }
    filler = FaceFiller(model)
    for mask_name in ("center", "strokes"):
        masks = eval_masks(mask_name, size, len(faces))
        generated = (filler.complete(faces, masks, config).generated + 1) * 127.5
        edge_share, bound, in_place_needed, rows, crops = [], [], [], {name: [] for name in ways}, []
        products = np.zeros((len(DISTANCES), 2))  # per distance: sum of own band x truth's residual, own band squared
        for (photo, alignment), mask, face in zip(sources, masks, generated):
            fill = photo_fill(photo.shape, alignment, mask)
            if not fill.any():
                continue
            truth_band = high_band(photo)[fill] ** 2
            energy = np.sort(truth_band.sum(axis=-1))[::-1]
            edge_share.append(energy[: max(1, len(energy) // 10)].sum() / energy.sum())
            gradient = edge_strength(photo)
            edges = fill & (gradient >= np.quantile(gradient[fill], 0.9))
            results = {}
            for name, (amount, settings, changes) in ways.items():
                with mock.patch.multiple("core.detail", **changes) if changes else contextlib.nullcontext():
                    result = results[name] = paste_back(photo, alignment, sharpened(face, amount), mask, settings)
                rows[name].append((hole_psnr(photo, result, fill), detail_ratio(result, photo, fill),
                                   seam_excess(photo, result, fill), detail_ratio(result, photo, edges),
                                   detail_ratio(result, photo, fill & ~edges), detail_in_place(result, photo, fill)))
                if name == "no detail":
                    smooth = cv2.GaussianBlur(result.astype(np.float32), (0, 0), BAND)
                    own, residual = result - smooth, photo - smooth
                    inward = cv2.distanceTransform(fill.astype(np.uint8), cv2.DIST_L2, 5)
                    for i, (near, far) in enumerate(DISTANCES):
                        at = fill & (inward > near) & (inward <= far)
                        products[i] += (own[at] * residual[at]).sum(), (own[at] ** 2).sum()
                    error = float(((result[fill].astype(np.float64) - photo[fill]) ** 2).mean())
                    energy = float(truth_band.mean())
                    short = max(TARGET - rows[name][-1][1], 0.0)  # detail ratio missing, in units of energy
                    bound.append(10 * np.log10(1 + short * energy / error))
                    allowed = (10 ** (BUDGET_DB / 10) - 1) * error / energy  # the budget, in units of energy
                    in_place_needed.append(max(short - allowed, 0.0) / 2)
            if len(crops) < 8:
                shown = (photo, results["no detail"], results["the photo's detail (default)"],
                         results["detail, own band dropped"])
                crops.append(np.concatenate([hole_crop(image, fill) for image in shown], axis=1))
        base = np.array(rows["no detail"])
        in_place_gain = float(np.mean(np.array(rows["the photo's detail (default)"])[:, 5] - base[:, 5]))
        print(f"{mask_name}: {len(base)} photos; the hole's top 10% of pixels hold {np.mean(edge_share):.0%} of the "
              f"truth's high-band energy")
        weights = ", ".join(f"{near:g}-{far:g} px {num / den:+.2f}"
                            for (near, far), (num, den) in zip(DISTANCES, products))
        print(f"  G's fine band's weight on the truth, by distance from the border: {weights}")
        for name, values in rows.items():
            values = np.array(values)
            change = values[:, 0] - base[:, 0]
            print(f"  {name:<32} hole PSNR {values[:, 0].mean():.2f} dB ({change.mean():+.2f}, SE "
                  f"{change.std(ddof=1) / np.sqrt(len(change)):.2f}), detail {values[:, 1].mean():.2f} (on the "
                  f"truth's edges {values[:, 3].mean():.2f}, elsewhere {values[:, 4].mean():.2f}; in place "
                  f"{values[:, 5].mean():.2f}), seam {values[:, 2].mean():+.2f}")
        print(f"  noise that brings detail to {TARGET} costs at least {np.mean(bound):.2f} dB; to cost at most "
              f"{BUDGET_DB} dB, a fill must draw {np.mean(in_place_needed):.2f} more of the truth's fine band in place "
              f"than with no detail (the default draws {in_place_gain:+.2f})", flush=True)
        if args.crops:
            height, width = min(c.shape[0] for c in crops), min(c.shape[1] for c in crops)
            out = args.crops.with_name(f"{args.crops.stem}_{mask_name}{args.crops.suffix}")
            save_png(out, np.concatenate([c[:height, :width] for c in crops], axis=0))


if __name__ == "__main__":
    main()
