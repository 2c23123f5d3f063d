"""A parser for the subset of the Google Ads Query Language the sandbox serves.

    SELECT field, … FROM resource
    [WHERE cond AND …]      cond: f = v | f != v | f < v | f <= v | f > v | f >= v
                                  | f IN (v, …) | f NOT IN (v, …) | f BETWEEN v AND v
                                  | f DURING LAST_7_DAYS | f LIKE 'p%' | f IS [NOT] NULL
    [ORDER BY field [ASC|DESC], …] [LIMIT n] [PARAMETERS include_drafts = true]

Values are 'strings', "strings", numbers (kept as Decimal, never float) or bare enum names.
Errors carry the Google Ads ``QueryError`` code and the character offset of the problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

DATE_RANGES = frozenset(
    {
        "TODAY",
        "YESTERDAY",
        "LAST_7_DAYS",
        "LAST_14_DAYS",
        "LAST_30_DAYS",
        "THIS_MONTH",
        "LAST_MONTH",
        "THIS_WEEK_MON_TODAY",
        "LAST_WEEK_MON_SUN",
    }
)
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
_KEYWORDS = frozenset(
    [
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "ORDER",
        "BY",
        "ASC",
        "DESC",
        "LIMIT",
        "IN",
        "NOT",
        "BETWEEN",
        "DURING",
        "LIKE",
        "IS",
        "NULL",
        "PARAMETERS",
    ]
)

Value = str | Decimal | bool


class GaqlError(Exception):
    """A query the API would reject; ``code`` is the Google Ads QueryError enum name."""

    def __init__(self, code: str, message: str, position: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.position = position


@dataclass(frozen=True)
class Condition:
    field: str
    op: str  # one of COMPARISONS, IN, NOT IN, BETWEEN, DURING, LIKE, IS NULL, IS NOT NULL
    values: tuple[Value, ...] = ()


@dataclass(frozen=True)
class Ordering:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class Query:
    select: tuple[str, ...]
    resource: str
    where: tuple[Condition, ...] = ()
    order_by: tuple[Ordering, ...] = ()
    limit: int | None = None
    parameters: dict[str, Value] = field(default_factory=dict, compare=False, hash=False)


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>!=|>=|<=|=|<|>)
  | (?P<punct>[(),])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    pos: int

    @property
    def keyword(self) -> str | None:
        upper = self.text.upper()
        return upper if self.kind == "ident" and upper in _KEYWORDS else None


def _tokenize(text: str) -> list[_Token]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match:
            raise GaqlError("BAD_SYMBOL", f"unexpected character {text[pos]!r} at {pos}", pos)
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(_Token(kind, match.group(), pos))
        pos = match.end()
    return tokens


def _unquote(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def next(self, expected: str) -> _Token:
        token = self.peek()
        if token is None:
            raise GaqlError("UNEXPECTED_END_OF_QUERY", f"query ended where {expected} was expected")
        self.index += 1
        return token

    def expect_keyword(self, word: str, code: str) -> None:
        token = self.peek()
        if token is None or token.keyword != word:
            where = f"at {token.pos} ({token.text!r})" if token else "at the end"
            raise GaqlError(code, f"expected {word} {where}", token.pos if token else None)
        self.index += 1

    def accept_keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.keyword == word:
            self.index += 1
            return True
        return False

    def accept_punct(self, char: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "punct" and token.text == char:
            self.index += 1
            return True
        return False

    def field_name(self) -> str:
        token = self.next("a field name")
        if token.kind != "ident" or token.keyword is not None:
            raise GaqlError(
                "BAD_FIELD_NAME",
                f"expected a field name at {token.pos}, got {token.text!r}",
                token.pos,
            )
        return token.text

    def value(self) -> Value:
        token = self.next("a value")
        if token.kind == "string":
            return _unquote(token.text)
        if token.kind == "number":
            return Decimal(token.text)
        if token.kind == "ident" and token.keyword is None:
            if token.text.upper() in ("TRUE", "FALSE"):
                return token.text.upper() == "TRUE"
            return token.text
        raise GaqlError("BAD_VALUE", f"expected a value at {token.pos}, got {token.text!r}", token.pos)

    def value_list(self) -> tuple[Value, ...]:
        token = self.peek()
        if not self.accept_punct("("):
            raise GaqlError(
                "EXPECTED_LIST",
                "IN expects a parenthesised list of values",
                token.pos if token else None,
            )
        values = [self.value()]
        while self.accept_punct(","):
            values.append(self.value())
        if not self.accept_punct(")"):
            token = self.peek()
            raise GaqlError("EXPECTED_LIST", "unterminated value list: expected ')'", token.pos if token else None)
        return tuple(values)

    def condition(self) -> Condition:
        name = self.field_name()
        token = self.next("an operator")
        if token.kind == "op":
            return Condition(name, token.text, (self.value(),))
        word = token.keyword
        if word == "IN":
            return Condition(name, "IN", self.value_list())
        if word == "NOT":
            self.expect_keyword("IN", "BAD_OPERATOR")
            return Condition(name, "NOT IN", self.value_list())
        if word == "BETWEEN":
            low = self.value()
            self.expect_keyword("AND", "EXPECTED_AND")
            return Condition(name, "BETWEEN", (low, self.value()))
        if word == "DURING":
            literal = self.next("a date range")
            if literal.kind != "ident" or literal.text.upper() not in DATE_RANGES:
                raise GaqlError(
                    "INVALID_VALUE_WITH_DURING_OPERATOR",
                    f"{literal.text!r} is not a date range (one of {', '.join(sorted(DATE_RANGES))})",
                    literal.pos,
                )
            return Condition(name, "DURING", (literal.text.upper(),))
        if word == "LIKE":
            pattern = self.value()
            if not isinstance(pattern, str):
                raise GaqlError("INVALID_VALUE_WITH_LIKE_OPERATOR", "LIKE expects a string", token.pos)
            return Condition(name, "LIKE", (pattern,))
        if word == "IS":
            negated = self.accept_keyword("NOT")
            self.expect_keyword("NULL", "BAD_OPERATOR")
            return Condition(name, "IS NOT NULL" if negated else "IS NULL")
        raise GaqlError("BAD_OPERATOR", f"unknown operator {token.text!r} at {token.pos}", token.pos)

    def parse(self) -> Query:
        if not self.tokens:
            raise GaqlError("EXPECTED_SELECT", "the query is empty")
        self.expect_keyword("SELECT", "EXPECTED_SELECT")
        select = [self.field_name()]
        while self.accept_punct(","):
            select.append(self.field_name())
        self.expect_keyword("FROM", "EXPECTED_FROM")
        resource_token = self.next("a resource name")
        if resource_token.kind != "ident" or "." in resource_token.text or resource_token.keyword:
            raise GaqlError(
                "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE",
                f"{resource_token.text!r} is not a resource name",
                resource_token.pos,
            )
        where: list[Condition] = []
        if self.accept_keyword("WHERE"):
            where.append(self.condition())
            while self.accept_keyword("AND"):
                where.append(self.condition())
        order_by: list[Ordering] = []
        if self.accept_keyword("ORDER"):
            self.expect_keyword("BY", "EXPECTED_BY")
            while True:
                name = self.field_name()
                descending = self.accept_keyword("DESC")
                if not descending:
                    self.accept_keyword("ASC")
                order_by.append(Ordering(name, descending))
                if not self.accept_punct(","):
                    break
        limit = None
        if self.accept_keyword("LIMIT"):
            token = self.next("a limit")
            if token.kind != "number" or not token.text.isdigit() or int(token.text) == 0:
                raise GaqlError(
                    "BAD_LIMIT_VALUE",
                    f"LIMIT must be a positive integer, got {token.text!r}",
                    token.pos,
                )
            limit = int(token.text)
        parameters: dict[str, Value] = {}
        if self.accept_keyword("PARAMETERS"):
            while True:
                name = self.field_name()
                op = self.next("'='")
                if op.text != "=":
                    raise GaqlError("BAD_PARAMETER_NAME", "expected name = value in PARAMETERS", op.pos)
                parameters[name] = self.value()
                if not self.accept_punct(","):
                    break
        trailing = self.peek()
        if trailing is not None:
            raise GaqlError("UNEXPECTED_INPUT", f"unexpected {trailing.text!r} at {trailing.pos}", trailing.pos)
        if len(set(select)) != len(select):
            raise GaqlError("PROHIBITED_FIELD_COMBINATION_IN_SELECT_CLAUSE", "a field is selected twice")
        return Query(tuple(select), resource_token.text, tuple(where), tuple(order_by), limit, parameters)


def parse(text: str) -> Query:
    """Parse a GAQL query; raises :class:`GaqlError` with the QueryError code and position."""
    return _Parser(text).parse()


def _render_value(value: Value) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, Decimal):
        return str(value)
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value) and value.upper() not in _KEYWORDS | {
        "TRUE",
        "FALSE",
    }:
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render(query: Query) -> str:
    """The canonical text of a query; ``parse(render(q)) == q``."""
    parts = [f"SELECT {', '.join(query.select)} FROM {query.resource}"]
    if query.where:
        rendered = []
        for cond in query.where:
            if cond.op in ("IN", "NOT IN"):
                rendered.append(f"{cond.field} {cond.op} ({', '.join(map(_render_value, cond.values))})")
            elif cond.op == "BETWEEN":
                low, high = cond.values
                rendered.append(f"{cond.field} BETWEEN {_render_value(low)} AND {_render_value(high)}")
            elif cond.op == "DURING":
                rendered.append(f"{cond.field} DURING {cond.values[0]}")
            elif cond.op in ("IS NULL", "IS NOT NULL"):
                rendered.append(f"{cond.field} {cond.op}")
            else:
                rendered.append(f"{cond.field} {cond.op} {_render_value(cond.values[0])}")
        parts.append("WHERE " + " AND ".join(rendered))
    if query.order_by:
        parts.append("ORDER BY " + ", ".join(f"{o.field} {'DESC' if o.descending else 'ASC'}" for o in query.order_by))
    if query.limit is not None:
        parts.append(f"LIMIT {query.limit}")
    return " ".join(parts)
