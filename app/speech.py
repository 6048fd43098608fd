"""Speech for residents who do not read easily (issue 31), without a window: what is read, in
which voice, and the synthesis itself.

What the kiosk reads is a list of `Utterance`s: a text in a language, and the recorded audio
file the bundle holds for it, if any (a city records a human voice: it plays instead of
synthesis). Synthesis goes through the platform's own engine:

- on Linux desktops and kiosks, espeak-ng, written to a WAV file (`synthesize`) that the
  kiosk plays like a recording, so that one player, with its volume, serves both;
- on Android (and wherever espeak-ng is missing), Kivy's `plyer` facade to the platform's
  text-to-speech (`speak_through_platform`), which plays at once.

The kiosk's side (screens/speech.py) runs all of this off the UI thread."""
from __future__ import annotations

import array
import shutil
import subprocess
import sys
import wave
from pathlib import Path
from typing import NamedTuple

# espeak-ng's voice for each kiosk language.
VOICES = {"fr": "fr", "it": "it", "en": "en"}
SPEECH_WORDS_PER_MINUTE = 150       # a little slower than espeak-ng's 175, for listening
SYNTHESIS_TIMEOUT = 20              # seconds; a text is a question or an answer, not a book
MAX_SPOKEN_CHARS = 1500             # what one utterance reads at most


class Utterance(NamedTuple):
    text: str
    lang: str
    recording: str = ""     # a path to the bundle's recorded audio for this text, or ""
    shown_by: object = None  # what shows these words on screen (the kiosk outlines it)


def espeak() -> str | None:
    """The espeak-ng program, when this machine has it."""
    return shutil.which("espeak-ng")


def engine_name() -> str:
    """Which engine speaks on this machine: "espeak-ng", "platform" (plyer) or "none"."""
    if sys.platform != "android" and not hasattr(sys, "getandroidapilevel") and espeak():
        return "espeak-ng"
    try:
        from plyer import tts
        from plyer.facades import TTS
        engine = object.__getattribute__(tts, "_ensure_obj")()
    except Exception:       # noqa: BLE001 — plyer has no engine for this platform
        return "none"
    # plyer gives its bare facade (which cannot speak) when the platform has no engine.
    return "platform" if engine is not None and type(engine) is not TTS else "none"


def synthesize(text: str, lang: str, path: str | Path) -> Path:
    """Write `text` spoken in `lang` to the WAV file `path` with espeak-ng; the path.
    Raises OSError when espeak-ng is missing, fails or hangs past SYNTHESIS_TIMEOUT."""
    program = espeak()
    if program is None:
        raise OSError("espeak-ng is not installed")
    path = Path(path)
    try:
        result = subprocess.run(
            [program, "-v", VOICES.get(lang, "fr"), "-s", str(SPEECH_WORDS_PER_MINUTE),
             "-w", str(path), "--", " ".join(text.split())[:MAX_SPOKEN_CHARS]],
            capture_output=True, timeout=SYNTHESIS_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:     # not an OSError: a hung engine must not end the worker
        raise OSError("espeak-ng took too long") from None
    if result.returncode != 0 or not path.is_file():
        raise OSError(result.stderr.decode("utf-8", "replace").strip() or "espeak-ng failed")
    return path


def speak_through_platform(text: str) -> None:
    """Speak `text` through the platform's engine (plyer's tts facade: Android's
    TextToSpeech); it reads in the device's language."""
    from plyer import tts
    tts.speak(message=" ".join(text.split())[:MAX_SPOKEN_CHARS])


def wav_figures(path: str | Path) -> tuple[float, int]:
    """(seconds, peak) of a 16-bit WAV file: how long it lasts and its loudest sample
    (0: silence), for tests and benchmarks."""
    with wave.open(str(path), "rb") as wav:
        frames = wav.readframes(wav.getnframes())
        seconds = wav.getnframes() / float(wav.getframerate())
        width = wav.getsampwidth()
    if width != 2:
        return seconds, max(frames, default=0)
    samples = array.array("h")
    samples.frombytes(frames[:len(frames) // 2 * 2])
    return seconds, max((abs(s) for s in samples), default=0)
