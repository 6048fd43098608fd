"""The facilitator PIN: slow hash, never stored in clear, throttled guessing."""
import pytest

from app.errors import ValidationError
from app.security import FREE_ATTEMPTS, FacilitatorPin, PinThrottled


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_pin_is_stored_as_scrypt_hash_only(store):
    pin = FacilitatorPin(store)
    assert not pin.is_set
    pin.set_pin("482915", "482915")
    record = store.get_setting("facilitator_pin")
    assert record["kdf"] == "scrypt" and record["n"] >= 2 ** 14
    assert "482915" not in str(record) and "482915" not in str(store.events())
    assert pin.verify("482915") is True
    assert pin.verify("482916") is False


@pytest.mark.parametrize("bad", ["", "123", "12a4", "1234567890123", "١٢٣٤", None, 1234,
                                 "12 34", "1234\n"])
def test_bad_pins_are_refused(store, bad):
    with pytest.raises(ValidationError):
        FacilitatorPin(store).set_pin(bad)
    assert not FacilitatorPin(store).is_set


def test_confirmation_must_match(store):
    with pytest.raises(ValidationError) as err:
        FacilitatorPin(store).set_pin("1234", "1243")
    assert err.value.field == "confirmation"


def test_wrong_attempts_are_slowed_down_and_survive_a_restart(store):
    clock = FakeClock()
    pin = FacilitatorPin(store, clock=clock)
    pin.set_pin("2468")
    for _ in range(FREE_ATTEMPTS):
        assert pin.verify("0000") is False
    with pytest.raises(PinThrottled) as err:
        pin.verify("2468")          # even the right PIN waits
    assert err.value.wait == pytest.approx(5.0)
    clock.now += 5.1
    assert pin.verify("1111") is False
    assert pin.wait_remaining() == pytest.approx(10.0)
    # A restart does not clear the count: the wait starts again.
    restarted = FacilitatorPin(store, clock=clock)
    assert restarted.failures == FREE_ATTEMPTS + 1
    with pytest.raises(PinThrottled):
        restarted.verify("2468")
    clock.now += 10.1
    assert restarted.verify("2468") is True
    assert restarted.failures == 0 and restarted.wait_remaining() == 0


def test_verify_without_a_pin_is_false(store):
    assert FacilitatorPin(store).verify("1234") is False


def test_the_throttle_never_overflows_and_keeps_its_longest_wait(store):
    """1,027 wrong PINs once made the wait overflow to zero and every start raise."""
    from app.security import MAX_WAIT
    now = [0.0]
    pin = FacilitatorPin(store, clock=lambda: now[0])
    pin.set_pin("1234")
    for failures in (1027, 5000, 10 ** 9):
        store.set_setting("facilitator_pin_failures", failures)
        restarted = FacilitatorPin(store, clock=lambda: now[0])
        assert restarted.wait_remaining() == MAX_WAIT
        with pytest.raises(PinThrottled):
            restarted.verify("0000")
    now[0] += MAX_WAIT
    assert restarted.verify("0000") is False
    assert restarted.wait_remaining() == MAX_WAIT


@pytest.mark.parametrize("damaged", ["lots", -3, 1.5, [1]])
def test_a_damaged_failure_count_still_throttles(store, damaged):
    from app.security import MAX_WAIT
    FacilitatorPin(store).set_pin("1234")
    store.set_setting("facilitator_pin_failures", damaged)
    assert FacilitatorPin(store, clock=lambda: 0.0).wait_remaining() == MAX_WAIT
