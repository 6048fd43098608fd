"""Participation cards of the identified ballot mode, shared by the tablet and the hub
(docs/protocol.md, "Sign-up and participation cards").

A card is an anonymous bearer credential for one consultation: a public lookup ID `L`
(LOOKUP_LENGTH characters) and a secret `S` (SECRET_LENGTH characters of the codes' alphabet,
29^13 ≈ 2^63). Nothing in it names a person. It is printed as a typed code
`LLLL-SSSSS-SSSS-SSSS` and as a QR `PZC3.<L><S>.<base64url Ed25519 signature of the hub>`.

Each card has its own Ed25519 key pair, derived from S by a slow salted hash:
`seed = PBKDF2-HMAC-SHA256(S, "piazzetta-card|<consultation>|L", CHECK_ITERATIONS)`. Hubs and
tablets keep only the card's public key (`issued_row`): enough to *check* a card and its
answers, never to *make* an answer for it.

- Tablets check a typed code by deriving the public key from S and comparing it with the one
  pulled with the bundle index; a QR by the hub's signature over consultation, L and that
  public key, so a card printed after the tablet's last pull works too.
- Each answer of an identified ballot carries `card` = L and `proof` = the card's signature
  over consultation, question, ballot and the answer's canonical value (`proof_message`): a
  copied proof carries no other answer and moves to no other ballot. The hub verifies it with
  the stored public key and keeps one answer per card and question.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any, Callable

from .canonical import canonical_json
from .codes import CODE_ALPHABET, new_code, normalize_code
from .errors import N_, DomainError
from .tokens import b64url as _b64, unb64url as _unb64

# Settings the tablet keeps (Store.set_setting), filled by the bundle index.
CARD_PUBLIC_KEY = "sync.card_public_key"      # the hub's key, that signs the cards' QR
CARD_KEYS = "sync.card_keys"                  # {consultation: {lookup: card's public key}}
OLD_CARD_SETTINGS = ("sync.card_checks",      # salted checks of the cards of before (PZC2)
                     "sync.card_code_hashes")  # the unsalted list before them

CARD_PREFIX = "PZC3"
OLD_CARD_PREFIXES = ("PZC1", "PZC2")
LOOKUP_LENGTH = 4
SECRET_LENGTH = 13
CARD_CODE_LENGTH = LOOKUP_LENGTH + SECRET_LENGTH
# About 5 ms on the machine the README's figures come from; a tablet a few times slower still
# answers at once. With a 63-bit secret, finding one unused card from a stolen tablet's list
# costs about 2^63 × 20,000 hashes (and an Ed25519 key each).
CHECK_ITERATIONS = 20_000
PUBLIC_KEY_HEX = 64
PROOF_HEX = 128                                # an Ed25519 signature, in hex
_SIGNED = b"piazzetta-card-v3|"
_PROOF = b"piazzetta-card-proof-v3|"
_USE = b"piazzetta-card-use|"
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
    _keys: dict = field(default_factory=dict, init=False, repr=False, compare=False,
                        hash=False)

    @property
    def code(self) -> str:
        return self.lookup + self.secret

    @property
    def typed(self) -> str:
        return format_card_code(self.code)

    def _signing_key(self):
        # Derived once per card object (the slow part), then kept for the ballot's answers.
        key = self._keys.get("signing")
        if key is None:
            from ecdsa import Ed25519, SigningKey
            key = self._keys["signing"] = SigningKey.from_string(
                card_seed(self.consultation_id, self.lookup, self.secret), curve=Ed25519)
        return key

    def public_key(self) -> str:
        """The card's Ed25519 public key (hex): what hubs and tablets keep to check it."""
        public = self._keys.get("public")
        if public is None:
            public = self._keys["public"] = \
                self._signing_key().get_verifying_key().to_string().hex()
        return public

    def proof(self, question_id: str, ballot_id: str, value: Any) -> str:
        """The card's signature over this answer (`proof_message`), in hex: only the holder
        of the card's secret can make it."""
        return self._signing_key().sign(proof_message(
            self.consultation_id, question_id, ballot_id, value)).hex()

    def use_tag(self, question_id: str) -> str:
        """One value per card and question that only the card's holder can compute: what a
        tablet keeps to refuse a second answer here, without writing which card it was."""
        return hmac.new(self._signing_key().to_string(), _USE + f"{self.consultation_id}|"
                        f"{question_id}".encode(), hashlib.sha256).hexdigest()


def new_card(consultation_id: str) -> Card:
    return Card(consultation_id, new_code(LOOKUP_LENGTH), new_code(SECRET_LENGTH))


def issued_row(card: Card) -> dict:
    """The row a hub keeps of a card it issued (`issued_cards`), and what hubs exchange: the
    consultation, the lookup ID and the card's public key. No secret, nothing that makes a
    proof, nothing about who holds it."""
    return {"consultation_id": card.consultation_id, "lookup": card.lookup,
            "public_key": card.public_key()}


def format_card_code(code: str) -> str:
    """A card code as printed and shown: `LLLL-SSSSS-SSSS-SSSS` (lookup, then the secret)."""
    code = normalize_code(code)
    lookup, secret = code[:LOOKUP_LENGTH], code[LOOKUP_LENGTH:]
    groups = [secret[:5], secret[5:9], secret[9:]]
    return "-".join([lookup] + [g for g in groups if g])


def card_seed(consultation_id: str, lookup: str, secret: str) -> bytes:
    """The card's Ed25519 private key seed: a salted slow hash of its secret."""
    salt = f"piazzetta-card|{consultation_id}|{lookup}".encode()
    return hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, CHECK_ITERATIONS)


def proof_message(consultation_id: str, question_id: str, ballot_id: str, value: Any) -> bytes:
    """What a card signs for one answer: consultation, question, ballot and the answer's
    canonical value (app/canonical.py)."""
    return _PROOF + f"{consultation_id}|{question_id}|{ballot_id}|".encode() \
        + canonical_json(value).encode()


def verify_proof(public_key_hex: str, proof_hex: object, consultation_id: str,
                 question_id: str, ballot_id: str, value: Any, *,
                 verify: Callable[[str, bytes, bytes], bool] | None = None) -> bool:
    """Whether `proof_hex` is the card's signature over this very answer. `verify(public key
    hex, signature, message)` is the Ed25519 check to use: the hub passes a compiled one
    (server.participation), the pure-Python one otherwise."""
    if not isinstance(proof_hex, str) or len(proof_hex) != PROOF_HEX:
        return False
    try:
        signature = bytes.fromhex(proof_hex)
    except ValueError:
        return False
    return (verify or _verify)(public_key_hex, signature,
                               proof_message(consultation_id, question_id, ballot_id, value))


def _verify(public_key_hex: str, signature_hex_or_bytes, message: bytes) -> bool:
    from ecdsa import BadSignatureError, Ed25519, VerifyingKey
    try:
        signature = (bytes.fromhex(signature_hex_or_bytes)
                     if isinstance(signature_hex_or_bytes, str) else signature_hex_or_bytes)
        key = VerifyingKey.from_string(bytes.fromhex(public_key_hex), curve=Ed25519)
        return bool(key.verify(signature, message))
    except (BadSignatureError, ValueError, AssertionError, TypeError):
        return False


def _signed_message(consultation_id: str, lookup: str, public_key_hex: str) -> bytes:
    # The hub's signature covers the card's public key and consultation: a value of the card.
    return _SIGNED + f"{consultation_id}|{lookup}|{public_key_hex}".encode()


def card_signing_seed(hub_secret: str) -> bytes:
    """The hub's Ed25519 private key seed, derived from its secret (nothing else to keep)."""
    return hmac.new(hub_secret.encode(), b"piazzetta-card-signing-key", hashlib.sha256).digest()


def card_public_key(seed: bytes) -> str:
    """The hub's public key (hex) for its seed (card_signing_seed)."""
    from ecdsa import Ed25519, SigningKey
    return SigningKey.from_string(seed, curve=Ed25519).get_verifying_key().to_string().hex()


def sign_card(seed: bytes, card: Card) -> str:
    """The text of a card's QR: `PZC3.<lookup><secret>.<base64url Ed25519 signature>`."""
    from ecdsa import Ed25519, SigningKey
    signature = SigningKey.from_string(seed, curve=Ed25519).sign(
        _signed_message(card.consultation_id, card.lookup, card.public_key()))
    return f"{CARD_PREFIX}.{card.code}.{_b64(signature)}"


def _split(code: str) -> tuple[str, str]:
    return code[:LOOKUP_LENGTH], code[LOOKUP_LENGTH:]


def _known(card: Card, keys: dict | None) -> bool:
    expected = (keys or {}).get(card.lookup)
    return valid_public_key(expected) and hmac.compare_digest(card.public_key(), expected)


def read_card(text: object, consultation_id: str, hub_public_key: str | None,
              keys: dict | None = None) -> Card:
    """The card in a scanned QR (checked by the hub's signature) or a typed code (checked
    against the public keys of the cards issued for `consultation_id`, {lookup: key}).
    Raises CardError with a message for the resident; nothing is written either way."""
    if not isinstance(text, str) or len(text) > 400:
        raise CardError(N_("This is not a participation card."), "card")
    text = text.strip()
    if text.upper().startswith(tuple(p + "." for p in OLD_CARD_PREFIXES)):
        raise CardError(N_("This participation card is of an older kind: ask for a new "
                           "card."), "card")
    if text.upper().startswith(CARD_PREFIX + "."):
        parts = text.split(".")
        if len(parts) != 3 or not hub_public_key:
            raise CardError(N_("This participation card cannot be checked."), "card")
        code = normalize_code(parts[1])
        if len(code) != CARD_CODE_LENGTH or not set(code) <= _ALPHABET:
            raise CardError(N_("This participation card is not valid for this vote."), "card")
        card = Card(consultation_id, *_split(code))
        try:
            signature = _unb64(parts[2])
        except ValueError:
            signature = b""
        if not _verify(hub_public_key, signature, _signed_message(
                consultation_id, card.lookup, card.public_key())) and not _known(card, keys):
            # Signed by another hub (a card of the central hub shown at a room hub's tablet)
            # is genuine when this tablet's hub passed on its public key, as for a typed code.
            raise CardError(N_("This participation card is not valid for this vote."), "card")
        return card
    if text.upper().startswith("PZC"):
        raise CardError(N_("This participation card is not valid for this vote."), "card")
    code = normalize_code(text)
    if len(code) != CARD_CODE_LENGTH:
        raise CardError(N_("A card code has 17 letters and digits."), "card")
    if not set(code) <= _ALPHABET:
        raise CardError(N_("This card code is not right: check each letter and digit."), "card")
    card = Card(consultation_id, *_split(code))
    if not isinstance((keys or {}).get(card.lookup), str):
        raise CardError(N_("This card code is unknown here: check it, or wait until the "
                           "tablet has synchronised."), "card")
    if not _known(card, keys):
        raise CardError(N_("This card code is not right: check each letter and digit."), "card")
    return card


def valid_lookup(value: object) -> bool:
    return (isinstance(value, str) and len(value) == LOOKUP_LENGTH
            and set(value) <= _ALPHABET)


def valid_public_key(value: object) -> bool:
    return (isinstance(value, str) and len(value) == PUBLIC_KEY_HEX
            and set(value) <= frozenset("0123456789abcdef"))
