"""How the long-running processes (web and worker) run Python's cycle collector and the C allocator.

Routing a webhook builds a whole order as Python objects (a 15 KB body is some thousand dicts and
strings), and every 700 new objects Python's cycle collector runs; each of its older generations
walks everything still alive, which in a process holding Flask, SQLAlchemy and a batch of orders is
hundreds of thousands of objects. Measured in-process, parsing a batch of orders cost 5× more with the
default collector than without it (0.41 ms against 0.08 ms an order).

So, once the app is loaded, what it loaded is moved out of the collector's sight (`gc.freeze`: those
objects live for the whole process anyway) and the collector runs after more allocations. Memory is
still freed as before: the mapped orders and answers hold no reference cycles and go with their last
reference; the collector still finds the cycles that do form, only less often.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os

# Objects allocated (minus freed) before the youngest generation is looked at, and how many young looks
# before each older one: a look at the young generation now comes every few orders, not every few lines.
THRESHOLDS = (50_000, 20, 20)


def settle_collector() -> None:
    """Call once the process has loaded what it keeps for its lifetime (the app, its models and engine)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


# glibc's mallopt parameter for the number of allocation arenas (malloc.h: M_ARENA_MAX).
_M_ARENA_MAX = -8
MALLOC_ARENAS = 2


def limit_malloc_arenas() -> bool:
    """Let the C allocator keep at most MALLOC_ARENAS arenas in this process; False where it cannot (not glibc).

    glibc gives each thread that allocates at the same time as another an arena of its own, up to eight per
    core, and keeps what each arena once held. The worker's sixteen sender threads parse, build and send
    batches side by side: in a drain of 20,000 events on SQLite its peak RSS was 150-151 MB with the
    default and 139 MB with two arenas, at the same speed (MALLOC_ARENA_MAX=2 set for the run). Called
    before the threads start; the environment's MALLOC_ARENA_MAX, when an operator sets one, wins.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(_M_ARENA_MAX, MALLOC_ARENAS))
    except (OSError, AttributeError):
        return False
