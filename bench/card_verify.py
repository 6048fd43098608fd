"""How long a participation card takes to check and to answer with:
`python bench/card_verify.py [--rounds N] [--cards N] [--answers N] [--quick]`.

On the tablet (pure-Python `ecdsa`, as there), interleaved so that a noisy neighbour hits all
alike:
- a QR: `app.cards.read_card` on the card's signed text: the card's key pair derived from its
  secret (PBKDF2-HMAC-SHA256, app.cards.CHECK_ITERATIONS rounds, then Ed25519), the hub's
  signature over it checked;
- a typed code: `read_card` on the typed code against the public keys of N issued cards;
- the whole step at the kiosk: `KioskSession.present_card` with a real store (the card check,
  then the card's earlier answers on this tablet, one per question);
- the proof of one answer: `Card.proof` (an Ed25519 signature; the card's key is derived once,
  when it is read);
- the baseline: a bare Ed25519 signature check of 64 bytes with the same library.
At the hub:
- the check of one answer's proof (`app.cards.verify_proof` with the hub's
  `server.participation.ed25519_verify`, `cryptography`), beside the pure-Python check and the
  HMAC the cards of before were checked with (what a proof cost the hub before, when the hub
  could also make one);
- a batch of identified answers through `Hub.ingest` (each answer's proof checked), against
  the same number of open answers (no card) in the same run: answers per second and ratio.
Prints medians and p95, the ratios, and what one typed-code guess costs someone holding a
stolen tablet's list. Target (issue 22): the card check well under 150 ms.
"""
import argparse
import hashlib
import hmac
import tempfile
import time
from pathlib import Path

from _common import summary_ms

from app.bundle import load_bundle
from app.cards import (CARD_KEYS, CARD_PUBLIC_KEY, CHECK_ITERATIONS, SECRET_LENGTH, Card,
                       card_public_key, card_signing_seed, new_card, read_card, sign_card,
                       verify_proof)
from app.codes import CODE_ALPHABET
from app.kiosk import KioskSession, KioskSettings
from app.paths import DEMO_BUNDLE_DIR
from app.store import Store


def tablet_figures(consultation, cards, rounds):
    seed = card_signing_seed("bench-hub-secret")
    public = card_public_key(seed)
    keys = {c.lookup: c.public_key() for c in cards}
    qr_texts = [sign_card(seed, c) for c in cards[:rounds]]
    from ecdsa import Ed25519, SigningKey
    signer = SigningKey.from_string(seed, curve=Ed25519)
    verifier = signer.get_verifying_key()
    message = b"x" * 64
    signature = signer.sign(message)
    times = {"qr": [], "typed": [], "kiosk": [], "sign": [], "bare": []}
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(Path(folder) / "tablet")
        store.set_setting(CARD_PUBLIC_KEY, public)
        store.set_setting(CARD_KEYS, {consultation.id: keys})
        settings = KioskSettings(store)
        settings.ballot_mode = "identified"
        for i in range(rounds):
            card = Card(consultation.id, cards[i % len(cards)].lookup,
                        cards[i % len(cards)].secret)       # nothing derived yet
            t0 = time.perf_counter()
            verifier.verify(signature, message)
            times["bare"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            read = read_card(qr_texts[i % len(qr_texts)], consultation.id, public)
            times["qr"].append(time.perf_counter() - t0)
            assert read == card
            t0 = time.perf_counter()
            read = read_card(card.typed, consultation.id, public, keys)
            times["typed"].append(time.perf_counter() - t0)
            assert read == card
            t0 = time.perf_counter()
            read.proof("q-ticket", f"ballot-{i}", "yes")
            times["sign"].append(time.perf_counter() - t0)
            session = KioskSession(store, consultation, settings=settings)
            t0 = time.perf_counter()
            session.present_card(card.typed if i % 2 else qr_texts[i % len(qr_texts)])
            times["kiosk"].append(time.perf_counter() - t0)
            session.forget_card()
        store.close()
    return times


def hub_figures(consultation, answers):
    from server.hub import Hub
    from server.settings import Settings
    from server.db import sha256
    from server.participation import ed25519_verify
    times = {"verify": [], "verify_py": [], "hmac": []}
    rates = {}
    with tempfile.TemporaryDirectory() as folder:
        hub = Hub(Settings.from_env({}, data_dir=Path(folder) / "hub"))
        try:
            hub.import_bundle(DEMO_BUNDLE_DIR)
            cards = hub.participation.issue_cards(consultation.id, answers)
            for i, card in enumerate(cards[:200]):
                proof = card.proof("q-ticket", f"b{i}", "yes")
                key = hmac.new(card.secret.encode(), b"piazzetta-card-key", hashlib.sha256)
                t0 = time.perf_counter()
                assert verify_proof(card.public_key(), proof, consultation.id, "q-ticket",
                                    f"b{i}", "yes", lookup=card.lookup,
                                    verify=ed25519_verify)
                times["verify"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                assert verify_proof(card.public_key(), proof, consultation.id, "q-ticket",
                                    f"b{i}", "yes", lookup=card.lookup)
                times["verify_py"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                expected = hmac.new(key.digest(), f"{consultation.id}|q-ticket".encode(),
                                    hashlib.sha256).hexdigest()
                hmac.compare_digest(expected, expected)
                times["hmac"].append(time.perf_counter() - t0)
            for kind in ("open", "identified"):
                store = Store.memory()
                hub.enroll(hub.make_enrollment_code("menton-mediatheque")["code"],
                           store.device_id, sha256("bench-" + kind))
                device = hub.authenticate(f"Bearer {store.device_id}:bench-{kind}")
                for card in cards:
                    ballot = store.start_ballot(consultation, mode=kind,
                                                site_id="menton-mediatheque")
                    store.record_answer(consultation, ballot, "q-ticket", "yes",
                                        card=card if kind == "identified" else None)
                    store.close_ballot(ballot)
                envelopes = [e.envelope(store.device_id)
                             for e in store.pending_events(limit=100_000)]
                t0 = time.perf_counter()
                for start in range(0, len(envelopes), 300):
                    results = hub.ingest(device, envelopes[start:start + 300])
                    assert all(r["status"] == "stored" for r in results), results[:3]
                rates[kind] = answers / (time.perf_counter() - t0)
                store.close()
        finally:
            hub.close()
    return times, rates


def issued_cards(consultation_id: str, count: int) -> list[Card]:
    """`count` cards as the hub issues them (server/participation.py, `_issue`): no two share a
    4-symbol lookup ID in one consultation (the typed code is found by it)."""
    cards: dict[str, Card] = {}
    while len(cards) < count:
        card = new_card(consultation_id)
        cards.setdefault(card.lookup, card)
    return list(cards.values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--cards", type=int, default=2000, help="issued cards on the tablet")
    parser.add_argument("--answers", type=int, default=600,
                        help="identified answers in the hub's ingest run")
    parser.add_argument("--quick", action="store_true", help="a few rounds (CI smoke)")
    args = parser.parse_args()
    rounds = 10 if args.quick else args.rounds
    consultation = load_bundle(DEMO_BUNDLE_DIR)
    cards = issued_cards(consultation.id, min(args.cards, 200) if args.quick else args.cards)
    times = tablet_figures(consultation, cards, rounds)
    hub_times, rates = hub_figures(consultation, 30 if args.quick else args.answers)
    times.update(hub_times)

    s = {k: summary_ms(v) for k, v in times.items()}
    base = s["bare"]["p50_ms"]
    print(f"card_verify: {rounds} rounds, {len(cards)} issued cards on the tablet, "
          f"PBKDF2 {CHECK_ITERATIONS} rounds + Ed25519 (pure-Python ecdsa)")
    print("  on the tablet")
    for key, label in (("qr", "QR (derive + hub signature)"), ("typed", "typed code (derive)"),
                       ("kiosk", "present_card at the kiosk"),
                       ("sign", "proof of one answer (sign)"),
                       ("bare", "bare Ed25519 verify")):
        print(f"  {label:<30} p50 {s[key]['p50_ms']:8.2f} ms   p95 {s[key]['p95_ms']:8.2f} ms"
              f"   ratio (p50) {s[key]['p50_ms'] / base:5.2f}")
    print("  at the hub")
    for key, label in (("verify", "one answer's proof (OpenSSL)"),
                       ("verify_py", "the same, pure-Python ecdsa"),
                       ("hmac", "before: HMAC proof check")):
        print(f"  {label:<30} p50 {s[key]['p50_ms']:8.3f} ms   p95 {s[key]['p95_ms']:8.3f} ms")
    print(f"  ingest: identified answers {rates['identified']:8.0f}/s, open answers "
          f"{rates['open']:8.0f}/s (same run), ratio {rates['identified'] / rates['open']:.2f}")
    worst = max(s[k]["p95_ms"] for k in ("qr", "typed", "kiosk"))
    guess = s["typed"]["p50_ms"] / 1e3
    years = len(CODE_ALPHABET) ** SECRET_LENGTH * guess / 2 / (365 * 86400)
    print(f"  stolen tablet: one guess of a typed code costs {guess * 1e3:.2f} ms of one core;"
          f" finding one unused card needs ~29^{SECRET_LENGTH}/2 guesses per card "
          f"(~{years:.1e} core-years at this speed)")
    print(f"  slowest p95 of a card check {worst:.1f} ms   target: well under 150 ms "
          f"({'met' if worst <= 150 else 'NOT met'})")


if __name__ == "__main__":
    main()
