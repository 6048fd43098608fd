"""How long building a consultation from its spreadsheet takes:
`python bench/sheet_build.py [--questions N] [--repeat R] [--quick]`.

Two cases, each against a baseline measured in the same run on the same content:
- the demo: server.sheets.build_bundle on assets/demo/consultation.xlsx (zip checks, openpyxl
  read-only parse, every cell checked, 7 images decoded, then app.bundle.parse_bundle), against
  app.bundle.load_bundle on assets/demo (JSON read and parsed, images verified);
- a large consultation: N questions (default 500) of every kind, with their options and scale
  labels (about 4 options a question), written as a spreadsheet by bundle_to_sheet; the same
  comparison, plus parse_bundle alone on the decoded JSON (validation without images).
Each case is built from the .xlsx and from the same sheets as an .ods (LibreOffice's format,
written by `bundle_to_sheet(…, "x.ods")`, read by server/ods.py); `ods_to_xlsx` is their ratio.
The two are interleaved so that a noisy neighbour hits both alike. Prints p50/p95 and the
ratios; a spreadsheet is expected to cost tens of times the JSON, and to stay near a second
for 500 questions.
"""
import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from _common import summary_ms

from app.bundle import BUNDLE_FILE, load_bundle, parse_bundle
from app.paths import DEMO_BUNDLE_DIR
from server.sheets import build_bundle, bundle_to_sheet

KINDS = ("choice", "ranking", "scale", "yes_no", "open", "colour", "budget")


def text(words: str) -> dict:
    return {"fr": f"{words} (fr)", "it": f"{words} (it)", "en": f"{words} (en)"}


def large_bundle(questions: int) -> dict:
    data = json.loads((DEMO_BUNDLE_DIR / BUNDLE_FILE).read_text(encoding="utf-8"))
    made = []
    for n in range(questions):
        kind = KINDS[n % len(KINDS)]
        q = {"id": f"q-{n}", "kind": kind, "prompt": text(f"Question {n}"),
             "help": text(f"Aide {n}")}
        if kind in ("choice", "ranking"):
            q["options"] = [{"id": f"o-{k}", "label": text(f"Option {k}")} for k in range(4)]
        if kind == "choice":
            q.update(multiple=True, max_choices=2)
        if kind == "scale":
            q["labels"] = [text(f"Niveau {k}") for k in range(1, 6)]
        if kind == "budget":
            q.update(total=500000, step=10000, currency="EUR")
        made.append(q)
    data["consultation"]["questions"] = made
    return data


def timed(function, count):
    times = []
    for _ in range(count):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def compare(sheet_fn, json_fn, repeat):
    sheet_fn(), json_fn()                   # imports and first-call caches are not the figure
    sheet_times, json_times = [], []
    for _ in range(repeat):
        sheet_times += timed(sheet_fn, 1)
        json_times += timed(json_fn, 3)
    s, j = summary_ms(sheet_times), summary_ms(json_times)
    return {"sheet_p50_ms": round(s["p50_ms"], 1), "sheet_p95_ms": round(s["p95_ms"], 1),
            "json_p50_ms": round(j["p50_ms"], 2), "json_p95_ms": round(j["p95_ms"], 2),
            "ratio_p50": round(s["p50_ms"] / j["p50_ms"], 1)}


def with_ods(ods_fn, xlsx_fn, repeat):
    """The .ods build against the .xlsx one, interleaved: p50/p95 and their ratio."""
    ods_fn(), xlsx_fn()
    ods_times, xlsx_times = [], []
    for _ in range(repeat):
        ods_times += timed(ods_fn, 1)
        xlsx_times += timed(xlsx_fn, 1)
    o, x = summary_ms(ods_times), summary_ms(xlsx_times)
    return {"ods_p50_ms": round(o["p50_ms"], 1), "ods_p95_ms": round(o["p95_ms"], 1),
            "ods_to_xlsx_p50": round(o["p50_ms"] / x["p50_ms"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="100 questions, 2 runs (CI smoke)")
    args = parser.parse_args()
    questions = 100 if args.quick else args.questions
    repeat = 2 if args.quick else args.repeat
    template = DEMO_BUNDLE_DIR / "consultation.xlsx"
    report = {"demo": compare(lambda: build_bundle(template),
                              lambda: load_bundle(DEMO_BUNDLE_DIR), repeat)}

    with tempfile.TemporaryDirectory() as tmp:
        demo_ods = Path(tmp) / "demo.ods"
        bundle_to_sheet(DEMO_BUNDLE_DIR, demo_ods)
        assert build_bundle(demo_ods, DEMO_BUNDLE_DIR) == build_bundle(template)
        report["demo"].update(with_ods(lambda: build_bundle(demo_ods, DEMO_BUNDLE_DIR),
                                       lambda: build_bundle(template), repeat))
        report["demo"]["ods_kb"] = round(demo_ods.stat().st_size / 1024, 1)

        folder = Path(tmp) / "large"
        shutil.copytree(DEMO_BUNDLE_DIR / "images", folder / "images")
        shutil.copytree(DEMO_BUNDLE_DIR / "map", folder / "map")
        data = large_bundle(questions)
        (folder / BUNDLE_FILE).write_text(json.dumps(data, ensure_ascii=False, indent=1),
                                          encoding="utf-8")
        sheet = folder / "consultation.xlsx"
        start = time.perf_counter()
        bundle_to_sheet(folder, sheet)
        written_ms = (time.perf_counter() - start) * 1e3
        assert build_bundle(sheet) == data
        large = compare(lambda: build_bundle(sheet), lambda: load_bundle(folder), repeat)
        parse_only = summary_ms(timed(lambda: parse_bundle(data), repeat * 3))
        options = sum(len(q.get("options", q.get("labels", []))) for q in
                      data["consultation"]["questions"])
        large.update(questions=questions, option_rows=options,
                     sheet_kb=round(sheet.stat().st_size / 1024, 1),
                     bundle_json_kb=round((folder / BUNDLE_FILE).stat().st_size / 1024, 1),
                     parse_bundle_only_p50_ms=round(parse_only["p50_ms"], 2),
                     ratio_to_parse_bundle_only=round(large["sheet_p50_ms"]
                                                      / parse_only["p50_ms"], 1),
                     bundle_to_sheet_ms=round(written_ms, 1))
        sheet_ods = folder / "consultation.ods"
        bundle_to_sheet(folder, sheet_ods)
        assert build_bundle(sheet_ods) == data
        large.update(with_ods(lambda: build_bundle(sheet_ods), lambda: build_bundle(sheet),
                              repeat))
        large["ods_kb"] = round(sheet_ods.stat().st_size / 1024, 1)
        report["large"] = large
    print(json.dumps({"repeat": repeat, "results": report}, indent=2))


if __name__ == "__main__":
    main()
