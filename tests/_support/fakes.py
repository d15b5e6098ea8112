"""An in-memory ``Heroku`` for unit tests: config vars, add-ons, releases and one-off dynos."""
from __future__ import annotations


class FakeHeroku:
    """The :class:`heroku_tools.heroku.Heroku` methods that config vars and a deploy's execution call.

    ``apps`` maps an app to its config vars, ``addons`` an app to its add-ons;
    ``releases`` is every app's release list (newest by version first when read);
    ``heroku run`` prints ``run_output`` line by line, then raises ``run_error``.
    Every call is recorded in ``calls`` as a tuple, the command first:
    ``("config", app)``, ``("config:set", app, values)``, ``("releases", app)``,
    ``("run", app, command)``, ``("maintenance_on", app)``...

    ``failures`` maps a command to ``(exception, applied)``: a config change
    (``config:set``, ``config:unset``) fails once, after it is made when
    ``applied``; any other command raises the exception on every call.
    ``fail`` is a shorthand for ``failures``: ``{command: exception}``.
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
        self.failures: dict[str, tuple[Exception, bool]] = {name: (exc, False) for name, exc in (fail or {}).items()}
        #: config vars that config:set reports as set but drops
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

    def _change(self, step, app, change):
        if step in self.failures:
            exc, applied = self.failures.pop(step)
            if applied:
                change()
            raise exc
        change()
        self.version += 1
        return self.version

    def config_set(self, app, values):
        self.calls.append(("config:set", app, dict(values)))

        def change():
            for key, value in values.items():
                if key not in self.drop_silently:
                    self.apps[app][key] = value

        return self._change("config:set", app, change)

    def config_unset(self, app, keys):
        self.calls.append(("config:unset", app, list(keys)))
        return self._change("config:unset", app, lambda: [self.apps[app].pop(key, None) for key in keys])

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

    def run(self, app, command, *, exit_code=True, check=True, stream=None, size=None):
        assert exit_code and check, "every step's exit status is checked"
        self._call("run", app, command)
        for line in self.run_output:
            stream(line)
        if self.run_error:
            raise self.run_error
