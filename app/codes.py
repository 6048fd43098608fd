"""Short codes people read aloud, type or copy from paper: enrollment codes, idea codes, card
codes. One alphabet without look-alikes (no 0/O, 1/I, and none of B, S, Z, which read as 8,
5 and 2 in bold type), one way to read what was typed."""
import secrets

CODE_ALPHABET = "ACDEFGHJKLMNPQRTUVWXY23456789"


def new_code(length: int) -> str:
    """A random code of `length` characters of CODE_ALPHABET (about 4.9 bits each)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def normalize_code(text: object, max_length: int = 64) -> str:
    """A code as typed: case, spaces and dashes do not matter; anything but text reads as ""."""
    if not isinstance(text, str):
        return ""
    return "".join(ch for ch in text.upper() if ch.isalnum())[:max_length]


def format_code(code: str, group: int) -> str:
    """The code with a dash after its first `group` characters, as printed and shown."""
    return f"{code[:group]}-{code[group:]}" if len(code) > group else code
