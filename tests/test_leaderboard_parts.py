"""Section 1 measured in parts: ``--entries`` rows merged into the stored section."""

from __future__ import annotations

from dataclasses import replace

import pytest

import bench.leaderboard_parts as parts
from bench.__main__ import parse_args
from bench.parts import parts_lines
from bench.scales import SCALES
from evaluate.report_types import SummaryRow, to_plain

SMALL = SCALES["small"]
CONV, RESNET = "paper_conv, m = 20", "resnet_small w32 [1, 1, 1], m = 128, pooled"


def cell(protocol: str) -> dict:
    return to_plain(SummaryRow("encoder", protocol, 10, 0.7, 0.0, 1, None, None, "", 0.7, [], {"0": 0.7}))


def task(run: str, arch: str, source: str = "encoder", **extra) -> dict:
    return {
        "run": run,
        "kind": "task",
        "source": source,
        "architecture": arch,
        "representation": f"{run} {source}",
        "summary": [cell("linear"), cell("knn")],
        "run_seconds": [60.0, 60.0],
        "eval_seconds": 30.0,
        **extra,
    }


def baseline(source: str, arch: str, run: str, **extra) -> dict:
    return {
        "run": run,
        "kind": "baseline",
        "source": source,
        "architecture": arch,
        "representation": f"{source} ({arch})",
        "summary": [cell("linear"), cell("knn")],
        "eval_seconds": 10.0,
        **extra,
    }


def stored_rows() -> list[dict]:
    return [
        task("ae_mirror", CONV),
        task("contrastive", RESNET),
        task("contrastive", RESNET, "encoder_code"),
        task("vicreg", RESNET, old=True),
        baseline("raw_pixels", CONV, "ae_mirror"),
        baseline("pca", CONV, "ae_mirror"),
        baseline("random_init", CONV, "ae_mirror"),
        baseline("random_init", RESNET, "contrastive"),
        baseline("scratch", RESNET, "contrastive"),
    ]


def fresh_rows() -> list[dict]:
    return [
        task("vicreg", RESNET),
        task("vicreg", RESNET, "encoder_code"),
        task("byol", RESNET),
        *(baseline(s, RESNET, "byol", new=True) for s in ("raw_pixels", "pca", "random_init", "scratch")),
    ]


def test_merged_rows_replace_what_was_remeasured_and_keep_the_rest():
    rows = parts.merge_rows(stored_rows(), fresh_rows(), ["vicreg", "byol"])
    tasks = [(r["run"], r["source"]) for r in rows if r["kind"] == "task"]
    assert tasks == [  # ENTRIES order, each task's readings together
        ("ae_mirror", "encoder"),
        ("contrastive", "encoder"),
        ("contrastive", "encoder_code"),
        ("byol", "encoder"),
        ("vicreg", "encoder"),
        ("vicreg", "encoder_code"),
    ]
    assert not any(r.get("old") for r in rows)
    baselines = {
        (r["source"], r["architecture"] if r["source"] in ("random_init", "scratch") else None): r for r in rows
    }
    assert len([r for r in rows if r["kind"] == "baseline"]) == 5  # raw pixels and PCA once, not per architecture
    # raw pixels and PCA: one row for the table (PCA's m is the first entry's code size), kept
    assert not baselines[("raw_pixels", None)].get("new") and not baselines[("pca", None)].get("new")
    assert baselines[("random_init", RESNET)].get("new") and baselines[("scratch", RESNET)].get("new")
    assert not baselines[("random_init", CONV)].get("new")  # an architecture the part did not touch


def stored_section() -> dict:
    data = {"rows": stored_rows(), "seeds": 2, "pretrain_seeds": 2, "epochs": 0.0, "frozen_labels": [1, 10, 100, 0]}
    data |= {"finetune_labels": [100], "finetune_max_epochs": 4.0, "finetune_min_steps": 250, "compute_seconds": 1.0}
    source = {"date": "2026-11-28", "commit": "a" * 40, "command": "python -m bench --scale small --sections x"}
    return {"provenance": {**source, "machine": {"cpu": "x86_64"}}, "wall_seconds": 600.0, "data": data}


def test_a_part_runs_only_its_entries_with_the_stored_protocols(monkeypatch, tmp_path):
    seen = {}

    def fake_run(scale, root):
        seen["scale"] = scale
        return {"rows": fresh_rows()}

    monkeypatch.setattr(parts, "run_leaderboard", fake_run)
    source = {"date": "2026-12-02", "commit": "b" * 40, "command": "python -m bench --scale small --sections x"}
    source["machine"] = {"cpu": "x86_64"}
    result = parts.merged_section(stored_section(), SMALL, ["vicreg", "byol"], tmp_path, source, lambda: 120.0)
    assert seen["scale"].leaderboard_only == ("vicreg", "byol")
    assert "finetune" in seen["scale"].leaderboard_skip and "self_training" in seen["scale"].leaderboard_skip
    assert not {"linear", "knn"} & set(seen["scale"].leaderboard_skip)  # the columns the stored rows hold
    assert result["provenance"]["commit"] == "a" * 40 and result["wall_seconds"] == 720.0
    assert [p["entries"] for p in result["parts"]] == [[], ["vicreg", "byol"]]
    by_part = {r["run"]: r["part"] for r in result["data"]["rows"] if r["kind"] == "task"}
    assert by_part == {"ae_mirror": 0, "contrastive": 0, "vicreg": 1, "byol": 1}
    # 3 stored tasks kept or replaced: ae_mirror and contrastive (2 x 60 + 30 each), vicreg and byol anew
    assert result["data"]["compute_seconds"] == pytest.approx(4 * 150.0 + 10.0 + 10.0)
    lines = parts_lines(result)
    assert "`aaaaaaaaaaaa`" in lines[1] and "ae_mirror encoder" in lines[1]
    assert "--entries vicreg,byol" in lines[2] and "vicreg encoder" in lines[2] and "ae_mirror" not in lines[2]


def test_a_part_with_other_settings_is_refused_before_anything_runs(monkeypatch, tmp_path):
    monkeypatch.setattr(parts, "run_leaderboard", lambda *a: pytest.fail("ran despite other settings"))
    with pytest.raises(parts.MergeError, match=r"seeds \(stored 2, scale small 3\)"):
        parts.merged_section(stored_section(), replace(SMALL, seeds=3), ["vicreg"], tmp_path, {}, lambda: 0.0)


@pytest.mark.parametrize(
    "argv, said",
    [
        (["--sections", "leaderboard", "--entries", "vicreg,nope"], "unknown nope"),
        (
            ["--sections", "paper", "--entries", "vicreg"],
            "--entries goes with --sections leaderboard or --sections sweep alone",
        ),
    ],
)
def test_bad_entries_are_refused_by_name(argv, said, capsys):
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert said in capsys.readouterr().err


def test_entries_are_parsed_for_the_leaderboard():
    assert parse_args(["--sections", "leaderboard", "--entries", "vicreg,dino"]).entries == ["vicreg", "dino"]


def test_sections_measured_in_one_go_have_no_parts_lines():
    assert parts_lines({"provenance": {}, "data": {"speed": 1.0}}) == []  # any section, no rows
