"""Keeping bulk work fast: 100,000 small objects made in one burst (an evaluation, an import) without the collector."""

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# The collector is one per process and bursts run in several worker threads at once: it is paused while any burst
# runs and resumed when the last one ends (each burst saving and restoring `gc.isenabled()` on its own would let a
# burst that began while another had paused it leave the collector off for good).
_lock = threading.Lock()
_bursts = 0
_resume = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around one synchronous burst of evaluations.

    A batch or a registry page allocates hundreds of thousands of small acyclic objects (traces, outcomes); each
    allocation burst would trigger collections that rescan the growing heap and triple the time. Reference counting
    still frees everything; the collector resumes as soon as the last burst running ends.
    """
    global _bursts, _resume
    with _lock:
        if _bursts == 0:
            _resume = gc.isenabled()
            gc.disable()
        _bursts += 1
    try:
        yield
    finally:
        with _lock:
            _bursts -= 1
            if _bursts == 0 and _resume:
                gc.enable()
