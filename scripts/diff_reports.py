"""Compare two report.json files row by row (either layout: issue 19's untyped one or version 2).

    python scripts/diff_reports.py BEFORE/report.json AFTER/report.json

The last part is the parity check: every better / worse / within-noise verdict of the
"Is it better?" and semi-supervised tables in both reports, unchanged or listed with both
differences and intervals (a changed verdict is explained when both intervals overlap).

Records are matched on (source, protocol, labels per class, seed), summary rows on (source,
protocol, labels per class), differences on (protocol, a, b, labels per class); rows only in
one file are listed by protocol, rows in both are compared field by field.
"""

import json
import sys

KEYS = {
    "records": ("source", "protocol", "labels_per_class", "seed"),
    "summary": ("source", "protocol", "labels_per_class"),
    "differences": ("protocol", "a", "b", "labels_per_class"),
}


def keyed(rows: list[dict], keys: tuple[str, ...]) -> dict:
    return {tuple(r[k] for k in keys): r for r in rows}


def compare(before: dict, after: dict) -> list[str]:
    lines = []
    for part, keys in KEYS.items():
        b, a = keyed(before[part], keys), keyed(after[part], keys)
        common = [k for k in b if k in a]
        changed = [k for k in common if b[k] != a[k]]
        added = sorted({k[keys.index("protocol")] for k in set(a) - set(b)})
        lines.append(f"{part}: {len(common)} in both, {len(changed)} different; only after: {added or 'none'}")
        for k in changed[:10]:
            fields = {f: (b[k].get(f), a[k].get(f)) for f in b[k] if b[k].get(f) != a[k].get(f)}
            lines.append(f"  {k}: {fields}")
    for part in ("all_labels", "layers", "outliers", "sources"):
        lines.append(f"{part}: {'identical' if before[part] == after[part] else 'different'}")
    return lines


def interval(row: dict) -> str:
    low, high = row.get("low"), row.get("high")
    bounds = f" [{100 * low:+.1f}, {100 * high:+.1f}]" if low is not None and high is not None else ""
    return f"{100 * row['difference']:+.1f}{bounds} {row['verdict']}"


def verdicts(before: dict, after: dict) -> list[str]:
    """Verdicts of the differences both reports hold: how many agree, and each that changed."""
    lines = []
    for part in ("differences", "semi_supervised"):
        keys = ("protocol", "a", "b", "labels_per_class", "versus")
        b = {tuple(r.get(k, "") for k in keys): r for r in before.get(part, [])}
        a = {tuple(r.get(k, "") for k in keys): r for r in after.get(part, [])}
        common = [k for k in b if k in a]
        changed = [k for k in common if b[k]["verdict"] != a[k]["verdict"]]
        lines.append(f"verdicts ({part}): {len(common) - len(changed)} of {len(common)} unchanged")
        lines += [f"  {k[:4]}: before {interval(b[k])}; after {interval(a[k])}" for k in changed]
    return lines


if __name__ == "__main__":
    before, after = (json.loads(open(path).read()) for path in sys.argv[1:3])
    print("\n".join(compare(before, after) + verdicts(before, after)))
