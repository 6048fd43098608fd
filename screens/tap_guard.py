"""A tap counts only for what was on screen when the finger went down.

When a screen or a question changes under a finger (an answer that moves on at once: yes/no,
scale, a colour, a single choice, a commune), the next touch of a double or triple tap would
land on a button the resident never saw. The kiosk arms this guard at every change of what is
shown; every touch that comes down before the screen has settled is dropped whole (its move and
its release too), and each dropped touch starts the wait again, so a whole burst of taps counts
as the one tap that began it.

SETTLE_SECONDS: people's double taps come 50 to 300 ms apart (Kivy's own double-tap window is
250 ms, Android's 300 ms); 0.4 s is above the slowest of them with a frame or two to spare, and
well under the time it takes to read a new question."""
import time

SETTLE_SECONDS = 0.4


class TapGuard:
    """`arm()` when what is shown changes; `refuses(touch)` on every touch down."""

    def __init__(self, settle: float = SETTLE_SECONDS, clock=time.monotonic):
        self.settle = settle
        self.clock = clock
        self.until = 0.0
        self._dropped = set()      # uids of touches that came down too soon

    def arm(self) -> None:
        self.until = max(self.until, self.clock() + self.settle)

    @property
    def settling(self) -> bool:
        return self.clock() < self.until

    def refuses(self, touch) -> bool:
        """True when this touch came down before the screen settled: drop it."""
        now = self.clock()
        if now < self.until:
            self.until = now + self.settle
            self._dropped.add(touch.uid)
            return True
        return False

    def dropped(self, touch, release: bool = False) -> bool:
        """True for the move or release of a touch that was dropped at its start."""
        if touch.uid not in self._dropped:
            return False
        if release:
            self._dropped.discard(touch.uid)
        return True
