"""The benchmark's one section interface: the registry, each section's sizes per scale, and
the typed results file."""

from __future__ import annotations

import dataclasses

import pytest

from bench import scales
from bench.interface import (
    SECTIONS,
    Machine,
    Provenance,
    Section,
    SectionResult,
    load_results,
    ordered_sections,
    register_section,
    save_results,
)
from bench.scales import SCALE_NAMES, load_scale
from pretrain.core.typed_yaml import ConfigError, parse_dataclass, to_plain

SECTION_NAMES = [
    "leaderboard",
    "semi",
    "paper",
    "bottleneck",
    "speed",
    "gpu",
    "data",
    "sweep",
    "make_run",
    "label_free",
    "pretrain_length",
]


def test_every_section_is_registered_in_its_numbered_order():
    assert [s.name for s in ordered_sections()] == SECTION_NAMES
    for section in ordered_sections():
        assert dataclasses.is_dataclass(section.settings) and section.title[0].isdigit()
        assert all(used in SECTIONS for used in section.uses)


def test_a_second_section_of_a_name_raises():
    taken = SECTIONS["paper"]
    with pytest.raises(ValueError, match="already registered"):
        register_section(Section("paper", "2b. again", taken.settings, taken.measure, taken.render))


@pytest.mark.parametrize("scale", SCALE_NAMES)
@pytest.mark.parametrize("section", SECTION_NAMES)
def test_each_sections_sizes_round_trip_through_yaml(scale, section):
    sizes = load_scale(scale).of(section)
    assert parse_dataclass(type(sizes), to_plain(sizes)) == sizes


def test_the_scales_file_names_a_bad_size_or_section(monkeypatch):
    monkeypatch.setitem(scales.SCALE_FILE, "broken", {"leaderboard": {"seedz": 2}})
    with pytest.raises(ConfigError, match=r"bench/scales.yaml: broken.leaderboard.seedz"):
        load_scale("broken")
    monkeypatch.setitem(scales.SCALE_FILE, "broken2", {"leaderbord": {}})
    with pytest.raises(ConfigError, match="unknown bench section 'leaderbord'"):
        load_scale("broken2")
    monkeypatch.setitem(scales.SCALE_FILE, "broken3", {"paper": {"sizes": 500}})
    with pytest.raises(ConfigError, match="broken3.paper.sizes: expected a list"):
        load_scale("broken3")
    with pytest.raises(ConfigError, match="unknown scale 'huge'"):
        load_scale("huge")


def test_a_scale_with_changed_sizes_records_what_it_ran_at():
    tiny = load_scale("tiny").with_sizes("speed", steps=1)
    assert tiny.of("speed").steps == 1 and load_scale("tiny").of("speed").steps == 3
    recorded = tiny.sizes_of("gpu")  # the GPU check runs at the speed section's sizes too
    assert set(recorded) == {"dataset", "gpu", "speed"} and recorded["speed"]["steps"] == 1


def test_results_are_written_and_read_back_typed(tmp_path):
    machine = Machine(cpu="AMD EPYC", cpu_cores=2, packages={"torch": "2.5"})
    source = Provenance("2026-12-06", "abc123", "tiny", "python -m bench --scale tiny --sections paper", machine)
    results = {"paper": SectionResult(source, 12.5, {"rows": [{"model": "decoder", "train_size": 40}]})}
    save_results(results, tmp_path / "results.json")
    assert load_results(tmp_path / "results.json") == results
    assert load_results(tmp_path / "absent.json") == {}
