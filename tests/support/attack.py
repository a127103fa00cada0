"""What a curious analyst does with published aggregates: every published number becomes a linear
equation over the unknown true counts, and exact linear algebra tells which combinations of
counts (single cells, sums over periods, districts and answers, and their differences) the
equations pin down, and to what value.

Unknowns are true counts of cells (district, day, measure). A fact is (set of unknown indices,
weights or None for all-ones, value). The solver works modulo a large prime, which is exact for
the question "is this combination determined, and what is its integer value?": every value the
published equations can pin down is an integer combination of integers, far below the prime.
"""
import math

P = (1 << 61) - 1


def _inv(a):
    return pow(a, P - 2, P)


class System:
    """Reduced row echelon form, kept fully reduced as equations come in (sparse dict rows)."""

    def __init__(self):
        self.rows = {}       # pivot column -> {col: coef} with coef 1 at the pivot
        self.rhs = {}        # pivot column -> value
        self.inconsistent = 0

    def _reduce(self, row, val):
        for c in [c for c in row if c in self.rows]:
            f = row.get(c)
            if not f:
                continue
            for cc, v in self.rows[c].items():
                nv = (row.get(cc, 0) - f * v) % P
                if nv:
                    row[cc] = nv
                else:
                    row.pop(cc, None)
            val = (val - f * self.rhs[c]) % P
        return row, val

    def add(self, coefs, value):
        row = {c: w % P for c, w in coefs.items() if w % P}
        row, val = self._reduce(row, value % P)
        if not row:
            if val:
                self.inconsistent += 1
            return
        piv = min(row)
        inv = _inv(row[piv])
        row = {c: v * inv % P for c, v in row.items()}
        val = val * inv % P
        for c, r in self.rows.items():   # keep every other row free of the new pivot column
            f = r.get(piv)
            if f:
                for cc, v in row.items():
                    nv = (r.get(cc, 0) - f * v) % P
                    if nv:
                        r[cc] = nv
                    else:
                        r.pop(cc, None)
                self.rhs[c] = (self.rhs[c] - f * val) % P
        self.rows[piv] = row
        self.rhs[piv] = val

    def value_of(self, coefs):
        """The value the equations give this combination, or None when they do not fix it."""
        row = {c: w % P for c, w in coefs.items() if w % P}
        row, val = self._reduce(row, 0)
        if row:
            return None
        v = (-val) % P
        return v - P if v > P // 2 else v


def index_sum(index, count):
    """From a published mood index (0..100, one decimal) and an exact mood count: the weighted
    sum 1*n1 + 2*n2 + 3*n3 + 4*n4 when only one integer fits the rounding, else None."""
    lo = ((index - 0.05) * 3 / 100 + 1) * count
    hi = ((index + 0.05) * 3 / 100 + 1) * count
    ints = range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1)
    return ints[0] if len(ints) == 1 else None
