"""Bounded evaluation of parsed answers: exact rationals and complex floats.

Both evaluators run in-process, so every operation is bounded: exact integers never grow past
``max_bits`` (checked *before* computing a power or a factorial) and floats overflow instead of
growing. Anything they cannot do raises :class:`NotEvaluable` and the caller moves on to the
next strategy.
"""

from __future__ import annotations

import cmath
import math
from fractions import Fraction

__all__ = ["NotEvaluable", "TooLarge", "complex_value", "exact_value", "has_decimal"]


class NotEvaluable(ValueError):
    """This evaluator cannot give a value for the tree (symbols, irrationals, domain errors)."""


class TooLarge(NotEvaluable):
    """An exact value would exceed the size bound (exponent towers, giant factorials)."""


def _bits(value: Fraction) -> int:
    return max(abs(value.numerator).bit_length(), value.denominator.bit_length(), 1)


def _exact_root(value: Fraction, degree: int) -> Fraction:
    """The exact ``degree``-th root of a rational, or NotEvaluable when it is irrational."""
    if value < 0:
        if degree % 2 == 0:
            raise NotEvaluable("even root of a negative number")
        return -_exact_root(-value, degree)
    roots = []
    for part in (value.numerator, value.denominator):
        guess = round(part ** (1.0 / degree)) if part.bit_length() < 1000 else None
        if guess is None:
            raise NotEvaluable("root of a huge number")
        for candidate in (guess - 1, guess, guess + 1):
            if candidate >= 0 and candidate**degree == part:
                roots.append(candidate)
                break
        else:
            raise NotEvaluable("irrational root")
    return Fraction(roots[0], roots[1])


def _exact_power(base: Fraction, exponent: Fraction, max_bits: int) -> Fraction:
    if exponent.denominator != 1:
        if exponent.denominator > 12:
            raise NotEvaluable("root of high degree")
        base = _exact_root(base, exponent.denominator)
        exponent = Fraction(exponent.numerator)
    power = exponent.numerator
    if base == 0:
        if power < 0:
            raise NotEvaluable("zero to a negative power")
        return Fraction(int(power == 0))
    if abs(base) == 1:
        return base ** (power % 2) if base < 0 else Fraction(1)
    if _bits(base) * abs(power) > max_bits:
        raise TooLarge("power too large")
    return base**power


def _exact_factorial(value: Fraction, max_bits: int) -> Fraction:
    if value.denominator != 1 or value < 0:
        raise NotEvaluable("factorial of a non-natural number")
    n = value.numerator
    if n > 100_000 or math.lgamma(n + 1) / math.log(2) > max_bits:
        raise TooLarge("factorial too large")
    return Fraction(math.factorial(n))


def _exact_binomial(top: Fraction, bottom: Fraction, max_bits: int) -> Fraction:
    if top.denominator != 1 or bottom.denominator != 1 or top < 0:
        raise NotEvaluable("binomial of non-natural numbers")
    n, k = top.numerator, bottom.numerator
    if k < 0 or k > n:
        return Fraction(0)
    if n > 10**7:
        raise TooLarge("binomial too large")
    log_size = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
    if log_size / math.log(2) > max_bits:
        raise TooLarge("binomial too large")
    return Fraction(math.comb(n, k))


def exact_value(node: tuple, max_bits: int = 20_000) -> Fraction:
    """Evaluate a tree to an exact rational.

    Args:
        node: A parsed answer.
        max_bits: Bound on the size of any intermediate integer.

    Returns:
        The value as a ``Fraction``.

    Raises:
        NotEvaluable: The value is not a rational this evaluator can reach (symbols, pi,
            irrational roots, relations...). ``TooLarge`` when only the size bound stopped it.
    """
    tag = node[0]
    if tag == "n":
        return node[1]
    if tag == "big":
        raise TooLarge("number too long to build")
    if tag == "+":
        total = Fraction(0)
        for term in node[1]:
            total += exact_value(term, max_bits)
            if _bits(total) > max_bits:
                raise TooLarge("sum too large")
        return total
    if tag == "*":
        product = Fraction(1)
        for factor in node[1]:
            product *= exact_value(factor, max_bits)
            if _bits(product) > max_bits:
                raise TooLarge("product too large")
        return product
    if tag == "neg":
        return -exact_value(node[1], max_bits)
    if tag == "/":
        numerator = exact_value(node[1], max_bits)
        denominator = exact_value(node[2], max_bits)
        if denominator == 0:
            raise NotEvaluable("division by zero")
        quotient = numerator / denominator
        if _bits(quotient) > max_bits:
            raise TooLarge("quotient too large")
        return quotient
    if tag == "^":
        base = exact_value(node[1], max_bits)
        return _exact_power(base, exact_value(node[2], max_bits), max_bits)
    if tag == "f":
        return _exact_function(node[1], node[2], max_bits)
    raise NotEvaluable(f"no exact value for {tag}")


def _exact_function(name: str, args: tuple, max_bits: int) -> Fraction:
    values = [exact_value(arg, max_bits) for arg in args]
    if name == "sqrt":
        return _exact_root(values[0], 2)
    if name == "root":
        degree = values[1]
        if degree.denominator != 1 or not 1 <= degree <= 12:
            raise NotEvaluable("unsupported root degree")
        return _exact_root(values[0], degree.numerator)
    if name == "abs":
        return abs(values[0])
    if name == "floor":
        return Fraction(math.floor(values[0]))
    if name == "ceil":
        return Fraction(math.ceil(values[0]))
    if name == "fact":
        return _exact_factorial(values[0], max_bits)
    if name == "binom":
        return _exact_binomial(values[0], values[1], max_bits)
    raise NotEvaluable(f"no exact value for {name}")


def has_decimal(node: tuple) -> bool:
    """Whether a tree contains a decimal literal (then rounding tolerance applies)."""
    from .mathparse import iter_nodes

    return any(current[0] == "n" and current[2] for current in iter_nodes(node))


# --- complex floating-point evaluation ------------------------------------------------------

_LIMIT = 1e200  # values beyond this are treated as overflow, far from float's 1.8e308


def _checked(value: complex) -> complex:
    if cmath.isnan(value) or cmath.isinf(value) or abs(value) > _LIMIT:
        raise NotEvaluable("overflow")
    return value


def _real(value: complex) -> float:
    if abs(value.imag) > 1e-12 * max(1.0, abs(value.real)):
        raise NotEvaluable("complex argument to a real function")
    return value.real


_COMPLEX_FUNCTIONS = {
    "sin": cmath.sin,
    "cos": cmath.cos,
    "tan": cmath.tan,
    "cot": lambda z: 1 / cmath.tan(z),
    "sec": lambda z: 1 / cmath.cos(z),
    "csc": lambda z: 1 / cmath.sin(z),
    "arcsin": cmath.asin,
    "arccos": cmath.acos,
    "arctan": cmath.atan,
    "sinh": cmath.sinh,
    "cosh": cmath.cosh,
    "tanh": cmath.tanh,
    "exp": cmath.exp,
    "ln": cmath.log,
    "sqrt": cmath.sqrt,
    "abs": lambda z: complex(abs(z)),
    "floor": lambda z: complex(math.floor(_real(z))),
    "ceil": lambda z: complex(math.ceil(_real(z))),
}


_PERIODIC_OR_EXPONENTIAL = frozenset(
    ("sin", "cos", "tan", "cot", "sec", "csc", "exp", "sinh", "cosh", "tanh")
)


def _complex_function(name: str, args: list[complex]) -> complex:
    if name in _COMPLEX_FUNCTIONS:
        # Huge arguments lose all float precision (sin(10^100)) or overflow (exp).
        if name in _PERIODIC_OR_EXPONENTIAL and abs(args[0]) > 1e4:
            raise NotEvaluable("argument too large")
        return _COMPLEX_FUNCTIONS[name](args[0])
    if name == "log":
        if len(args) == 1:
            return cmath.log(args[0])
        return cmath.log(args[0]) / cmath.log(args[1])
    if name == "root":
        return _power(args[0], 1 / args[1])
    if name == "fact":
        x = _real(args[0])
        if x > 170 or (x < 0 and x == int(x)):
            raise NotEvaluable("factorial out of range")
        return complex(math.gamma(x + 1))
    if name == "binom":
        n, k = _real(args[0]), _real(args[1])
        if n > 1e6 or k > 1e6:
            raise NotEvaluable("binomial out of range")
        if n == int(n) and k == int(k) and n >= 0:
            if k < 0 or k > n:
                return 0j
            return complex(
                math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1))
            )
        return complex(math.gamma(n + 1) / (math.gamma(k + 1) * math.gamma(n - k + 1)))
    raise NotEvaluable(f"unknown function {name}")


def _power(base: complex, exponent: complex) -> complex:
    if exponent.imag == 0 and exponent.real == int(exponent.real) and abs(exponent.real) < 10_000:
        if base == 0 and exponent.real < 0:
            raise NotEvaluable("zero to a negative power")
        return _checked(base ** int(exponent.real))
    if base.imag == 0 and base.real > 0 and exponent.imag == 0:
        if exponent.real * math.log(base.real) > 460:
            raise NotEvaluable("overflow")
        return complex(base.real**exponent.real)
    if base.imag == 0 and base.real < 0 and exponent.imag == 0:
        # Real odd roots of negatives (the cube root of -8 is -2), as a reader expects.
        ratio = Fraction(exponent.real).limit_denominator(12)
        if abs(float(ratio) - exponent.real) < 1e-12 and ratio.denominator % 2 == 1:
            magnitude = (-base.real) ** exponent.real
            return complex(-magnitude if ratio.numerator % 2 else magnitude)
    if base == 0:
        return 0j
    return _checked(base**exponent)


_CONSTANT_VALUES = {"pi": complex(math.pi), "e": complex(math.e), "i": 1j}


def complex_value(node: tuple, env: dict[str, complex]) -> complex:
    """Evaluate a tree with complex floats, symbols taken from ``env``.

    Args:
        node: A parsed scalar answer.
        env: Values for the free symbols.

    Returns:
        The value.

    Raises:
        NotEvaluable: Overflow, domain errors, infinities, text, relations or collections.
    """
    try:
        return _checked(_complex_value(node, env))
    except (ArithmeticError, ValueError, TypeError) as exc:
        if isinstance(exc, NotEvaluable):
            raise
        raise NotEvaluable(str(exc)) from exc


def _complex_value(node: tuple, env: dict[str, complex]) -> complex:
    tag = node[0]
    if tag == "n":
        return complex(float(node[1]))
    if tag == "s":
        if node[1] not in env:
            raise NotEvaluable(f"unbound symbol {node[1]}")
        return env[node[1]]
    if tag == "c":
        if node[1] not in _CONSTANT_VALUES:
            raise NotEvaluable("infinity")
        return _CONSTANT_VALUES[node[1]]
    if tag == "+":
        return _checked(sum((_complex_value(term, env) for term in node[1]), 0j))
    if tag == "*":
        product = 1 + 0j
        for factor in node[1]:
            product = _checked(product * _complex_value(factor, env))
        return product
    if tag == "neg":
        return -_complex_value(node[1], env)
    if tag == "/":
        return _checked(_complex_value(node[1], env) / _complex_value(node[2], env))
    if tag == "^":
        return _power(_complex_value(node[1], env), _complex_value(node[2], env))
    if tag == "f":
        args = [_complex_value(arg, env) for arg in node[2]]
        return _checked(_complex_function(node[1], args))
    if tag == "%":
        return _complex_value(node[1], env) / 100
    raise NotEvaluable(f"cannot evaluate {tag}")
