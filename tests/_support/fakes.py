"""In-memory Heroku for unit tests: the CLI side (``FakeHeroku``) and the Platform API side (``FakeApi``).

Both write one log, ``FakeHeroku.calls``, so a test can assert the order of
everything that would have reached Heroku.
"""
from __future__ import annotations

from dataclasses import replace

from heroku_tools.models import Release


class FakeHeroku:
    """The :class:`heroku_tools.heroku.Heroku` methods that config vars and a deploy's execution call.

    ``apps`` maps an app to its config vars, ``addons`` an app to its add-ons;
    ``releases`` is every app's release list (newest by version first when read);
    ``heroku run`` prints ``run_output`` line by line, then raises ``run_error``.
    Every call is recorded in ``calls`` as a tuple, the command first:
    ``("config", app)``, ``("releases", app)``, ``("run", app, command)``,
    ``("maintenance_on", app)``, ``("api:patch", app, changes)``...

    ``failures`` maps a command to ``(exception, applied)``: a config change
    (``api:patch``) fails once, after it is made when ``applied`` is true (only
    the sets when it is ``"sets"``); any other command raises the exception on
    every call. ``fail`` is a shorthand for ``failures``: ``{command: exception}``.
    """

    def __init__(self, apps: dict[str, dict[str, str]] | None = None, *, addons: dict[str, list] | None = None,
                 releases=(), run_output=(), run_error: Exception | None = None,
                 fail: dict[str, Exception] | None = None):
        self.apps = {name: dict(values) for name, values in (apps or {}).items()}
        self.addon_lists = addons or {}
        self._releases = list(releases)
        self.run_output, self.run_error = list(run_output), run_error
        self.calls: list[tuple] = []
        self.version = 10
        self.failures: dict[str, tuple[Exception, bool | str]] = {name: (exc, False) for name, exc in (fail or {}).items()}
        #: config vars that a change reports as set but drops
        self.drop_silently: set[str] = set()

    def _call(self, name: str, *args) -> None:
        self.calls.append((name, *args))
        if name in self.failures:
            raise self.failures[name][0]

    # -- config vars and add-ons --------------------------------------------------------------
    def config(self, app):
        self._call("config", app)
        return dict(self.apps[app])

    def addons(self, app):
        self.calls.append(("addons", app))
        return list(self.addon_lists.get(app, []))

    def change_config(self, app, changes) -> None:
        """Sets and removals (``None``) as one release, or the failure planned for ``api:patch``."""
        if "api:patch" in self.failures:
            exc, applied = self.failures.pop("api:patch")
            if applied:
                self._apply(app, {k: v for k, v in changes.items() if v is not None or applied is True})
            raise exc
        self._apply(app, changes)
        self.version += 1
        self._releases.append(Release(version=self.version, description=f"Set {', '.join(changes)} config vars",
                                      status="succeeded", current=True, slug_id=None, created_at=None,
                                      user_email="dev@example.com"))

    def _apply(self, app, changes):
        for key, value in changes.items():
            if value is None:
                self.apps[app].pop(key, None)
            elif key not in self.drop_silently:
                self.apps[app][key] = value

    # -- releases, maintenance, one-off dynos -------------------------------------------------
    def maintenance_on(self, app):
        self._call("maintenance_on", app)

    def maintenance_off(self, app):
        self._call("maintenance_off", app)

    def releases(self, app, num=15):
        self._call("releases", app)
        return sorted(self._releases, key=lambda r: -r.version)[:num]

    def pipeline_promote(self, app, to=None):
        self._call("pipeline_promote", app, tuple(to or ()))

    def rollback(self, app, version=None):
        """``heroku releases:rollback vN``: a new current release carrying vN's slug."""
        self._call("rollback", app, version)
        target = next(r for r in self._releases if r.version == version)
        self._releases = [replace(r, current=False) for r in self._releases]
        self.version = max(r.version for r in self._releases) + 1
        self._releases.append(replace(target, version=self.version, description=f"Rollback to v{version}", current=True))
        return self.version

    def run(self, app, command, *, exit_code=True, check=True, stream=None, size=None):
        assert exit_code and check, "every step's exit status is checked"
        self._call("run", app, command)
        for line in self.run_output:
            stream(line)
        if self.run_error:
            raise self.run_error


class FakeApi:
    """The :class:`heroku_tools.heroku_api.PlatformAPI` calls, over a :class:`FakeHeroku`'s apps and log.

    What a health check reads: the app's ``web_url`` and ``maintenance``, its formation (``web`` dynos
    scaled to ``web``), its dynos (one web dyno on the current release, in ``dyno_states[version]``,
    ``up`` unless set) and its log (``log_lines``).
    """

    def __init__(self, heroku: FakeHeroku, *, web_url: str = "https://example.invalid/", web: int = 1):
        self.heroku = heroku
        self.web_url, self.web = web_url, web
        self.maintenance = False
        self.dyno_states: dict[int, str] = {}
        self.log_lines: list[str] = []
        self.environ: dict[str, str] = {}

    def app(self, app):
        self.heroku.calls.append(("api:app", app))
        return {"name": app, "web_url": self.web_url, "maintenance": self.maintenance}

    def formation(self, app):
        return [{"type": "web", "quantity": self.web}]

    def dynos(self, app):
        current = next((r for r in self.heroku.releases(app, 50) if r.current), None)
        if current is None or not self.web:
            return []
        return [{"type": "web", "name": f"web.{n}", "state": self.dyno_states.get(current.version, "up"),
                 "release": {"version": current.version}, "updated_at": "2026-01-01T00:00:00Z"}
                for n in range(1, self.web + 1)]

    def log(self, app):
        return list(self.log_lines)

    def maintenance_on(self, app):
        self.heroku.maintenance_on(app)
        self.maintenance = True

    def maintenance_off(self, app):
        self.heroku.maintenance_off(app)
        self.maintenance = False

    def releases(self, app, num=15):
        return [{"version": r.version, "description": r.description, "status": r.status, "current": r.current,
                 "slug": {"id": r.slug_id} if r.slug_id else None} for r in self.heroku.releases(app, num)]

    def config_vars(self, app):
        """``GET /apps/{app}/config-vars``: protection and the read-back after a failure use it."""
        self.heroku._call("api:config-vars", app)
        return dict(self.heroku.apps[app])

    def update_config_vars(self, app, changes):
        """``PATCH /apps/{app}/config-vars``: sets and removals (``None``) at once, one release."""
        self.heroku.calls.append(("api:patch", app, dict(changes)))
        self.heroku.change_config(app, changes)
        return dict(self.heroku.apps[app])
