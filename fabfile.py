"""An example project fabfile built on heroku-tools.

A project pulls in the library's collections, adds tasks of its own, and opts
in to Fabric 1's ``task:arg`` syntax, so the commands its people already type
keep working with stock Fabric 3::

    fab --list
    fab sandbox.status                  # a library task
    fab hello:bob                       # this project's task, Fabric 1 style
    fab hello --who bob                 # the same, Fabric 3 style
    eval "$(fab sandbox.up)" && fab whoami

Configuration for the library lives in ``heroku-tools.yml`` beside this file,
or in ``fabric.yaml`` under ``heroku_tools:``.
"""
from invoke import Collection

from heroku_tools import tasks
from heroku_tools.colon import enable_colon_syntax
from heroku_tools.heroku import Heroku
from heroku_tools.output import success
from heroku_tools.tasks import task


@task(help={"who": "who to greet"})
def hello(c, who="world"):
    """Greet WHO: the smallest task of a project's own."""
    success(f"hello, {who}!")


@task
def whoami(c):
    """Show which Heroku account the heroku CLI is using (a library helper, called directly)."""
    print(Heroku().whoami().email)


ns = Collection(tasks.sandbox, hello, whoami)

enable_colon_syntax()
