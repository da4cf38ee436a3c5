"""Closing a training sitting (core.sitting): the rule that decides, and publishing that never leaves a mix."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.config import TrainConfig
from core.sitting import REPORT, TABLE_END, Comparison, Figures, PublishRule, SittingConfig, card_rows, close
from core.weights import MODEL_JSON, load_model, read_model_json
from tests.helpers.cli import run_cli
from tests.helpers.drawn_faces import write_faces_drawn_by

CHEAP = SittingConfig(samples=16, faces=4, encoder_steps=2)
ANYTHING_WINS = PublishRule(min_psnr_gain=-100, max_detail_loss=100, max_faces_found_loss=1, max_swd_change=1e9)
NOTHING_WINS = PublishRule(min_psnr_gain=100)


def comparison(swd=(20.0, 15.0), found=0.998, psnr=0.1, detail=0.0) -> Comparison:
    shipped = Figures(5000, 1.0, {128: 25.0, 64: 15.0}, {"center": 21.0}, {"center": 0.8})
    candidate = Figures(6000, found, dict(zip((128, 64), swd)), {"center": 21.0 + psnr}, {"center": 0.8 + detail})
    return Comparison(candidate, shipped, {"center": {"psnr_hole": (psnr, 0.05, 64), "detail": (detail, 0.01, 64)}}, 64)


def test_a_run_wins_only_when_every_condition_holds():
    rule = PublishRule()
    assert comparison().losses(rule) == []
    assert "SWD at 128 px" in comparison(swd=(26.0, 14.0)).losses(rule)[0]
    assert "mean SWD" in comparison(swd=(24.0, 17.0)).losses(rule)[0]
    assert "faces are found in 98.0%" in comparison(found=0.98).losses(rule)[0]
    assert "hole PSNR on center is -0.05" in comparison(psnr=-0.05).losses(rule)[0]
    assert comparison(psnr=0.2).losses(PublishRule(min_psnr_gain=0.3))  # the target, as a rule
    assert "detail on center" in comparison(detail=-0.05).losses(rule)[0]
    assert len(comparison(swd=(30.0, 30.0), found=0.5, psnr=-1, detail=-1).losses(rule)) == 5


def folder_digest(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if p.is_file() and p.name not in skip}


@pytest.fixture(scope="module")
def sitting_template(tmp_path_factory, tiny_weights, tiny_model, tiny_config) -> Path:
    """A shipped tiny model with an encoder, a completion section and a card table; a sitting trained 2 steps
    from it; photos and real faces (the tiny G's own samples). Built once; each test closes a copy (`sitting`)."""
    from core.encoder import train_encoder
    from core.model import build_encoder
    from core.train import train
    from core.weights import ENCODER_FILE, save_network, write_json

    root = tmp_path_factory.mktemp("sitting")
    weights = root / "weights"
    shutil.copytree(tiny_weights, weights)
    save_network(weights / ENCODER_FILE, build_encoder, tiny_config, train_encoder(load_model(weights), 2, 4, verbose=0))
    meta = json.loads((weights / MODEL_JSON).read_text())
    meta["card"].update(ema_decay=0.999, completion={"iterations": 3, "tune_steps": 2, "restarts": 2}, encoder={})
    write_json(weights / MODEL_JSON, meta)
    (weights / "MODEL_CARD.md").write_text(f"# Tiny\n\n| date | run |\n| --- | --- |\n{TABLE_END}\n\nMore.\n")
    faces = write_faces_drawn_by(tiny_model, root / "faces", 24, seed=5)
    train(faces, root / "runs" / "sitting", tiny_config,
          TrainConfig(batch_size=4, steps=2, log_every=1, sample_every=2, checkpoint_every=1), verbose=0, init_from=weights)
    return root


@pytest.fixture
def sitting(sitting_template, tmp_path):
    """(run, weights, faces): a copy of sitting_template of the test's own."""
    root = tmp_path / "sitting"
    shutil.copytree(sitting_template, root)
    return root / "runs" / "sitting", root / "weights", root / "faces"


def test_a_sitting_that_does_not_win_leaves_only_its_row_in_the_card(sitting):
    run, weights, faces = sitting
    before = folder_digest(weights, skip=("MODEL_CARD.md",))
    published, reasons = close(run, weights, faces, faces, CHEAP, NOTHING_WINS)
    assert not published and any("hole PSNR" in r for r in reasons)
    assert folder_digest(weights, skip=("MODEL_CARD.md",)) == before
    card = (weights / "MODEL_CARD.md").read_text()
    row = card.splitlines()[card.splitlines().index(TABLE_END) - 1]
    assert row.startswith("| ") and "| sitting (batch_size 4) | 2 (+2) |" in row and row.endswith("| kept |")
    assert card.endswith("More.\n")
    report = json.loads((run / REPORT).read_text())
    assert report["published"] is False and report["reasons"] == reasons
    assert set(report["differences"]) == {"center", "strokes"}
    (read,) = card_rows(card)  # the row reads back as the figures it was written from
    assert (read.steps, read.added, read.published) == (2, 2, False)
    assert read.psnr_change == pytest.approx([report["differences"][m]["psnr_hole"][0] for m in ("center", "strokes")],
                                             abs=0.006)


def test_a_sitting_that_wins_replaces_the_weights_whole_with_the_encoder_trained_on(sitting, tiny_config, monkeypatch):
    import core.sitting
    from core.directions import Directions, load_directions, save_directions
    from core.weights import write_json

    run, weights, faces = sitting
    rng = np.random.default_rng(0)  # a direction the meter cannot read on the tiny G's noise: dropped, not refitted
    vector = rng.normal(size=(1, tiny_config.z_dim))
    save_directions(weights, Directions(["smile"], vector / np.linalg.norm(vector), rng.uniform(-1, 1, (20, 8)),
                                        np.zeros((20, 7))))
    meta = json.loads((weights / MODEL_JSON).read_text())
    meta["card"]["directions"] = {"config": {"samples": 20, "edit_faces": 4}, "report": {"smile": {"up": 1, "down": 1}},
                                  "sliders": {"limits": {"smile": 2.0}}}
    write_json(weights / MODEL_JSON, meta)
    old_encoder = load_model(weights).encoder.get_weights()
    # The run low-passes G (output_blur has no weights): the same model to compare, and it publishes with it.
    meta = json.loads((run / "model" / MODEL_JSON).read_text())
    meta["config"]["output_blur"] = 0.5
    write_json(run / "model" / MODEL_JSON, meta)
    measured = {}

    def compare(candidate, shipped, *args):
        measured.update(candidate=candidate.encoder.get_weights(), shipped=shipped.encoder.get_weights())
        return real_compare(candidate, shipped, *args)

    real_compare = core.sitting.compare
    monkeypatch.setattr(core.sitting, "compare", compare)
    published, reasons = close(run, weights, faces, faces, CHEAP, ANYTHING_WINS)
    assert published and reasons == []
    new, trained = load_model(weights), load_model(run / "model")
    assert new.config.output_blur == 0.5
    # The run filled with the encoder it ships with, trained on from the shipped one on its own G.
    assert all(np.array_equal(a, b) for a, b in zip(measured["shipped"], old_encoder))
    assert any(np.abs(a - b).max() > 0 for a, b in zip(measured["candidate"], old_encoder))
    for a, b in zip(new.encoder.get_weights(), measured["candidate"]):
        np.testing.assert_allclose(a, b, atol=2e-3, rtol=2e-3)  # float16 storage
    for a, b in zip(new.generator.get_weights(), trained.generator.get_weights()):
        np.testing.assert_allclose(a, b, atol=2e-3, rtol=2e-3)  # float16 storage
    assert any(np.abs(a - b).max() > 0 for a, b in zip(new.encoder.get_weights(), old_encoder))
    assert new.card["steps"] == 2 and new.card["completion"]["tune_steps"] == 2  # its settings stay
    assert new.card["encoder"]["steps"] == CHEAP.encoder_steps
    assert load_directions(weights, tiny_config.z_dim).names == [] and new.card["directions"]["refitted"] == []
    assert new.card["directions"]["report"]["smile"]["shipped"] is False and "psnr" in new.card["directions"]["photos"]
    assert sorted(p.name for p in weights.parent.iterdir()) == ["faces", "runs", "weights"]  # no staging left
    assert "| published |" in (weights / "MODEL_CARD.md").read_text()
    assert "core.edit_report" in json.loads((run / REPORT).read_text())["refitted"]["slider ranges"]  # says what to do


def test_a_publish_killed_half_way_leaves_the_shipped_weights_as_they_were(sitting, monkeypatch):
    import core.sitting

    run, weights, faces = sitting
    before = folder_digest(weights, skip=("MODEL_CARD.md",))

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(core.sitting, "write_encoder", killed)
    with pytest.raises(KeyboardInterrupt):
        close(run, weights, faces, faces, CHEAP, ANYTHING_WINS)
    assert folder_digest(weights, skip=("MODEL_CARD.md",)) == before
    monkeypatch.undo()
    published, _ = close(run, weights, faces, faces, CHEAP, ANYTHING_WINS)  # the next close starts afresh
    assert published and not weights.with_name(".weights.new").exists()


def test_the_cli_says_what_it_decided_and_refuses_a_run_of_another_model(sitting, tmp_path, tiny_weights):
    run, weights, faces = sitting
    options = ["--photos", faces, "--real", faces, "--samples", "16", "--faces", "4", "--min-psnr-gain", "100"]
    result = run_cli("core.sitting", run, "--weights", weights, *options)
    assert result.returncode == 0, result.stderr
    assert "kept the shipped model, because" in result.stdout and "hole PSNR on center is" in result.stdout
    other = tmp_path / "other"
    shutil.copytree(weights, other)
    meta = json.loads((other / MODEL_JSON).read_text())
    meta["config"]["gf"] = 8
    (other / MODEL_JSON).write_text(json.dumps(meta))
    result = run_cli("core.sitting", run, "--weights", other, *options)
    assert result.returncode == 2 and "error:" in result.stderr and "other" in result.stderr


def test_a_run_without_run_json_is_described_by_its_models_card(tmp_path, tiny_weights):
    """core.train_jax writes no run.json: the card row names what its model's card says it changed, and where."""
    from core.sitting import recipe
    from core.weights import write_json

    run = tmp_path / "gpu-run"
    shutil.copytree(tiny_weights, run / "model")
    meta = json.loads((run / "model" / MODEL_JSON).read_text())
    meta["card"].update(batch_size=32, r1_gamma=0.005, learning_rate=2e-4, machine="NVIDIA H100 80GB HBM3, x86_64")
    write_json(run / "model" / MODEL_JSON, meta)
    assert recipe(run) == "batch_size 32, r1_gamma 0.005, on NVIDIA H100 80GB HBM3"
    meta["config"]["output_blur"] = 0.5
    write_json(run / "model" / MODEL_JSON, meta)
    assert recipe(run) == "batch_size 32, r1_gamma 0.005, output_blur 0.5, on NVIDIA H100 80GB HBM3"
    assert recipe(tmp_path / "nothing") == ""


def test_the_shipped_cards_sittings_read_back_and_end_at_the_shipped_model(tmp_path):
    """Every row of the shipped card's table reads back; the last published sitting is the model that ships."""
    from PIL import Image

    from core.curves import plot_sittings

    weights = Path(__file__).parent.parent / "weights"
    rows = card_rows((weights / "MODEL_CARD.md").read_text())
    assert len(rows) >= 19 and all(0 < row.added <= row.steps for row in rows)
    assert [row for row in rows if row.published][-1].steps == read_model_json(weights)["card"]["steps"]
    plot_sittings(weights, tmp_path / "sittings.png")
    assert Image.open(tmp_path / "sittings.png").size == (800, 600)
