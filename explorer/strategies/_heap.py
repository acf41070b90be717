"""Binary max-heaps of (key, row) pairs in two parallel arrays (numba), private.

One order for every heap: the larger key is nearer the root; of equal keys, the lower row.
A heap that must evict the larger row of a tie first (the k nearest, ties to the lower row)
stores its rows negated.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True)
def above(key1, row1, key2, row2):
    """Whether (key1, row1) belongs nearer the root than (key2, row2)."""
    return key1 > key2 or (key1 == key2 and row1 < row2)


@njit(cache=True, nogil=True)
def sift_down(keys, rows, size, pos, key, row):
    """Put (key, row) at ``pos`` of the heap ``keys[:size]``, ``rows[:size]`` and move it
    down to its place."""
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and above(keys[child + 1], rows[child + 1], keys[child], rows[child]):
            child += 1
        if not above(keys[child], rows[child], key, row):
            break
        keys[pos] = keys[child]
        rows[pos] = rows[child]
        pos = child
    keys[pos] = key
    rows[pos] = row


@njit(cache=True, nogil=True)
def heapify(keys, rows):
    """Turn (keys, rows) into a heap in place."""
    size = len(keys)
    for pos in range(size // 2 - 1, -1, -1):
        sift_down(keys, rows, size, pos, keys[pos], rows[pos])


@njit(cache=True, nogil=True)
def keep_least(keys, rows, size, key, row):
    """Offer (key, row) to a heap of at most ``len(keys)`` entries that keeps the ones lowest
    in the order (its root is the first to go); ``size`` entries are held. Returns the new
    size."""
    if size < len(keys):
        pos = size
        while pos > 0:
            parent = (pos - 1) // 2
            if not above(key, row, keys[parent], rows[parent]):
                break
            keys[pos] = keys[parent]
            rows[pos] = rows[parent]
            pos = parent
        keys[pos] = key
        rows[pos] = row
        return size + 1
    if above(keys[0], rows[0], key, row):
        sift_down(keys, rows, size, 0, key, row)
    return size
