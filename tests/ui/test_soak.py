"""A kiosk runs all day (issue 26): residents one after another through one kiosk, touched as a
finger would (bench/kiosk_soak.py drives them: Start, an answer to every question that moves on
at a tap, Skip for the others, Finish), with the kiosk's own fade between screens, which is
where memory grows (with no fade, the kiosk's memory is flat after its first residents). Its
memory must stay bounded once every screen has been built."""
import pytest

from bench.kiosk_soak import soak


@pytest.fixture
def screen_fade():
    """The kiosk's own fade between screens (the UI tests' default is none)."""


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason="issue 26: with the fade on, a 1280x800 kiosk grew "
                   "by 46 MB from resident 10 to 20, then -8 MB to 30 (bench/kiosk_soak.py); "
                   "flat with no fade; 200 residents not yet run on a quiet machine")
def test_two_hundred_residents_leave_memory_bounded(window, tmp_path):
    lines = []
    curve = soak(tmp_path / "kiosk", 200, 50, report=lines.append)
    print("\n".join(lines))
    assert [n for n, _mb in curve] == [0, 50, 100, 150, 200]
    after_50, last = curve[1][1], curve[-1][1]
    # Generous: issue 26 asks ≤ 50 MB from resident 100 to resident 1,000.
    assert last - after_50 <= 50, lines
