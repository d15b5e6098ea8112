"""Post-data statements sent as soon as their data is in: which ones move, and where they land in the script.

Pure units: a dump's schema-only script read by :class:`Schema`, and the
stream's output for the whole script. That the moved statements build the
same database is shown end to end by tests/test_anonymise_restore.py (the
constraints come back and hold).
"""
from __future__ import annotations

from heroku_tools.anonymise import AnonymisingStream, Rules
from heroku_tools.anonymise.early import EarlyStatements, ForeignKey
from heroku_tools.anonymise.schema import Schema

SECRET = "early-secret"

PRE_DATA = """\
SET client_encoding = 'UTF8';

CREATE TABLE public.auth_user (
    id integer NOT NULL,
    email character varying(254) NOT NULL
);

CREATE TABLE public.customer (
    id bigint NOT NULL,
    user_id integer NOT NULL,
    referred_by_id bigint
);

CREATE TABLE public.coupon (
    code text NOT NULL,
    CONSTRAINT coupon_code_key UNIQUE (code)
);

CREATE TABLE public.shop_order (
    id bigint NOT NULL,
    customer_id bigint NOT NULL,
    coupon_code text,
    voucher text
);

CREATE TABLE public.voucher (
    code text NOT NULL,
    active boolean NOT NULL
);

CREATE TABLE public.event (
    id bigint NOT NULL,
    at timestamp with time zone NOT NULL
) PARTITION BY RANGE (at);

"""

DATA = """\
COPY public.customer (id, user_id, referred_by_id) FROM stdin;
1	1	\\N
2	2	1
\\.

COPY public.auth_user (id, email) FROM stdin;
1	a@real.example
2	b@real.example
\\.

COPY public.coupon (code) FROM stdin;
SPRING
\\.

COPY public.voucher (code, active) FROM stdin;
V1	t
\\.

COPY public.shop_order (id, customer_id, coupon_code, voucher) FROM stdin;
1	2	SPRING	V1
\\.

"""

FK_USER = ("ALTER TABLE ONLY public.customer\n    ADD CONSTRAINT customer_user_id_fkey FOREIGN KEY (user_id) "
           "REFERENCES public.auth_user(id) DEFERRABLE INITIALLY DEFERRED;")
FK_REFERRER = ("ALTER TABLE ONLY public.customer\n    ADD CONSTRAINT customer_referred_by_fkey FOREIGN KEY "
               "(referred_by_id) REFERENCES public.customer(id);")
FK_CUSTOMER = ("ALTER TABLE ONLY public.shop_order\n    ADD CONSTRAINT shop_order_customer_fkey FOREIGN KEY "
               "(customer_id) REFERENCES public.customer(id) DEFERRABLE INITIALLY DEFERRED;")
FK_COUPON = ("ALTER TABLE ONLY public.shop_order\n    ADD CONSTRAINT shop_order_coupon_fkey FOREIGN KEY "
             "(coupon_code) REFERENCES public.coupon(code);")
# the voucher's key is a unique index with a WHERE: no foreign key can use it, so it never counts as built early
FK_VOUCHER = ("ALTER TABLE ONLY public.shop_order\n    ADD CONSTRAINT shop_order_voucher_fkey FOREIGN KEY "
              "(voucher) REFERENCES public.voucher(code);")
FK_UNNAMED_KEY = ("ALTER TABLE ONLY public.shop_order\n    ADD CONSTRAINT shop_order_customer_pk_fkey FOREIGN KEY "
                  "(customer_id) REFERENCES public.customer;")

POST_DATA = f"""\
ALTER TABLE ONLY public.auth_user
    ADD CONSTRAINT auth_user_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.customer
    ADD CONSTRAINT customer_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.shop_order
    ADD CONSTRAINT shop_order_pkey PRIMARY KEY (id);

CREATE UNIQUE INDEX voucher_active_code ON public.voucher USING btree (code) WHERE active;

CREATE INDEX customer_user_id ON public.customer USING btree (user_id);

{FK_USER}

{FK_REFERRER}

{FK_CUSTOMER}

{FK_COUPON}

{FK_VOUCHER}

{FK_UNNAMED_KEY}

--
-- PostgreSQL database dump complete
--
"""

RULES = {"tables": {
    "auth_user": {"id": "keep", "email": {"fake": "email"}},
    "customer": {"id": "keep", "user_id": "keep", "referred_by_id": "keep"},
    "coupon": {"code": "keep"},
    "voucher": {"code": "keep", "active": "keep"},
    "shop_order": {"id": "keep", "customer_id": "keep", "coupon_code": "keep", "voucher": "keep"},
    "event": {"id": "keep", "at": "keep"},
}}


def schema() -> Schema:
    return Schema.from_sql(PRE_DATA + POST_DATA)


def test_keys_built_early_are_primary_keys_unique_constraints_and_plain_unique_indexes():
    keys = schema().early_keys
    assert keys[("public", "auth_user")] == {frozenset({"id"})}
    assert keys[("public", "coupon")] == {frozenset({"code"})}  # inline in CREATE TABLE: there before the data
    assert keys[("public", "voucher")] == set()  # a unique index with a WHERE is no key for a foreign key
    assert ("public", "event") not in keys  # partitioned: its indexes keep their place


def test_a_foreign_key_moves_when_the_key_it_references_is_built_early():
    moved = [fk.statement for fk in schema().early_statements().foreign_keys]
    assert moved == [FK_USER, FK_REFERRER, FK_CUSTOMER, FK_COUPON]
    assert FK_VOUCHER not in moved and FK_UNNAMED_KEY not in moved


def test_a_foreign_key_is_due_once_both_its_tables_are_loaded_after_the_indexes():
    user, customer, order = ("public", "auth_user"), ("public", "customer"), ("public", "shop_order")
    early = EarlyStatements(
        indexes={user: ["U1"], customer: ["C1", "C2"]},
        foreign_keys=[ForeignKey("FK customer->user", customer, user, frozenset({"id"})),
                      ForeignKey("FK customer->customer", customer, customer, frozenset({"id"})),
                      ForeignKey("FK order->customer", order, customer, frozenset({"id"}))],
    )
    assert early.after(customer) == ["C1", "C2", "FK customer->customer"]
    assert early.after(user) == ["U1", "FK customer->user"]
    assert early.after(("public", "other")) == []
    assert early.after(order) == ["FK order->customer"]
    assert early.after(order) == [] and early.foreign_keys == []


def test_the_stream_sends_each_moved_statement_once_right_after_the_data_it_needs():
    stream = AnonymisingStream(Rules.from_mapping(RULES), SECRET, early=schema().early_statements())
    script = b"".join([*stream.feed((PRE_DATA + DATA + POST_DATA).encode()), *stream.finish()]).decode()
    data_end = {table: script.index("\\.\n", script.index(f"COPY public.{table} ")) for table in
                ("customer", "auth_user", "coupon", "voucher", "shop_order")}

    def sent_after(statement: str, table: str, before: str | None) -> None:
        assert script.count(statement) == 1, statement
        at = script.index(statement)
        assert data_end[table] < at < (script.index(f"COPY public.{before} ") if before else len(script))

    sent_after("ADD CONSTRAINT customer_pkey PRIMARY KEY (id);", "customer", "auth_user")
    sent_after(FK_REFERRER, "customer", "auth_user")  # references its own table: due with it
    sent_after(FK_USER, "auth_user", "coupon")  # both tables loaded, auth_user's key built just before
    assert script.index("ADD CONSTRAINT auth_user_pkey") < script.index(FK_USER)
    sent_after(FK_CUSTOMER, "shop_order", None)
    sent_after(FK_COUPON, "shop_order", None)
    sent_after("CREATE UNIQUE INDEX voucher_active_code", "voucher", "shop_order")  # an index moves, key or not
    verification = script.index("DO $ht_verify$")
    for late in (FK_VOUCHER, FK_UNNAMED_KEY):  # kept in the post-data
        assert script.count(late) == 1 and data_end["shop_order"] < script.index(late) < verification
        assert script.index(FK_COUPON) < script.index(late)
