"""How long a tablet takes to check a participation card offline:
`python bench/card_verify.py [--rounds N] [--cards N] [--quick]`.

In the same run, interleaved so that a noisy neighbour hits all alike:
- a QR: `app.cards.read_card` on the card's signed text (Ed25519 with the pure-Python `ecdsa`
  package, as on the tablet);
- a typed code: `read_card` on the typed code against the salted checks of N issued cards
  (PBKDF2-HMAC-SHA256, app.cards.CHECK_ITERATIONS rounds);
- the whole step at the kiosk: `KioskSession.present_card` with a real store (the card check,
  then the card's earlier answers on this tablet, one per question);
- the baseline: a bare Ed25519 signature check of 64 bytes with the same library.
Prints medians and p95, the ratio of each to the baseline, and what one typed-code guess costs
someone holding a stolen tablet's list. Target (issue 14): ≤ 150 ms, the resident must not wait.
"""
import argparse
import tempfile
import time
from pathlib import Path

from _common import summary_ms

from app.bundle import load_bundle
from app.cards import (CARD_CHECKS, CARD_PUBLIC_KEY, CHECK_ITERATIONS, SECRET_LENGTH,
                       card_public_key, card_signing_seed, new_card, read_card, sign_card)
from app.codes import CODE_ALPHABET
from app.kiosk import KioskSession, KioskSettings
from app.paths import DEMO_BUNDLE_DIR
from app.store import Store


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--cards", type=int, default=2000, help="issued cards on the tablet")
    parser.add_argument("--quick", action="store_true", help="a few rounds (CI smoke)")
    args = parser.parse_args()
    rounds = 10 if args.quick else args.rounds
    consultation = load_bundle(DEMO_BUNDLE_DIR)
    seed = card_signing_seed("bench-hub-secret")
    public = card_public_key(seed)
    cards = [new_card(consultation.id) for _ in range(min(args.cards, 200) if args.quick
                                                      else args.cards)]
    checks = {c.lookup: c.check() for c in cards}
    qr_texts = [sign_card(seed, c) for c in cards[:rounds]]
    from ecdsa import Ed25519, SigningKey
    signer = SigningKey.from_string(seed, curve=Ed25519)
    verifier = signer.get_verifying_key()
    message = b"x" * 64
    signature = signer.sign(message)

    times = {"qr": [], "typed": [], "kiosk": [], "bare": []}
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(Path(folder) / "tablet")
        store.set_setting(CARD_PUBLIC_KEY, public)
        store.set_setting(CARD_CHECKS, {consultation.id: checks})
        settings = KioskSettings(store)
        settings.ballot_mode = "identified"
        for i in range(rounds):
            card = cards[i % len(cards)]
            t0 = time.perf_counter()
            verifier.verify(signature, message)
            times["bare"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            assert read_card(qr_texts[i % len(qr_texts)], consultation.id, public) == card
            times["qr"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            assert read_card(card.typed, consultation.id, public, checks) == card
            times["typed"].append(time.perf_counter() - t0)
            session = KioskSession(store, consultation, settings=settings)
            t0 = time.perf_counter()
            session.present_card(card.typed if i % 2 else qr_texts[i % len(qr_texts)])
            times["kiosk"].append(time.perf_counter() - t0)
            session.forget_card()
        store.close()

    s = {k: summary_ms(v) for k, v in times.items()}
    base = s["bare"]["p50_ms"]
    print(f"card_verify: {rounds} rounds, {len(cards)} issued cards on the tablet, "
          f"PBKDF2 {CHECK_ITERATIONS} rounds")
    for key, label in (("qr", "QR (signature)"), ("typed", "typed code (PBKDF2)"),
                       ("kiosk", "present_card at the kiosk"),
                       ("bare", "bare Ed25519 verify")):
        print(f"  {label:<27} p50 {s[key]['p50_ms']:8.2f} ms   p95 {s[key]['p95_ms']:8.2f} ms"
              f"   ratio (p50) {s[key]['p50_ms'] / base:5.2f}")
    worst = max(s[k]["p50_ms"] for k in ("qr", "typed", "kiosk"))
    guess = s["typed"]["p50_ms"] / 1e3
    years = len(CODE_ALPHABET) ** SECRET_LENGTH * guess / 2 / (365 * 86400)
    print(f"  stolen tablet: one guess of a typed code costs {guess * 1e3:.2f} ms of one core;"
          f" finding one unused card needs ~29^{SECRET_LENGTH}/2 guesses per card "
          f"(~{years:.1e} core-years at this speed)")
    print(f"  slowest median {worst:.1f} ms   target: ≤ 150 ms "
          f"({'met' if worst <= 150 else 'NOT met'})")


if __name__ == "__main__":
    main()
