"""Rules, schema reading, deny-by-default checks, proposals, and the stream's refusals (no database needed)."""
from __future__ import annotations

import dataclasses
import random

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from heroku_tools.anonymise import (
    AnonymisingStream,
    CanaryFound,
    RestoreFailed,
    Rules,
    RulesError,
    Schema,
    SchemaMismatch,
    UnsafeDump,
    check,
    find_problems,
    libpq_env,
    proposal_yaml,
    propose_rules,
    write_proposal,
)
from heroku_tools.anonymise.rules import parse_table_name
from heroku_tools.anonymise.sqlscan import display, split_statements
from heroku_tools.anonymise.tableplan import TablePlan
from heroku_tools.anonymise.transaction import wipe_sql

# What ``pg_restore -f -`` writes for a small Django-like database (PostgreSQL 15).
DDL = r'''--
-- PostgreSQL database dump
--

\restrict AbC123

SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);

--
-- Name: audit; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA audit;


--
-- Name: touch(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.touch() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
INSERT INTO audit.log VALUES (now());
COMMIT;
RETURN NEW;
END;
$$;


--
-- Name: add(integer, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.add(a integer, b integer) RETURNS integer
    LANGUAGE sql
    BEGIN ATOMIC
 SELECT (a + b);
END;


CREATE TABLE audit.log (
    at timestamp with time zone
);


CREATE TABLE public.auth_user (
    id integer NOT NULL,
    password character varying(128) NOT NULL,
    username character varying(150) NOT NULL,
    first_name character varying(150) NOT NULL,
    email character varying(254) NOT NULL,
    is_staff boolean NOT NULL
);


CREATE TABLE public."Odd ""Name""" (
    "Mixed Case" text DEFAULT 'a, b (c)'::text,
    "select" integer,
    twice integer GENERATED ALWAYS AS (("select" * 2)) STORED,
    tags text[],
    doc jsonb,
    CONSTRAINT positive CHECK (("select" > 0))
);


CREATE TABLE public.django_session (
    session_key character varying(40) NOT NULL,
    session_data text NOT NULL,
    expire_date timestamp with time zone NOT NULL
);


--
-- Data for Name: log; Type: TABLE DATA; Schema: audit; Owner: -
--

COPY audit.log (at) FROM stdin;
2024-01-01 00:00:00+00
\.


--
-- Data for Name: Odd "Name"; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public."Odd ""Name""" ("Mixed Case", "select", tags, doc) FROM stdin;
x\ty	1	{a,b}	{"k": "secret value"}
\N	2	\N	\N
\.


--
-- Data for Name: auth_user; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.auth_user (id, password, username, first_name, email, is_staff) FROM stdin;
1	pbkdf2$1	alice	Alice	alice@real.example	t
2	pbkdf2$2	bob	Bob	bob@real.example	f
3	pbkdf2$3	CANARY-77	Canary	canary-77@real.example	f
\.


--
-- Data for Name: django_session; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.django_session (session_key, session_data, expire_date) FROM stdin;
abc	CANARY-77 session	2024-01-01 00:00:00+00
\.


--
-- Name: auth_user auth_user_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_user
    ADD CONSTRAINT auth_user_pkey PRIMARY KEY (id);


ALTER TABLE ONLY public.auth_user
    ADD CONSTRAINT auth_user_username_key UNIQUE (username);


ALTER TABLE ONLY public.django_session
    ADD CONSTRAINT django_session_pkey PRIMARY KEY (session_key);


CREATE UNIQUE INDEX auth_user_email_upper ON public.auth_user USING btree (upper((email)::text));


CREATE UNIQUE INDEX auth_user_email_key ON public.auth_user USING btree (email);


CREATE INDEX auth_user_username_like ON public.auth_user USING btree (username varchar_pattern_ops);


--
-- PostgreSQL database dump complete
--

\unrestrict AbC123

'''

RULES_YAML = r'''
tables:
  audit.log: {at: keep}
  '"Odd ""Name"""': {Mixed Case: keep, select: keep, tags: keep, doc: {fake: json}}
  auth_user:
    id: keep
    password: {value: "!"}
    username: {fake: username}
    first_name: {fake: first_name}
    email: {fake: email}
    is_staff: keep
  django_session: truncate
'''


def rules(text: str = RULES_YAML) -> Rules:
    return Rules.from_yaml(text)


def schema() -> Schema:
    return Schema.from_sql(DDL)


# -- rules syntax ---------------------------------------------------------------------------------
def test_rule_syntax():
    r = Rules.from_yaml("""
tables:
  t:
    a: keep
    b: null
    c: "null"
    d: {value: 0}
    e: {fake: date_shift, days: 10}
    f: hash
    g: {hash: true, length: 16}
    h: "fake: email"
    i: {fake: first_name, unique: true}
    j: {value: 2024-01-02}
    k: {value: [1, 2]}
    l: {value: null}
  s: truncate
  other.u: {truncate: true}
""")
    t = r.table(("public", "t")).columns
    assert [t[c].action for c in "abcdefghijkl"] == ["keep", "null", "null", "value", "fake", "hash", "hash",
                                                       "fake", "fake", "value", "value", "null"]
    assert t["d"].value == "0" and t["j"].value == "2024-01-02" and t["k"].value == "[1, 2]"
    assert t["e"].option_dict == {"days": 10} and t["i"].unique and t["g"].option_dict == {"length": 16}
    assert r.table(("public", "s")).truncate and r.table(("other", "u")).truncate
    assert Rules.from_mapping(r.to_mapping()).tables == r.tables


@pytest.mark.parametrize("text, message", [
    ("tables: {t: {a: delete}}", "t.a: unknown rule 'delete'"),
    ("tables: {t: {a: {fake: shoe_size}}}", "t.a: unknown fake 'shoe_size'"),
    ("tables: {t: {a: {fake: email, days: 3}}}", "t.a: fake 'email' has no option(s) days"),
    ("tables: {t: {a: {value: 1, fake: email}}}", "t.a: a rule needs exactly one of"),
    ("tables: {t: {a: {value: 1, days: 2}}}", "t.a: 'value' takes no options"),
    ("tables: {t: {truncate: true, a: keep}}", "table t: 'truncate: true' cannot be combined"),
    ("tables: {t: {truncate: false}}", "'truncate: false' is not a rule"),
    ("tables: {t: {}}", "table t: no column rules"),
    ("tables: {t: drop}", "table t: expected 'truncate'"),
    ("tables: {t: {a: keep}, public.t: truncate}", "table t is listed twice"),
    ("tables: {t: {a: {fake: email, unique: maybe}}}", "unique must be true or false"),
    ("tablez: {}", "expected a mapping with a 'tables' key"),
    ("tables: [1]", "'tables' must map"),
    ("tables: {t: {a: keep}\n", "not valid YAML"),
])
def test_rule_errors_name_table_and_column(text, message):
    with pytest.raises(RulesError) as info:
        Rules.from_yaml(text)
    assert message in str(info.value)


@pytest.mark.parametrize("raw, key", [
    ("auth_user", ("public", "auth_user")),
    ("audit.log", ("audit", "log")),
    ('"my.table"', ("public", "my.table")),
    ('"s.x"."t.y"', ("s.x", "t.y")),
    ('Odd "Name"', ("public", 'Odd "Name"')),
    ('"Odd ""Name"""', ("public", 'Odd "Name"')),
])
def test_table_names(raw, key):
    assert parse_table_name(raw) == key
    assert parse_table_name(display(key)) == key


def test_load_rules_file(tmp_path):
    path = tmp_path / "anonymise.yml"
    path.write_text(RULES_YAML)
    assert Rules.load(path).tables == rules().tables
    with pytest.raises(RulesError, match="cannot read"):
        Rules.load(tmp_path / "missing.yml")


# -- schema ------------------------------------------------------------------------------------------
def test_schema_from_pg_restore_output():
    s = schema()
    assert s.schemas == {"audit"}
    assert set(s.tables) == {("audit", "log"), ("public", "auth_user"), ("public", 'Odd "Name"'),
                             ("public", "django_session")}
    odd = s.tables[("public", 'Odd "Name"')]
    assert list(odd.columns) == ["Mixed Case", "select", "twice", "tags", "doc"]
    assert odd.columns["twice"].generated and not odd.columns["select"].generated
    assert odd.columns["tags"].type.array and odd.columns["doc"].type.category == "json"
    user = s.tables[("public", "auth_user")]
    assert user.columns["username"].max_length == 150 and user.columns["username"].not_null
    assert user.is_unique("id") and user.is_unique("username") and user.is_unique("email")
    assert not user.is_unique("first_name")
    # the index statements a stream may move to right after the table's data
    assert len(s.index_statements[("public", "auth_user")]) == 5


def test_statement_splitting_respects_quotes_and_bodies():
    stmts = [s.strip().splitlines()[-1] if s.strip().startswith("--") else s.strip()
             for s in split_statements(DDL)]
    assert any(s.startswith("CREATE FUNCTION public.touch()") and s.endswith("$$;") for s in stmts)
    assert any(s.startswith("CREATE FUNCTION public.add") and s.endswith("END;") for s in stmts)
    assert not any(s.startswith("COMMIT") or s.startswith("INSERT") for s in stmts)
    assert split_statements("SELECT 'a;b'; SELECT \"x;\" FROM t; SELECT E'\\';'; /* ; */ SELECT 1;") == [
        "SELECT 'a;b';", " SELECT \"x;\" FROM t;", " SELECT E'\\';';", " /* ; */ SELECT 1;"]


# -- deny by default ------------------------------------------------------------------------------------
def test_rules_matching_the_schema_pass():
    assert find_problems(rules(), schema()) == []
    check(rules(), schema())


def test_missing_and_stale_rules_are_errors():
    text = RULES_YAML.replace("    is_staff: keep\n", "    is_staff: keep\n    nickname: {fake: first_name}\n")
    text = text.replace("    first_name: {fake: first_name}\n", "")
    text += "  gone_table: truncate\n"
    text = text.replace("  audit.log: {at: keep}\n", "")
    problems = find_problems(rules(text), schema())
    assert {(p.kind, p.where) for p in problems} == {
        ("missing-column", "auth_user.first_name"),
        ("stale-column", "auth_user.nickname"),
        ("stale-table", "gone_table"),
        ("missing-table", "audit.log"),
    }
    with pytest.raises(SchemaMismatch) as info:
        check(rules(text), schema(), "live")
    message = str(info.value)
    for where in ("auth_user.first_name", "auth_user.nickname", "gone_table", "audit.log"):
        assert where in message


@pytest.mark.parametrize("column, rule, message", [
    ("is_staff", "{fake: email}", "the column is boolean"),
    ("email", "null", "NOT NULL"),
    ("username", "{value: x}", "unique: one fixed value would collide"),
    ("email", "{fake: first_name}", "write {fake: first_name, unique: true}"),
    ("password", "{value: " + "x" * 129 + "}", "129 characters, the column allows 128"),
    ("first_name", "{fake: date_shift}", "makes date, timestamp values"),
])
def test_rules_that_cannot_work_on_the_column(column, rule, message):
    text = RULES_YAML.replace(f"    {column}: ", f"    {column}: {rule}  # was ", 1)
    problems = find_problems(rules(text), schema())
    assert [(p.kind, p.where) for p in problems] == [("invalid", f"auth_user.{column}")]
    assert message in problems[0].message


def test_generated_columns_need_no_rule_and_only_keep():
    ok = RULES_YAML.replace("select: keep,", "select: keep, twice: keep,")
    assert find_problems(rules(ok), schema()) == []
    bad = RULES_YAML.replace("select: keep,", "select: keep, twice: null,")
    assert [p.where for p in find_problems(rules(bad), schema())] == ['"Odd ""Name"""'.replace('""', '"')[1:-1]
                                                                      + ".twice"]


def test_proposal_is_complete_valid_and_never_applied(tmp_path):
    s = schema()
    text = proposal_yaml(s)
    assert "REVIEW" in text
    proposed = propose_rules(s)
    assert find_problems(proposed, s) == []
    user = proposed.table(("public", "auth_user")).columns
    assert user["email"].fake == "email" and user["username"].fake == "username"
    assert user["password"].action == "value" and user["is_staff"].action == "keep"
    assert proposed.table(("public", "django_session")).truncate
    path = write_proposal(s, tmp_path / "proposed.yml")
    assert yaml.safe_load(path.read_text())["tables"]
    with pytest.raises(FileExistsError):
        write_proposal(s, path)


# -- the stream's refusals -------------------------------------------------------------------------
SECRET = "unit"


def run_stream(text: str, rule_text: str = RULES_YAML, chunks=None, **kwargs) -> bytes:
    stream = AnonymisingStream(rules(rule_text), SECRET, **kwargs)
    data = text.encode()
    out = []
    if chunks is None:
        out += stream.feed(data)
    else:
        pos = 0
        for size in chunks:
            out += stream.feed(data[pos:pos + size])
            pos += size
        out += stream.feed(data[pos:])
    out += stream.finish()
    return b"".join(out)


def test_stream_begins_and_commits_last():
    out = run_stream(DDL).decode()
    assert out.startswith("\\set ON_ERROR_STOP on\nBEGIN;\n")
    assert out.count("COMMIT;") == 2  # the one inside the function body, and ours
    tail = out[out.rindex("\\unrestrict"):]
    assert tail.index("DO $ht_verify$") < tail.index("\nCOMMIT;\n") < tail.index("heroku-tools-commit-status")
    assert "alice@real.example" not in out and "pbkdf2" not in out
    assert "abc\tCANARY-77 session" not in out  # truncated table
    assert 'DROP SCHEMA IF EXISTS audit CASCADE;' in out
    assert out.index("DROP SCHEMA IF EXISTS public CASCADE") < out.index("CREATE TABLE public.auth_user")


PRIVATE_DDL = """\
COMMENT ON TABLE public.auth_user IS 'Radia Perlman rang about her account: call +44 20 7946 0000';

CREATE SERVER legacy FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'old.example.com', password 'fdw-s3cret');

CREATE USER MAPPING FOR app SERVER legacy OPTIONS (
    user 'migrator',
    password 'mapping-s3cret'
);

ALTER SERVER legacy OPTIONS (SET password 'fdw-s3cret-2');

COMMENT ON COLUMN public.auth_user.email IS 'multi
line, Radia again';

"""


def test_comments_and_foreign_server_options_are_never_forwarded():
    """Schema text is data too: comments are dropped (unless a rule keeps them); credentials never travel."""
    head = DDL.index("--\n-- Data for ")  # at the end of the pre-data, before the first table's data
    script = DDL[:head] + PRIVATE_DDL + DDL[head:]
    out = run_stream(script).decode()
    for secret in ("Radia", "fdw-s3cret", "mapping-s3cret", "CREATE SERVER", "USER MAPPING", "ALTER SERVER"):
        assert secret not in out, secret
    assert "CREATE TABLE public.auth_user" in out  # the rest of the schema still goes
    kept = run_stream(script, "comments: keep\n" + RULES_YAML).decode()
    assert "COMMENT ON TABLE public.auth_user IS 'Radia Perlman" in kept and "line, Radia again" in kept
    assert "fdw-s3cret" not in kept and "mapping-s3cret" not in kept


def test_the_comments_rule_takes_keep_or_drop():
    with pytest.raises(RulesError, match="comments: expected drop"):
        rules("comments: sometimes\n" + RULES_YAML)


def test_without_finish_there_is_no_commit():
    stream = AnonymisingStream(rules(), SECRET)
    out = b"".join(stream.feed(DDL.encode()))
    assert b"BEGIN;" in out
    assert b"\nCOMMIT;\n" not in out.replace(b"$$\nBEGIN\nINSERT INTO audit.log VALUES (now());\nCOMMIT;", b"")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=300), max_size=40))
def test_output_does_not_depend_on_chunking(chunks):
    assert run_stream(DDL, chunks=chunks) == run_stream(DDL)


def test_unknown_column_refused_before_anything_is_emitted():
    text = RULES_YAML.replace("    is_staff: keep\n", "")
    stream = AnonymisingStream(rules(text), SECRET)
    data = DDL.encode()
    head = data.index(b"COPY audit.log")
    assert stream.feed(data[:head]) == []  # the DDL is held back
    with pytest.raises(SchemaMismatch, match="auth_user.is_staff"):
        stream.feed(data[head:])


def test_copy_header_checked_against_rules_even_without_ddl():
    text = "COPY public.auth_user (id, password, username, first_name, email, is_staff, ssn) FROM stdin;\n\\.\n"
    rule_text = RULES_YAML.replace("  audit.log: {at: keep}\n", "")
    with pytest.raises(SchemaMismatch, match="auth_user.ssn"):
        run_stream(text, rule_text)


@pytest.mark.parametrize("bad, error", [
    ("INSERT INTO public.auth_user VALUES (9, 'x', 'y', 'z', 'w', true);\n", "INSERT"),
    ("COMMIT;\n", "COMMIT"),
    ("BEGIN;\n", "BEGIN"),
    ("\\! rm -rf /\n", "meta-command"),
    ("\\copy public.auth_user from 'x'\n", "meta-command"),
    ("--\n-- Name: 16401; Type: BLOB; Schema: -; Owner: -\n--\n\nSELECT pg_catalog.lo_create('16401');\n",
     "large objects"),
    ("--\n-- Data for Name: auth_user; Type: TABLE DATA; Schema: public; Owner: -\n--\n\n"
     "INSERT INTO public.auth_user VALUES (1);\n", "not a COPY"),
    ("COPY public.auth_user (id) FROM '/etc/passwd';\n", "COPY header"),
    ("--\n-- Name: STATISTICS DATA auth_user; Type: STATISTICS DATA; Schema: public; Owner: -\n--\n\n"
     "SELECT * FROM pg_catalog.pg_restore_attribute_stats('most_common_vals', '{alice}'::text);\n", "statistics"),
    ("SELECT * FROM pg_catalog.pg_restore_attribute_stats('most_common_vals', '{alice}'::text);\n", "statistics"),
    ("DELETE FROM public.auth_user;\n", "DELETE"),
])
def test_statements_that_could_carry_data_or_end_the_transaction_are_refused(bad, error):
    text = DDL.replace("--\n-- PostgreSQL database dump complete", bad + "--\n-- PostgreSQL database dump complete")
    with pytest.raises((UnsafeDump, SchemaMismatch), match=error):
        run_stream(text)


@pytest.mark.parametrize("cut", ["2\tpbkdf2$2\tbob", "COPY public.django_session",
                                 "ALTER TABLE ONLY public.django_session", "-- PostgreSQL database dump complete"])
def test_truncated_stream_never_commits(cut):
    text = DDL[: DDL.index(cut)]
    with pytest.raises(RestoreFailed, match="truncated"):
        run_stream(text)


def test_canary_in_a_kept_column_is_caught_in_the_stream():
    text = RULES_YAML.replace("username: {fake: username}", "username: keep")
    with pytest.raises(CanaryFound, match="auth_user.username"):
        run_stream(DDL, text, canary="CANARY-77")
    # with the rules right, the canary never leaves the stream (the session row is truncated)
    assert b"CANARY-77" not in run_stream(DDL, canary="CANARY-77").split(b"DO $ht_verify$")[0]


def test_bad_canary():
    with pytest.raises(ValueError):
        AnonymisingStream(rules(), SECRET, canary="x")


def test_bad_row_shape_refused():
    text = DDL.replace("2\tpbkdf2$2\tbob\tBob\tbob@real.example\tf", "2\tpbkdf2$2\tbob")
    with pytest.raises(UnsafeDump, match="auth_user has 3 fields"):
        run_stream(text)


def test_escaped_values_are_decoded_before_faking():
    plain = run_stream(DDL)
    escaped = run_stream(DDL.replace("1\tpbkdf2$1\talice\tAlice", "1\tpbkdf2$1\t\\141lice\tAlice"))
    assert plain == escaped  # \141 is 'a': the same value, the same fake


def test_columns_declared_not_null_are_rewritten_as_nullable_ones_are():
    """The row rewriter looks for ``\\N`` only where the schema allows NULL: the rows and the counts the
    verification uses are the same as a plan that knows nothing of NOT NULL writes."""
    text = rules(RULES_YAML.replace("first_name: {fake: first_name}", "first_name: {fake: first_name}\n"
                                    "    last_name: {fake: last_name}\n    nick: {fake: name}"))
    ddl = DDL.replace("    first_name character varying(150) NOT NULL,\n",
                      "    first_name character varying(150) NOT NULL,\n    last_name text,\n    nick text NOT NULL,\n")
    table = Schema.from_sql(ddl).table(("public", "auth_user"))
    columns = ["id", "password", "username", "first_name", "last_name", "nick", "email", "is_staff"]
    rows = b"".join(b"%d\tpbkdf2$%d\tuser%d\tName%d\t%s\tNick%d\tu%d@real.example\tf\n"
                    % (i, i, i, i % 3, b"\\N" if i % 4 == 0 else b"Last%d" % (i % 5), i % 2, i) for i in range(60))

    def rewritten(declared: bool) -> tuple[bytes, dict]:
        stream = AnonymisingStream(text, SECRET)
        if not declared:
            table.columns.update({name: dataclasses.replace(column, not_null=False)
                                  for name, column in table.columns.items()})
        plan = TablePlan(("public", "auth_user"), columns, "transform", stream.rules.table(("public", "auth_user")),
                         table)
        plan.compile(stream.fakes, "utf-8")
        assert (plan.not_null != set()) == declared
        return plan.rewrite(rows), plan.sent

    declared, nullable = rewritten(True), rewritten(False)
    assert declared == nullable
    assert declared[1]["last_name"][0] == 45 and declared[1]["nick"][0] == 60  # 15 NULLs left as they were
    assert declared[0].count(b"\t\\N\t") == 15 and b"real.example" not in declared[0]


def test_random_chunks_byte_by_byte():
    rng = random.Random(4)
    sizes = [rng.randint(1, 7) for _ in range(len(DDL))]
    assert run_stream(DDL, chunks=sizes) == run_stream(DDL)


# -- connection settings ---------------------------------------------------------------------------------
def test_libpq_env_keeps_the_password_off_argv():
    env = libpq_env("postgres://u%40x:p%2Fw@db.example.com:6543/name?sslmode=require", {"PGSERVICE": "x", "PATH": "/b"})
    assert env["PGUSER"] == "u@x" and env["PGPASSWORD"] == "p/w" and env["PGHOST"] == "db.example.com"
    assert env["PGPORT"] == "6543" and env["PGDATABASE"] == "name" and env["PGSSLMODE"] == "require"
    assert "PGSERVICE" not in env and env["PATH"] == "/b"
    assert libpq_env("postgresql://u@/db?host=/tmp/sock&port=5433", {})["PGHOST"] == "/tmp/sock"
    with pytest.raises(Exception, match="unsupported parameter"):
        libpq_env("postgres://h/db?evil=1", {})
    with pytest.raises(Exception, match="URL"):
        libpq_env("mysql://h/db", {})


def test_wipe_keeps_public_when_the_dump_creates_it():
    assert "CREATE SCHEMA public" in wipe_sql(["audit"])
    assert "CREATE SCHEMA public" not in wipe_sql(["public", "audit"])
    assert "DROP SCHEMA IF EXISTS audit CASCADE" in wipe_sql(["public", "audit"])
