"""OData v4 `$filter` (and key predicates) for the stand-in: tokenizer,
recursive-descent parser, and a compiler that type-checks the expression
against an entity type and returns a row predicate.

Supported as IFS documents it (ifs-cloud.md §8): eq ne gt ge lt le, and or
not, parentheses, add sub mul div, the string functions, year/month/day/...,
literals: 'strings' with '' escaping, numbers, dates, timestamps, null,
true/false and qualified enums `IfsApp.<Projection>.<EnumType>'<Member>'`.
An enum property compared with a bare string is an error (§3). `has`, `mod`,
`in`, lambdas and the math functions IFS lists as unsupported answer
ODP_NOT_IMPLEMENTED. Nulls follow Oracle (the database behind IFS): a
comparison with a null value is unknown, so `X ne 'a'` skips rows where X is
null; only `eq null` / `ne null` test for null.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from sandbox.ifs import edm
from sandbox.ifs.edm import EntityType, Prop
from sandbox.ifs.errors import bad_request, not_implemented

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<dto>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})(?![\w:])
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.])
  | (?P<enum>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?=')
  | (?P<ident>[A-Za-z_$]\w*(?:\.[A-Za-z_]\w*)*)
  | (?P<string>')
  | (?P<punct>[(),=/:])  # ':' only so that lambdas reach the parser (501)
""", re.VERBOSE)

_COMPARISON = {"eq", "ne", "gt", "ge", "lt", "le"}
_ARITHMETIC = {"add": operator.add, "sub": operator.sub, "mul": operator.mul}
_UNSUPPORTED_OPERATORS = {"has", "mod", "in"}
_UNSUPPORTED_FUNCTIONS = {
    "round", "floor", "ceiling", "fractionalseconds", "totalseconds", "totaloffsetminutes",
    "mindatetime", "maxdatetime", "isof", "any", "all", "geo.distance", "geo.length",
    "geo.intersects", "hassubset", "hassubsequence",
}


@dataclass(frozen=True)
class Token:
    kind: str  # dto date number enum ident string punct end
    value: Any
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise bad_request(f"Syntax error in expression at position {pos}: {text[pos:pos + 20]!r}")
        kind = match.lastgroup
        if kind == "ws":
            pos = match.end()
            continue
        if kind in ("string", "enum"):
            start = match.end() if kind == "enum" else match.start()
            value, end = _read_string(text, start)
            tokens.append(Token(kind, (match.group("enum"), value) if kind == "enum" else value, pos))
            pos = end
            continue
        raw = match.group(kind)
        value: Any = raw
        if kind == "number":
            value = edm.number(float(raw)) if any(c in raw for c in ".eE") else int(raw)
        elif kind == "date":
            value = _literal(edm.parse_date, raw, pos)
        elif kind == "dto":
            value = _literal(edm.parse_dto, raw, pos)
        tokens.append(Token(kind, value, pos))
        pos = match.end()
    tokens.append(Token("end", None, len(text)))
    return tokens


def _literal(parse, raw, pos):
    try:
        return parse(raw)
    except edm.ValueFormatError as exc:
        raise bad_request(f"Invalid literal at position {pos}: {exc}") from None


def _read_string(text: str, start: int) -> tuple[str, int]:
    """`'it''s'` -> "it's"; `start` is at the opening quote."""
    out, i = [], start + 1
    while i < len(text):
        if text[i] == "'":
            if i + 1 < len(text) and text[i + 1] == "'":
                out.append("'")
                i += 2
                continue
            return "".join(out), i + 1
        out.append(text[i])
        i += 1
    raise bad_request(f"Unterminated string literal at position {start}")


# ------------------------------------------------------------------ parsing
# AST: ("lit", kind, value) ("enum", qualified, member) ("prop", name)
#      ("call", name, [args]) ("not", x) ("bin", op, left, right)

class _Parser:
    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def word(self) -> str | None:
        token = self.peek()
        return token.value if token.kind == "ident" else None

    def expect(self, punct: str) -> None:
        token = self.next()
        if token.kind != "punct" or token.value != punct:
            raise bad_request(f"Expected '{punct}' at position {token.pos}")

    def parse(self):
        node = self.or_expr()
        token = self.peek()
        if token.kind != "end":
            self._unsupported_word(token)
            raise bad_request(f"Unexpected token at position {token.pos}")
        return node

    def or_expr(self):
        node = self.and_expr()
        while self.word() == "or":
            self.next()
            node = ("bin", "or", node, self.and_expr())
        return node

    def and_expr(self):
        node = self.comparison()
        while self.word() == "and":
            self.next()
            node = ("bin", "and", node, self.comparison())
        return node

    def comparison(self):
        node = self.additive()
        word = self.word()
        if word in _COMPARISON:
            self.next()
            node = ("bin", word, node, self.additive())
        return node

    def additive(self):
        node = self.multiplicative()
        while self.word() in ("add", "sub"):
            node = ("bin", self.next().value, node, self.multiplicative())
        return node

    def multiplicative(self):
        node = self.unary()
        while self.word() in ("mul", "div", "divby", "mod"):
            op = self.next().value
            if op == "mod":
                raise not_implemented("The arithmetic operator 'mod' is not supported.")
            node = ("bin", "div" if op == "divby" else op, node, self.unary())
        return node

    def unary(self):
        # OData: `not` binds tighter than comparisons, so `not X eq 1` is
        # `(not X) eq 1` - a type error, as in any OData v4 server.
        if self.word() == "not":
            self.next()
            return ("not", self.unary())
        return self.primary()

    def primary(self):
        token = self.next()
        if token.kind == "punct" and token.value == "(":
            node = self.or_expr()
            self.expect(")")
            return node
        if token.kind in ("string", "number", "date", "dto"):
            return ("lit", token.kind, token.value)
        if token.kind == "enum":
            return ("enum", token.value[0], token.value[1])
        if token.kind == "ident":
            word = token.value
            if word == "null":
                return ("lit", "null", None)
            if word in ("true", "false"):
                return ("lit", "bool", word == "true")
            follow = self.peek()
            if follow.kind == "punct" and follow.value == "(":
                return self.call(word, token.pos)
            if follow.kind == "punct" and follow.value == "/":
                raise not_implemented(
                    "Navigation paths, lambda operators and collection functions are not "
                    "supported in $filter.")
            if "." in word:
                raise bad_request(
                    f"'{word}' at position {token.pos}: a qualified name must be followed by a "
                    "quoted member, e.g. IfsApp.<Projection>.<EnumType>'<Member>'")
            return ("prop", word)
        self._unsupported_word(token)
        raise bad_request(f"Unexpected token at position {token.pos}")

    def call(self, name: str, pos: int):
        if name in _UNSUPPORTED_FUNCTIONS:
            raise not_implemented(f"The function '{name}' is not supported.")
        self.expect("(")
        args = []
        if not (self.peek().kind == "punct" and self.peek().value == ")"):
            args.append(self.or_expr())
            while self.peek().kind == "punct" and self.peek().value == ",":
                self.next()
                args.append(self.or_expr())
        self.expect(")")
        return ("call", name, args)

    @staticmethod
    def _unsupported_word(token: Token) -> None:
        if token.kind == "ident" and token.value in _UNSUPPORTED_OPERATORS:
            raise not_implemented(f"The operator '{token.value}' is not supported.")


def parse(text: str):
    return _Parser(text).parse()


# ---------------------------------------------------------------- compiling

@dataclass(frozen=True)
class _Typed:
    fn: Callable[[dict], Any]
    kind: str  # string number date dto bool null enum enumlit collection
    enum: edm.EnumType | None = None
    literal: Any = None  # the node, for literals and enum literals
    prop: Prop | None = None


@dataclass(frozen=True)
class CompiledFilter:
    predicate: Callable[[dict], bool]
    # Top-level `attr eq v` / `(attr eq a or attr eq b)` conjuncts: lets the
    # query use an index; the predicate is still applied to every candidate.
    equalities: tuple[tuple[str, frozenset], ...]


def compile_filter(text: str, etype: EntityType, projection: str) -> CompiledFilter:
    tree = parse(text)
    typed = _Compiler(etype, projection).compile(tree)
    if typed.kind != "bool":
        raise bad_request("The $filter expression must be a boolean expression.")
    fn = typed.fn
    return CompiledFilter(lambda row: fn(row) is True, tuple(_equalities(tree, etype, projection)))


class _Compiler:
    def __init__(self, etype: EntityType, projection: str):
        self.etype = etype
        self.projection = projection

    def compile(self, node) -> _Typed:
        kind = node[0]
        if kind == "lit":
            value = node[2]
            return _Typed(lambda row: value, node[1], literal=value)
        if kind == "enum":
            return _Typed(lambda row: None, "enumlit", literal=node)
        if kind == "prop":
            return self.prop(node[1])
        if kind == "not":
            inner = self.boolean(self.compile(node[1]), "not")
            fn = inner.fn
            return _Typed(lambda row: None if (v := fn(row)) is None else not v, "bool")
        if kind == "call":
            return self.call(node[1], [self.compile(a) for a in node[2]])
        op, left, right = node[1], self.compile(node[2]), self.compile(node[3])
        if op in ("and", "or"):
            return self.logical(op, self.boolean(left, op), self.boolean(right, op))
        if op in _COMPARISON:
            return self.compare(op, left, right)
        return self.arithmetic(op, left, right)

    def prop(self, name: str) -> _Typed:
        prop = self.etype.prop(name)
        if prop is None:
            if name in self.etype.navigations:
                raise not_implemented(f"Navigation property '{name}' cannot be used in $filter.")
            raise bad_request(f"Property '{name}' does not exist in type '{self.etype.name}'.")
        attr, default = prop.attr, prop.default
        fn = (lambda row: row.get(attr, default)) if default is not None else (lambda row: row.get(attr))
        if prop.complex is not None:
            return _Typed(fn, "collection", prop=prop)
        if prop.enum is not None:
            return _Typed(fn, "enum", enum=prop.enum, prop=prop)
        kind = {edm.STRING: "string", edm.DECIMAL: "number", edm.DATE: "date",
                edm.DTO: "dto", edm.BOOL: "bool"}[prop.type]
        if kind == "date":  # a timestamp kept for a tenant whose field is an Edm.Date
            read = fn
            fn = lambda row: edm.as_date(read(row))  # noqa: E731
        return _Typed(fn, kind, prop=prop)

    @staticmethod
    def boolean(typed: _Typed, op: str) -> _Typed:
        if typed.kind not in ("bool", "null"):
            raise bad_request(f"The operand of '{op}' must be a boolean expression.")
        return typed

    @staticmethod
    def logical(op: str, left: _Typed, right: _Typed) -> _Typed:
        lf, rf = left.fn, right.fn
        if op == "and":
            def fn(row):
                a = lf(row)
                if a is False:
                    return False
                b = rf(row)
                if b is False:
                    return False
                return None if a is None or b is None else True
        else:
            def fn(row):
                a = lf(row)
                if a is True:
                    return True
                b = rf(row)
                if b is True:
                    return True
                return None if a is None or b is None else False
        return _Typed(fn, "bool")

    def compare(self, op: str, left: _Typed, right: _Typed) -> _Typed:
        for side in (left, right):
            if side.kind == "collection":
                raise not_implemented(
                    f"Collection property '{side.prop.name}' cannot be compared; collection "
                    "functions are not supported.")
        if "enum" in (left.kind, right.kind) or "enumlit" in (left.kind, right.kind):
            left, right = self.enum_operands(op, left, right)
        elif "null" not in (left.kind, right.kind) and not _comparable(left.kind, right.kind):
            raise bad_request(
                f"Incompatible types in comparison '{op}': {_describe(left)} and {_describe(right)}.")
        if op in ("gt", "ge", "lt", "le") and "bool" in (left.kind, right.kind):
            raise bad_request(f"The operator '{op}' is not defined for booleans.")
        compare = getattr(operator, op)
        if right.kind == "null" or left.kind == "null":
            other = left if right.kind == "null" else right
            of = other.fn
            if op == "eq":
                return _Typed(lambda row: of(row) is None, "bool")
            if op == "ne":
                return _Typed(lambda row: of(row) is not None, "bool")
            return _Typed(lambda row: None, "bool")
        lf, rf = left.fn, right.fn

        def fn(row):
            a = lf(row)
            if a is None:
                return None
            b = rf(row)
            if b is None:
                return None
            return compare(a, b)
        return _Typed(fn, "bool")

    def enum_operands(self, op: str, left: _Typed, right: _Typed) -> tuple[_Typed, _Typed]:
        enum_side = left if left.kind == "enum" else right if right.kind == "enum" else None
        other = right if enum_side is left else left
        if enum_side is None:
            raise bad_request("An enumeration literal can only be compared with an enumeration "
                              "property of the same type.")
        name = enum_side.prop.name if enum_side.prop else "the operand"
        qualified = f"IfsApp.{self.projection}.{enum_side.enum.name}"
        if other.kind == "string":
            raise bad_request(
                f"Property '{name}' is an enumeration: compare it with a qualified literal "
                f"{qualified}'<Member>', not a plain string.")
        if op not in ("eq", "ne"):
            raise bad_request(f"The operator '{op}' is not supported for enumeration '{name}'.")
        if other.kind == "null":
            return left, right
        if other.kind == "enum":
            if other.enum is not enum_side.enum:
                raise bad_request("Enumeration properties of different types cannot be compared.")
            return left, right
        if other.kind != "enumlit":
            raise bad_request(f"Property '{name}' is an enumeration; incompatible operand.")
        _, given, member_text = other.literal
        if given != qualified:
            raise bad_request(
                f"The enumeration type '{given}' does not match property '{name}' of type "
                f"{qualified}.")
        member = enum_side.enum.from_wire(member_text)
        if member is None:
            raise bad_request(f"'{member_text}' is not a member of {qualified}.")
        literal = _Typed(lambda row: member, "enum", enum=enum_side.enum)
        return (enum_side, literal) if enum_side is left else (literal, enum_side)

    def arithmetic(self, op: str, left: _Typed, right: _Typed) -> _Typed:
        for side in (left, right):
            if side.kind in ("date", "dto"):
                raise bad_request("Arithmetic operations are not supported with Date or "
                                  "DateTimeOffset values.")
            if side.kind not in ("number", "null"):
                raise bad_request(f"The operator '{op}' needs numeric operands.")
        lf, rf = left.fn, right.fn
        if op == "div":
            def fn(row):
                a, b = lf(row), rf(row)
                return None if a is None or b is None or b == 0 else edm.number(a / b)
        else:
            compute = _ARITHMETIC[op]

            def fn(row):
                a, b = lf(row), rf(row)
                return None if a is None or b is None else compute(a, b)
        return _Typed(fn, "number")

    def call(self, name: str, args: list[_Typed]) -> _Typed:
        spec = _FUNCTIONS.get(name)
        if spec is None:
            raise bad_request(f"Unknown function '{name}'.")
        params, result, impl = spec
        if not (len(args) == len(params) or (name == "substring" and len(args) == 2)):
            raise bad_request(f"Function '{name}' takes {len(params)} argument(s).")
        for arg, allowed in zip(args, params):
            if arg.kind != "null" and arg.kind not in allowed:
                raise bad_request(f"Invalid argument type {_describe(arg)} for function '{name}'.")
        fns = [a.fn for a in args]

        def fn(row):
            values = [f(row) for f in fns]
            if any(v is None for v in values):
                return None
            return impl(*values)
        return _Typed(fn, result)


def _comparable(a: str, b: str) -> bool:
    return a == b and a not in ("enumlit", "collection")


def _describe(typed: _Typed) -> str:
    return f"'{typed.prop.name}' ({typed.kind})" if typed.prop else typed.kind


def _substring(s, start, length=None):
    return s[start:] if length is None else s[start:start + length]


_STR, _NUM, _TIME = ("string",), ("number",), ("date", "dto")
_FUNCTIONS: dict[str, tuple[tuple, str, Callable]] = {
    "contains": ((_STR, _STR), "bool", lambda s, t: t in s),
    "startswith": ((_STR, _STR), "bool", lambda s, t: s.startswith(t)),
    "endswith": ((_STR, _STR), "bool", lambda s, t: s.endswith(t)),
    "tolower": ((_STR,), "string", str.lower),
    "toupper": ((_STR,), "string", str.upper),
    "trim": ((_STR,), "string", str.strip),
    "length": ((_STR,), "number", len),
    "indexof": ((_STR, _STR), "number", lambda s, t: s.find(t)),
    "concat": ((_STR, _STR), "string", lambda s, t: s + t),
    "substring": ((_STR, _NUM, _NUM), "string", _substring),
    "year": ((_TIME,), "number", lambda d: d.year),
    "month": ((_TIME,), "number", lambda d: d.month),
    "day": ((_TIME,), "number", lambda d: d.day),
    "hour": ((("dto",),), "number", lambda d: d.hour),
    "minute": ((("dto",),), "number", lambda d: d.minute),
    "second": ((("dto",),), "number", lambda d: d.second),
    "date": ((("dto",),), "date", lambda d: d.date()),
    "now": ((), "dto", lambda: datetime.now(timezone.utc)),
}


# ------------------------------------------------------- index constraints

def _equalities(tree, etype: EntityType, projection: str):
    for conjunct in _conjuncts(tree):
        found = _same_attr_equalities(conjunct, etype, projection)
        if found:
            yield found


def _conjuncts(node):
    if node[0] == "bin" and node[1] == "and":
        yield from _conjuncts(node[2])
        yield from _conjuncts(node[3])
    else:
        yield node


def _same_attr_equalities(node, etype, projection):
    """`A eq 1` or `(A eq 1 or A eq 2)` -> (attr, {values}); else None."""
    if node[0] == "bin" and node[1] == "or":
        left = _same_attr_equalities(node[2], etype, projection)
        right = _same_attr_equalities(node[3], etype, projection)
        if left and right and left[0] == right[0]:
            return left[0], left[1] | right[1]
        return None
    if node[0] != "bin" or node[1] != "eq":
        return None
    prop_node, value_node = (node[2], node[3]) if node[2][0] == "prop" else (node[3], node[2])
    if prop_node[0] != "prop" or value_node[0] not in ("lit", "enum"):
        return None
    prop = etype.prop(prop_node[1])
    if prop is None or prop.complex is not None or prop.default is not None:
        return None
    if value_node[0] == "enum":
        member = prop.enum.from_wire(value_node[2]) if prop.enum else None
        return (prop.attr, frozenset([member])) if member else None
    if value_node[1] == "null" or prop.enum is not None:
        return None
    return prop.attr, frozenset([value_node[2]])


# ----------------------------------------------------------- key predicates

def parse_key_predicate(text: str, etype: EntityType) -> dict[str, Any]:
    """`OrderNo='C1'`, `'C1'` (single key), or `OrderNo='C1',LineNo='1',...`
    -> {attr: value}. Literal types must match the key types (numeric keys
    unquoted, ifs-cloud.md §4)."""
    tokens = tokenize(text)
    values: dict[str, Any] = {}
    i = 0
    if len(tokens) == 2 and len(etype.keys) == 1:
        key = etype.keys[0]
        values[key.attr] = _key_literal(key, tokens[0])
        return values
    while tokens[i].kind != "end":
        name, eq, lit = tokens[i], tokens[i + 1], tokens[i + 2] if i + 2 < len(tokens) else None
        if name.kind != "ident" or eq.kind != "punct" or eq.value != "=" or lit is None:
            raise bad_request(f"Malformed key predicate '{text}'.")
        prop = etype.prop(name.value)
        if prop is None or not prop.key:
            raise bad_request(f"'{name.value}' is not a key property of '{etype.name}'.")
        values[prop.attr] = _key_literal(prop, lit)
        i += 3
        if tokens[i].kind == "punct" and tokens[i].value == ",":
            i += 1
        elif tokens[i].kind != "end":
            raise bad_request(f"Malformed key predicate '{text}'.")
    missing = [p.name for p in etype.keys if p.attr not in values]
    if missing:
        raise bad_request(f"Key predicate of '{etype.name}' misses {', '.join(missing)}.")
    return values


def _key_literal(prop: Prop, token: Token) -> Any:
    expected = {edm.STRING: "string", edm.DECIMAL: "number", edm.DATE: "date", edm.DTO: "dto"}
    if token.kind != expected.get(prop.type):
        raise bad_request(f"Key '{prop.name}' expects a {prop.type} literal.")
    return token.value
