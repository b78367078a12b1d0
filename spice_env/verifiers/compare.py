"""Equivalence of two parsed math answers, gold first.

The cheap strategies run first, in-process: structural equality of the trees, exact rational
arithmetic, then complex floating-point evaluation at seeded random points (a probabilistic
identity test). Only pairs those cannot decide go to ``symbolic``, a callback that runs sympy in
a worker process under a time limit. Every strategy checks the per-call deadline first.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from fractions import Fraction

from ._types import Reason, VerifierConfig
from .evaluate import NotEvaluable, TooLarge, complex_value, exact_value, has_decimal
from .mathparse import free_symbols, iter_nodes
from .normalize import normalize_text

__all__ = ["Outcome", "SymbolicCheck", "compare_math", "is_collection"]

# (decision, reason); decision None means "could not decide" (reason says why).
Outcome = tuple["bool | None", Reason]
# (gold, pred, seconds_left) -> True/False, or None when it timed out or could not decide.
SymbolicCheck = Callable[[tuple, tuple, float], "bool | None"]

_COLLECTIONS = frozenset({"tuple", "set", "list", "interval", "union", "pm"})
_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "!=": "!="}
_LESS = {"<": "<", "<=": "<=", ">": "<", ">=": "<="}
_SEED = 20251028  # fixed so that a given pair always gets the same verdict
_MAX_MATRIX_CELLS = 100


def is_collection(node: tuple) -> bool:
    """Whether a parsed answer holds several values (a list, set, tuple, ``a \\pm b``...).

    Args:
        node: A parsed answer.

    Returns:
        True for lists, sets, tuples, unions and plus-minus pairs, also as the value of an
        assignment (``(p, q) = (3, 2)``, ``x \\in \\{1, 2\\}``); intervals and matrices are
        single values.
    """
    node = _reduce_relation(node)
    if node[0] == "rel" and (
        node[1] == "in" or (node[1] == "=" and _is_assignment_target(node[2]))
    ):
        node = node[3]
    return node[0] in ("list", "set", "tuple", "union", "pm") and len(node[1:]) > 0


def _negate(node: tuple) -> tuple:
    return node[1] if node[0] == "neg" else ("neg", node)


def _difference(left: tuple, right: tuple) -> tuple:
    return ("+", (left, _negate(right)))


def _pm_values(node: tuple) -> tuple:
    center, spread = node[1], node[2]
    if center is None:
        return (spread, _negate(spread))
    return (("+", (center, spread)), ("+", (center, _negate(spread))))


def _is_assignment_target(node: tuple) -> bool:
    """``x``, ``a_1``, ``f(x)``, ``|AB|``, ``A:B``, ``(p, q)``, ``NO/BO``: a left-hand side that
    names the answer rather than computing it."""
    tag = node[0]
    if tag == "s":
        return True
    if tag == "*":
        return node[1][0][0] == "s" and all(
            factor[0] in ("s", "c") or _is_assignment_target(factor) for factor in node[1]
        )
    if tag == "f" and node[1] == "abs":
        return _is_assignment_target(node[2][0])
    if tag == "/":
        return _is_assignment_target(node[1]) and _is_assignment_target(node[2])
    if tag in ("ratio", "tuple"):
        return all(_is_assignment_target(item) for item in node[1])
    return False


def _letters(node: tuple) -> str | None:
    """Spell a product of one-letter symbols back as a word ("Evelyn" parses that way)."""
    if node[0] in ("s", "c"):
        return node[1] if len(node[1]) == 1 or node[0] == "s" else None
    if node[0] == "*":
        parts = [_letters(factor) for factor in node[1]]
        return None if any(part is None for part in parts) else "".join(parts)  # type: ignore[arg-type]
    return None


def _sampled_values(gold: tuple, pred: tuple, points: int):
    """``(gold, pred)`` complex values at ``points`` seeded random points of their symbols;
    points where either cannot be evaluated are skipped."""
    symbols = sorted(free_symbols(gold) | free_symbols(pred))
    rng = random.Random(_SEED)
    for _ in range(points):
        env = {name: complex(rng.uniform(0.3, 2.7)) for name in symbols}
        try:
            yield complex_value(gold, env), complex_value(pred, env)
        except NotEvaluable:
            continue


def _has_infinity(node: tuple) -> bool:
    return any(current == ("c", "inf") for current in iter_nodes(node))


def _reduce_relation(node: tuple) -> tuple:
    """Read chains of equalities as their final value, and ``approx`` as ``=``.

    ``x = 5+5+1 = 11`` is ``x = 11``; ``x = 1/3 \\approx 0.33`` is ``x = 1/3`` (the last exact
    value); ``1 = y = 0`` is ``0``. An inequality chain ``a < x < b`` stays a chain.
    """
    if node[0] == "rel" and node[1] == "approx":
        return ("rel", "=", node[2], node[3])
    if node[0] != "chain" or not set(node[1]) <= {"=", "approx"}:
        return node
    ops, items = list(node[1]), list(node[2])
    if "=" in ops:
        while ops and ops[-1] == "approx":
            ops.pop()
            items.pop()
    head, last = items[0], items[-1]
    if _is_assignment_target(head) and len(items) > 1:
        return ("rel", "=", head, last)
    return last


def _as_interval(node: tuple) -> tuple | None:
    """An interval node for ``[a, b)``, an open pair ``(a, b)`` or a chain ``a < x <= b``."""
    if node[0] == "interval":
        return node
    if node[0] == "tuple" and len(node[1]) == 2:
        return ("interval", False, node[1][0], node[1][1], False)
    if node[0] == "chain" and len(node[1]) == 2 and _is_assignment_target(node[2][1]):
        ops, (low, _, high) = node[1], node[2]
        if all(op in ("<", "<=") for op in ops):
            return ("interval", ops[0] == "<=", low, high, ops[1] == "<=")
        if all(op in (">", ">=") for op in ops):
            return ("interval", ops[1] == ">=", high, low, ops[0] == ">=")
    return None


class _Comparator:
    """Holds the configuration, the deadline and the symbolic fallback for one check."""

    def __init__(
        self, config: VerifierConfig, symbolic: SymbolicCheck | None, deadline: float
    ) -> None:
        self.config = config
        self.symbolic = symbolic
        self.deadline = deadline

    def late(self) -> bool:
        return time.monotonic() >= self.deadline

    # entry -------------------------------------------------------------------------------
    def compare(self, gold: tuple, pred: tuple) -> Outcome:
        if gold == pred:
            return True, Reason.STRUCTURAL
        if self.late():
            return None, Reason.TIMEOUT
        gold, pred = _reduce_relation(gold), _reduce_relation(pred)
        gold, pred = self._unwrap_relations(gold, pred)
        if gold == pred:
            return True, Reason.STRUCTURAL
        if gold[0] == "matrix" or pred[0] == "matrix" or _has_matrix(gold) or _has_matrix(pred):
            return self.compare_matrices(gold, pred)
        if gold[0] == "ratio" or pred[0] == "ratio":
            if gold[0] != pred[0] or len(gold[1]) != len(pred[1]):
                return False, Reason.MISMATCH
            return self.compare_ordered(gold[1], pred[1])
        if gold[0] == "chain" or pred[0] == "chain":
            gold_interval, pred_interval = _as_interval(gold), _as_interval(pred)
            if gold_interval is not None and pred_interval is not None:
                return self.compare_intervals(gold_interval, pred_interval)
            if gold[0] == "chain" and pred[0] == "chain":
                return self.compare_chains(gold, pred)
            return False, Reason.MISMATCH
        if gold[0] in _COLLECTIONS or pred[0] in _COLLECTIONS:
            return self.compare_collections(gold, pred)
        if gold[0] == "rel" and pred[0] == "rel":
            return self.compare_relations(gold, pred)
        if gold[0] == "rel" or pred[0] == "rel":
            return False, Reason.MISMATCH
        if gold[0] == "text" or pred[0] == "text":
            return self.compare_text(gold, pred)
        if gold[0] == "%" or pred[0] == "%":
            return self.compare_percent(gold, pred)
        return self.compare_scalar(gold, pred)

    def _unwrap_relations(self, gold: tuple, pred: tuple) -> tuple[tuple, tuple]:
        if gold[0] == "rel" and gold[1] == "in":
            gold = gold[3]
        if pred[0] == "rel" and pred[1] == "in":
            pred = pred[3]
        gold_eq = gold[0] == "rel" and gold[1] == "="
        pred_eq = pred[0] == "rel" and pred[1] == "="
        if pred_eq and gold[0] not in ("rel", "chain"):
            # "x = 5" against a gold "5": the model named the variable; follow the gold.
            pred = pred[3]
        elif gold_eq and pred[0] not in ("rel", "chain") and _is_assignment_target(gold[2]):
            gold = gold[3]
        return gold, pred

    # collections -------------------------------------------------------------------------
    def compare_collections(self, gold: tuple, pred: tuple) -> Outcome:
        if gold[0] == "pm":
            gold = ("set", _pm_values(gold))
        if pred[0] == "pm":
            pred = ("set", _pm_values(pred))
        if gold[0] == "interval" or pred[0] == "interval":
            gold_interval, pred_interval = _as_interval(gold), _as_interval(pred)
            if gold_interval is None or pred_interval is None:
                return False, Reason.MISMATCH
            return self.compare_intervals(gold_interval, pred_interval)
        gold_items = gold[1] if gold[0] in _COLLECTIONS else (gold,)
        pred_items = pred[1] if pred[0] in _COLLECTIONS else (pred,)
        ordered = "tuple" in (gold[0], pred[0]) and "set" not in (gold[0], pred[0])
        if ordered and not (gold[0] == "list" and pred[0] == "list"):
            if len(gold_items) != len(pred_items):
                return False, Reason.MISMATCH
            return self.compare_ordered(gold_items, pred_items)
        return self._match_unordered(gold_items, pred_items)

    def compare_ordered(self, gold_items: tuple, pred_items: tuple) -> Outcome:
        undecided = None
        for gold_item, pred_item in zip(gold_items, pred_items):
            decision, reason = self.compare(gold_item, pred_item)
            if decision is False:
                return False, Reason.MISMATCH
            if decision is None:
                undecided = reason
        return (None, undecided) if undecided else (True, Reason.ORDERED_MATCH)

    def _match_unordered(self, gold_items: tuple, pred_items: tuple) -> Outcome:
        # A gold without repeated items is a set: an item the answer writes twice is one item
        # ("(3,17,3,7)" listed twice). A gold that repeats an item ("16, 3, 1, 1") counts it.
        if len(set(gold_items)) == len(gold_items):
            pred_items = tuple(dict.fromkeys(pred_items))
        if len(gold_items) != len(pred_items):
            return False, Reason.MISMATCH
        unmatched = list(pred_items)
        undecided = None
        for gold_item in gold_items:
            for index, pred_item in enumerate(unmatched):
                if self.late():
                    return None, Reason.TIMEOUT
                decision, reason = self.compare(gold_item, pred_item)
                if decision:
                    del unmatched[index]
                    break
                if decision is None:
                    undecided = reason
            else:
                return (None, undecided) if undecided else (False, Reason.MISMATCH)
        return True, Reason.SET_MATCH

    def compare_matrices(self, gold: tuple, pred: tuple) -> Outcome:
        gold, pred = _matrix_value(gold, self.config), _matrix_value(pred, self.config)

        def flat(node: tuple) -> tuple | None:
            # A column or row vector may be written as a tuple: (1, 2, 3).
            if node[0] == "matrix":
                rows = node[1]
                if len(rows) == 1 or all(len(row) == 1 for row in rows):
                    return tuple(item for row in rows for item in row)
                return None
            return node[1] if node[0] in ("tuple", "list") else None

        if gold[0] == "matrix" and pred[0] == "matrix":
            shape = (len(gold[1]), len(gold[1][0]))
            if shape != (len(pred[1]), len(pred[1][0])):
                return False, Reason.MISMATCH
            gold_items = tuple(item for row in gold[1] for item in row)
            pred_items = tuple(item for row in pred[1] for item in row)
        else:
            gold_items, pred_items = flat(gold), flat(pred)
            if gold_items is None or pred_items is None:
                return False, Reason.MISMATCH
        if len(gold_items) != len(pred_items):
            return False, Reason.MISMATCH
        return self.compare_ordered(gold_items, pred_items)

    def compare_intervals(self, gold: tuple, pred: tuple) -> Outcome:
        if gold[1] != pred[1] or gold[4] != pred[4]:
            return False, Reason.MISMATCH
        return self.compare_ordered(gold[2:4], pred[2:4])

    # relations ---------------------------------------------------------------------------
    def compare_relations(self, gold: tuple, pred: tuple) -> Outcome:
        gold_op, pred_op = gold[1], pred[1]
        if gold_op == "in" or pred_op == "in":
            return False, Reason.MISMATCH
        if gold_op in ("=", "!=") or pred_op in ("=", "!="):
            if gold_op != pred_op:
                return False, Reason.MISMATCH
            sides = self.compare_ordered(gold[2:], pred[2:])
            if sides[0]:
                return sides
            swapped = self.compare_ordered(gold[2:], (pred[3], pred[2]))
            if swapped[0]:
                return swapped
            return self._proportional(
                _difference(gold[2], gold[3]), _difference(pred[2], pred[3]), positive=False
            )
        # Inequalities: write both as "difference < 0" (or <= 0), then compare the differences
        # up to a positive factor ("-x > -1" is "x < 1").
        if _LESS[gold_op] != _LESS[pred_op]:
            return False, Reason.MISMATCH
        if pred_op != gold_op:
            pred = ("rel", gold_op, pred[3], pred[2])  # 5 >= x is x <= 5
        sides = self.compare_ordered(gold[2:], pred[2:])
        if sides[0]:
            return sides
        return self._proportional(self._less_form(gold), self._less_form(pred), positive=True)

    @staticmethod
    def _less_form(relation: tuple) -> tuple:
        op, left, right = relation[1], relation[2], relation[3]
        return _difference(left, right) if op in ("<", "<=") else _difference(right, left)

    def _proportional(self, gold: tuple, pred: tuple, *, positive: bool) -> Outcome:
        """Whether ``gold = c * pred`` for one constant ``c`` (> 0 when ``positive``), by
        evaluating both at seeded random points."""
        ratio = None
        agreed = 0
        for gold_value, pred_value in _sampled_values(
            gold, pred, max(3, self.config.numeric_points)
        ):
            if abs(pred_value) < 1e-12 or abs(gold_value) < 1e-12:
                if abs(pred_value) < 1e-12 and abs(gold_value) < 1e-12:
                    agreed += 1
                    continue
                return False, Reason.MISMATCH
            current = gold_value / pred_value
            if ratio is None:
                ratio = current
            elif abs(current - ratio) > 1e-9 * max(1.0, abs(ratio)):
                return False, Reason.MISMATCH
            agreed += 1
        if agreed < 2 or ratio is None:
            return None, Reason.INCONCLUSIVE
        if abs(ratio.imag) > 1e-9 or (positive and ratio.real <= 0):
            return False, Reason.MISMATCH
        return True, Reason.EQUIVALENT_RELATION

    def compare_chains(self, gold: tuple, pred: tuple) -> Outcome:
        pred_ops, pred_items = pred[1], pred[2]
        if pred_ops != gold[1]:
            flipped = tuple(_FLIP.get(op, op) for op in reversed(pred_ops))
            if flipped != gold[1]:
                return False, Reason.MISMATCH
            pred_items = tuple(reversed(pred_items))
        return self.compare_ordered(gold[2], pred_items)

    # leaves ------------------------------------------------------------------------------
    def compare_text(self, gold: tuple, pred: tuple) -> Outcome:
        def words(node: tuple) -> str | None:
            if node[0] == "text":
                return normalize_text(node[1])
            spelled = _letters(node)
            return normalize_text(spelled) if spelled else None

        gold_words, pred_words = words(gold), words(pred)
        if gold_words and gold_words == pred_words:
            return True, Reason.EXACT
        return False, Reason.MISMATCH

    def compare_percent(self, gold: tuple, pred: tuple) -> Outcome:
        # "10\%" against "10" or "0.1": both readings are accepted, as in math-verify.
        gold_plain = gold[1] if gold[0] == "%" else gold
        pred_plain = pred[1] if pred[0] == "%" else pred
        decision, reason = self.compare_scalar(gold_plain, pred_plain)
        if decision or (gold[0] == "%" and pred[0] == "%"):
            return decision, reason
        hundred = ("n", Fraction(100), False)
        if gold[0] == "%":
            alternative = self.compare_scalar(("/", gold_plain, hundred), pred_plain)
        else:
            alternative = self.compare_scalar(gold_plain, ("/", pred_plain, hundred))
        return (
            alternative if alternative[0] is not False or decision is False else (decision, reason)
        )

    def compare_scalar(self, gold: tuple, pred: tuple) -> Outcome:
        if gold == pred:
            return True, Reason.STRUCTURAL
        if self.late():
            return None, Reason.TIMEOUT
        if gold[0] == "neg" and pred[0] == "neg":
            return self.compare_scalar(gold[1], pred[1])
        decimal = has_decimal(gold) or has_decimal(pred)
        too_large = False
        try:
            gold_value = exact_value(gold, self.config.max_exact_bits)
            pred_value = exact_value(pred, self.config.max_exact_bits)
        except TooLarge:
            too_large = True
        except NotEvaluable:
            pass
        else:
            if gold_value == pred_value:
                return True, Reason.NUMERIC
            if decimal and self._close_exact(gold_value, pred_value):
                return True, Reason.NUMERIC
            return False, Reason.MISMATCH
        if _has_infinity(gold) or _has_infinity(pred):
            # Arithmetic with infinity is not meaningful here: only the same form matches.
            return False, Reason.MISMATCH
        if too_large and any(node[0] == "big" for node in (*iter_nodes(gold), *iter_nodes(pred))):
            return None, Reason.TOO_LARGE  # a number too long to build: only its text can match
        decision = self._numeric_identity(gold, pred, decimal)
        if decision is not None:
            return decision, Reason.NUMERIC_EVAL if decision else Reason.MISMATCH
        return self._symbolic(gold, pred, too_large)

    def _close_exact(self, a: Fraction, b: Fraction) -> bool:
        """Decimal tolerance in exact arithmetic (no float overflow on huge values)."""
        difference = abs(a - b)
        if difference <= Fraction(self.config.rel_tol) * max(abs(a), abs(b)):
            return True
        return difference <= Fraction(1, 10**self.config.float_rounding)

    def _close(self, a: complex, b: complex, decimal: bool) -> bool:
        difference = abs(a - b)
        scale = max(abs(a), abs(b))
        if difference <= self.config.rel_tol * scale + 1e-12:
            return True
        return decimal and difference <= 10.0 ** (-self.config.float_rounding)

    def _numeric_identity(self, gold: tuple, pred: tuple, decimal: bool) -> bool | None:
        """Evaluate both at seeded random points: False on a clear difference, True when all
        points agree, None when evaluation failed too often to tell."""
        symbols = free_symbols(gold) | free_symbols(pred)
        points = self.config.numeric_points if symbols else 1
        agreed = 0
        for gold_value, pred_value in _sampled_values(gold, pred, points):
            if not self._close(gold_value, pred_value, decimal):
                return False
            agreed += 1
        if agreed == points or (symbols and agreed >= 2):
            return True
        return None

    def _symbolic(self, gold: tuple, pred: tuple, too_large: bool) -> Outcome:
        if self.symbolic is None:
            return None, Reason.TOO_LARGE if too_large else Reason.INCONCLUSIVE
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return None, Reason.TIMEOUT
        decision = self.symbolic(gold, pred, remaining)
        if decision is None:
            if self.late():
                return None, Reason.TIMEOUT
            return None, Reason.TOO_LARGE if too_large else Reason.INCONCLUSIVE
        return decision, Reason.SYMBOLIC if decision else Reason.MISMATCH


# --- matrix arithmetic ---------------------------------------------------------------------------


def _has_matrix(node: tuple) -> bool:
    return node[0] in ("+", "*") and any(current[0] == "matrix" for current in iter_nodes(node))


def _matrix_value(node: tuple, config: VerifierConfig) -> tuple:
    """Sums and products of matrices with exact entries, evaluated (``A + B``, ``I \\cdot I``);
    anything else is returned as it is."""
    if node[0] == "matrix" or not _has_matrix(node):
        return node
    try:
        value = _evaluate_matrix(node, config.max_exact_bits)
    except (NotEvaluable, ValueError):
        return node
    if not isinstance(value, list):
        return node
    return ("matrix", tuple(tuple(("n", cell, False) for cell in row) for row in value))


def _evaluate_matrix(node: tuple, max_bits: int) -> list[list[Fraction]] | Fraction:
    if node[0] == "matrix":
        if sum(len(row) for row in node[1]) > _MAX_MATRIX_CELLS:
            raise ValueError("matrix too large")
        return [[exact_value(cell, max_bits) for cell in row] for row in node[1]]
    if node[0] not in ("+", "*"):
        return exact_value(node, max_bits)
    values = [_evaluate_matrix(part, max_bits) for part in node[1]]
    result = values[0]
    for value in values[1:]:
        result = _add(result, value) if node[0] == "+" else _multiply(result, value)
    return result


def _add(a, b):
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b) or len(a[0]) != len(b[0]):
            raise ValueError("shapes differ")
        return [[x + y for x, y in zip(row_a, row_b)] for row_a, row_b in zip(a, b)]
    if isinstance(a, list) or isinstance(b, list):
        raise ValueError("matrix plus scalar")
    return a + b


def _multiply(a, b):
    if isinstance(a, list) and isinstance(b, list):
        if len(a[0]) != len(b):
            raise ValueError("shapes do not chain")
        return [
            [sum((a[i][k] * b[k][j] for k in range(len(b))), Fraction(0)) for j in range(len(b[0]))]
            for i in range(len(a))
        ]
    if isinstance(a, list):
        return [[x * b for x in row] for row in a]
    if isinstance(b, list):
        return [[a * x for x in row] for row in b]
    return a * b


def compare_math(
    gold: tuple,
    pred: tuple,
    config: VerifierConfig,
    symbolic: SymbolicCheck | None = None,
    deadline: float | None = None,
) -> Outcome:
    """Decide whether two parsed answers are equivalent.

    Args:
        gold: The parsed gold answer.
        pred: The parsed prediction.
        config: Tolerances and bounds.
        symbolic: Fallback for pairs the in-process strategies cannot decide (or ``None``).
        deadline: ``time.monotonic()`` value after which no more work is started (default:
            ``config.timeout_s`` from now).

    Returns:
        ``(decision, reason)``; decision is ``None`` when undecided (reason ``TIMEOUT``,
        ``TOO_LARGE`` or ``INCONCLUSIVE``).
    """
    if deadline is None:
        deadline = time.monotonic() + config.timeout_s
    return _Comparator(config, symbolic, deadline).compare(gold, pred)
