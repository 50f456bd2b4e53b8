"""The collector pause used around bulk work: off inside, back as it was after, nested uses included."""

import gc

from services.gc_pause import paused_gc


def test_the_collector_is_off_inside_and_back_on_after_nested_uses() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer use still runs
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off_and_an_error_inside_restores_it() -> None:
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
    try:
        with paused_gc():
            raise RuntimeError("bulk work failed")
    except RuntimeError:
        pass
    assert gc.isenabled()
