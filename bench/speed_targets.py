"""Section 4's speed targets (bench/targets.yaml), judged from its variant measurements: SimCLR
and every task at their bars over today's fp32 images/s, each with the best variant the
machine's config accepts; a miss shows what the other variants reached."""

from __future__ import annotations

from bench.targets import TARGET_FILE

SIMCLR = "contrastive (SimCLR), small ResNet"
SPEED = TARGET_FILE["speed"]


def best_accepted(row: dict) -> dict | None:
    """The fastest variant that ``train.*`` settings accept on the machine (not emulated)."""
    accepted = [v for v in row.get("variants", []) if "images_per_s" in v and not v["status"].startswith("emulated")]
    return max(accepted, key=lambda v: v["images_per_s"], default=None)


def refusal(rows: list[dict]) -> str | None:
    """Why the config refuses bf16 on this machine (its ConfigError), if it does."""
    statuses = sorted({v["status"] for r in rows for v in r["variants"] if v["name"].startswith("bf16")})
    refused = [s for s in statuses if s.startswith("emulated")]
    return refused[0].split(": ", 2)[-1] if refused else None


def best_ratio(row: dict, prefix: str = "", suffix: str = "") -> float | None:
    """The highest ratio to fp32 among the row's variants named ``prefix...suffix``."""
    rates = [
        v.get("ratio_to_first", 0.0)
        for v in row["variants"]
        if "images_per_s" in v and v["name"].startswith(prefix) and v["name"].endswith(suffix)
    ]
    return max(rates, default=None)


def task_line(row: dict, best: dict) -> str:
    target = SPEED["simclr"] if row["task"].startswith(SIMCLR) else SPEED["every_task"]
    ratio = best.get("ratio_to_first", 1.0)
    others = (("bf16", best_ratio(row, prefix="bf16")), ("compile", best_ratio(row, suffix="+compile")))
    seen = "; ".join(f"best {name} variant {r:.2f}x" for name, r in others if r is not None)
    verdict = "met" if ratio >= target else "missed"
    return f"- {row['task']}: {ratio:.2f}x with `{best['name']}` (target ≥ {target}x): {verdict} ({seen})."


def targets_lines(data: dict) -> list[str]:
    rows = [r for r in data["loop"] if r.get("variants")]
    if not rows:
        return []
    why = refusal(rows)
    lines = [
        "Targets: the best variant the config accepts here, against today's fp32 loop"
        + (f". bf16 is refused on this machine ({why}); the bf16 variants above ran emulated." if why else ":"),
        "",
    ]
    lines += [task_line(row, best) for row in rows if (best := best_accepted(row)) is not None]
    return lines + transfer_lines(rows, why)


def transfer_lines(rows: list[dict], why: str | None) -> list[str]:
    """The bf16-vs-fp32 transfer comparison needs bf16 pretraining at speed; say where it cannot run."""
    if why is None:
        return []
    ratio = next((best_ratio(r, prefix="bf16") for r in rows if r["task"].startswith(SIMCLR)), None)
    slower = f"about {1 / ratio:.1f}x its fp32 time" if ratio else "longer than in fp32"
    return [
        "- Transfer in bf16 against fp32 (default AE and SimCLR pretrained both ways): not run on this machine, "
        f"where bf16 is refused and runs emulated: a bf16 SimCLR pretraining would take {slower}. What stands "
        "in for it here: `tests/test_hardware.py` checks the bf16 loss against fp32 on a fixed batch, and "
        "section 5 (`python -m bench --sections gpu`) compares bf16 and fp32 losses over 200 training steps on "
        "a GPU."
    ]
