"""Git routes: smart HTTP at ``/<app>.git`` and the build a push triggers.

``heroku git:remote -a APP`` and the app's ``git_url`` point at
``https://127.0.0.1:PORT/APP.git``. Git authenticates with Basic auth whose
password is the API key, which it gets from the heroku CLI's credential
helper; a request without it gets ``401`` with ``WWW-Authenticate`` so git
asks the helper, as ``git.heroku.com`` does.

A push to ``main``/``master`` runs the repository's ``pre-receive`` hook, which
calls ``POST /_sandbox/apps/{app}/builds`` here: the server builds, releases
and streams the output back for the hook to relay to the pusher.
"""
from __future__ import annotations

import queue
import threading
import traceback

from .. import git_http
from ..build import deploy_push
from ..routing import HANDLED, Response, route

UNAUTHORIZED = {"id": "unauthorized", "message": "Invalid credentials provided."}


def _serve_git(req, suffix: str):
    """Authenticate, find the app, and hand the request to ``git http-backend``."""
    wanted_close = req.handler.close_connection
    if req.method == "POST":
        req.handler.close_connection = True  # until the body is read: refusals leave it unread
    if not req.sandbox.authorized(req.headers.get("Authorization")):
        return Response(401, UNAUTHORIZED, headers={"WWW-Authenticate": 'Basic realm="Heroku"'})
    app = req.state.find_app(req.params["app"])
    req.handler.close_connection = wanted_close
    repo = git_http.ensure_repo(req.state.repo_dir(app["name"]), app["id"])
    hook_env = {
        git_http.HOOK_URL_VAR: f"{req.sandbox.base_url}/_sandbox/apps/{app['id']}/builds",
        git_http.HOOK_CA_VAR: str(req.sandbox.ca_pem),
        git_http.HOOK_KEY_VAR: req.state.data["api_key"],
    }
    git_http.serve(req, repo.parent, f"/{repo.name}{suffix}", hook_env)
    return HANDLED


@route("GET", "/{app}.git/info/refs", auth=False)
def info_refs(req):
    return _serve_git(req, "/info/refs")


@route("POST", "/{app}.git/git-receive-pack", auth=False)
def receive_pack(req):
    return _serve_git(req, "/git-receive-pack")


@route("POST", "/{app}.git/git-upload-pack", auth=False)
def upload_pack(req):
    return _serve_git(req, "/git-upload-pack")


receive_pack.raw_body = upload_pack.raw_body = True


@route("POST", "/_sandbox/apps/{app}/builds")
def push_build(req):
    """Build and release a push for the ``pre-receive`` hook, streaming the output.

    The work runs in its own thread so a pusher who disconnects does not stop
    a build half way; the response ends with the hook's exit status.
    """
    app = req.state.find_app(req.params["app"])
    body = req.json()
    lines: queue.Queue = queue.Queue()

    def work() -> None:
        status = 1
        try:
            status = deploy_push(req.sandbox, app, body.get("updates", []), body.get("git_env", {}), lines.put)
        except Exception:  # noqa: BLE001 - report a sandbox bug to the pusher, reject the push
            traceback.print_exc()
            lines.put(" !     The sandbox failed while building this push; see its server.log.\n")
        finally:
            lines.put(git_http.EXIT_MARKER + b"%d\n" % status)

    threading.Thread(target=work, name=f"build-{app['name']}", daemon=True).start()

    def output():
        while True:
            item = lines.get()
            if isinstance(item, bytes):
                yield item
                return
            yield item.encode()

    return Response(200, raw=output(), content_type="text/plain; charset=utf-8")
