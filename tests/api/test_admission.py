"""The worker's body admission (service/api/admission.py) on its own: who waits, who is let in."""

from __future__ import annotations

from service.api.admission import SMALL_BODY_BYTES, WAIT_SECONDS, Admission

LARGE = 4 * SMALL_BODY_BYTES


def test_a_body_behind_one_that_waited_in_vain_is_let_in_when_it_fits() -> None:
    """First come first served: a body that fits waits behind a larger one; once the larger
    one's time is up (refused), the one behind is admitted then, not refused in its turn."""
    admission: Admission[str] = Admission(3 * LARGE)
    assert admission.admit("holder", 2 * LARGE, now=0.0)
    assert not admission.admit("large", 2 * LARGE, now=0.0)  # does not fit
    assert not admission.admit("fits", LARGE, now=WAIT_SECONDS / 2)  # fits, but waits its turn

    out = admission.expired(WAIT_SECONDS)

    assert not admission.waiting("fits")
    assert admission.held == 3 * LARGE
    assert out == (["large"], ["fits"])  # refused, admitted
    assert admission.next_expiry() is None


def test_a_body_still_not_fitting_waits_on_after_one_ahead_expires() -> None:
    admission: Admission[str] = Admission(3 * LARGE)
    assert admission.admit("holder", 2 * LARGE, now=0.0)
    assert not admission.admit("large", 2 * LARGE, now=0.0)
    assert not admission.admit("also large", 2 * LARGE, now=WAIT_SECONDS / 2)

    assert admission.expired(WAIT_SECONDS) == (["large"], [])
    assert admission.waiting("also large")
    assert admission.release("holder") == ["also large"]
    assert admission.held == 2 * LARGE
