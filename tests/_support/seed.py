"""Seed sandbox apps with released code without a git push: slugs made through the API.

``POST /apps/{app}/slugs`` then ``POST /apps/{app}/releases {"slug"}`` is how
Heroku's own API releases prebuilt code; tests use it to give an app process
types (``ps:scale``) or a commit to promote, cheaply.
"""
from __future__ import annotations

import io
import ssl
import tarfile
import time
import urllib.request


def upload_files(sandbox, blob_url: str, files: dict[str, str]) -> None:
    """PUT a slug archive (``./app/<name>``) to a slug's blob URL."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"./app/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    request = urllib.request.Request(blob_url, data=buffer.getvalue(), method="PUT")
    context = ssl.create_default_context(cafile=str(sandbox.ca_file))
    urllib.request.urlopen(request, context=context, timeout=30).close()


def release_slug(sandbox, app: str, process_types: dict[str, str], commit: str | None = None, files: dict[str, str] | None = None) -> dict:
    """Create a slug (with ``files`` in it, if given) and release it; returns the settled release."""
    slug = sandbox.api("POST", f"/apps/{app}/slugs", {"process_types": process_types, "commit": commit, "commit_description": "seeded"})
    if files:
        upload_files(sandbox, slug["blob"]["url"], files)
    return wait_settled(sandbox, app, sandbox.api("POST", f"/apps/{app}/releases", {"slug": slug["id"]}))


def wait_settled(sandbox, app: str, release: dict, timeout: float = 30) -> dict:
    """The release once its release phase has finished (no longer ``pending``)."""
    deadline = time.monotonic() + timeout
    while release["status"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
        release = sandbox.api("GET", f"/apps/{app}/releases/{release['id']}")
    return release
