"""The SQL of the restore's one transaction that is not the dump's.

Before the dump: ``BEGIN`` and the wipe of the target's schemas
(:func:`begin_sql`, :func:`wipe_sql`).  After it: per table, the
verification (:func:`verify_sql`), then ``COMMIT`` and the query by which
restore learns that the server committed (:data:`COMMIT_SQL`).  A failed check
raises an exception whose message starts with a mark restore looks for in
psql's errors (:data:`VERIFY_MARK`, :data:`CANARY_MARK`).
"""
from __future__ import annotations

from .errors import UnsafeDump
from .sqlscan import qualified, quote_ident, quote_literal
from .tableplan import TablePlan

VERIFY_MARK = "heroku-tools verification failed"
CANARY_MARK = "heroku-tools canary found"
STATUS_MARK = "heroku-tools-commit-status:"

COMMIT_SQL = ("SELECT txid_current() AS heroku_tools_xid \\gset\n"
              "COMMIT;\n"
              f"SELECT '{STATUS_MARK}' || txid_status(:heroku_tools_xid);\n")


def begin_sql(schemas, *, wipe: bool) -> str:
    """Stop at the first error, open the transaction, and (``wipe``) drop the target's ``public`` and ``schemas``."""
    head = "\\set ON_ERROR_STOP on\nBEGIN;\nSET LOCAL client_min_messages = warning;\n"
    return head + wipe_sql(schemas) if wipe else head


def verify_sql(plan: TablePlan, canary: str | None) -> str:
    """The checks of one table, run inside the transaction before COMMIT (see :mod:`.stream`); with ``canary``,
    the search of its text-like columns for it.  One scan of the table for all of them."""
    name = plan.name
    selects, checks = _column_checks(plan)
    canary_checks = _canary_conditions(plan, canary) if canary and plan.rows_out else []
    if canary_checks:
        selects.append("count(*) FILTER (WHERE " + " OR ".join(canary_checks) + ") AS canary")
    lines = ["DO $ht_verify$", "DECLARE r record;", "BEGIN",
             f"  SELECT {', '.join(selects)} INTO r FROM {qualified(plan.key)};"]
    for cond, message, value in checks:
        raised = _raise_literal(f"{VERIFY_MARK}: {message}")
        lines.append(f"  IF {cond} THEN RAISE EXCEPTION {raised}, {value}; END IF;")
    if canary_checks:
        message = _raise_literal(f"{CANARY_MARK}: {name} holds the canary in \x01 rows")
        lines.append(f"  IF r.canary > 0 THEN RAISE EXCEPTION {message}, r.canary; END IF;")
    lines.append("END $ht_verify$;")
    sql = "\n".join(lines) + "\n"
    body = sql[len("DO $ht_verify$"):-len("$ht_verify$;\n")]
    if "$ht_verify$" in body:
        raise UnsafeDump(f"cannot build the verification of {name}: a name contains $ht_verify$")
    return sql


def _column_checks(plan: TablePlan) -> tuple[list[str], list[tuple[str, str, str]]]:
    """The row count, and per ruled column what it must hold: (select expressions, [(condition, message,
    value)]); ``\x01`` in a message stands for the value."""
    name = plan.name
    selects = ["count(*) AS n"]
    checks = [(f"r.n <> {plan.rows_out}", f"{name} holds \x01 rows where the anonymiser sent {plan.rows_out}",
               "r.n")]
    for i, (col, (action, extra)) in enumerate(plan.checks.items()):
        c = quote_ident(col)
        label = f"{name}.{col}"
        if action == "null":
            selects.append(f"count({c}) AS c{i}")
            checks.append((f"r.c{i} <> 0", f"{label} holds \x01 values where its rule is null", f"r.c{i}"))
        elif action == "value":
            value, column = extra
            if column is not None:
                lit = quote_literal(value)
                if column.type.category == "json":
                    cond = f"{c}::text <> CAST({lit} AS {column.type.text})::text"
                else:
                    cond = f"{c} <> CAST({lit} AS {column.type.text})"
                selects.append(f"count(*) FILTER (WHERE {cond}) AS c{i}")
                checks.append((f"r.c{i} <> 0", f"{label} holds \x01 values other than its fixed value", f"r.c{i}"))
        else:
            count, length = plan.sent[col]
            selects.append(f"count({c}) AS c{i}")
            checks.append((f"r.c{i} <> {count}",
                           f"{label} holds \x01 values where the anonymiser sent {count}", f"r.c{i}"))
            if length is not None:
                selects.append(f"coalesce(sum(length({c})), 0) AS l{i}")
                checks.append((f"r.l{i} <> {length}",
                               f"{label} holds \x01 characters where the anonymiser sent {length}", f"r.l{i}"))
    return selects, checks


def _canary_conditions(plan: TablePlan, canary: str) -> list[str]:
    """One condition per column that could hold the canary: true where it does."""
    lit = quote_literal(canary)
    conditions = []
    for col in plan.table.columns.values() if plan.table else []:
        if not col.type.may_hold_text:
            continue
        c = quote_ident(col.name)
        if col.type.category == "bytea":
            conditions.append(f"position(convert_to({lit}, 'UTF8') in {c}) > 0")
        else:
            conditions.append(f"strpos({c}::text, {lit}) > 0")
    return conditions


def _raise_literal(message: str) -> str:
    """A RAISE format string: chr(1) marks the one placeholder; any other ``%`` is literal."""
    return quote_literal(message.replace("%", "%%").replace("\x01", "%"))


def wipe_sql(extra_schemas=()) -> str:
    """Drop and re-create ``public`` (keeping its owner and grants where allowed) and drop the dump's schemas.

    Runs inside the restore's transaction, so a failure later leaves them as they were.  If the dump
    creates ``public`` itself, it is only dropped.
    """
    if "public" in extra_schemas:
        return "".join(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE;\n" for schema in extra_schemas)
    lines = [
        "DO $ht_wipe$",
        "DECLARE owner_name name; acl aclitem[]; owner_oid oid; item record;",
        "BEGIN",
        "  SELECT r.rolname, n.nspacl, n.nspowner INTO owner_name, acl, owner_oid",
        "    FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = 'public';",
        "  DROP SCHEMA IF EXISTS public CASCADE;",
        "  CREATE SCHEMA public;",
        "  IF owner_name IS NOT NULL AND owner_name <> current_user THEN",
        "    BEGIN",
        "      EXECUTE format('ALTER SCHEMA public OWNER TO %I', owner_name);",
        "    EXCEPTION WHEN insufficient_privilege THEN NULL;",
        "    END;",
        "  END IF;",
        "  FOR item IN SELECT a.grantee, a.privilege_type FROM aclexplode(acl) a WHERE a.grantee <> owner_oid LOOP",
        "    BEGIN",
        "      IF item.grantee = 0 THEN",
        "        EXECUTE format('GRANT %s ON SCHEMA public TO PUBLIC', item.privilege_type);",
        "      ELSE",
        "        EXECUTE format('GRANT %s ON SCHEMA public TO %I', item.privilege_type,",
        "                       (SELECT rolname FROM pg_roles WHERE oid = item.grantee));",
        "      END IF;",
        "    EXCEPTION WHEN insufficient_privilege OR undefined_object THEN NULL;",
        "    END;",
        "  END LOOP;",
        "END $ht_wipe$;",
    ]
    for schema in extra_schemas:
        if schema != "public":
            lines.append(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE;")
    return "\n".join(lines) + "\n"
