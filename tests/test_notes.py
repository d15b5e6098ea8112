"""Release notes: the editor through a real terminal, the flags, and git's editor order.

The editor is a small script run the way git runs one (``sh -c``, with
arguments in the command): it keeps a copy of what it was given and puts a
title on top of the pre-filled note. ``heroku-tools deploy`` runs in a pty
(pexpect), so it sees a terminal, opens the editor and asks for the code.
"""
from __future__ import annotations

import subprocess

import pexpect
import pytest

from heroku_tools.errors import HerokuToolsError
from heroku_tools.git import Git
from heroku_tools.release.notes import cleanup, editor, from_options
from heroku_tools.release.tags import parse_message
from _support.home import project_env
from _support.project import HEROKU_TOOLS, Project

EDITOR = """\
#!/bin/sh
# usage: editor.sh --title TITLE [--fail] FILE
title=$2
if [ "$3" = "--fail" ]; then exit 3; fi
file=$3
cp "$file" "$(dirname "$0")/seen.txt"
{ printf '%s\\n\\n' "$title"; cat "$file"; printf '# a comment the editor added\\n'; } > "$file.new"
mv "$file.new" "$file"
"""


@pytest.fixture(scope="module")
def project(sandbox, tmp_path_factory):
    root = tmp_path_factory.mktemp("notes")
    env = project_env(sandbox, root, NO_COLOR="1", TERM="xterm")
    for name in ("GIT_EDITOR", "VISUAL", "EDITOR"):
        env.pop(name, None)
    script = root / "bin" / "editor.sh"
    script.parent.mkdir()
    script.write_text(EDITOR)
    script.chmod(0o755)
    project = Project(root, env, "nts").create_repo().create_apps(labels=("dev",), pipeline=False, postgres=False)
    project.editor = script
    return project


def spawn(project: Project, editor: str, *args: str) -> pexpect.spawn:
    env = {**project.env, "EDITOR": editor}
    return pexpect.spawn(str(HEROKU_TOOLS), ["deploy", "dev", "--options", "1", *args], cwd=str(project.path),
                         env=env, encoding="utf-8", timeout=120, dimensions=(50, 200))


def type_the_code(child: pexpect.spawn) -> None:
    child.expect(r"Type (\d{6}) to deploy to dev \(nts-dev\): ")
    child.sendline(child.match.group(1))


def test_the_editor_writes_the_note_of_the_release_tag(project):
    child = spawn(project, f"{project.editor} --title 'Ship the sample app'")
    child.expect("Waiting for your editor")
    child.expect("Release note: Ship the sample app")
    type_the_code(child)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before

    seen = (project.editor.parent / "seen.txt").read_text()
    assert "\n- Initial sample app\n" in seen  # pre-filled with the commits since the deployed release
    assert "# Release note for dev (nts-dev) v2" in seen
    assert "# It becomes the message of the tag dev/v2 (`git show dev/v2`)" in seen
    message = project.git("tag", "-l", "--format=%(contents)", "dev/v2").stdout
    deployer, note = parse_message(message)
    assert note == "Ship the sample app\n\n- Initial sample app"
    assert "a comment the editor added" not in message
    assert message.rstrip().endswith("Initial sample app")  # then the commit list
    assert (project.path / ".git" / "RELEASE_NOTE").read_text() == note + "\n"


def test_an_editor_that_fails_cancels_before_any_change(project, sandbox):
    project.git("checkout", "-q", "dev")
    project.commit("Add a health check", {"customers/health.py": "OK = True\n"})
    project.git("checkout", "-q", "master")
    child = spawn(project, f"{project.editor} --title x --fail")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert "exited with status 3: deploy cancelled; nothing was changed" in child.before
    assert "Type " not in child.before
    assert project.tag_commit("dev/v3") is None


def test_a_refused_code_keeps_the_note_for_the_next_attempt(project):
    child = spawn(project, f"{project.editor} --title 'Health check'")
    child.expect(r"Type \d{6} to deploy")
    child.sendline("000000x")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    hint = "$ heroku-tools deploy dev --note-file .git/RELEASE_NOTE   # the same, reusing the release note you wrote"
    assert hint in child.before
    subject = project.git("log", "-1", "--format=%s", "dev").stdout.strip()
    assert (project.path / ".git" / "RELEASE_NOTE").read_text().startswith(f"Health check\n\n- {subject}")


def test_without_a_terminal_the_deploy_goes_on_without_a_note(project):
    result = project.tools("deploy", "dev", "--options", "1", "--confirm", "nts-dev")
    assert result.returncode == 0, result.stderr
    assert "No terminal to open an editor on: no release note (pass --note TEXT, --note-file FILE or --no-note" \
        in result.stderr
    deployer, note = parse_message(project.git("tag", "-l", "--format=%(contents)", "dev/v3").stdout)
    assert note is None and deployer


# -- without a deploy -------------------------------------------------------------


def test_note_flags(tmp_path):
    assert from_options() is None
    assert from_options(no_note=True) is False
    assert from_options(note="Title  \n\n\n#42 fixed\n") == "Title\n\n#42 fixed"  # '#' kept: not from an editor
    assert from_options(note=" \n ") is False
    (tmp_path / "note.txt").write_text("From a file\n")
    assert from_options(note_file=str(tmp_path / "note.txt")) == "From a file"
    with pytest.raises(HerokuToolsError, match="--note and --no-note contradict each other"):
        from_options(note="x", no_note=True)
    with pytest.raises(HerokuToolsError, match="--note-file missing.txt: No such file or directory"):
        from_options(note_file="missing.txt")


def test_cleanup_strips_like_git():
    text = "\n\n# comment\nTitle   \n\n\n\nBody\n# another\n\n"
    assert cleanup(text, comments=True) == "Title\n\nBody"
    assert cleanup(text) == "# comment\nTitle\n\nBody\n# another"


def test_a_hash_line_survives_in_the_tag(tmp_path, monkeypatch):
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "T")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "t@example.com")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    git = Git(cwd=tmp_path)
    git.execute(["commit", "-q", "--allow-empty", "-m", "x"])
    git.tag("live/v1", "HEAD", "header\n\n#42 fixed the login\n")
    assert "#42 fixed the login" in git.execute(["tag", "-l", "--format=%(contents)", "live/v1"]).stdout


@pytest.mark.parametrize("settings, expected", [
    ({"EDITOR": "ed-cmd"}, "ed-cmd"),
    ({"EDITOR": "ed-cmd", "VISUAL": "visual-cmd"}, "visual-cmd"),
    ({"EDITOR": "ed-cmd", "VISUAL": "visual-cmd", "core.editor": "code --wait"}, "code --wait"),
    ({"EDITOR": "ed-cmd", "VISUAL": "visual-cmd", "GIT_EDITOR": "git-cmd"}, "git-cmd"),
    ({"EDITOR": "ed-cmd", "VISUAL": "visual-cmd", "TERM": "dumb"}, "ed-cmd"),  # git ignores VISUAL on a dumb terminal
    ({"TERM": "dumb"}, None),
])
def test_the_editor_is_the_one_git_would_use(tmp_path, monkeypatch, settings, expected):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    for name in ("GIT_EDITOR", "VISUAL", "EDITOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-config"))
    for name, value in settings.items():
        if name == "core.editor":
            subprocess.run(["git", "-C", str(tmp_path), "config", "core.editor", value], check=True)
        else:
            monkeypatch.setenv(name, value)
    assert editor(Git(cwd=tmp_path)) == expected
