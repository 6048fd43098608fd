"""The kiosk's voice: reads a list of utterances (app/speech.py) one after the other, never on
the UI thread. Synthesis (espeak-ng to a WAV file) runs in a worker thread that hands each
file back through the clock; the UI thread only starts sounds (Kivy's SoundLoader, the same
player for recordings and synthesis, at the resident's volume). A new reading stops the one
before; where only the platform's engine exists (Android), plyer speaks from the worker.

Imported only once a resident turns read aloud on: a kiosk that never speaks loads none of
it."""
from __future__ import annotations

import tempfile
import threading
import time
from functools import partial
from pathlib import Path

from kivy.clock import Clock
from kivy.core.audio import SoundLoader
from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, NumericProperty

from app import speech

HISTORY = 50        # readings kept in `played` (tests and benchmarks read them)


class Speaker(EventDispatcher):
    volume = NumericProperty(0.8)
    speaking = BooleanProperty(False)

    __events__ = ("on_sound",)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.engine = speech.engine_name()
        self._folder = tempfile.TemporaryDirectory(prefix="piazzetta-speech-")
        self._generation = 0
        self._lock = threading.Lock()
        self._waiting = []            # (utterance, path) ready to play, in order
        self._sound = None
        self._count = 0
        # What was read, in order: (kind, utterance, path); kind "recording", "synthesis"
        # or "platform".
        self.played = []
        self.bind(volume=self._volume_changed)

    # -- reading ----------------------------------------------------------------------------

    def say(self, utterances) -> None:
        """Read `utterances` in order, after stopping what is being read."""
        utterances = [u for u in utterances if u.text.strip() or u.recording]
        self.stop()
        if not utterances:
            return
        self.speaking = True
        generation = self._generation
        threading.Thread(target=self._prepare, args=(generation, utterances),
                         name="piazzetta-speech", daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            self._generation += 1
        self._waiting = []
        sound, self._sound = self._sound, None
        if sound is not None:
            sound.unbind(on_stop=self._finished)
            sound.stop()
            sound.unload()
        self.speaking = False

    def current(self, generation) -> bool:
        with self._lock:
            return generation == self._generation

    def _prepare(self, generation, utterances):
        """Worker thread: a file for each utterance (the recording, or espeak-ng's WAV),
        handed to the UI thread as soon as it is ready."""
        for utterance in utterances:
            if not self.current(generation):
                return
            path, kind = utterance.recording, "recording"
            if not (path and Path(path).is_file()):
                if self.engine == "platform":
                    speech.speak_through_platform(utterance.text)
                    Clock.schedule_once(partial(self._spoken, generation, utterance), 0)
                    continue
                if self.engine != "espeak-ng":
                    break
                self._count += 1
                path = str(Path(self._folder.name) / f"{generation}-{self._count}.wav")
                kind = "synthesis"
                try:
                    speech.synthesize(utterance.text, utterance.lang, path)
                except (OSError, TimeoutError, ValueError):
                    continue
            Clock.schedule_once(partial(self._ready, generation, utterance, path, kind), 0)
        Clock.schedule_once(partial(self._prepared, generation), 0)

    def _ready(self, generation, utterance, path, kind, _dt):
        if not self.current(generation):
            return
        self._waiting.append((utterance, path, kind))
        if self._sound is None:
            self._play_next()

    def _prepared(self, generation, _dt):
        if self.current(generation) and self._sound is None and not self._waiting:
            self.speaking = False

    def _spoken(self, generation, utterance, _dt):
        if self.current(generation):
            self._remember("platform", utterance, "")

    def _play_next(self):
        while self._waiting:
            utterance, path, kind = self._waiting.pop(0)
            sound = SoundLoader.load(path)
            if sound is None:
                continue
            sound.volume = self.volume
            sound.bind(on_stop=self._finished)
            self._sound = sound
            sound.play()
            self._remember(kind, utterance, path)
            return
        self._sound = None

    def _remember(self, kind, utterance, path):
        self.played.append((kind, utterance, path))
        del self.played[:-HISTORY]
        self.dispatch("on_sound", kind, utterance, time.perf_counter())

    def on_sound(self, kind, utterance, when):
        """A sound started (benchmarks time a tap to here)."""

    def _finished(self, sound):
        if sound is not self._sound:
            return
        sound.unbind(on_stop=self._finished)
        sound.unload()
        self._sound = None
        self._play_next()
        if self._sound is None and not self._waiting:
            self.speaking = False

    def _volume_changed(self, _speaker, volume):
        if self._sound is not None:
            self._sound.volume = volume

    def close(self):
        self.stop()
        self._folder.cleanup()
