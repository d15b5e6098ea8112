"""Anonymising restore: load a Postgres dump into a lower environment, personal data replaced on the way.

Public API (what the ``backups`` tasks call)::

    from heroku_tools.anonymise import (
        Rules, restore, read_dump_schema, read_database_schema, check, find_problems,
        propose_rules, proposal_yaml, write_proposal, Fakes, AnonymisingStream,
    )

    rules = Rules.load("anonymise.yml")                  # or Rules.from_mapping(settings["anonymise"])
    check(rules, read_database_schema(live_url))         # backups.check ENV: raises SchemaMismatch on any gap
    result = restore(dump_path_or_url, target_url, rules, secret=SECRET, canary="canary-7f3a9@example.org")
    print(result.rows_in, result.seconds)

See :mod:`.restore` for the pipeline and its failure guarantees, :mod:`.stream`
for the rewrite and the verification, :mod:`.rules` for the rule syntax,
:mod:`.fakes` for the fakes.

The modules, from the outside in:

* :mod:`.restore` runs ``pg_restore | stream | psql`` in one transaction;
  :mod:`.sources` opens the dump (file or URL) and turns a database URL into
  libpq variables; :mod:`.pipeio` holds the threads that move bytes between
  the processes;
* :mod:`.stream` rewrites the SQL script (:class:`AnonymisingStream`);
  :mod:`.tableplan` rewrites one table's COPY rows; :mod:`.transaction` writes
  the SQL around the dump (BEGIN and the wipe, verification, COMMIT);
  :mod:`.copytext` decodes and encodes COPY fields;
* :mod:`.schema` reads tables and columns (from a dump's DDL or a live
  database), with :mod:`.sqlscan` (the SQL lexer, identifiers) and
  :mod:`.pgtypes` (column types);
* :mod:`.rules` parses the rules, :mod:`.check` compares them with a schema
  and proposes new ones, :mod:`.fakes` makes the fakes;
  :mod:`.errors` holds the exceptions.
"""
from .check import check, find_problems
from .errors import (
    AnonymiseError,
    CanaryFound,
    Problem,
    RestoreFailed,
    RulesError,
    SchemaMismatch,
    UnsafeDump,
    VerificationFailed,
)
from .fakes import FAKES, FakeError, Fakes
from .proposal import proposal_yaml, propose_rules, write_proposal
from .restore import RestoreResult, restore
from .rules import ColumnRule, Rules, TableRule
from .schema import Schema, read_database_schema, read_dump_schema, read_literal_holders
from ..database import libpq_env
from .stream import AnonymisingStream

__all__ = [
    "AnonymiseError", "AnonymisingStream", "CanaryFound", "ColumnRule", "FAKES", "FakeError", "Fakes", "Problem",
    "RestoreFailed", "RestoreResult", "Rules", "RulesError", "Schema", "SchemaMismatch", "TableRule", "UnsafeDump",
    "VerificationFailed", "check", "find_problems", "libpq_env", "proposal_yaml", "propose_rules",
    "read_database_schema", "read_dump_schema", "read_literal_holders", "restore", "write_proposal",
]
