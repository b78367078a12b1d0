"""The sympy side: runs only inside worker processes (see :mod:`.workers`).

Trees from :mod:`.mathparse` are turned into sympy objects by a fixed mapping (no
``sympify``/``parse_expr``: model text never reaches a string-to-code path), then compared by
bounded simplification. The parent kills this process when it runs past its time limit, and
the process caps its own address space, so runaway sympy work costs at most one worker.
"""

from __future__ import annotations

import functools
from fractions import Fraction
from typing import Any

import sympy

__all__ = ["Unsupported", "decide", "to_sympy"]

_MAX_POWER_BITS = 200_000
_FUNCTIONS: dict[str, Any] = {
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "cot": sympy.cot,
    "sec": sympy.sec,
    "csc": sympy.csc,
    "arcsin": sympy.asin,
    "arccos": sympy.acos,
    "arctan": sympy.atan,
    "sinh": sympy.sinh,
    "cosh": sympy.cosh,
    "tanh": sympy.tanh,
    "exp": sympy.exp,
    "ln": sympy.log,
    "sqrt": sympy.sqrt,
    "abs": sympy.Abs,
    "floor": sympy.floor,
    "ceil": sympy.ceiling,
}
_CONSTANTS = {"pi": sympy.pi, "e": sympy.E, "i": sympy.I, "inf": sympy.oo}


class Unsupported(ValueError):
    """The tree has no sympy counterpart here (text, relations, collections)."""


def _power(base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
    # sympy computes Integer**Integer eagerly; refuse results past the bound.
    both_integers = isinstance(base, sympy.Integer) and isinstance(exponent, sympy.Integer)
    if (
        both_integers
        and abs(int(base)) > 1
        and abs(int(exponent)) * int(base).bit_length() > _MAX_POWER_BITS
    ):
        raise Unsupported("power too large")
    if isinstance(exponent, sympy.Integer) and abs(int(exponent)) > 10**6 and base.free_symbols:
        raise Unsupported("symbolic power too large")
    return sympy.Pow(base, exponent)


@functools.lru_cache(maxsize=4_096)
def to_sympy(node: tuple) -> sympy.Expr:
    """Convert a scalar tree to a sympy expression (cached: golds repeat across checks).

    Args:
        node: A scalar tree from :func:`.mathparse.parse_math`.

    Returns:
        The sympy expression.

    Raises:
        Unsupported: For node kinds without a scalar meaning or breaking a size bound.
    """
    tag = node[0]
    if tag == "n":
        value: Fraction = node[1]
        return sympy.Rational(value.numerator, value.denominator)
    if tag == "s":
        return sympy.Symbol(node[1])
    if tag == "c":
        return _CONSTANTS[node[1]]
    if tag == "+":
        return sympy.Add(*(to_sympy(term) for term in node[1]))
    if tag == "*":
        return sympy.Mul(*(to_sympy(factor) for factor in node[1]))
    if tag == "neg":
        return -to_sympy(node[1])
    if tag == "/":
        return to_sympy(node[1]) / to_sympy(node[2])
    if tag == "^":
        return _power(to_sympy(node[1]), to_sympy(node[2]))
    if tag == "%":
        return to_sympy(node[1]) / 100
    if tag == "f":
        return _function(node[1], [to_sympy(arg) for arg in node[2]])
    raise Unsupported(tag)


def _function(name: str, args: list[sympy.Expr]) -> sympy.Expr:
    if name in _FUNCTIONS:
        return _FUNCTIONS[name](args[0])
    if name == "log":
        return sympy.log(*args)
    if name == "root":
        return sympy.root(args[0], args[1])
    if name == "fact":
        if isinstance(args[0], sympy.Integer) and int(args[0]) > 20_000:
            raise Unsupported("factorial too large")
        return sympy.factorial(args[0])
    if name == "binom":
        if isinstance(args[0], sympy.Integer) and int(args[0]) > 10**6:
            raise Unsupported("binomial too large")
        return sympy.binomial(args[0], args[1])
    raise Unsupported(name)


def decide(gold: tuple, pred: tuple) -> bool | None:
    """Whether two scalar trees are equal by sympy: difference, simplification, ``equals``.

    Returns:
        True or False when sympy decides, None when the trees cannot be converted.
    """
    try:
        gold_expr, pred_expr = to_sympy(gold), to_sympy(pred)
    except (Unsupported, KeyError, ValueError, TypeError, ZeroDivisionError):
        return None
    difference = gold_expr - pred_expr
    if difference == 0:
        return True
    simplified = sympy.simplify(difference)
    if simplified == 0:
        return True
    if simplified.is_number and simplified.is_zero is False:
        return False
    equal = gold_expr.equals(pred_expr)
    return bool(equal) if equal is not None else False
