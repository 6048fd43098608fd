"""Run by test_kill.py: records answers in a loop and prints each one once its record call
has returned (so the parent knows what the store promised to keep)."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.bundle import load_bundle  # noqa: E402
from app.paths import DEMO_BUNDLE_DIR  # noqa: E402
from app.store import Store  # noqa: E402

ANSWERS = [("q-ticket", "yes"), ("q-cooperation", 4), ("q-themes", ["health"]),
           ("q-colour", {"p-bus": "green"}), ("q-missing", "idée n°{}")]


def main(folder: str) -> None:
    consultation = load_bundle(DEMO_BUNDLE_DIR, check_images=False)
    store = Store.open(folder)
    n = 0
    while True:
        ballot = store.start_ballot(consultation)
        for question_id, value in ANSWERS:
            if isinstance(value, str) and "{}" in value:
                value = value.format(n)
            stored = store.record_answer(consultation, ballot, question_id, value)
            sys.stdout.write(json.dumps([ballot, question_id, stored]) + "\n")
            sys.stdout.flush()
            n += 1
        store.close_ballot(ballot)


if __name__ == "__main__":
    main(sys.argv[1])
