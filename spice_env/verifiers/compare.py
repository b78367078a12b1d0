"""Equivalence of two parsed math answers, gold first.

The cheap strategies run first, in-process: structural equality of the trees, exact rational
arithmetic, then complex floating-point evaluation at seeded random points (a probabilistic
identity test). Only pairs those cannot decide go to ``symbolic``, a callback that runs sympy in
a worker process under a time limit.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from fractions import Fraction

from ._types import VerifierConfig
from .evaluate import NotEvaluable, TooLarge, complex_value, exact_value, has_decimal
from .mathparse import free_symbols, iter_nodes
from .normalize import normalize_text

__all__ = ["Outcome", "SymbolicCheck", "compare_math"]

# (decision, reason); decision None means "could not decide" (reason says why).
Outcome = tuple[bool | None, str]
# (gold, pred, seconds_left) -> True/False, or None when it timed out or could not decide.
SymbolicCheck = Callable[[tuple, tuple, float], "bool | None"]

_COLLECTIONS = frozenset({"tuple", "set", "list", "interval", "union", "pm"})
_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "!=": "!="}
_SEED = 20251028  # fixed so that a given pair always gets the same verdict


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
    """``x``, ``a_1``, ``f(x)``, ``M``: a left-hand side that names the answer."""
    if node[0] == "s":
        return True
    if node[0] == "*":
        return all(factor[0] in ("s", "c") for factor in node[1]) and node[1][0][0] == "s"
    return False


def _letters(node: tuple) -> str | None:
    """Spell a product of one-letter symbols back as a word ("Evelyn" parses that way)."""
    if node[0] in ("s", "c"):
        return node[1] if len(node[1]) == 1 or node[0] == "s" else None
    if node[0] == "*":
        parts = [_letters(factor) for factor in node[1]]
        return None if any(part is None for part in parts) else "".join(parts)  # type: ignore[arg-type]
    return None


def _has_infinity(node: tuple) -> bool:
    return any(current == ("c", "inf") for current in iter_nodes(node))


class _Comparator:
    """Holds the configuration, the deadline and the symbolic fallback for one check."""

    def __init__(
        self, config: VerifierConfig, symbolic: SymbolicCheck | None, deadline: float
    ) -> None:
        self.config = config
        self.symbolic = symbolic
        self.deadline = deadline
        self.timed_out = False

    # entry -------------------------------------------------------------------------------
    def compare(self, gold: tuple, pred: tuple) -> Outcome:
        if gold == pred:
            return True, "structural"
        gold, pred = self._unwrap_relations(gold, pred)
        if gold == pred:
            return True, "structural"
        if gold[0] == "matrix" or pred[0] == "matrix":
            return self.compare_matrices(gold, pred)
        if gold[0] in _COLLECTIONS or pred[0] in _COLLECTIONS:
            return self.compare_collections(gold, pred)
        if gold[0] == "rel" and pred[0] == "rel":
            return self.compare_relations(gold, pred)
        if gold[0] == "chain" and pred[0] == "chain":
            return self.compare_chains(gold, pred)
        if gold[0] in ("rel", "chain") or pred[0] in ("rel", "chain"):
            return False, "mismatch"
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
        elif pred[0] == "chain" and set(pred[1]) == {"="} and gold[0] not in ("rel", "chain"):
            pred = pred[2][-1]
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
            return self.compare_intervals(gold, pred)
        gold_items = gold[1] if gold[0] in _COLLECTIONS else (gold,)
        pred_items = pred[1] if pred[0] in _COLLECTIONS else (pred,)
        if len(gold_items) != len(pred_items):
            return False, "mismatch"
        ordered = "tuple" in (gold[0], pred[0]) and "set" not in (gold[0], pred[0])
        if ordered:
            undecided = None
            for gold_item, pred_item in zip(gold_items, pred_items):
                decision, reason = self.compare(gold_item, pred_item)
                if decision is False:
                    return False, "mismatch"
                if decision is None:
                    undecided = reason
            return (None, undecided) if undecided else (True, "structural_collection")
        return self._match_unordered(gold_items, pred_items)

    def _match_unordered(self, gold_items: tuple, pred_items: tuple) -> Outcome:
        unmatched = list(pred_items)
        undecided = None
        for gold_item in gold_items:
            for index, pred_item in enumerate(unmatched):
                decision, reason = self.compare(gold_item, pred_item)
                if decision:
                    del unmatched[index]
                    break
                if decision is None:
                    undecided = reason
            else:
                return (None, undecided) if undecided else (False, "mismatch")
        return True, "set_match"

    def compare_matrices(self, gold: tuple, pred: tuple) -> Outcome:
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
                return False, "mismatch"
            gold_items = tuple(item for row in gold[1] for item in row)
            pred_items = tuple(item for row in pred[1] for item in row)
        else:
            gold_items, pred_items = flat(gold), flat(pred)
            if gold_items is None or pred_items is None:
                return False, "mismatch"
        if len(gold_items) != len(pred_items):
            return False, "mismatch"
        return self.compare_collections(("tuple", gold_items), ("tuple", pred_items))

    def compare_intervals(self, gold: tuple, pred: tuple) -> Outcome:
        def as_interval(node: tuple) -> tuple | None:
            if node[0] == "interval":
                return node
            if node[0] == "tuple" and len(node[1]) == 2:
                return ("interval", False, node[1][0], node[1][1], False)
            return None

        gold_interval, pred_interval = as_interval(gold), as_interval(pred)
        if gold_interval is None or pred_interval is None:
            return False, "mismatch"
        if gold_interval[1] != pred_interval[1] or gold_interval[4] != pred_interval[4]:
            return False, "mismatch"
        return self.compare_collections(
            ("tuple", gold_interval[2:4]), ("tuple", pred_interval[2:4])
        )

    # relations ---------------------------------------------------------------------------
    def compare_relations(self, gold: tuple, pred: tuple) -> Outcome:
        gold_op, pred_op = gold[1], pred[1]
        if gold_op == "=" and pred_op == "=":
            both_sides = self.compare_collections(("tuple", gold[2:]), ("tuple", pred[2:]))
            if both_sides[0]:
                return both_sides
            gold_diff = _difference(gold[2], gold[3])
            pred_diff = _difference(pred[2], pred[3])
            decision, reason = self.compare_scalar(gold_diff, pred_diff)
            if decision:
                return True, reason
            flipped, flipped_reason = self.compare_scalar(gold_diff, _negate(pred_diff))
            if flipped:
                return True, flipped_reason
            if decision is None or flipped is None:
                return None, reason if decision is None else flipped_reason
            return False, "mismatch"
        if pred_op != gold_op:
            if _FLIP.get(pred_op) != gold_op:
                return False, "mismatch"
            pred = ("rel", gold_op, pred[3], pred[2])
        return self.compare_collections(("tuple", gold[2:]), ("tuple", pred[2:]))

    def compare_chains(self, gold: tuple, pred: tuple) -> Outcome:
        pred_ops, pred_items = pred[1], pred[2]
        if pred_ops != gold[1]:
            flipped = tuple(_FLIP.get(op, op) for op in reversed(pred_ops))
            if flipped != gold[1]:
                return False, "mismatch"
            pred_items = tuple(reversed(pred_items))
        return self.compare_collections(("tuple", gold[2]), ("tuple", pred_items))

    # leaves ------------------------------------------------------------------------------
    def compare_text(self, gold: tuple, pred: tuple) -> Outcome:
        def words(node: tuple) -> str | None:
            if node[0] == "text":
                return normalize_text(node[1])
            spelled = _letters(node)
            return normalize_text(spelled) if spelled else None

        gold_words, pred_words = words(gold), words(pred)
        if gold_words and gold_words == pred_words:
            return True, "exact"
        return False, "mismatch"

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
            return True, "structural"
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
                return True, "numeric"
            if decimal and self._close(complex(gold_value), complex(pred_value), decimal):
                return True, "numeric"
            return False, "mismatch"
        if _has_infinity(gold) or _has_infinity(pred):
            # Arithmetic with infinity is not meaningful here: only the same form matches.
            return False, "mismatch"
        decision = self._numeric_identity(gold, pred, decimal)
        if decision is not None:
            return decision, "numeric_eval" if decision else "mismatch"
        return self._symbolic(gold, pred, too_large)

    def _close(self, a: complex, b: complex, decimal: bool) -> bool:
        difference = abs(a - b)
        scale = max(abs(a), abs(b))
        if difference <= self.config.rel_tol * scale + 1e-12:
            return True
        return decimal and difference <= 10.0 ** (-self.config.float_rounding)

    def _numeric_identity(self, gold: tuple, pred: tuple, decimal: bool) -> bool | None:
        """Evaluate both at seeded random points: False on a clear difference, True when all
        points agree, None when evaluation failed too often to tell."""
        symbols = sorted(free_symbols(gold) | free_symbols(pred))
        points = self.config.numeric_points if symbols else 1
        rng = random.Random(_SEED)
        agreed = 0
        for _ in range(points):
            env = {name: complex(rng.uniform(0.3, 2.7)) for name in symbols}
            try:
                gold_value = complex_value(gold, env)
                pred_value = complex_value(pred, env)
            except NotEvaluable:
                continue
            if not self._close(gold_value, pred_value, decimal):
                return False
            agreed += 1
        if agreed == points or (symbols and agreed >= 2):
            return True
        return None

    def _symbolic(self, gold: tuple, pred: tuple, too_large: bool) -> Outcome:
        if self.symbolic is None:
            return None, "too_large" if too_large else "inconclusive"
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self.timed_out = True
            return None, "timeout"
        decision = self.symbolic(gold, pred, remaining)
        if decision is None:
            self.timed_out = time.monotonic() >= self.deadline
            if self.timed_out:
                return None, "timeout"
            return None, "too_large" if too_large else "inconclusive"
        return decision, "symbolic" if decision else "mismatch"


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
        deadline: ``time.monotonic()`` value after which no symbolic work is started.

    Returns:
        ``(decision, reason)``; decision is ``None`` when undecided (reason ``"timeout"``,
        ``"too_large"`` or ``"inconclusive"``).
    """
    if deadline is None:
        deadline = time.monotonic() + config.timeout_s
    return _Comparator(config, symbolic, deadline).compare(gold, pred)
