"""``heroku-tools init``: adopt heroku-tools in an existing project, from what git and Heroku already know.

A project that already ships to Heroku has most of ``heroku-tools.yml`` written
down somewhere else: its git remotes name its apps, the apps' pipeline
couplings say which is development, staging and production (→ ``dev``,
``uat``, ``live``, live deployed by promotion), its branches say what each
deploys (``dev``; ``master`` or ``main``), the Procfile says whether the
release phase migrates, Heroku says whether preboot is on, and live's
database says which columns need anonymisation rules. :func:`propose` reads
all of it — nothing is changed anywhere — and :func:`render` writes it down
as a commented file, each environment saying where it was found.
:func:`adopt` never replaces an existing file unless told to, checks that
what it writes loads, and says what it inferred.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .anonymise import proposal_yaml, read_database_schema
from .errors import HerokuToolsError
from .git import Git
from .heroku import Heroku
from .heroku_api import PlatformAPI, PlatformAPIError
from .migrations.procfile import Procfile, read_procfile, release_summary
from .output import Console
from .settings import FILENAME, parse

#: Heroku's pipeline stages, as the environments they are in the dev → uat → live chain.
STAGE_LABELS = {"production": "live", "staging": "uat", "development": "dev"}
#: Words in a git remote's name that say which environment an app outside any pipeline is.
REMOTE_WORDS = (("live", ("prod", "live")), ("uat", ("stag", "uat")), ("dev", ("dev",)))
RULES_FILE = "anonymise.yml"
_APP_IN_URL = re.compile(r"([a-z][a-z0-9-]{2,29})\.git/?$")
_ORDER = ("live", "uat", "dev")


class AdoptError(HerokuToolsError):
    """``init`` cannot write the settings: a file is there already, or nothing of Heroku was found."""


@dataclass
class FoundApp:
    """A Heroku app of the project, and where it was found."""

    name: str
    remotes: list[str] = field(default_factory=list)
    pipeline: str | None = None
    stage: str | None = None
    preboot: bool | None = None

    def source(self) -> str:
        """``git remote heroku-dev; pipeline my-app, stage development``."""
        found = [f"git remote {', '.join(self.remotes)}"] if self.remotes else []
        if self.pipeline:
            found.append(f"pipeline {self.pipeline}, stage {self.stage}")
        return "; ".join(found)


@dataclass(frozen=True)
class ProposedEnvironment:
    label: str
    app: FoundApp
    branch: str
    pipeline: bool
    #: How the label and branch were chosen, for the file's comment.
    why: str


@dataclass(frozen=True)
class Proposal:
    """What ``init`` inferred: the environments, the notes it prints, the Procfile, and the proposed rules."""

    environments: tuple[ProposedEnvironment, ...]
    findings: tuple[str, ...]
    procfile: Procfile | None
    #: The anonymisation rules proposed from live's schema (YAML), or None.
    rules: str | None


def adopt(directory: str | os.PathLike | None = None, *, output: str | os.PathLike | None = None, force: bool = False,
          rules: bool = True, console: Console = Console(), git: Git | None = None,
          api: PlatformAPI | None = None) -> Path:
    """Write ``heroku-tools.yml`` (and ``anonymise.yml``) for the repository at ``directory``; the settings' path.

    Refuses (:class:`AdoptError`, nothing written) when the file exists,
    unless ``force``. ``rules=False`` proposes no anonymisation rules.
    """
    git = git or Git(cwd=directory or os.getcwd())
    root = _toplevel(git)
    path = Path(output) if output else root / FILENAME
    if path.exists() and not force:
        raise AdoptError(f"{path} exists: heroku-tools init never replaces it unless given --force; nothing was written")
    api = api or PlatformAPI.for_cli(Heroku(cwd=root))
    proposal = propose(git, api, rules=rules, say=console.say)
    rules_path = path.parent / RULES_FILE
    keep_rules = rules_path.exists() and not force
    text = render(proposal, rules_file=RULES_FILE if proposal.rules or keep_rules else None)
    parse(text, source=path)  # what init writes must load: a mistake here is init's, never the user's
    for finding in proposal.findings:
        console.say(f"    {finding}")
    if proposal.rules and not keep_rules:
        rules_path.write_text(proposal.rules, encoding="utf-8")
        console.say(f"wrote {rules_path}: anonymisation rules PROPOSED from live's schema — review every one")
    elif keep_rules:
        console.say(f"kept the existing {rules_path} (--force replaces it with a fresh proposal)")
    path.write_text(text, encoding="utf-8")
    console.say(f"wrote {path}: review it, then commit it")
    return path


def propose(git: Git, api: PlatformAPI, *, rules: bool = True, say: Callable[[str], None] = lambda line: None) -> Proposal:
    """Everything ``init`` infers, read from git and Heroku; nothing is changed."""
    say("reading the git remotes, the apps' pipelines and preboot, the branches and the Procfile…")
    apps, findings = _apps(git, api)
    live_branch, dev_branch, branch_notes = _branches(git)
    environments = _environments(apps, live_branch, dev_branch)
    findings += [f"{env.label}: {env.app.name} ({env.app.source()}; {env.why})" for env in environments]
    findings += branch_notes
    procfile = read_procfile(git, "HEAD") if git.commit_exists("HEAD") else None
    if procfile is not None:
        findings.append(f"Procfile: {release_summary(procfile)}")
    findings += [f"preboot: on for {env.app.name}" for env in environments if env.app.preboot]
    proposed = _rules(api, environments, findings, say) if rules else None
    return Proposal(tuple(environments), tuple(findings), procfile, proposed)


# -- reading ----------------------------------------------------------------------------------------


def _toplevel(git: Git) -> Path:
    result = git.execute(["rev-parse", "--show-toplevel"], ok=(0, 128))
    if result.exit_code:
        raise AdoptError("heroku-tools init adopts a git repository: run it inside one (git init, then add your "
                         "Heroku remotes with `heroku git:remote -a APP -r NAME`)")
    return Path(result.stdout.strip())


def _apps(git: Git, api: PlatformAPI) -> tuple[dict[str, FoundApp], list[str]]:
    """The apps the git remotes name, and those in the same pipelines, with stage and preboot; notes on what was skipped."""
    apps: dict[str, FoundApp] = {}
    for remote, url in _remote_urls(git).items():
        app = _heroku_app(api, url)
        if app is not None:
            apps.setdefault(app, FoundApp(app)).remotes.append(remote)
    if not apps:
        raise AdoptError(
            "no git remote of this repository is a Heroku app this account can see; nothing was written",
            recover=["heroku git:remote -a my-app-dev -r heroku-dev   # one per app, then run init again"],
        )
    for app in list(apps.values()):
        _couple(api, app, apps)
    with ThreadPoolExecutor(min(8, len(apps))) as pool:
        for app, preboot in zip(apps.values(), pool.map(lambda found: _preboot(api, found.name), apps.values()), strict=True):
            app.preboot = preboot
    skipped = [app for app in apps.values() if app.stage in ("review", "test")]
    notes = [f"skipped {app.name}: a {app.stage} app of pipeline {app.pipeline}" for app in skipped]
    return {name: app for name, app in apps.items() if app not in skipped}, notes


def _remote_urls(git: Git) -> dict[str, str]:
    out = git.execute(["config", "--get-regexp", r"^remote\..*\.url$"], ok=(0, 1)).stdout
    urls = {}
    for line in out.splitlines():
        key, _, url = line.partition(" ")
        urls[key.removeprefix("remote.").removesuffix(".url")] = url.strip()
    return urls


def _heroku_app(api: PlatformAPI, url: str) -> str | None:
    """The app a remote URL pushes to: one this account sees, whose ``git_url`` it is (or on Heroku's git host)."""
    match = _APP_IN_URL.search(url)
    if not match:
        return None
    try:
        app = api.app(match.group(1))
    except PlatformAPIError:
        return None
    host = re.sub(r"^[a-z+]+://|^[^@/]+@", "", url).split("/")[0].split(":")[0]
    same = url.rstrip("/") == str(app.get("git_url") or "").rstrip("/")
    return app["name"] if same or host.endswith("heroku.com") else None


def _couple(api: PlatformAPI, app: FoundApp, apps: dict[str, FoundApp]) -> None:
    """``app``'s pipeline and stage, and the other apps of its pipeline (the one promoted to is seldom a remote)."""
    if app.pipeline is not None:
        return
    try:
        coupling = api.get(f"/apps/{app.name}/pipeline-couplings")
    except PlatformAPIError:
        return  # in no pipeline
    pipeline = coupling["pipeline"]
    for other in api.get(f"/pipelines/{pipeline['id']}/pipeline-couplings") or []:
        name = api.app(other["app"]["id"])["name"]
        found = apps.setdefault(name, FoundApp(name))
        found.pipeline, found.stage = pipeline.get("name") or pipeline["id"], other["stage"]


def _preboot(api: PlatformAPI, app: str) -> bool | None:
    try:
        return bool(api.feature(app, "preboot").get("enabled"))
    except PlatformAPIError:
        return None


def _branches(git: Git) -> tuple[str, str, list[str]]:
    """``(live branch, dev branch, notes)``: ``master`` or ``main`` for uat and live, ``dev`` for dev."""
    have = {name for name in ("master", "main", "dev", "develop") if git.branch_exists(name)}
    live = "master" if "master" in have or "main" not in have else "main"
    dev = next((name for name in ("dev", "develop") if name in have), live)
    notes = [f"branches: {', '.join(sorted(have)) or 'none of master, main, dev'}"]
    if dev == live:
        notes.append(f"no dev branch: dev deploys {live} (change its branch: once you have one)")
    return live, dev, notes


def _environments(apps: dict[str, FoundApp], live_branch: str, dev_branch: str) -> list[ProposedEnvironment]:
    """Each app labelled by its stage (else its remote's name), live first; live promotes uat's slug when it can."""
    labelled: dict[str, tuple[FoundApp, str]] = {}
    for app in apps.values():
        label, why = _label(app)
        while label in labelled:
            label = f"{label}-{len(labelled)}"
        labelled[label] = (app, why)
    order = sorted(labelled, key=lambda label: (_ORDER.index(label) if label in _ORDER else len(_ORDER), label))
    uat = labelled["uat"][0] if "uat" in labelled else None
    envs = []
    for label in order:
        app, why = labelled[label]
        promotes = label == "live" and uat is not None and app.pipeline is not None and uat.pipeline == app.pipeline
        branch = dev_branch if label.startswith("dev") else live_branch
        how = "deployed by promoting uat's slug" if promotes else f"deploys {branch}"
        envs.append(ProposedEnvironment(label, app, branch, promotes, f"{why}; {how}"))
    return envs


def _label(app: FoundApp) -> tuple[str, str]:
    if app.stage in STAGE_LABELS:
        return STAGE_LABELS[app.stage], f"{app.stage} → {STAGE_LABELS[app.stage]}"
    for remote in app.remotes:
        for label, words in REMOTE_WORDS:
            if any(word in remote.lower() for word in words):
                return label, f"named after its git remote {remote}"
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", app.remotes[0] if app.remotes else app.name).strip("-") or "app"
    return name, "in no pipeline: labelled after its git remote, rename it as you like"


def _rules(api: PlatformAPI, environments: list[ProposedEnvironment], findings: list[str],
           say: Callable[[str], None]) -> str | None:
    """Anonymisation rules proposed from live's schema (read-only catalog queries), or None with a note saying why."""
    live = next((env for env in environments if env.label == "live"), None)
    later = "heroku-tools backups.propose live -o anonymise.yml, later"
    if live is None:
        findings.append(f"no anonymisation rules proposed: no live environment ({later})")
        return None
    try:
        url = api.config_vars(live.app.name).get("DATABASE_URL")
        if not url:
            findings.append(f"no anonymisation rules proposed: {live.app.name} has no DATABASE_URL ({later})")
            return None
        say(f"reading {live.app.name}'s database schema to propose anonymisation rules…")
        schema = read_database_schema(url)
    except HerokuToolsError as error:
        findings.append(f"no anonymisation rules proposed: live's schema could not be read: {error.message} ({later})")
        return None
    findings.append(f"anonymisation rules: proposed from {live.app.name}'s schema ({len(schema.tables)} tables)")
    return proposal_yaml(schema)


# -- writing --------------------------------------------------------------------------------------------

HEADER = """\
# heroku-tools.yml, written by `heroku-tools init` from what git and Heroku knew.
# Review it, then commit it. Every key is described on the Settings page of the
# heroku-tools documentation.
"""


def render(proposal: Proposal, *, rules_file: str | None = None) -> str:
    """The commented settings file for ``proposal``."""
    lines = [HEADER, "environments:"]
    for env in proposal.environments:
        lines += ["", *_environment_lines(env)]
    lines += ["", *_commands_lines(proposal.procfile), "", *_routes_lines(proposal.environments), "",
              *_data_lines(rules_file)]
    return "\n".join(lines) + "\n"


def _environment_lines(env: ProposedEnvironment) -> list[str]:
    lines = [f"    # {env.app.name}: {env.app.source()}", f"    # {env.why}",
             f"    - label:    {_scalar(env.label)}",
             f"      app_name: {_scalar(env.app.name)}",
             f"      branch:   {_scalar(env.branch)}"]
    if env.pipeline:
        lines.append("      pipeline: true")
    if env.app.preboot:
        lines.append("      # preboot: true   # on at Heroku now; read from Heroku at every deploy unless set here")
    return lines


def _commands_lines(procfile: Procfile | None) -> list[str]:
    lines = ["# Post-push commands: the defaults (migrate, collectstatic, loaddata) apply;",
             "# add or replace them under `commands:`."]
    if procfile is not None and procfile.release_line:
        lines.append(f"# The Procfile's release phase: {release_summary(procfile)}.")
    return lines


def _routes_lines(environments: tuple[ProposedEnvironment, ...]) -> list[str]:
    """A commented ``routes:`` for ``heroku-tools ci``: each pushed environment's branch to it (live stays a person's)."""
    routes = {env.branch: env.label for env in reversed(environments) if not env.pipeline and env.label != "live"}
    lines = ["# Which branch CI deploys where (`heroku-tools ci`); uncomment to use:", "# routes:"]
    return lines + [f"#     {_scalar(branch)}: {_scalar(label)}" for branch, label in routes.items()]


def _data_lines(rules_file: str | None) -> list[str]:
    if rules_file is None:
        return ["# Data restores (live → uat → dev, anonymised) need rules for every column:",
                "#     heroku-tools backups.propose live -o anonymise.yml",
                "# data:", "#     rules: anonymise.yml", "#     secret: ${HEROKU_TOOLS_DATA_SECRET}"]
    return ["# Data flows down (live → uat → dev), anonymised on the way by these rules,",
            "# PROPOSED from live's schema: review every one before the first restore.",
            "data:", f"    rules: {_scalar(rules_file)}", "    secret: ${HEROKU_TOOLS_DATA_SECRET}"]


def _scalar(value: str) -> str:
    """``value`` as a YAML scalar: plain when it reads back as itself, quoted otherwise."""
    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix("...").strip()
