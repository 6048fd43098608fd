"""Participation cards of the identified ballot mode, shared by the tablet and the hub
(docs/protocol.md, "Sign-up and participation cards").

A card is an anonymous bearer credential for one consultation: a public lookup ID `L`
(LOOKUP_LENGTH characters) and a secret `S` (SECRET_LENGTH characters of the codes' alphabet,
29^13 ≈ 2^63). Nothing in it names a person. It is printed as a typed code
`LLLL-SSSSS-SSSS-SSSS` and as a QR `PZC2.<L><S>.<base64url Ed25519 signature>`.

- Tablets check a typed code against `check = PBKDF2-HMAC-SHA256(S, "piazzetta-card|<consultation>|L")`
  (salted per card, CHECK_ITERATIONS rounds), pulled with the bundle index; a QR by the hub's
  signature, so a card printed after the tablet's last pull works too.
- Each answer of an identified ballot carries `card` = L and
  `proof = HMAC-SHA256(k, "<consultation>|<question>")` with `k = HMAC-SHA256(S, "piazzetta-card-key")`.
  The hub keeps `k` per issued card (never S), recomputes the proof and refuses an answer of a
  card it did not issue; it keeps one answer per card and question.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from .codes import CODE_ALPHABET, new_code, normalize_code
from .errors import N_, DomainError
from .tokens import b64url as _b64, unb64url as _unb64

# Settings the tablet keeps (Store.set_setting), filled by the bundle index.
CARD_PUBLIC_KEY = "sync.card_public_key"
CARD_CHECKS = "sync.card_checks"              # {consultation: {lookup: check}}
OLD_CARD_CODE_HASHES = "sync.card_code_hashes"  # the unsalted list of before: removed

CARD_PREFIX = "PZC2"
LOOKUP_LENGTH = 4
SECRET_LENGTH = 13
CARD_CODE_LENGTH = LOOKUP_LENGTH + SECRET_LENGTH
# About 5 ms on the machine the README's figures come from; a tablet a few times slower still
# answers at once. With a 63-bit secret, finding one unused card from a stolen tablet's list
# costs about 2^63 × 20,000 hashes.
CHECK_ITERATIONS = 20_000
CHECK_HEX = 32                                 # 128 bits of the PBKDF2 output are kept
PROOF_HEX = 64
_SIGNED = b"piazzetta-card-v2|"
_ALPHABET = frozenset(CODE_ALPHABET)


class CardError(DomainError):
    """A participation card that is not genuine, unknown to this tablet, or already used."""


@dataclass(frozen=True)
class Card:
    """A card of one consultation. `secret` is never stored by the hub, nor written on a
    tablet; the tablet keeps a card in memory for one ballot only."""
    consultation_id: str
    lookup: str
    secret: str

    @property
    def code(self) -> str:
        return self.lookup + self.secret

    @property
    def typed(self) -> str:
        return format_card_code(self.code)

    def key(self) -> bytes:
        return card_key(self.secret)

    def check(self) -> str:
        return card_check(self.consultation_id, self.lookup, self.secret)

    def proof(self, question_id: str) -> str:
        return card_proof(self.key(), self.consultation_id, question_id)


def new_card(consultation_id: str) -> Card:
    return Card(consultation_id, new_code(LOOKUP_LENGTH), new_code(SECRET_LENGTH))


def format_card_code(code: str) -> str:
    """A card code as printed and shown: `LLLL-SSSSS-SSSS-SSSS` (lookup, then the secret)."""
    code = normalize_code(code)
    lookup, secret = code[:LOOKUP_LENGTH], code[LOOKUP_LENGTH:]
    groups = [secret[:5], secret[5:9], secret[9:]]
    return "-".join([lookup] + [g for g in groups if g])


def card_check(consultation_id: str, lookup: str, secret: str) -> str:
    """What tablets hold to check a typed code offline: a salted slow hash of the secret."""
    salt = f"piazzetta-card|{consultation_id}|{lookup}".encode()
    return hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, CHECK_ITERATIONS
                               ).hex()[:CHECK_HEX]


def card_key(secret: str) -> bytes:
    """The card's answer key: the hub keeps it (as hex) to check proofs; it does not give S."""
    return hmac.new(secret.encode(), b"piazzetta-card-key", hashlib.sha256).digest()


def card_proof(key: bytes, consultation_id: str, question_id: str) -> str:
    """One value per card and question: the same card answering again gives the same value;
    only the card (or the hub, holding its key) can make it."""
    return hmac.new(key, f"{consultation_id}|{question_id}".encode(),
                    hashlib.sha256).hexdigest()


def _signed_message(consultation_id: str, lookup: str, secret: str) -> bytes:
    # The signature covers the card and its consultation: a value derived from the card only.
    return _SIGNED + f"{consultation_id}|{lookup}|".encode() + card_key(secret).hex().encode()


def card_signing_seed(hub_secret: str) -> bytes:
    """The hub's Ed25519 private key seed, derived from its secret (nothing else to keep)."""
    return hmac.new(hub_secret.encode(), b"piazzetta-card-signing-key", hashlib.sha256).digest()


def card_public_key(seed: bytes) -> str:
    from ecdsa import Ed25519, SigningKey
    return SigningKey.from_string(seed, curve=Ed25519).get_verifying_key().to_string().hex()


def sign_card(seed: bytes, card: Card) -> str:
    """The text of a card's QR: `PZC2.<lookup><secret>.<base64url Ed25519 signature>`."""
    from ecdsa import Ed25519, SigningKey
    signature = SigningKey.from_string(seed, curve=Ed25519).sign(
        _signed_message(card.consultation_id, card.lookup, card.secret))
    return f"{CARD_PREFIX}.{card.code}.{_b64(signature)}"


def _split(code: str) -> tuple[str, str]:
    return code[:LOOKUP_LENGTH], code[LOOKUP_LENGTH:]


def read_card(text: object, consultation_id: str, public_key_hex: str | None,
              checks: dict | None = None) -> Card:
    """The card in a scanned QR (checked by the hub's signature) or a typed code (checked
    against the salted hashes of the cards issued for `consultation_id`). Raises CardError
    with a message for the resident; nothing is written either way."""
    if not isinstance(text, str) or len(text) > 400:
        raise CardError(N_("This is not a participation card."), "card")
    text = text.strip()
    if text.upper().startswith(CARD_PREFIX + "."):
        parts = text.split(".")
        if len(parts) != 3 or not public_key_hex:
            raise CardError(N_("This participation card cannot be checked."), "card")
        code = normalize_code(parts[1])
        if len(code) != CARD_CODE_LENGTH or not set(code) <= _ALPHABET:
            raise CardError(N_("This participation card is not valid for this vote."), "card")
        lookup, secret = _split(code)
        from ecdsa import BadSignatureError, Ed25519, VerifyingKey
        try:
            key = VerifyingKey.from_string(bytes.fromhex(public_key_hex), curve=Ed25519)
            key.verify(_unb64(parts[2]), _signed_message(consultation_id, lookup, secret))
        except (BadSignatureError, ValueError, AssertionError, TypeError):
            # Signed by another hub (a card of the central hub shown at a room hub's tablet):
            # genuine if this tablet's hub passed on its check, as for a typed code.
            expected = (checks or {}).get(lookup)
            if not isinstance(expected, str) or not hmac.compare_digest(
                    card_check(consultation_id, lookup, secret), expected):
                raise CardError(N_("This participation card is not valid for this vote."),
                                "card") from None
        return Card(consultation_id, lookup, secret)
    if text.upper().startswith("PZC"):
        raise CardError(N_("This participation card is not valid for this vote."), "card")
    code = normalize_code(text)
    if len(code) != CARD_CODE_LENGTH:
        raise CardError(N_("A card code has 17 letters and digits."), "card")
    if not set(code) <= _ALPHABET:
        raise CardError(N_("This card code is not right: check each letter and digit."), "card")
    lookup, secret = _split(code)
    expected = (checks or {}).get(lookup)
    if not isinstance(expected, str):
        raise CardError(N_("This card code is unknown here: check it, or wait until the "
                           "tablet has synchronised."), "card")
    if not hmac.compare_digest(card_check(consultation_id, lookup, secret), expected):
        raise CardError(N_("This card code is not right: check each letter and digit."), "card")
    return Card(consultation_id, lookup, secret)


def valid_lookup(value: object) -> bool:
    return (isinstance(value, str) and len(value) == LOOKUP_LENGTH
            and set(value) <= _ALPHABET)
