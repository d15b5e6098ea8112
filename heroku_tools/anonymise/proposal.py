"""Propose a starting set of rules from a schema, as YAML for a human to review.

:func:`propose_rules` guesses rules from column names and types;
:func:`write_proposal` writes them to a new file and never touches the rules in
use. Kept apart from :mod:`.check` because it needs PyYAML, which the engine
that runs in a one-off dyno must not (see :mod:`.zipapp`).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from .fakes import FAKES
from .rules import Rules
from .schema import Column, Schema, Table
from .sqlscan import display


# -- proposals ------------------------------------------------------------------------------
_TRUNCATE_TABLES = re.compile(
    r"(^|_)(session|sessions|admin_log|adminlog|token|tokens|authtoken|accesstoken|refreshtoken|idtoken|grant"
    r"|accessattempt|accesslog|accessfailurelog|otp.*|resetpassword.*|passwordreset.*|emailconfirmation)$")

_NAME_RULES: list[tuple[str, object]] = [
    (r"(^|_)password$|^passwd$", {"value": "!"}),
    (r"(^|_)e?mail(_?address)?$", {"fake": "email"}),
    (r"^username$|^user_?name$|^login$|^handle$|^nickname$", {"fake": "username"}),
    (r"(^|_)(first_?name|given_?name|forename)$", {"fake": "first_name"}),
    (r"(^|_)(last_?name|surname|family_?name)$", {"fake": "last_name"}),
    (r"^(full_?name|display_?name|contact_?name|name|billing_name|shipping_name)$", {"fake": "name"}),
    (r"(^|_)(phone|mobile|telephone|tel|fax)(_?number)?$", {"fake": "phone"}),
    (r"(^|_)(address|street|address_?line_?\d|line_?\d)$", {"fake": "address"}),
    (r"(^|_)(city|town)$", {"fake": "city"}),
    (r"(^|_)(post_?code|zip(_?code)?|postal_?code)$", {"fake": "postcode"}),
    (r"(^|_)(company|organisation|organization|employer)(_?name)?$", {"fake": "company"}),
    (r"(^|_)(url|website|homepage|avatar)$", {"fake": "url"}),
    (r"(^|_)(ip|ip_?address|remote_?addr)$", {"fake": "ipv4"}),
    (r"(^|_)(dob|birth_?date|date_?of_?birth|birthday)$", {"fake": "date_shift", "days": 365}),
    (r"(^|_)(token|secret|api_?key|key_?hash|otp|totp_?secret|recovery_?codes?)$", "hash"),
    (r"(^|_)(note|notes|comment|comments|description|bio|message|body|content|remarks)$", {"fake": "text"}),
]


def _propose_column(table: Table, col: Column) -> tuple[object, str]:
    """(rule as YAML, reason) for one column."""
    name = col.name.lower()
    category = col.type.category
    unique = table.is_unique(col.name)
    if col.generated:
        return "keep", "generated column (computed on load)"
    if category in ("number", "bool", "uuid") and not re.search(r"phone|mobile|ssn|national", name):
        return "keep", f"{col.type}"
    for pattern, rule in _NAME_RULES:
        if re.search(pattern, name):
            parsed = rule if isinstance(rule, str) else dict(rule)
            kind = "hash" if parsed == "hash" else parsed.get("fake")
            if kind:
                cls = FAKES[kind]
                if category not in cls.types:
                    break
                if unique and not cls.always_unique:
                    if cls.can_be_unique:
                        parsed["unique"] = True
                    else:
                        parsed = "hash"
            elif "value" in parsed and unique:
                parsed = "hash"
            return parsed, f"{col.type}: name looks personal"
    if category == "json":
        return {"fake": "json"}, f"{col.type}: strings faked, keys and numbers kept - REVIEW"
    if category in ("date", "timestamp"):
        return "keep", f"{col.type} - REVIEW if it dates a person (birth, visit, ...)"
    if category == "text":
        if unique:
            return "keep", f"{col.type}, unique - REVIEW: keep only if it is not personal (slug, code)"
        return "keep", f"{col.type} - REVIEW: free text may hold personal data"
    return "keep", f"{col.type} - REVIEW"


def propose_rules(schema: Schema) -> Rules:
    """A starting set of rules guessed from the schema (for review, never applied silently)."""
    return Rules.from_yaml(proposal_yaml(schema), source="proposal")


def proposal_yaml(schema: Schema) -> str:
    lines = [
        "# Anonymisation rules PROPOSED from the schema by heroku-tools.",
        "# Guessed from column names and types: review every line (search for REVIEW)",
        "# before using it. Deny by default: every column of every table needs a rule.",
        "tables:",
    ]
    for key, table in sorted(schema.tables.items()):
        name = display(key)
        if _TRUNCATE_TABLES.search(key[1].lower()):
            lines.append(f"  {_yaml_key(name)}: truncate  # sessions, tokens and logs are not copied")
            continue
        if not table.columns:
            lines.append(f"  {_yaml_key(name)}: truncate  # REVIEW: columns unknown")
            continue
        lines.append(f"  {_yaml_key(name)}:")
        for col in table.columns.values():
            if col.generated:
                continue
            rule, reason = _propose_column(table, col)
            lines.append(f"    {_yaml_key(col.name)}: {_yaml_flow(rule)}  # {reason}")
    return "\n".join(lines) + "\n"


def write_proposal(schema: Schema, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write :func:`proposal_yaml` to ``path``; refuses to replace an existing file unless told."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists: the proposal is never written over existing rules")
    path.write_text(proposal_yaml(schema), encoding="utf-8")
    return path


def _yaml_key(name: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name) and yaml.safe_load(name) == name:
        return name
    return json.dumps(name, ensure_ascii=False)


def _yaml_flow(rule) -> str:
    return yaml.safe_dump(rule, default_flow_style=True, width=1000).strip().removesuffix("...").strip()
