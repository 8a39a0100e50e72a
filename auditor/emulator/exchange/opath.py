"""The OPATH subset of management scopes' RecipientRestrictionFilter.

Grammar (keywords and property names case-insensitive, comparisons case-insensitive):

    expr       := and_expr ("-or" and_expr)*
    and_expr   := not_expr ("-and" not_expr)*
    not_expr   := "-not" not_expr | "(" expr ")" | comparison
    comparison := PROPERTY ("-eq" | "-ne" | "-like") QUOTED

QUOTED is single-quoted ('' escapes a quote) or double-quoted. `-like` knows the `*` wildcard only.
Anything else raises `OpathError`, whose message says what is unsupported.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from auditor.emulator.exchange.directory import CUSTOM_ATTRIBUTES

PROPERTIES = {
    p.lower(): p
    for p in ("Alias", "Department", "PrimarySmtpAddress", "Name", "RecipientTypeDetails", *CUSTOM_ATTRIBUTES)
}
OPERATORS = ("-eq", "-ne", "-like")

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lparen>\() | (?P<rparen>\)) |
        '(?P<squote>(?:[^']|'')*)' |
        "(?P<dquote>[^"]*)" |
        (?P<op>-[A-Za-z]+) |
        (?P<word>[^\s()'"]+)
    )""",
    re.VERBOSE,
)


class OpathError(ValueError):
    """The filter is outside the supported subset."""


@dataclass(frozen=True)
class _Token:
    kind: str  # lparen | rparen | value | op | word
    text: str


@dataclass(frozen=True)
class Comparison:
    prop: str
    op: str
    value: str

    def evaluate(self, get: Callable[[str], str]) -> bool:
        actual = get(self.prop).casefold()
        if self.op == "-like":
            return self._like(actual)
        if self.op == "-notlike":  # Get-EXO* filters only (exo_filter.py), as -lt and -gt
            return not self._like(actual)
        expected = self.value.casefold()
        if self.op == "-eq":
            return actual == expected
        if self.op == "-ne":
            return actual != expected
        return actual < expected if self.op == "-lt" else actual > expected

    @functools.cached_property
    def _like(self) -> Callable[[str], bool]:
        """`-like` as one test, built once: the common shapes ('x*', '*x', '*x*', 'x') without a regular
        expression, any other through one."""
        expected = self.value.casefold()
        inner = expected.strip("*")
        if "*" not in inner:
            starts, ends = expected.startswith("*"), expected.endswith("*") and len(expected) > 1
            if starts and ends:
                return lambda actual: inner in actual
            if starts:
                return lambda actual: actual.endswith(inner)
            return (lambda actual: actual.startswith(inner)) if ends else (lambda actual: actual == inner)
        pattern = re.compile(".*".join(re.escape(part) for part in expected.split("*")), re.DOTALL)
        return lambda actual: pattern.fullmatch(actual) is not None


@dataclass(frozen=True)
class Not:
    operand: Node

    def evaluate(self, get: Callable[[str], str]) -> bool:
        return not self.operand.evaluate(get)


@dataclass(frozen=True)
class BoolOp:
    op: str  # -and | -or
    operands: tuple[Node, ...]

    def evaluate(self, get: Callable[[str], str]) -> bool:
        results = (o.evaluate(get) for o in self.operands)
        return all(results) if self.op == "-and" else any(results)


Node = Comparison | Not | BoolOp


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise OpathError(f"cannot read the filter at position {pos}: {text[pos : pos + 20]!r}")
        pos = m.end()
        kind = m.lastgroup or ""
        if kind == "squote":
            tokens.append(_Token("value", (m.group("squote") or "").replace("''", "'")))
        elif kind == "dquote":
            tokens.append(_Token("value", m.group("dquote") or ""))
        else:
            tokens.append(_Token(kind, m.group(kind)))
    return tokens


class _Parser:
    properties = PROPERTIES
    operators: tuple[str, ...] = OPERATORS

    def __init__(self, tokens: list[_Token]):
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise OpathError("unexpected end of filter")
        self.pos += 1
        return token

    def is_op(self, name: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "op" and token.text.lower() == name

    def expr(self) -> Node:
        operands = [self.and_expr()]
        while self.is_op("-or"):
            self.take()
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else BoolOp("-or", tuple(operands))

    def and_expr(self) -> Node:
        operands = [self.not_expr()]
        while self.is_op("-and"):
            self.take()
            operands.append(self.not_expr())
        return operands[0] if len(operands) == 1 else BoolOp("-and", tuple(operands))

    def not_expr(self) -> Node:
        if self.is_op("-not"):
            self.take()
            return Not(self.not_expr())
        token = self.take()
        if token.kind == "lparen":
            inner = self.expr()
            if self.take().kind != "rparen":
                raise OpathError("missing closing parenthesis")
            return inner
        if token.kind != "word":
            raise OpathError(f"expected a property name, found {token.text!r}")
        prop = self.properties.get(token.text.lower())
        if prop is None:
            raise OpathError(f"unsupported property {token.text!r}")
        op = self.take()
        if op.kind != "op" or op.text.lower() not in self.operators:
            raise OpathError(f"unsupported operator {op.text!r} (supported: {', '.join(self.operators)})")
        value = self.take()
        if value.kind != "value":
            raise OpathError(f"expected a quoted value after {prop} {op.text}, found {value.text!r}")
        self.check_value(op.text.lower(), value.text)
        return Comparison(prop, op.text.lower(), value.text)

    def check_value(self, op: str, value: str) -> None:
        """A dialect's rule on values (exo_filter.py: where a wildcard may stand)."""


def parse(text: str, parser_class: type[_Parser] = _Parser) -> Node:
    """Parse a RecipientRestrictionFilter (or, with another parser class, another dialect); raises OpathError
    when it is outside the subset."""
    if not isinstance(text, str) or not text.strip():
        raise OpathError("empty filter")
    parser = parser_class(_tokenize(text))
    node = parser.expr()
    leftover = parser.peek()
    if leftover is not None:
        raise OpathError(f"unexpected {leftover.text!r}")
    return node
