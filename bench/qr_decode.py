"""How long reading a camera frame takes: `python bench/qr_decode.py [--frames N] [--quick]`.

The camera scanner (screens/widgets/qr_scanner.py) hands a frame to app.qr_decode.decode_qr
about 4 times a second, on a worker thread; it must finish well inside that 250 ms. Measures,
on 640×480 grey frames like a tablet's preview: a frame holding the enrollment QR (found on the
first pass), a frame with nothing to read (every pass: plain, smoothed, mirrored — the worst
case, and the common one while the resident brings the card up), and a grainy dim frame. The
baseline, in the same run and on the same frames: one bare ZBar call (pyzbar.decode), i.e. what
the extra passes and conversions cost. Prints p50/p95 per kind, the ratio, and the share of
the 250 ms frame budget.
"""
import argparse
import io
import json
import random
import time

from _common import summary_ms

from app.qr import qr_png
from app.qr_decode import decode_qr, qr_decoder_available

ENROLL = "piazzetta://enroll?hub=http://127.0.0.1:8765&code=ABCD-EFGH"
FRAME_BUDGET_MS = 250


def frames():
    from PIL import Image, ImageFilter
    qr = Image.open(io.BytesIO(qr_png(ENROLL, box_size=6))).convert("L")
    with_qr = Image.new("L", (640, 480), 200)
    with_qr.paste(qr.rotate(10, expand=True, fillcolor=200), (170, 80))
    rng = random.Random(5)
    empty = Image.frombytes("L", (640, 480),
                            bytes(rng.randint(90, 170) for _ in range(640 * 480)))
    grainy = with_qr.filter(ImageFilter.GaussianBlur(1)).point(lambda v: 60 + v * 0.55)
    grainy = Image.frombytes("L", grainy.size, bytes(
        max(0, min(255, v + rng.randint(-50, 50))) for v in grainy.tobytes()))
    return {"qr": with_qr, "nothing": empty, "grainy_dim": grainy}


def timed(function, count):
    times = []
    for _ in range(count):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--quick", action="store_true", help="a few frames (CI smoke)")
    args = parser.parse_args()
    if not qr_decoder_available():
        print(json.dumps({"skipped": "pyzbar or libzbar0 missing"}))
        return
    from pyzbar import pyzbar
    count = 5 if args.quick else args.frames
    report = {}
    for kind, frame in frames().items():
        found = decode_qr(frame)
        ours, bare = [], []
        for _ in range(max(1, count // 5)):         # interleaved, so a neighbour hits both
            ours += timed(lambda: decode_qr(frame), 5)
            bare += timed(lambda: pyzbar.decode(frame, symbols=[pyzbar.ZBarSymbol.QRCODE]), 5)
        o, b = summary_ms(ours), summary_ms(bare)
        bare_found = [s.data.decode() for s in pyzbar.decode(frame)]
        report[kind] = {"read": found == [ENROLL], "bare_zbar_read": bare_found == [ENROLL],
                        "decode_qr_p50_ms": round(o["p50_ms"], 2),
                        "decode_qr_p95_ms": round(o["p95_ms"], 2),
                        "bare_zbar_p50_ms": round(b["p50_ms"], 2),
                        "ratio_p50": round(o["p50_ms"] / b["p50_ms"], 2),
                        "share_of_frame_budget_p95": round(o["p95_ms"] / FRAME_BUDGET_MS, 3)}
    print(json.dumps({"frames_per_kind": count, "frame": "640x480 grey", "results": report},
                     indent=2))


if __name__ == "__main__":
    main()
