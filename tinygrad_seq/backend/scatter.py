"""Scatter-add, the one array operation NumPy and CuPy spell differently."""
import numpy as np


def scatter_add(xp_, target, index, values):
    """target[index] += values, adding repeated indices (unlike plain assignment)."""
    if xp_ is np:
        np.add.at(target, index, values)
    else:
        import cupyx
        cupyx.scatter_add(target, index, values)
    return target


def scatter_add_rows(xp_, target, rows, values):
    """target[rows] += values for a 1-D integer array of rows of target (values: one row of
    target's shape per entry), adding repeated rows, in the same order as scatter_add (the
    result is the same to the bit). On NumPy as a few rounds of a plain indexed add, round r
    taking each row's r-th occurrence (no row twice in a round): add.at, which goes element by
    element, is several times slower for rows of more than a few elements."""
    if xp_ is not np:
        return scatter_add(xp_, target, rows, values)
    if rows.size == 0:
        return target
    rows = np.where(rows < 0, rows + target.shape[0], rows)   # (-1 and n-1 are one row)
    order = np.argsort(rows, kind="stable")              # each row's occurrences in index order
    sorted_rows = rows[order]
    first = np.empty(rows.size, dtype=bool)
    first[0] = True
    np.not_equal(sorted_rows[1:], sorted_rows[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    rank = np.arange(rows.size) - np.repeat(starts, np.diff(np.append(starts, rows.size)))
    for r in range(int(rank.max()) + 1):
        take = order[rank == r]
        target[rows[take]] += values[take]
    return target
