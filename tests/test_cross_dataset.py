"""Pretrain on an unlabelled folder, evaluate on a labelled one (another size): the README's commands."""

from __future__ import annotations

import json

import pytest
from imagefiles import write_labelled_folder, write_unlabelled_folder

from evaluate.__main__ import main as evaluate_main
from evaluate.report_types import Report
from pretrain.__main__ import main as pretrain_main
from pretrain.core.config import save_config


@pytest.fixture
def unlabelled_run(tiny_cfg, tmp_path):
    photos = write_unlabelled_folder(tmp_path / "photos", n=64, size=24)
    data = {"name": "image_folder", "root": str(photos), "image_size": 16, "val_size": 8, "workers": 1,
            "cache_dir": str(tmp_path / "cache")}  # fmt: skip
    cfg = tiny_cfg(data=data, train={"batch_size": 8})
    config = tmp_path / "folder.yaml"
    save_config(cfg, config)
    assert pretrain_main(["--config", str(config)]) == 0
    return cfg.run_path


def test_pretrain_on_unlabelled_folder_then_evaluate_on_labelled_one(unlabelled_run, tmp_path, capsys):
    labelled = write_labelled_folder(tmp_path / "labelled", classes=4, per_class=20, size=20)
    overrides = ["eval.data.name=image_folder", f"eval.data.root={labelled}", f"eval.data.cache_dir={tmp_path}/c",
                 "eval.data.val_size=16", "eval.data.test_size=16", "eval.data.workers=1"]  # fmt: skip
    out_dir = tmp_path / "eval"
    assert evaluate_main(["--run", str(unlabelled_run), "--out", str(out_dir), *overrides]) == 0
    report = json.loads((out_dir / "report.json").read_text())
    assert report["dataset"] == "image_folder" and report["dataset_root"] == str(labelled)
    assert report["pretrain_dataset"] == "image_folder" and report["pretrain_root"].endswith("photos")
    assert report["settings"]["classes"] == ["class0", "class1", "class2", "class3"]
    assert report["settings"]["train_size"] == 48 and report["settings"]["test_size"] == 16
    markdown = (out_dir / "report.md").read_text()
    assert f"Evaluated on image_folder ({labelled}), pretrained on image_folder" in markdown
    # the 20x20 labelled images were decoded at the encoder's 16x16
    assert list((tmp_path / "c").glob("labelled-*/meta.json"))
    meta = json.loads(next((tmp_path / "c").glob("labelled-*/meta.json")).read_text())
    assert meta["image_shape"] == [3, 16, 16]
    # the encoder's linear probe beats chance on the four corner classes
    encoder_linear = [r for r in report["records"] if r["source"] == "encoder" and r["protocol"] == "linear"]
    assert max(r["accuracy"] for r in encoder_linear) > 0.4


def test_an_unlabelled_run_gets_the_label_free_report_and_says_what_to_add(unlabelled_run, capsys):
    assert evaluate_main(["--run", str(unlabelled_run)]) == 0
    markdown = capsys.readouterr().out
    text = (unlabelled_run / "report.json").read_text()
    report = Report.from_json(text)
    assert not report.labelled and not report.records and not report.summary
    assert {m.protocol for m in report.label_free} == {"rankme", "alignment_uniformity", "view_retrieval", "anomaly"}
    assert {m.source for m in report.measurements("rankme")} == {"encoder", "raw_pixels", "pca", "random_init"}
    assert "NaN" not in text and "Infinity" not in text  # too few images is flagged, never a NaN
    assert "## Without labels: rankme" in markdown and "linear (needs labels)" in markdown
    assert "eval.data.name=image_folder eval.data.root=DIR" in markdown
    assert (unlabelled_run / "plots" / "anomalies.png").stat().st_size > 1000
    assert not (unlabelled_run / "results.csv").exists()


def test_asking_an_unlabelled_run_for_a_labelled_protocol_names_both(unlabelled_run, capsys):
    assert evaluate_main(["--run", str(unlabelled_run), "eval.protocols=[linear]"]) == 2
    err = capsys.readouterr().err
    assert "linear needs labels" in err and str(unlabelled_run) in err


def test_a_label_budget_larger_than_a_class_is_a_clear_error(unlabelled_run, tmp_path, capsys):
    labelled = write_labelled_folder(tmp_path / "few", classes=2, per_class=10, size=16)
    overrides = ["eval.data.name=image_folder", f"eval.data.root={labelled}", f"eval.data.cache_dir={tmp_path}/c",
                 "eval.data.val_size=4", "eval.data.test_size=4", "eval.labels_per_class=[50]"]  # fmt: skip
    assert evaluate_main(["--run", str(unlabelled_run), *overrides]) == 2
    assert "asks for 50 labelled images per class" in capsys.readouterr().err
