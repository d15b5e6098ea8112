"""Anonymisation rules: for every table of the dump, either ``truncate`` or one rule per column.

YAML (a file named by heroku-tools.yml, or a section of it)::

    tables:
      auth_user:
        id: keep
        password: {value: "!unusable"}
        last_login: {fake: date_shift, days: 30}
        username: {fake: username}
        first_name: {fake: first_name}
        last_name: {fake: last_name}
        email: {fake: email}
        national_id: hash
        notes: null                 # the SQL NULL (also: "null")
      django_session: truncate      # or {truncate: true}
      analytics.events: truncate    # schema-qualified; unqualified means public

Column rules:

``keep``
    copy the value as it is;
``null``
    NULL (the column must accept NULL);
``{value: X}``
    every non-NULL value becomes X (NULL stays NULL);
``{fake: KIND, ...options}``
    a deterministic keyed fake (see :mod:`.fakes`); ``unique: true`` for a
    word-list fake on a unique column; NULL stays NULL, '' stays '';
``hash`` / ``{hash: true, length: N}``
    the keyed hash itself (hex, or a UUID / bytes for uuid / bytea columns).

Nothing is implied: a column without a rule, or a rule naming a column or
table the schema lacks, is an error (see :mod:`.check`).

:meth:`Rules.to_mapping` and :meth:`Rules.from_mapping` are the JSON-safe form
in which the rules travel to a one-off dyno (see :mod:`.zipapp`).
"""
from __future__ import annotations

import datetime as _dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import RulesError
from .fakes import FAKES
from .sqlscan import display, read_quoted

ACTIONS = ("keep", "null", "value", "fake", "hash")


@dataclass(frozen=True)
class ColumnRule:
    action: str                      #: keep | null | value | fake | hash
    value: str | None = None         #: for ``value``: the text form of X
    fake: str | None = None          #: for ``fake``: the kind; for ``hash``: "hash"
    options: tuple = ()              #: sorted (name, value) pairs (fake options, without ``unique``)
    unique: bool = False

    @property
    def option_dict(self) -> dict:
        return dict(self.options)

    def to_yaml(self):
        if self.action in ("keep", "null"):
            return self.action
        if self.action == "value":
            return {"value": self.value}
        if self.action == "hash":
            out = {"hash": True, **_plain(self.option_dict)}
            return "hash" if len(out) == 1 else out
        out = {"fake": self.fake, **_plain(self.option_dict)}
        if self.unique:
            out["unique"] = True
        return out

    def describe(self) -> str:
        if self.action == "fake":
            return f"fake {self.fake}"
        return self.action


def _plain(options: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}


NULL = ColumnRule("null")


@dataclass
class TableRule:
    key: tuple[str, str]
    truncate: bool = False
    columns: dict[str, ColumnRule] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return display(self.key)


@dataclass
class Rules:
    tables: dict[tuple[str, str], TableRule] = field(default_factory=dict)
    source: str = "rules"
    #: ``COMMENT ON`` texts are free text (personal data can be written there): ``drop`` (the default) or ``keep``.
    comments: str = "drop"

    def table(self, key: tuple[str, str]) -> TableRule | None:
        return self.tables.get(key)

    # -- loading -----------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> Rules:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RulesError(f"cannot read the anonymisation rules {path}: {exc.strerror}") from None
        return cls.from_yaml(text, source=str(path))

    @classmethod
    def from_yaml(cls, text: str, source: str = "rules") -> Rules:
        """Rules from YAML text. PyYAML is imported here, not with the module: the engine that runs in a
        one-off dyno takes its rules as a mapping (:meth:`from_mapping`) and has no PyYAML."""
        import yaml  # optional: the dyno's engine (anonymise/zipapp.py) reads rules as JSON, never YAML
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RulesError(f"{source}: not valid YAML: {exc}") from None
        return cls.from_mapping(data, source=source)

    @classmethod
    def from_mapping(cls, data, source: str = "rules") -> Rules:
        if isinstance(data, Rules):
            return data
        if not isinstance(data, dict) or "tables" not in data:
            raise RulesError(f"{source}: expected a mapping with a 'tables' key")
        extra = set(data) - {"tables", "comments"}
        if extra:
            raise RulesError(f"{source}: unknown key(s) {', '.join(sorted(map(str, extra)))} "
                             "(expected 'tables', and optionally 'comments')")
        comments = data.get("comments", "drop")
        if comments not in ("drop", "keep"):
            raise RulesError(f"{source}: comments: expected drop (the default: COMMENT ON texts are not copied) "
                             f"or keep, got {comments!r}")
        tables = data["tables"]
        if tables is None:
            tables = {}
        if not isinstance(tables, dict):
            raise RulesError(f"{source}: 'tables' must map table names to rules")
        rules = cls(source=source, comments=comments)
        for raw_name, spec in tables.items():
            key = parse_table_name(raw_name, source)
            if key in rules.tables:
                raise RulesError(f"{source}: table {display(key)} is listed twice")
            rules.tables[key] = _table_rule(key, spec, source)
        return rules

    def to_mapping(self) -> dict:
        out = {}
        for key, table in self.tables.items():
            if table.truncate:
                out[display(key)] = "truncate"
            else:
                out[display(key)] = {c: r.to_yaml() for c, r in table.columns.items()}
        return {"tables": out, **({"comments": "keep"} if self.comments == "keep" else {})}


def parse_table_name(raw, source: str = "rules") -> tuple[str, str]:
    """``table`` (schema public) or ``schema.table``; a part that starts with ``"`` is quoted
    (``""`` for a quote inside), so names containing dots can be written ``"my.table"``."""
    if not isinstance(raw, str) or not raw.strip():
        raise RulesError(f"{source}: table name {raw!r} is not a name")
    text = raw.strip()
    parts, i, n = [], 0, len(text)
    while True:
        if i < n and text[i] == '"':
            try:
                part, i = read_quoted(text, i)
            except ValueError:
                raise RulesError(f"{source}: unterminated quote in table name {raw!r}") from None
            parts.append(part)
        else:
            k = text.find(".", i)
            k = n if k < 0 else k
            parts.append(text[i:k])
            i = k
        if i >= n:
            break
        if text[i] != ".":
            raise RulesError(f"{source}: cannot read table name {raw!r}")
        i += 1
    if len(parts) > 2 or not all(parts):
        raise RulesError(f"{source}: cannot read table name {raw!r} (write table or schema.table; "
                         'quote a name containing dots: "my.table")')
    return ("public", parts[0]) if len(parts) == 1 else (parts[0], parts[1])


def _table_rule(key, spec, source) -> TableRule:
    where = f"{source}: table {display(key)}"
    if spec == "truncate":
        return TableRule(key, truncate=True)
    if isinstance(spec, dict) and "truncate" in spec and isinstance(spec["truncate"], bool):
        if len(spec) != 1:
            flag = str(spec["truncate"]).lower()
            raise RulesError(f"{where}: 'truncate: {flag}' cannot be combined with column rules")
        if not spec["truncate"]:
            raise RulesError(f"{where}: 'truncate: false' is not a rule; list the columns instead")
        return TableRule(key, truncate=True)
    if not isinstance(spec, dict):
        raise RulesError(f"{where}: expected 'truncate' or a mapping of columns to rules, got {spec!r}")
    if not spec:
        raise RulesError(f"{where}: no column rules (use 'truncate' to load no rows)")
    table = TableRule(key)
    for column, rule in spec.items():
        if not isinstance(column, str):
            raise RulesError(f"{where}: column name {column!r} is not a string")
        table.columns[column] = parse_column_rule(rule, f"{source}: {display(key)}.{column}")
    return table


def parse_column_rule(rule, where: str = "rule") -> ColumnRule:
    """One column's rule as the YAML writes it: ``null``/None, a word (``keep``, ``hash``, ...) or a mapping."""
    if rule is None:
        return NULL
    if isinstance(rule, str):
        return _word_rule(rule, where)
    if isinstance(rule, dict):
        return _mapping_rule(rule, where)
    raise RulesError(f"{where}: cannot read rule {rule!r}")


def _word_rule(rule: str, where: str) -> ColumnRule:
    """``keep``, ``null``, ``hash`` or ``fake: KIND``."""
    word = rule.strip()
    if word in ("keep", "null", "hash"):
        return ColumnRule(word, fake="hash" if word == "hash" else None)
    m = re.fullmatch(r"fake\s*:\s*([a-z_0-9]+)", word)
    if m:
        return _fake_rule(m.group(1), {}, where)
    raise RulesError(f"{where}: unknown rule {rule!r} (expected keep, null, hash, "
                     "{value: X}, {fake: KIND} or hash)")


def _mapping_rule(rule: dict, where: str) -> ColumnRule:
    """``{value: X}``, ``{fake: KIND, ...options}``, ``{hash: true, length: N}``, ``{keep: true}``, ``{null: true}``."""
    actions = [k for k in rule if k in ACTIONS]
    if len(actions) != 1:
        raise RulesError(f"{where}: a rule needs exactly one of value, fake, hash, got {sorted(map(str, rule))}")
    action = actions[0]
    options = {k: v for k, v in rule.items() if k != action}
    if action == "value":
        return _value_rule(rule["value"], options, where)
    if action == "fake":
        return _fake_mapping_rule(rule["fake"], options, where)
    if action == "hash":
        return _hash_rule(rule["hash"], options, where)
    if rule[action] is not True or options:
        raise RulesError(f"{where}: write '{action}'")
    return ColumnRule(action)


def _value_rule(value, options: dict, where: str) -> ColumnRule:
    if options:
        raise RulesError(f"{where}: 'value' takes no options, got {sorted(options)}")
    if value is None:
        return NULL
    return ColumnRule("value", value=_value_text(value, where))


def _fake_mapping_rule(kind, options: dict, where: str) -> ColumnRule:
    if not isinstance(kind, str):
        raise RulesError(f"{where}: fake must name a kind, got {kind!r}")
    return _fake_rule(kind, options, where)


def _hash_rule(flag, options: dict, where: str) -> ColumnRule:
    if flag is not True:
        raise RulesError(f"{where}: write 'hash' or {{hash: true, length: N}}")
    unknown = set(options) - {"length", "unique"}
    if unknown:
        raise RulesError(f"{where}: hash has no option(s) {', '.join(sorted(unknown))}")
    options.pop("unique", None)
    return ColumnRule("hash", fake="hash", options=tuple(sorted(options.items())))


def _fake_rule(kind: str, options: dict, where: str) -> ColumnRule:
    if kind not in FAKES:
        raise RulesError(f"{where}: unknown fake {kind!r} (known: {', '.join(sorted(FAKES))})")
    options = dict(options)
    unique = options.pop("unique", False)
    if not isinstance(unique, bool):
        raise RulesError(f"{where}: unique must be true or false")
    allowed = set(FAKES[kind].option_names)
    unknown = set(options) - allowed
    if unknown:
        hint = f" (it takes {', '.join(sorted(allowed))})" if allowed else " (it takes none)"
        raise RulesError(f"{where}: fake {kind!r} has no option(s) {', '.join(sorted(unknown))}{hint}")
    for k, v in options.items():
        if isinstance(v, list):
            options[k] = tuple(v)
    return ColumnRule("fake", fake=kind, options=tuple(sorted(options.items())), unique=unique)


def _value_text(value, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, _dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, str):
        if "\x00" in value:
            raise RulesError(f"{where}: a value cannot contain NUL")
        return value
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    raise RulesError(f"{where}: cannot use {value!r} as a value")
