"""Participation cards of the identified ballot mode, shared by the tablet and the hub.

Cards are signed by the hub with Ed25519 (the pure-Python `ecdsa` package); tablets check them
offline with the hub's public key (delivered with the bundle index). A card's short code is its
secret: typed codes are checked against a list of their hashes, and a per-question *nullifier*
`HMAC(code, consultation|question)` enforces one answer per person per question without ever
storing the code beside the answers.
"""
from __future__ import annotations

import hashlib
import hmac

from .codes import format_code, new_code, normalize_code
from .errors import N_, DomainError
from .tokens import b64url as _b64, unb64url as _unb64

# Settings the tablet keeps (Store.set_setting), filled by the bundle index.
CARD_PUBLIC_KEY = "sync.card_public_key"
CARD_CODE_HASHES = "sync.card_code_hashes"

CARD_PREFIX = "PZC1"
CARD_CODE_LENGTH = 10
_CARD_CONTEXT = b"piazzetta-card-v1:"


class CardError(DomainError):
    """A participation card that is not genuine, unknown to this tablet, or already used."""


def new_card_code() -> str:
    """A new card's short code: CARD_CODE_LENGTH characters of the codes' alphabet."""
    return new_code(CARD_CODE_LENGTH)


def format_card_code(code: str) -> str:
    """A card code as printed and shown: `ABCDE-23456`."""
    return format_code(code, CARD_CODE_LENGTH // 2)


def card_code_hash(code: str) -> str:
    """What tablets hold to check a typed code offline (never the code itself)."""
    return hashlib.sha256(b"piazzetta-card-code:" + normalize_code(code).encode()
                          ).hexdigest()[:32]


def card_signing_seed(hub_secret: str) -> bytes:
    """The hub's Ed25519 private key seed, derived from its secret (nothing else to keep)."""
    return hmac.new(hub_secret.encode(), b"piazzetta-card-signing-key", hashlib.sha256).digest()


def card_public_key(seed: bytes) -> str:
    from ecdsa import Ed25519, SigningKey
    return SigningKey.from_string(seed, curve=Ed25519).get_verifying_key().to_string().hex()


def sign_card(seed: bytes, code: str) -> str:
    """The text of a card's QR: `PZC1.<code>.<base64url Ed25519 signature>`."""
    from ecdsa import Ed25519, SigningKey
    code = normalize_code(code)
    signature = SigningKey.from_string(seed, curve=Ed25519).sign(_CARD_CONTEXT + code.encode())
    return f"{CARD_PREFIX}.{code}.{_b64(signature)}"


def read_card(text: object, public_key_hex: str | None,
              known_hashes: frozenset[str] | set[str] = frozenset()) -> str:
    """The card code in a scanned QR (checked by signature) or a typed short code (checked
    against the hashes of issued cards). Raises CardError with a message for the resident."""
    if not isinstance(text, str) or len(text) > 400:
        raise CardError(N_("This is not a participation card."), "card")
    text = text.strip()
    if text.upper().startswith(CARD_PREFIX + "."):
        parts = text.split(".")
        if len(parts) != 3 or not public_key_hex:
            raise CardError(N_("This participation card cannot be checked."), "card")
        code = normalize_code(parts[1])
        from ecdsa import BadSignatureError, Ed25519, VerifyingKey
        try:
            key = VerifyingKey.from_string(bytes.fromhex(public_key_hex), curve=Ed25519)
            key.verify(_unb64(parts[2]), _CARD_CONTEXT + code.encode())
        except (BadSignatureError, ValueError, AssertionError, TypeError):
            raise CardError(N_("This participation card was not issued by this platform."),
                            "card") from None
        if len(code) != CARD_CODE_LENGTH:
            raise CardError(N_("This participation card was not issued by this platform."),
                            "card")
        return code
    code = normalize_code(text)
    if len(code) != CARD_CODE_LENGTH:
        raise CardError(N_("A card code has 10 letters and digits."), "card")
    if card_code_hash(code) not in known_hashes:
        raise CardError(N_("This card code is unknown here: check it, or wait until the "
                           "tablet has synchronised."), "card")
    return code


def nullifier(code: str, consultation_id: str, question_id: str) -> str:
    """One value per card and question: the same card answering again gives the same value,
    and the value alone does not tell which card it was."""
    return hmac.new(normalize_code(code).encode(),
                    f"{consultation_id}|{question_id}".encode(), hashlib.sha256).hexdigest()
