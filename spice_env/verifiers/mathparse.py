"""A safe parser for LaTeX and plain-text math answers.

Model text is untrusted, so nothing here evaluates code: a whitelisting tokenizer feeds a
recursive-descent parser that builds a small immutable tree of tuples (no sympy objects, no
``eval``/``sympify``/``parse_expr``). The tree is hashable (it is cached and sent to the worker
process) and is evaluated by :mod:`.evaluate` and converted to sympy by :mod:`._symbolic`.

Node shapes (first item is the tag):

- ``("n", Fraction, is_decimal)`` number; ``("big", digits, scale)`` a number too long to
  build (``int(digits) * 10**scale``, compared as written); ``("s", name)`` symbol; ``("c", name)`` constant
  (``pi``, ``e``, ``i``, ``inf``); ``("text", words)`` a ``\\text{...}`` answer.
- ``("+", terms)``, ``("*", factors)``, ``("neg", x)``, ``("/", a, b)``, ``("^", a, b)``,
  ``("%", x)`` percent, ``("f", name, args)`` function call.
- ``("rel", op, a, b)`` and ``("chain", ops, items)`` for relations (``=``, ``<``, ``<=``,
  ``approx``...); ``("ratio", items)`` for ``a:b``.
- ``("tuple", items)``, ``("set", items)``, ``("list", items)`` (bare commas),
  ``("interval", left_closed, a, b, right_closed)``, ``("union", items)``, ``("pm", a, b)``.
"""

from __future__ import annotations

import re
from fractions import Fraction

from .normalize import brace_pairs

__all__ = ["ParseError", "TooLargeToParse", "free_symbols", "iter_nodes", "parse_math"]


def _split_names(names: str) -> list[str]:
    """Whitespace-separated names, written as one string for readability."""
    return names.split()


class ParseError(ValueError):
    """The text is not a math answer this parser understands (or breaks a size bound)."""


class TooLargeToParse(ParseError):
    """The text breaks a size bound (too many tokens, too deep): refused, not misread."""


# --- tokenizer -------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+(?![A-Za-z]))?|\.\d+)
  | (?P<env>\\(?:begin|end)\s*\{[A-Za-z]+\*?\})
  | (?P<rowsep>\\\\)
  | (?P<cmd>\\[A-Za-z]+|\\[{}%|#&_,;:!\ ])
  | (?P<pow>\*\*)
  | (?P<le><=|>=|!=|\u2260|\u2248)
  | (?P<op>[-+*/^_()\[\]{},=<>!|%':;&])
  | (?P<ident>[^\W\d_])
    """,
    re.VERBOSE,
)
_WORD_RUN = re.compile(r"[A-Za-z]+")
_NUMERAL = re.compile(r"(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?")
_THOUSANDS_GROUPS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d*)?(?:[eE][+-]?\d+)?")
# siunitx: \num{1.2e5}, \SI{3}{\metre}, \qty{3}{m}; \si{m} alone is a unit and is dropped.
_NUMBER_COMMANDS = frozenset(_split_names(r"\num \SI \qty"))
_UNIT_COMMANDS = frozenset(_split_names(r"\si \unit"))
# Commands whose braced argument is plain text, read raw rather than parsed.
_TEXT_COMMANDS = frozenset(
    _split_names(
        r"\text \textbf \textit \textrm \texttt \textsf \mbox \mathrm \operatorname \textnormal"
    )
)
# Commands that only change the font of their argument; the argument is parsed as math.
_FONT_COMMANDS = frozenset(
    _split_names(r"\mathbf \mathit \boldsymbol \bm \mathsf \mathtt \mathcal \mathbb")
)
_IGNORED_COMMANDS = frozenset(
    _split_names(r"\left \right \big \Big \bigl \bigr \Bigl \Bigr \displaystyle \textstyle")
    + _split_names(r"\, \; \: \! \quad \qquad \circ \limits \nolimits \mathop")
) | {"\\ "}
_FUNCTIONS = frozenset(
    _split_names("sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh log ln lg exp")
)
_PLAIN_WORDS = {
    "sqrt": ("cmd", "\\sqrt"),
    "pi": ("cmd", "\\pi"),
    "infinity": ("cmd", "\\infty"),
    "inf": ("cmd", "\\infty"),
    "oo": ("cmd", "\\infty"),
    "abs": ("cmd", "\\abs"),
    "floor": ("cmd", "\\floor"),
    "ceil": ("cmd", "\\ceil"),
    "binom": ("cmd", "\\binom"),
    **{name: ("cmd", "\\" + name) for name in _FUNCTIONS},
}
_RELATIONS = {
    "=": "=",
    "<": "<",
    ">": ">",
    "<=": "<=",
    ">=": ">=",
    "!=": "!=",
    "\u2260": "!=",
    "\\le": "<=",
    "\\leq": "<=",
    "\\leqslant": "<=",
    "\\ge": ">=",
    "\\geq": ">=",
    "\\geqslant": ">=",
    "\\ne": "!=",
    "\\neq": "!=",
    "\\lt": "<",
    "\\gt": ">",
    "\\approx": "approx",
    "\u2248": "approx",
    "\\equiv": "=",
    "\\in": "in",
    "\\to": "=",
    "\\rightarrow": "=",
    "\\Rightarrow": "=",
}
_MUL_COMMANDS = frozenset(_split_names(r"\times \cdot \ast \cdotp"))
_CONSTANTS = {"\\pi": "pi", "\\infty": "inf", "\\imath": "i", "\\i": "i", "\\e": "e"}
_MATRIX_ENVIRONMENTS = frozenset(
    _split_names("pmatrix bmatrix Bmatrix matrix smallmatrix array vmatrix Vmatrix")
)
_ELLIPSIS = frozenset(_split_names(r"\ldots \dots \cdots \dotsc \dotsb \vdots"))
_EMPTY_SET = frozenset(_split_names(r"\emptyset \varnothing"))
_ABS_OPEN = frozenset(_split_names(r"\lvert \vert \lVert \Vert \|"))
_ABS_CLOSE = frozenset(_split_names(r"\rvert \vert \rVert \Vert \|"))


class _Braces:
    """Brace pairs of one text, found in one pass the first time they are needed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._pairs: dict[int, int] | None = None

    def raw(self, start: int) -> tuple[str, int]:
        """Raw text inside the braces opening at ``start``; returns (content, index after '}')."""
        if self._pairs is None:
            self._pairs = brace_pairs(self.text)
        end = self._pairs.get(start)
        if end is None:
            raise ParseError("unbalanced braces")
        return self.text[start + 1 : end], end + 1


def _braced_argument(braces: _Braces, pos: int, command: str) -> tuple[str, int]:
    text = braces.text
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos >= len(text) or text[pos] != "{":
        raise ParseError(f"{command} without braces")
    return braces.raw(pos)


def _siunitx_number(content: str) -> str:
    """The numeral inside ``\\num{...}``: spaces and thin spaces dropped, ``1,5`` read as 1.5."""
    content = re.sub(r"\s+|\\[,;!: ]|\{,\}|\{\}", "", content)
    if _THOUSANDS_GROUPS.fullmatch(content):
        content = content.replace(",", "")
    content = content.replace(",", ".").lstrip("+")
    if not content or _NUMERAL.fullmatch(content) is None or not any(c.isdigit() for c in content):
        raise ParseError("\\num without a number")
    return content


def tokenize(text: str, max_tokens: int) -> list[tuple[str, str]]:
    """Split ``text`` into whitelisted tokens; anything else is a ``ParseError``."""
    tokens: list[tuple[str, str]] = []
    braces = _Braces(text)
    pos = 0
    n = len(text)
    while pos < n:
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ParseError(f"unexpected character {text[pos]!r}")
        kind = match.lastgroup
        value = match.group(0)
        pos = match.end()
        if kind == "ws":
            continue
        if kind == "env":
            name = value[value.index("{") + 1 : -1].rstrip("*")
            kind = "begin" if value.startswith("\\begin") else "end"
            value = name
            if kind == "begin" and name == "array" and text.startswith("{", pos):
                _, pos = braces.raw(pos)  # the column spec, e.g. {cc}
        if kind == "cmd" and value in _TEXT_COMMANDS:
            while pos < n and text[pos].isspace():
                pos += 1
            if pos < n and text[pos] == "{":
                content, pos = braces.raw(pos)
                tokens.append(("text", content))
                continue
            raise ParseError(f"{value} without braces")
        if kind == "cmd" and (value in _NUMBER_COMMANDS or value in _UNIT_COMMANDS):
            content, pos = _braced_argument(braces, pos, value)
            if value in _UNIT_COMMANDS:
                continue
            if value != "\\num":
                _, pos = _braced_argument(braces, pos, value)  # the unit
            tokens.append(("num", _siunitx_number(content)))
            continue
        if kind == "cmd" and (value in _FONT_COMMANDS or value in _IGNORED_COMMANDS):
            continue
        if kind == "ident":
            # Plain-text function names ("sqrt(2)", "pi") are read as whole words; any other
            # run of letters is a product of one-letter symbols, as in LaTeX.
            word_match = _WORD_RUN.match(text, match.start())
            word = word_match.group(0) if word_match else ""
            if word.lower() in _PLAIN_WORDS and (
                match.start() == 0 or not text[match.start() - 1].isalpha()
            ):
                tokens.append(_PLAIN_WORDS[word.lower()])
                pos = match.start() + len(word)
                continue
        if kind == "le":
            kind = "op"
        if kind == "pow":
            kind, value = "op", "^"
        tokens.append((kind, value))
        if len(tokens) > max_tokens:
            raise TooLargeToParse("too many tokens")
    return tokens


# --- parser ----------------------------------------------------------------------------------


def _number(text: str, max_digits: int) -> tuple:
    """A number literal as a node, its size known before any integer is built.

    ``("n", Fraction, is_decimal)`` when its exact value has at most ``max_digits`` digits;
    otherwise ``("big", digits, scale)`` for ``int(digits) * 10**scale`` (digits without
    leading or trailing zeros), which compares by its written value and is never built.
    """
    match = _NUMERAL.fullmatch(text)
    if match is None or not any(c.isdigit() for c in text):
        raise ParseError(f"bad number {text[:20]!r}")
    whole, fraction, exponent = match.group(1), match.group(2) or "", match.group(3)
    is_decimal = "." in text or exponent is not None
    if exponent is not None and len(exponent.lstrip("+-")) > 30:
        raise TooLargeToParse("exponent has too many digits")
    scale = (int(exponent) if exponent else 0) - len(fraction)
    digits = (whole + fraction).lstrip("0")
    if not digits:
        return ("n", Fraction(0), is_decimal)
    significant = digits.rstrip("0")
    scale += len(digits) - len(significant)
    if len(significant) + abs(scale) > max_digits:
        return ("big", significant, scale)
    value = Fraction(int(significant))
    value = value * 10**scale if scale >= 0 else value / 10**-scale
    return ("n", value, is_decimal)


def _mul(factors: list) -> tuple:
    return factors[0] if len(factors) == 1 else ("*", tuple(factors))


class _Parser:
    """Recursive descent over the token list; one instance per parse (not thread-shared)."""

    def __init__(self, tokens: list[tuple[str, str]], max_depth: int, max_digits: int) -> None:
        self.tokens = tokens
        self.max_digits = max_digits
        self.pos = 0
        self.max_depth = max_depth
        self.depth = 0
        self.abs_depth = 0

    # token helpers
    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def next(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ParseError("unexpected end")
        self.pos += 1
        return token

    def at(self, *values: str) -> bool:
        token = self.peek()
        return token is not None and token[1] in values and token[0] in ("op", "cmd")

    def expect(self, *values: str) -> str:
        token = self.next()
        if token[1] not in values:
            raise ParseError(f"expected {values}, got {token[1]!r}")
        return token[1]

    def number(self, text: str) -> tuple:
        return _number(text, self.max_digits)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise TooLargeToParse("nesting too deep")

    # grammar
    def parse_top(self) -> tuple:
        # Commas separate items; semicolons separate groups ("p=5,q=2;p=7,q=2" is two pairs).
        groups: list[list[tuple]] = [[self.parse_relation()]]
        grouped = False
        while self.at(",", ";"):
            separator = self.next()[1]
            if self.peek() is None:
                break  # a trailing comma
            if separator == ";":
                groups.append([])
                grouped = True
            groups[-1].append(self.parse_relation())
        if self.peek() is not None:
            raise ParseError(f"unexpected {self.peek()[1]!r}")
        if grouped and any(len(group) > 1 for group in groups):
            parts = [group[0] if len(group) == 1 else ("list", tuple(group)) for group in groups]
        else:
            parts = [item for group in groups for item in group]
        return parts[0] if len(parts) == 1 else ("list", tuple(parts))

    def parse_relation(self) -> tuple:
        self.enter()
        items = [self.parse_ratio()]
        ops: list[str] = []
        while True:
            token = self.peek()
            if token is None or token[1] not in _RELATIONS or token[0] not in ("op", "cmd"):
                break
            self.next()
            ops.append(_RELATIONS[token[1]])
            items.append(self.parse_ratio())
        self.depth -= 1
        if not ops:
            return items[0]
        if len(ops) == 1:
            return ("rel", ops[0], items[0], items[1])
        return ("chain", tuple(ops), tuple(items))

    def parse_ratio(self) -> tuple:
        """``a : b`` (ratios, clock times) binds looser than arithmetic, tighter than ``=``."""
        items = [self.parse_union()]
        while self.at(":"):
            self.next()
            items.append(self.parse_union())
        return items[0] if len(items) == 1 else ("ratio", tuple(items))

    def parse_union(self) -> tuple:
        items = [self.parse_pm()]
        while self.at("\\cup"):
            self.next()
            items.append(self.parse_pm())
        return items[0] if len(items) == 1 else ("union", tuple(items))

    def parse_pm(self) -> tuple:
        if self.at("\\pm", "\\mp"):
            self.next()
            return ("pm", None, self.parse_additive())
        left = self.parse_additive()
        if self.at("\\pm", "\\mp"):
            self.next()
            return ("pm", left, self.parse_additive())
        return left

    def parse_additive(self) -> tuple:
        terms = [self.parse_term()]
        while self.at("+", "-"):
            op = self.next()[1]
            term = self.parse_term()
            terms.append(term if op == "+" else ("neg", term))
        return terms[0] if len(terms) == 1 else ("+", tuple(terms))

    def starts_atom(self) -> bool:
        token = self.peek()
        if token is None:
            return False
        kind, value = token
        if kind in ("num", "ident", "text", "begin"):
            return True
        if kind in ("end", "rowsep"):
            return False
        if kind == "op":
            if value == "|":
                return self.abs_depth == 0
            return value in ("(", "[", "{")
        if value in _RELATIONS or value in _MUL_COMMANDS or value in ("\\div", "\\pm", "\\mp"):
            return False
        if value in ("\\cup", "\\}", "\\rfloor", "\\rceil", "\\%", "\\over"):
            return False
        return not (value in _ABS_CLOSE and self.abs_depth > 0)

    def parse_term(self) -> tuple:
        factors = [self.parse_unary()]
        while True:
            if self.at("*", *_MUL_COMMANDS):
                self.next()
                factors.append(self.parse_unary())
            elif self.at("/", "\\div", "\\over"):
                self.next()
                factors = [("/", _mul(factors), self.parse_unary())]
            elif self.starts_atom():
                factors.append(self.parse_power())
            else:
                break
        return _mul(factors)

    def parse_unary(self) -> tuple:
        if self.at("-"):
            self.next()
            self.enter()
            node = ("neg", self.parse_unary())
            self.depth -= 1
            return node
        if self.at("+"):
            self.next()
            return self.parse_unary()
        return self.parse_power()

    def parse_power(self) -> tuple:
        base = self.parse_postfix()
        if self.at("^"):
            self.next()
            return self.parse_postfix_ops(("^", base, self.parse_exponent()))
        return base

    def parse_exponent(self) -> tuple:
        self.enter()
        if self.at("-", "+"):
            sign = self.next()[1]
            inner = self.parse_exponent()
            node = ("neg", inner) if sign == "-" else inner
        else:
            node = self.parse_postfix()
            if self.at("^"):
                self.next()
                node = ("^", node, self.parse_exponent())
        self.depth -= 1
        return node

    def parse_postfix(self) -> tuple:
        return self.parse_postfix_ops(self.parse_atom())

    def parse_postfix_ops(self, node: tuple) -> tuple:
        while True:
            if self.at("!"):
                self.next()
                node = ("f", "fact", (node,))
            elif self.at("%", "\\%"):
                self.next()
                node = ("%", node)
            elif self.at("'"):
                self.next()
                if node[0] != "s":
                    raise ParseError("prime on a non-symbol")
                node = ("s", node[1] + "'")
            elif self.at("_"):
                self.next()
                node = self.subscript(node)
            else:
                return node

    def subscript(self, node: tuple) -> tuple:
        token = self.next()
        if token[1] == "{" and token[0] == "op":
            depth, parts = 1, []
            while True:
                inner = self.next()
                if inner[1] == "{" and inner[0] == "op":
                    depth += 1
                elif inner[1] == "}" and inner[0] == "op":
                    depth -= 1
                    if depth == 0:
                        break
                parts.append(inner[1])
            label = "".join(parts)
        else:
            label = token[1]
        if node[0] == "s":
            return ("s", f"{node[1]}_{label}")
        if node[0] == "n":
            # A numeral with a base, such as 52_8, is kept as an opaque atom.
            return ("s", f"{_format_number(node)}_{label}")
        raise ParseError("subscript on an expression")

    def parse_group(self, close: str) -> tuple:
        """Parse up to the matching ``close`` token; commas make a list."""
        self.enter()
        items = [self.parse_relation()]
        while self.at(","):
            self.next()
            items.append(self.parse_relation())
        self.expect(close)
        self.depth -= 1
        return items[0] if len(items) == 1 else ("list", tuple(items))

    def parse_arg(self) -> tuple:
        """A macro argument: ``{...}`` or a single token (``\\frac12`` is 1/2)."""
        token = self.peek()
        if token is None:
            raise ParseError("missing argument")
        if token == ("op", "{"):
            self.next()
            return self.parse_group("}")
        if token[0] == "num" and len(token[1]) > 1:
            self.tokens[self.pos] = ("num", token[1][1:])
            return self.number(token[1][0])
        return self.parse_atom()

    def parse_atom(self) -> tuple:
        self.enter()
        node = self._atom()
        self.depth -= 1
        return node

    def _atom(self) -> tuple:
        kind, value = self.next()
        if kind == "num":
            return self.number(value)
        if kind == "ident":
            if value == "e":
                return ("c", "e")
            if value == "i":
                return ("c", "i")
            return ("s", value)
        if kind == "text":
            return self.text_atom(value)
        if kind == "begin":
            return self.matrix(value)
        if kind == "op":
            return self.op_atom(value)
        return self.command_atom(value)

    def matrix(self, environment: str) -> tuple:
        """``\\begin{pmatrix} a & b \\\\ c & d \\end{pmatrix}`` as a tuple of row tuples."""
        if environment not in _MATRIX_ENVIRONMENTS:
            raise ParseError(f"unsupported environment {environment}")
        self.enter()
        rows: list[tuple] = []
        row: list[tuple] = []
        while True:
            token = self.peek()
            if token is None:
                raise ParseError("unclosed environment")
            if token[0] == "end":
                self.next()
                break
            if token[0] == "rowsep":
                self.next()
                if row:
                    rows.append(tuple(row))
                row = []
                continue
            if token == ("op", "&"):
                self.next()
                continue
            row.append(self.parse_relation())
        if row:
            rows.append(tuple(row))
        self.depth -= 1
        if not rows or len({len(r) for r in rows}) != 1:
            raise ParseError("ragged or empty matrix")
        return ("matrix", tuple(rows))

    def text_atom(self, content: str) -> tuple:
        words = " ".join(content.split())
        if not words:
            if self.starts_atom():
                return self.parse_power()
            return ("text", "")
        if re.fullmatch(r"[+-]?\d+(?:\.\d+)?", words):
            node = self.number(words.lstrip("+-"))
            return ("neg", node) if words.startswith("-") else node
        if words in ("e", "i"):
            return ("c", words)
        if words.lower() in _FUNCTIONS:
            return self.function(words.lower())
        return ("text", words)

    def op_atom(self, value: str) -> tuple:
        if value in ("(", "["):
            return self.bracketed(value)
        if value == "{":
            return self.parse_group("}")
        if value == "|":
            self.abs_depth += 1
            inner = self.parse_relation()
            self.expect("|")
            self.abs_depth -= 1
            return ("f", "abs", (inner,))
        raise ParseError(f"unexpected {value!r}")

    def bracketed(self, opener: str) -> tuple:
        self.enter()
        if self.at(")", "]"):
            raise ParseError("empty brackets")
        items = [self.parse_relation()]
        while self.at(",", ";"):
            self.next()
            items.append(self.parse_relation())
        closer = self.expect(")", "]")
        self.depth -= 1
        if len(items) == 1:
            if opener == closer.replace(")", "(").replace("]", "["):
                return items[0]
            raise ParseError("mismatched brackets around one item")
        if len(items) == 2 and (opener == "[" or closer == "]"):
            return ("interval", opener == "[", items[0], items[1], closer == "]")
        return ("tuple", tuple(items))

    def command_atom(self, value: str) -> tuple:
        if value in ("\\frac", "\\dfrac", "\\tfrac", "\\cfrac"):
            numerator = self.parse_arg()
            return ("/", numerator, self.parse_arg())
        if value in ("\\binom", "\\dbinom", "\\tbinom", "\\choose"):
            top = self.parse_arg()
            return ("f", "binom", (top, self.parse_arg()))
        if value == "\\sqrt":
            index = None
            if self.at("["):
                self.next()
                index = self.parse_group("]")
            if self.at("("):
                self.next()
                radicand = self.parse_group(")")
            else:
                radicand = self.parse_arg()
            if index is None:
                return ("f", "sqrt", (radicand,))
            return ("f", "root", (radicand, index))
        if value in _CONSTANTS:
            return ("c", _CONSTANTS[value])
        if value == "\\{":
            if self.at("\\}"):
                self.next()
                return ("set", ())
            inner = self.parse_group("\\}")
            return ("set", inner[1] if inner[0] == "list" else (inner,))
        if value in _EMPTY_SET:
            return ("set", ())
        if value in ("\\lfloor", "\\lceil"):
            inner = self.parse_relation()
            self.expect("\\rfloor" if value == "\\lfloor" else "\\rceil")
            return ("f", "floor" if value == "\\lfloor" else "ceil", (inner,))
        if value in _ABS_OPEN:
            self.abs_depth += 1
            inner = self.parse_relation()
            self.expect(*_ABS_CLOSE)
            self.abs_depth -= 1
            return ("f", "abs", (inner,))
        if value in ("\\abs", "\\floor", "\\ceil"):
            return ("f", value[1:], (self.parse_arg(),))
        if value[1:] in _FUNCTIONS:
            return self.function(value[1:])
        if value in _ELLIPSIS:
            return ("s", "...")
        if value in _RELATIONS or value in _MUL_COMMANDS or value in ("\\}", "\\%"):
            raise ParseError(f"unexpected {value}")
        if len(value) == 2 and not value[1].isalpha():
            raise ParseError(f"unexpected {value}")
        # Greek letters and other named symbols (\alpha, \angle, ...) are opaque symbols.
        return ("s", value[1:])

    def function(self, name: str) -> tuple:
        power = None
        base = None
        for _ in range(2):
            if self.at("^"):
                self.next()
                power = self.parse_exponent()
            elif self.at("_") and name == "log":
                self.next()
                base = self.parse_arg()
        if self.at("("):
            self.next()
            argument = self.parse_group(")")
        elif self.at("{"):
            self.next()
            argument = self.parse_group("}")
        else:
            # "\sin x", "\log 2": the argument binds like a power (\sin 2x is sin(2)*x here).
            argument = self.parse_power()
        if name == "lg":
            name, base = "log", ("n", Fraction(10), False)
        call = ("f", name, (argument,) if base is None else (argument, base))
        return call if power is None else ("^", call, power)


def _format_number(node: tuple) -> str:
    if node[0] != "n":
        raise ParseError("subscript on a number too large to write")
    value = node[1]
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value.numerator}/{value.denominator}"


def parse_math(
    text: str, *, max_depth: int = 60, max_tokens: int = 2_000, max_digits: int = 4_000
) -> tuple:
    """Parse a cleaned math answer into a tree (see the module docstring).

    Args:
        text: A math answer, LaTeX or plain text, such as ``"\\frac{3}{4}x^2 + 1"``.
        max_depth: Deepest nesting accepted.
        max_tokens: Most tokens accepted.
        max_digits: Number literals whose exact value needs more digits (``2e999999999``)
            become ``("big", digits, scale)`` nodes instead of being built.

    Returns:
        The tree.

    Raises:
        ParseError: The text is empty or malformed; :class:`TooLargeToParse` when it breaks
            a bound.
    """
    tokens = tokenize(text, max_tokens)
    if not tokens:
        raise ParseError("empty")
    try:
        return _Parser(tokens, max_depth, max_digits).parse_top()
    except RecursionError as exc:  # a safety net; the depth bound normally fires first
        raise TooLargeToParse("nesting too deep") from exc


def iter_nodes(node: object):
    """Yield every node of a tree, depth first (groups of children are flattened)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if not isinstance(current, tuple) or not current:
            continue
        if isinstance(current[0], str):
            yield current
            stack.extend(child for child in current[1:] if isinstance(child, tuple))
        else:
            stack.extend(current)


def free_symbols(node: tuple) -> set[str]:
    """Names of the symbols in a tree."""
    return {current[1] for current in iter_nodes(node) if current[0] == "s"}
