"""BENCHMARKS.md sections 4 (speed) and 5 (GPU), from bench/results.json only, with the speed
targets (bench/targets.yaml): SimCLR and every task at their bars over today's fp32 images/s,
each with the best variant the machine's config accepts; a miss shows what the other
variants reached."""

from __future__ import annotations

from bench.targets import TARGET_FILE
from evaluate.report import minutes

SIMCLR = "contrastive (SimCLR), small ResNet"
SPEED = TARGET_FILE["speed"]


def num(x: float) -> str:
    """A rate with about three significant digits."""
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}"


def share(x: float) -> str:
    return f"{100 * x:.3g}%"


def variant_names(rows: list[dict]) -> list[str]:
    """Every variant measured in any row, in the order first met."""
    return list(dict.fromkeys(v["name"] for r in rows for v in r.get("variants", [])))


def unsupported_lines(rows: list[dict]) -> list[str]:
    """One bullet per variant the machine's config refuses or runs slowly, with the reason."""
    statuses = {v["name"]: v["status"] for r in rows for v in r.get("variants", []) if v["status"] != "supported"}
    failed = {v["name"]: v["error"] for r in rows for v in r.get("variants", []) if "error" in v}
    lines = [f"- `{name}`: {status}." for name, status in statuses.items()]
    lines += [f"- `{name}` failed: {error}" for name, error in failed.items()]
    return lines


def variant_table(rows: list[dict], names: list[str], cell) -> list[str]:
    marks = {v["name"] for r in rows for v in r.get("variants", []) if v["status"].startswith("emulated")}
    head = ["task", "batch"] + [f"{n} †" if n in marks else n for n in names]
    lines = ["| " + " | ".join(head) + " |", "|---|---:|" + "---:|" * len(names)]
    for r in rows:
        by_name = {v["name"]: v for v in r.get("variants", [])}
        cells = [cell(by_name[n]) if n in by_name else "—" for n in names]
        lines.append(f"| {r['task']} | {r['batch_size']} | " + " | ".join(cells) + " |")
    return lines


def rate_cell(v: dict) -> str:
    if "images_per_s" not in v:
        return "failed"
    return f"{num(v['images_per_s'])} ({v.get('ratio_to_first', 1):.2f}×)"


def first_step_cell(v: dict) -> str:
    return f"{v['first_step_seconds']:.2f}" if "first_step_seconds" in v else "failed"


def segment_text(data: dict) -> str:
    cap, seconds = data.get("steps_cap"), data.get("segment_seconds")
    if not seconds:
        return f"{cap} steps each" if cap else "a fixed number of steps"
    loop = data.get("loop_seconds") or seconds
    return (
        f"as many steps as fill about {seconds:g} s, {loop:g} s for the toolkit's loop and its bare twin, at most "
        f"{cap} steps"
    )


def variants_part(data: dict) -> list[str]:
    rows = [r for r in data["loop"] if r.get("variants")]
    if not rows:
        return ["Variants: not measured in this run (older results; `python -m bench --sections speed` measures them)."]
    names = variant_names(rows)
    return [
        f"Training step per variant, images/s (× the `{names[0]}` rate): each task's variants are bare PyTorch loops "
        "over copies of its model (same initial weights), timed in turn in one worker process: one warm-up step each "
        "(its seconds below: torch.compile compiles there, with a fresh cache), a second step that sizes the "
        f"segments ({segment_text(data)}), then the median over {rows[0]['repeats']} segments (a one-step "
        "variant's second step is its first). channels_last also converts the model; compile is "
        "`pretrain.hardware.compile_model` (encoder and task heads; the tasks' forward stays eager).",
        "",
        *variant_table(rows, names, rate_cell),
        "",
        "Not supported as configured on this machine, or slower by design (these are still timed, through "
        "torch.autocast directly in the bare loop; † marks them):",
        "",
        *(unsupported_lines(rows) or ["- none: every variant is what the config accepts."]),
        "",
        "First step (warm-up) seconds per variant: for +compile, the compile time (cold cache) plus one step:",
        "",
        *variant_table(rows, names, first_step_cell),
    ]


def loop_table(data: dict) -> list[str]:
    lines = [
        "| task | auto variant | bare img/s | toolkit img/s | ratio (target ≥ 0.97) | GFLOP/img (train) | "
        "peak memory | augmentation share of a step |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in data["loop"]:
        augment = f"{100 * r['augment_share']:.1f}%" if "augment_share" in r else "not measured"
        lines.append(
            f"| {r['task']} | `{r.get('auto_variant', r['precision'])}` | {num(r['bare_images_per_s'])} | "
            f"{num(r['toolkit_images_per_s'])} | {r['ratio']:.3f} | {r['train_gflops_per_image']:.4f} | "
            f"{r['peak_memory_mib']:.0f} MiB | {augment} |"
        )
    return lines


def speed_finding(data: dict) -> str:
    met = sum(r["ratio"] >= 0.97 for r in data["loop"])
    fastest = [f"{r['task']} `{b['name']}` {b.get('ratio_to_first', 1):.2f}×" for r in data["loop"][:1]
               if (b := best_accepted(r)) is not None]  # fmt: skip
    return f"The toolkit's loop keeps up with a bare PyTorch loop (≥ 0.97×) for {met} of {len(data['loop'])} tasks" + (
        f"; the fastest variant the config accepts for the first task: {fastest[0]} of fp32." if fastest else "."
    )


def gpu_finding(data: dict) -> str:
    if data.get("skipped"):
        return f"Not measured: {data['skipped']}."
    rates = [f"{r['label']} {num(v['images_per_s'])} img/s (`{v['name']}`)" for r in data["configs"]
             for v in r["variants"][-1:] if "images_per_s" in v]  # fmt: skip
    return f"On {data['device']}: " + "; ".join(rates) + "."


def speed_section(data: dict, plots: str) -> list[str]:
    first, e = data["loop"][0], data["eval_suite"]
    met = sum(r["ratio"] >= 0.97 for r in data["loop"])
    return [
        *variants_part(data),
        "",
        f"Toolkit loop vs bare loop, in the variant `auto` resolves to (what a user's run trains in): median images/s "
        f"over {first['repeats']} segments of {first['steps_per_repeat']} steps (first task; batch "
        f"{first['batch_size']}, {data['device']}), taken in turn with the variants', after two warm-up steps; the "
        + (
            "toolkit's figure is the images/s its trainer logs over each segment (what the progress bar shows, "
            "checkpoints left out). "
            if data.get("toolkit_rate") == "trainer log"
            else "toolkit's segment includes its end-of-segment checkpoint. "
        )
        + "Peak memory is the worker process's peak "
        "resident set (CPU, every variant included) or peak allocated memory (GPU).",
        "",
        *loop_table(data),
        "",
        f"![speed]({plots}/speed.png)",
        "",
        *targets_lines(data),
        "",
        f"- Loop target ≥ 0.97 × bare: met by {met} of {len(data['loop'])} tasks.",
        f"- Feature extraction: {data['feature_extraction']['images_per_s']:.0f} images/s "
        f"({data['feature_extraction']['images']} test images, batch {data['feature_extraction']['batch_size']}).",
        f"- Evaluation suite on cached features (default eval config: {e['labels_per_class']} labels/class x "
        f"{e['seeds']} seeds, linear + MLP head + kNN, then kNN over k, retrieval and clustering; sources "
        f"{', '.join(e['sources'])}): {minutes(e['seconds'])} (target ≤ 2 min: "
        f"{'met' if e['seconds'] <= 120 else 'missed'}).",
    ]


def gpu_variant_lines(data: dict) -> list[str]:
    lines = [
        "| config | batch | variant | images/s | first step s | MFU (spec bf16 peak) |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for r in data["configs"]:
        for v in r["variants"]:
            if "images_per_s" not in v:
                lines.append(f"| {r['label']} | {r['batch_size']} | `{v['name']}` | failed | — | — |")
                continue
            mfu = share(v["mfu"]) if v.get("mfu") is not None else "n/a (peak unknown)"
            lines.append(
                f"| {r['label']} | {r['batch_size']} | `{v['name']}` | {num(v['images_per_s'])} | "
                f"{v['first_step_seconds']:.1f} | {mfu} |"
            )
    return lines


def gpu_loop_lines(data: dict) -> list[str]:
    lines = [
        "| config | auto variant | toolkit / bare | peak memory | bf16 vs fp32 loss: max abs (rel) | final abs (rel) "
        "| fp32 / bf16 final loss |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in data["configs"]:
        a = r["agreement"]
        lines.append(
            f"| {r['label']} | `{r['auto_variant']}` | {r['ratio']:.3f} | {r['peak_memory_mib']:.0f} MiB | "
            f"{a['max_abs_diff']:.4g} ({share(a['max_rel_diff'])}) | {a['final_abs_diff']:.4g} "
            f"({share(a['final_rel_diff'])}) | {a['fp32_final_loss']:.4f} / {a['bf16_final_loss']:.4f} |"
        )
    return lines


def gpu_knn_line(k: dict) -> str:
    where = f"{k['queries']} test codes against a {k['bank'][0]} x {k['bank'][1]} bank, k = {k['k']}"
    if k["faiss_gpu"] != "used":
        return f"- FAISS kNN, {where}: CPU {k['cpu_seconds']:.3f} s; GPU {k['faiss_gpu']}."
    return (
        f"- FAISS kNN, {where}: GPU {k['gpu_seconds']:.3f} s vs CPU {k['cpu_seconds']:.3f} s "
        f"({k['gpu_speedup']:.1f}x; a GPU search includes its index's upload), identical neighbour lists "
        f"{share(k['same_lists'])} ({share(k['same_neighbours'])} of neighbours)."
    )


def gpu_section(data: dict, plots: str) -> list[str]:
    if data.get("skipped"):
        return [
            f"Not measured: {data['skipped']}. On a CUDA machine `python -m bench --sections gpu` (about 5 minutes on "
            "one GPU) times SimCLR (32 px) and the paper's AE in bf16 + channels-last with torch.compile off and on, "
            "gives model FLOP utilisation against the card's bf16 peak, the toolkit / bare loop ratio, peak memory, "
            "bf16 vs fp32 loss agreement over 200 steps and FAISS GPU vs CPU kNN search."
        ]
    spec = data["peak_bf16_flops"]
    agreement_steps = data["configs"][0]["agreement"]["steps"]
    return [
        f"On {data['device']}: the card's dense bf16 "
        f"spec peak {f'{spec / 1e12:.0f} TFLOP/s' if spec else 'is not in PEAK_BF16_FLOPS'}. The check took "
        f"{minutes(data['seconds'])}. Variants are timed as in section 4 (bare loops in turn, cold compile cache).",
        "",
        *gpu_variant_lines(data),
        "",
        *(
            unsupported_lines(data["configs"])
            and ["Variants not as configured:", "", *unsupported_lines(data["configs"])]
        ),
        "",
        f"The toolkit's loop against its bare twin, peak memory, and the training loss over {agreement_steps} steps "
        "in fp32 and in bf16 autocast (same initial weights, batches and augmentation draws; channels-last):",
        "",
        *gpu_loop_lines(data),
        "",
        gpu_knn_line(data["knn_search"]),
    ]


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
