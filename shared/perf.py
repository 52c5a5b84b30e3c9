"""Keeping bulk work fast: 100,000 small objects made in one burst (an evaluation, an import) without the collector."""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around one synchronous burst of evaluations.

    A batch or a registry page allocates hundreds of thousands of small acyclic objects (traces, outcomes); each
    allocation burst would trigger collections that rescan the growing heap and triple the time. Reference counting
    still frees everything; the collector resumes as soon as the burst ends, before control returns to the loop.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
