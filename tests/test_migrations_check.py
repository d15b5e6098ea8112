"""``migrations.check`` end to end through a real git repository: the function, the task, markers and overrides."""
from __future__ import annotations

import json

import pytest
from invoke import Collection

from heroku_tools.cli import HerokuToolsProgram
from heroku_tools.errors import HerokuToolsError
from heroku_tools.git import Git
from heroku_tools.migrations import Verdict, check, render
from heroku_tools.tasks import migrations as migrations_tasks
from migrations_cases import migration, shop_repo

DROP_PHONE = 'migrations.RemoveField(model_name="customer", name="phone")'
ADD_FAX = 'migrations.AddField("customer", "fax", models.CharField(max_length=20, null=True))'


@pytest.fixture
def repo(tmp_path):
    made = shop_repo(tmp_path)
    made.git("checkout", "-q", "-b", "feature")
    return made


def base_of(repo) -> str:
    return repo.git("rev-parse", "main").stdout.strip()


def run_task(argv: list[str], capsys) -> tuple[int, str, str]:
    program = HerokuToolsProgram(namespace=Collection(migrations_tasks), version="0")
    try:
        program.run(["heroku-tools", *argv])
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_since_defaults_to_the_merge_base_with_the_live_branch(repo):
    repo.commit("fax", {"store/migrations/0002_fax.py": migration(ADD_FAX)})
    result = check(Git(cwd=repo.path), branch="main")
    assert result.since == base_of(repo) and result.since_label == "merge base of HEAD and main"
    assert [(str(item.key), item.verdict) for item in result.migrations] == [("shop.0002_fax", Verdict.COMPATIBLE)]
    assert not result.failed and result.verdict is Verdict.COMPATIBLE


def test_the_live_branch_may_be_a_remote_tracking_branch(repo):
    repo.git("update-ref", "refs/remotes/origin/live", "main")
    repo.commit("fax", {"store/migrations/0002_fax.py": migration(ADD_FAX)})
    assert check(Git(cwd=repo.path), branch="live").since == base_of(repo)


@pytest.mark.parametrize("kwargs, message", [
    ({"since": "no-such-rev"}, "--since no-such-rev: no such commit in this repository"),
    ({"branch": "master"}, "no branch 'master' to compare with: name the live branch with --branch"),
])
def test_bad_revisions_are_one_clear_error(repo, kwargs, message):
    with pytest.raises(HerokuToolsError, match=message):
        check(Git(cwd=repo.path), **kwargs)


def test_task_prints_verdicts_and_exits_1_on_an_unmarked_incompatible_migration(repo, capsys, monkeypatch):
    monkeypatch.chdir(repo.path)
    monkeypatch.setenv("NO_COLOR", "1")
    repo.commit("drop", {"store/migrations/0002_fax.py": migration(ADD_FAX),
                         "store/migrations/0003_drop_phone.py": migration(DROP_PHONE, depends='("shop", "0002_fax")')})
    code, out, err = run_task(["migrations.check", "--branch", "main"], capsys)
    assert (code, err) == (1, "")
    assert "compatible    shop.0002_fax" in out and "incompatible  shop.0003_drop_phone" in out
    assert "store/migrations/0003_drop_phone.py:" in out and "migrations.RemoveField" in out
    assert "drops shop.Customer.phone (column phone): the running code still selects it" in out
    assert "→ ship it in two deploys" in out and out.rstrip().splitlines()[-1].startswith("FAILED: 1 would need downtime")

    code, out, _ = run_task(["migrations.check", "--branch", "main", "--json"], capsys)
    data = json.loads(out)
    assert code == 1 and data["failed"] is True and data["verdict"] == "incompatible"
    fax, drop = data["migrations"]
    assert {key: drop[key] for key in ("app", "name", "verdict")} == {"app": "shop", "name": "0003_drop_phone", "verdict": "incompatible"}
    assert drop["operation"]["file"] == "store/migrations/0003_drop_phone.py" and drop["operation"]["class"] == "migrations.RemoveField"
    source = (repo.path / drop["operation"]["file"]).read_text().splitlines()
    assert "RemoveField" in source[drop["operation"]["line"] - 1]
    assert fax["verdict"] == "compatible" and fax["marked_by"] is None


def test_task_exits_0_when_everything_can_run_beside_the_old_code(repo, capsys, monkeypatch):
    monkeypatch.chdir(repo.path)
    repo.commit("fax", {"store/migrations/0002_fax.py": migration(ADD_FAX)})
    code, out, _ = run_task(["migrations.check", "--since", "main"], capsys)
    assert code == 0 and out.rstrip().splitlines()[-1].startswith("OK: every added migration")
    repo.git("checkout", "-q", "main")
    code, out, _ = run_task(["migrations.check", "--since", "main"], capsys)
    assert code == 0 and "none" in out.splitlines()[0] and "Nothing to judge." in out


def test_task_errors_are_one_message_without_traceback(repo, capsys, monkeypatch):
    monkeypatch.chdir(repo.path)
    code, out, err = run_task(["migrations.check", "--since", "nope"], capsys)
    assert code == 1 and out == "" and err.strip() == "--since nope: no such commit in this repository"


@pytest.mark.parametrize("body, comment, verdict, marked_by", [
    ("", "  # heroku-tools: compatible", Verdict.COMPATIBLE, "a `# heroku-tools: compatible` comment on the `class Migration` line"),
    ("safe = Safe.before_deploy()\n", "", Verdict.COMPATIBLE, "django-safemigrate's `safe = Safe.before_deploy`"),
    ("stage = Stage.PRE_DEPLOY\n", "", Verdict.COMPATIBLE, "django-syzygy's `stage = Stage.PRE_DEPLOY`"),
    ("safe = Safe.before_deploy()\nstage = Stage.POST_DEPLOY\n", "  # heroku-tools: locking", Verdict.LOCKING,
     "a `# heroku-tools: locking` comment"),
])
def test_marks_override_the_rules_and_say_so(repo, body, comment, verdict, marked_by):
    head = "from django_safemigrate import Safe\nfrom syzygy import Stage\n"
    repo.commit("drop", {"store/migrations/0002_drop.py": migration(DROP_PHONE, head=head, body=body, comment=comment)})
    (judged,) = check(Git(cwd=repo.path), "main").migrations
    assert judged.verdict is verdict and judged.judgement.verdict is Verdict.INCOMPATIBLE
    assert judged.mark.source.startswith(marked_by)
    assert judged.operation.stock == "RemoveField"


def test_marked_incompatible_does_not_fail_the_gate(repo):
    head = "from django_safemigrate import Safe\n"
    repo.commit("fax", {"store/migrations/0002_fax.py": migration(ADD_FAX, head=head, body="safe = Safe.after_deploy()\n")})
    result = check(Git(cwd=repo.path), "main")
    assert result.migrations[0].verdict is Verdict.INCOMPATIBLE and result.migrations[0].marked
    assert not result.failed
    assert "marked incompatible by django-safemigrate's" in render(result)


def test_an_operation_mark_covers_that_operation_only(repo):
    operations = f"{DROP_PHONE},  # heroku-tools: compatible\nmigrations.RunPython(migrations.RunPython.noop)"
    repo.commit("marked", {"store/migrations/0002_marked.py": migration(operations)})
    (judged,) = check(Git(cwd=repo.path), "main").migrations
    dropped = judged.operations[0]
    assert (dropped.verdict, dropped.judgement.verdict) == (Verdict.COMPATIBLE, Verdict.INCOMPATIBLE)
    assert judged.verdict is Verdict.COMPATIBLE and not judged.marked, "decided by the unmarked, compatible RunPython.noop"
    operations = f"{DROP_PHONE},  # heroku-tools: compatible\nmigrations.RunPython(forwards)"
    repo.commit("marked", {"store/migrations/0002_marked.py": migration(operations, head="def forwards(apps, editor):\n    pass\n")})
    result = check(Git(cwd=repo.path), "main")
    assert result.migrations[0].verdict is Verdict.UNKNOWN and result.failed
    assert [op.mark is not None for op in result.migrations[0].operations] == [True, False]


def test_overrides_are_the_strongest_mark(repo):
    source = migration(ADD_FAX, comment="  # heroku-tools: compatible")
    repo.commit("fax", {"store/migrations/0002_fax.py": source})
    (judged,) = check(Git(cwd=repo.path), "main", overrides={"incompatible": ["shop.0002_fax"]}).migrations
    assert judged.verdict is Verdict.INCOMPATIBLE and judged.mark.source == "the migrations overrides (incompatible: shop.0002_fax)"


def test_changed_removed_and_squashed_migrations(repo, tmp_path):
    repo.git("checkout", "-q", "main")
    repo.commit("fax", {"store/migrations/0002_fax.py": migration(ADD_FAX),
                        "store/migrations/0003_noop.py": migration("", depends='("shop", "0002_fax")')})
    live = repo.git("rev-parse", "HEAD").stdout.strip()
    squash = migration(ADD_FAX, body='replaces = [("shop", "0002_fax"), ("shop", "0003_noop")]\n')
    edited = migration(ADD_FAX.replace("max_length=20", "max_length=30"))
    repo.write({"store/migrations/0002_fax.py": edited, "store/migrations/0002_squashed_0003.py": squash})
    (repo.path / "store/migrations/0003_noop.py").unlink()
    repo.commit("squash")
    result = check(Git(cwd=repo.path), live)
    (squashed,) = result.migrations
    assert str(squashed.key) == "shop.0002_squashed_0003" and squashed.verdict is Verdict.COMPATIBLE
    assert "squashes migrations already applied" in squashed.reason
    assert result.changed == ("shop.0002_fax",) and result.removed == ()
    text = render(result)
    assert "Changed since" in text and "Django will not run them again" in text
