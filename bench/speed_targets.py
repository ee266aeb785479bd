"""Issue 19's speed targets, judged from section 4's variant measurements: SimCLR at least
2.5x today's fp32 images/s, every task at least 1.5x, each with the best variant the
machine's config accepts; a miss names the reason the measurements give."""

from __future__ import annotations

SIMCLR = "contrastive (SimCLR), small ResNet"


def best_accepted(row: dict) -> dict | None:
    """The fastest variant that ``train.*`` settings accept on the machine (not emulated)."""
    accepted = [v for v in row.get("variants", []) if "images_per_s" in v and not v["status"].startswith("emulated")]
    return max(accepted, key=lambda v: v["images_per_s"], default=None)


def reason(row: dict, best: dict) -> str:
    """Why a task stays below its target, from what was measured."""
    bf16 = [v for v in row["variants"] if v["name"].startswith("bf16") and "images_per_s" in v]
    refused = next((v["status"] for v in bf16 if v["status"].startswith("emulated")), None)
    parts = []
    if refused:
        fastest = max(v.get("ratio_to_first", 0) for v in bf16)
        parts.append(
            f"bf16 is refused here ({refused.split(': ', 1)[-1]}); run by autocast anyway it reaches "
            f"{fastest:.2f}x fp32 at best"
        )
    compiled = [v for v in row["variants"] if v["name"].endswith("+compile") and "images_per_s" in v]
    if compiled:
        parts.append(f"compile reaches {max(v.get('ratio_to_first', 0) for v in compiled):.2f}x")
    parts.append(f"the best accepted variant is `{best['name']}`")
    return "; ".join(parts)


def targets_lines(data: dict) -> list[str]:
    rows = [r for r in data["loop"] if r.get("variants")]
    if not rows:
        return []
    lines = ["Targets (issue 19), best variant the config accepts here against today's fp32 loop:", ""]
    for row in rows:
        best = best_accepted(row)
        if best is None:
            continue
        target = 2.5 if row["task"].startswith(SIMCLR) else 1.5
        ratio = best.get("ratio_to_first", 1.0)
        verdict = "met" if ratio >= target else f"missed: {reason(row, best)}"
        lines.append(f"- {row['task']}: {ratio:.2f}x with `{best['name']}` (target ≥ {target}x): {verdict}.")
    return lines
