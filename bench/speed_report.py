"""BENCHMARKS.md sections 4 (speed) and 5 (GPU), from bench/results.json only."""

from __future__ import annotations

from bench.speed_targets import targets_lines
from evaluate.report import minutes, pct


def num(x: float) -> str:
    """A rate with about three significant digits."""
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}"


def share(x: float) -> str:
    return f"{100 * x:.3g}%"


def flops(x: float) -> str:
    """FLOP/s in the unit that reads best: GFLOP/s below 1 TFLOP/s."""
    return f"{num(x / 1e12)} TFLOP/s" if x >= 1e12 else f"{num(x / 1e9)} GFLOP/s"


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


def roofline_part(data: dict) -> list[str]:
    if "roofline" not in data:
        return []
    peaks = data["roofline"]
    head = (
        "| task | GFLOP/img (train) | toolkit FLOP/s | % of fp32 peak | % of bf16 peak | fastest fp32 variant | "
        "fastest bf16 variant |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---|---|"]
    for r in data["loop"]:
        s = r["roofline"]
        best = {
            p: f"`{b['variant']}` {flops(b['flops_per_s'])} ({share(b['share'])} of {p} peak)"
            for p in ("fp32", "bf16")
            if (b := s.get(f"best_{p}"))
        }
        lines.append(
            f"| {r['task']} | {r['train_gflops_per_image']:.4f} | {flops(s['toolkit_flops_per_s'])} | "
            f"{share(s['toolkit_share_fp32'])} | {share(s['toolkit_share_bf16'])} | {best.get('fp32', '—')} | "
            f"{best.get('bf16', '—')} |"
        )
    peak_text = "; ".join(
        f"{p} {flops(peaks[p]['flops_per_s'])} (the best square matmul, side {peaks[p]['size']})"
        for p in ("fp32", "bf16")
    )
    return [
        f"Roofline: the machine's matmul peaks measured in the same run ({peaks['device']}): {peak_text}. Each task's "
        "achieved training FLOP/s (FLOPs per image counted by torch.utils.flop_counter × images/s) as a share of "
        "both; the toolkit's loop runs in the variant `auto` resolves to. A share above 100% means the matmul is "
        "not that path's ceiling (convolutions run through oneDNN, a matmul without native kernels does not).",
        "",
        *lines,
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


def speed_section(data: dict, plots: str) -> list[str]:
    first, k, e, p = data["loop"][0], data["knn_search"], data["eval_suite"], data["probe"]
    met = sum(r["ratio"] >= 0.97 for r in data["loop"])
    return [
        *variants_part(data),
        "",
        f"Toolkit loop vs bare loop, in the variant `auto` resolves to (what a user's run trains in): median images/s "
        f"over {first['repeats']} segments of {first['steps_per_repeat']} steps (first task; batch "
        f"{first['batch_size']}, {data['device']}), "
        + (
            "taken in turn with the variants', after two warm-up steps"
            if "variants" in first
            else "alternating with the bare loop's, after one warm-up segment each"
        )
        + "; the toolkit's segment includes its "
        "end-of-segment checkpoint. Peak memory is the worker process's peak resident set (CPU, every variant "
        "included) or peak allocated memory (GPU).",
        "",
        *loop_table(data),
        "",
        f"![speed]({plots}/speed.png)",
        "",
        *roofline_part(data),
        "",
        *targets_lines(data),
        "",
        f"- Loop target ≥ 0.97 × bare: met by {met} of {len(data['loop'])} tasks.",
        f"- Feature extraction: {data['feature_extraction']['images_per_s']:.0f} images/s "
        f"({data['feature_extraction']['images']} test images, batch {data['feature_extraction']['batch_size']}).",
        f"- kNN search, {k['queries']} queries against a {k['bank'][0]} x {k['bank'][1]} bank, k = {k['k']}: FAISS "
        f"{k['faiss_seconds']:.3f} s vs torch matmul + top-k {k['torch_seconds']:.3f} s: FAISS "
        f"{k['faiss_speedup']:.2f}x ({100 * k['same_neighbours']:.1f}% identical neighbour lists).",
        f"- Evaluation suite on cached features (default eval config: {e['labels_per_class']} labels/class x "
        f"{e['seeds']} seeds, linear + MLP head + kNN, then kNN over k, retrieval and clustering; sources "
        f"{', '.join(e['sources'])}): {minutes(e['seconds'])} (target ≤ 2 min: "
        f"{'met' if e['seconds'] <= 120 else 'missed'}).",
        f"- Linear probe, {p['passes']} SGD passes over {p['train_images']} images: on cached features "
        f"{p['cached_seconds']:.1f} s (extraction included) vs through the frozen backbone "
        f"{p['through_backbone_seconds']:.1f} s: {p['speedup']:.1f}x (test accuracy {pct(p['cached_accuracy'])} vs "
        f"{pct(p['through_backbone_accuracy'])}); the suite's L-BFGS probe on the cached features: "
        f"{p['lbfgs_probe_seconds']:.1f} s, {pct(p['lbfgs_probe_accuracy'])}.",
    ]


def gpu_variant_lines(data: dict) -> list[str]:
    lines = [
        "| config | batch | variant | images/s | first step s | MFU (spec bf16 peak) | share of measured bf16 matmul "
        "peak |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in data["configs"]:
        for v in r["variants"]:
            if "images_per_s" not in v:
                lines.append(f"| {r['label']} | {r['batch_size']} | `{v['name']}` | failed | — | — | — |")
                continue
            mfu = share(v["mfu"]) if v.get("mfu") is not None else "n/a (peak unknown)"
            lines.append(
                f"| {r['label']} | {r['batch_size']} | `{v['name']}` | {num(v['images_per_s'])} | "
                f"{v['first_step_seconds']:.1f} | {mfu} | {share(v['share_of_bf16_matmul_peak'])} |"
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
            "one GPU) times SimCLR (32 px) and the default AE in bf16 + channels-last with torch.compile off and on, "
            "gives model FLOP utilisation against the card's bf16 peak, the toolkit / bare loop ratio, peak memory, "
            "bf16 vs fp32 loss agreement over 200 steps and FAISS GPU vs CPU kNN search."
        ]
    peaks, spec = data["roofline"], data["peak_bf16_flops"]
    agreement_steps = data["configs"][0]["agreement"]["steps"]
    return [
        f"On {data['device']}: bf16 matmul peak measured {flops(peaks['bf16']['flops_per_s'])} (side "
        f"{peaks['bf16']['size']}), fp32 {flops(peaks['fp32']['flops_per_s'])}; the card's dense bf16 "
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
