"""Fabric 1's ``fab task:arg,key=value`` syntax, on modern Invoke and Fabric.

Fabric 2 dropped colon arguments; existing projects and fingers still type
``fab deploy:live``. Invoke parses task arguments only after loading the
collection (``Program.parse_tasks``), so the remaining argv can be rewritten
there, against the real tasks, into GNU-style flags the stock parser accepts::

    deploy:live                 ->  deploy --env live
    sandbox up                  ->  sandbox.up
    deploy:env=live,force=yes   ->  deploy --env live --force
    hello:who=a\\,b             ->  hello --who 'a,b'

Bare values map to the task's parameters in signature order, ``k=v`` by name;
``\\,`` and ``\\=`` keep a literal comma or equals sign; booleans take
yes/true/1/on (``--flag``) and no/false/0/off (``--no-flag`` when the default is
true). A collection name followed by one of its tasks is joined into the
dotted task name. A token is rewritten only when the part before the colon names a task,
and never when it is the value of a preceding flag. A task whose ``rest``
attribute names one of its iterable parameters takes any number of words after
its positional arguments, as ``heroku config:set`` does (see :func:`rest_of`)::

    config.set uat A=1 'B=two words'  ->  config.set uat --var=A=1 '--var=B=two words'
    config.set:uat,A=1,B=2            ->  config.set --env=uat --var=A=1 --var=B=2

``task --help`` becomes
``--help task`` (Invoke would otherwise take ``--help`` as the value of a
required positional argument, invoke#982).

Two ways to get it:

* the ``heroku-tools`` program has it built in (:class:`ColonSyntax` mixin);
* a project's own fabfile or tasks.py opts in for stock ``fab`` and ``inv`` by
  calling :func:`enable_colon_syntax` — a monkeypatch of ``invoke.Program``,
  so it is never done on import.
"""
from __future__ import annotations

from collections.abc import Iterable

from invoke import Collection, Program
from invoke.exceptions import ParseError
from invoke.parser import Argument, ParserContext

_TRUE = {"yes", "y", "true", "t", "1", "on"}
_FALSE = {"no", "n", "false", "f", "0", "off", ""}
_PATCHED = "_heroku_tools_colon_syntax"


def rewrite(tokens: Iterable[str], collection: Collection, initial: ParserContext | None = None) -> tuple[list[str], str | None]:
    """Rewrite task tokens in Fabric 1 form into flags.

    :param tokens: argv after the core flags (``Program.core.unparsed``).
    :param collection: the loaded task collection.
    :param initial: the core flags' context, to skip the values of core flags.
    :returns: the new tokens, and the name of the task whose help was asked for
        with ``task --help`` (then the tokens are to be ignored), or ``None``.
    """
    contexts = task_contexts(collection)
    collections = set(_collection_paths(collection))
    out: list[str] = []
    current: ParserContext | None = None
    current_name = ""
    rest: Argument | None = None
    pending: list[str] = []
    tokens = list(tokens)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if token == "--":
            out.extend(tokens[index - 1:])
            break
        if token.startswith("-") and token != "-":
            if token in ("--help", "-h") and current is not None and not _has_flag(current, token):
                return [], current_name
            out.append(token)
            arg = _flag(current, token) or _flag(initial, token)
            if arg is not None and current is not None and arg.name in pending:
                pending.remove(arg.name)
            takes_value = arg is not None and arg.takes_value and not arg.optional and "=" not in token
            if takes_value and index < len(tokens):
                out.append(tokens[index])
                index += 1
            continue
        name, colon, argstr = token.partition(":")
        if name in collections and name not in contexts and index < len(tokens):
            # `sandbox up` for `sandbox.up`: a collection name, then one of its tasks.
            sub, sub_colon, sub_argstr = tokens[index].partition(":")
            if f"{name}.{sub}" in contexts:
                name, colon, argstr = f"{name}.{sub}", sub_colon, sub_argstr
                index += 1
        if name in contexts:
            current, current_name = contexts[name], name
            rest = rest_of(collection, current)
            pending = [arg.name for arg in current.positional_args]
            out.append(name)
            if colon:
                out.extend(_flags_for(current, collection, argstr))
                pending = []
            continue
        if current is not None and rest is not None:
            # A task taking the rest of the line: positional arguments first, then every
            # other word is one more value of its iterable parameter (no task follows it).
            if pending:
                pending.pop(0)
                out.append(token)
            else:
                out.append(f"{_long(rest.names[0])}={token}")
            continue
        out.append(token)
    return out, None


def rest_of(collection: Collection, context: ParserContext) -> Argument | None:
    """The iterable argument of ``context``'s task that takes the words after its positional ones.

    A task opts in by naming the parameter in its ``rest`` attribute
    (``set_task.rest = "var"``, with ``iterable=["var"]``).
    """
    try:
        parameter = getattr(collection[context.name], "rest", None)
    except (KeyError, ValueError):
        return None
    if not parameter:
        return None
    for arg in context.args.values():
        if (arg.attr_name or arg.name) == parameter:
            return arg
    return None


def task_contexts(collection: Collection) -> dict[str, ParserContext]:
    """Parser contexts of every task, by name and alias (``deploy`` → ``deploy.deploy``).

    ``Task.get_arguments()`` pops per-argument help out of ``task.help``; the
    help dicts are restored so ``--help task`` still shows it afterwards.
    """
    tasks = list(_all_tasks(collection))
    saved = [(task, dict(task.help)) for task in tasks]
    try:
        contexts = collection.to_contexts(ignore_unknown_help=True)
    finally:
        for task, help in saved:
            task.help = help
    by_name = {}
    for context in contexts:
        for name in (context.name, *context.aliases):
            by_name[name] = context
    return by_name


def _collection_paths(collection: Collection, prefix: str = ""):
    for name, child in collection.collections.items():
        path = f"{prefix}{collection.transform(name)}"
        yield path
        yield from _collection_paths(child, path + ".")


def _all_tasks(collection: Collection):
    yield from collection.tasks.values()
    for child in collection.collections.values():
        yield from _all_tasks(child)


def _flags_for(context: ParserContext, collection: Collection, argstr: str) -> list[str]:
    """``env=live,force`` for task ``context`` as ``--env live --force``."""
    params = _parameters(context, collection)
    order = list(params)
    rest = rest_of(collection, context)
    if rest is not None:
        # Bare values fill the positional arguments, then go to the rest; so does
        # ``KEY=VALUE`` when KEY is not one of the task's own arguments.
        positional = {arg.name for arg in context.positional_args}
        order = [name for name in order if params[name].name in positional]
    flags: list[str] = []
    given: set[str] = set()
    position = 0
    for item in _split(argstr, ","):
        key, has_equals, value = _partition_unescaped(item)
        if rest is not None and (
            (has_equals and key.replace("-", "_") not in params)
            or (not has_equals and all(name in given for name in order[position:]))
        ):
            flags.append(f"{_long(rest.names[0])}={key}={value}" if has_equals else f"{_long(rest.names[0])}={key}")
            continue
        if has_equals:
            name = key.replace("-", "_")
            if name not in params:
                raise ParseError(f"task {context.name!r} has no argument {key!r}; it takes: {', '.join(order) or 'none'}")
        else:
            value = key
            while position < len(order) and order[position] in given:
                position += 1
            if position >= len(order):
                raise ParseError(f"too many arguments for task {context.name!r}: it takes {', '.join(order) or 'none'}")
            name = order[position]
            position += 1
        if name in given:
            raise ParseError(f"argument {name!r} of task {context.name!r} given twice")
        given.add(name)
        flags.extend(_as_flag(params[name], value, context))
    return flags


def _parameters(context: ParserContext, collection: Collection) -> dict[str, Argument]:
    """The task's arguments by parameter name, in signature order."""
    task = collection[context.name]
    by_param = {(arg.attr_name or arg.name): arg for arg in context.args.values()}
    signature = task.argspec(task.body)
    return {name: by_param[name] for name in signature.parameters if name in by_param}


def _as_flag(arg: Argument, value: str, context: ParserContext) -> list[str]:
    flag = _long(arg.names[0])
    if arg.kind is bool:
        word = value.strip().lower()
        if word in _TRUE:
            return [flag]
        if word in _FALSE:
            inverse = f"--no-{arg.names[0]}"
            return [inverse] if inverse in context.inverse_flags else []
        raise ParseError(f"argument {arg.name!r} of task {context.name!r} is a switch: use yes or no, not {value!r}")
    return [f"{flag}={value}"]


def _long(name: str) -> str:
    return f"--{name}" if len(name) > 1 else f"-{name}"


def _flag(context: ParserContext | None, token: str) -> Argument | None:
    if context is None:
        return None
    flag = token.split("=", 1)[0]
    return context.flags.get(flag) if flag in context.flags else None


def _has_flag(context: ParserContext, token: str) -> bool:
    return token in context.flags


def _split(text: str, separator: str) -> list[str]:
    """Split on unescaped ``separator``; escapes stay for the next pass."""
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return [part for part in parts if part != ""] if text else []


def _partition_unescaped(item: str) -> tuple[str, bool, str]:
    """``key=value`` on the first unescaped ``=``; unescape both halves."""
    index, escaped = 0, False
    for index, char in enumerate(item):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "=":
            return _unescape(item[:index]), True, _unescape(item[index + 1:])
    return _unescape(item), False, ""


def _unescape(text: str) -> str:
    out, escaped = [], False
    for char in text:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    if escaped:
        out.append("\\")
    return "".join(out)


def prepare(program: Program) -> None:
    """Rewrite ``program.core.unparsed`` in place; turn ``task --help`` into core help."""
    tokens, help_for = rewrite(program.core.unparsed, program.collection, program.initial_context)
    if help_for is not None:
        program.core[0].args["help"].set_value(help_for, cast=False)
        tokens = []
    program.core.unparsed[:] = tokens


class ColonSyntax:
    """Mixin for an ``invoke.Program`` (or ``fabric.main.Fab``) subclass: colon syntax built in."""

    def parse_tasks(self) -> None:
        prepare(self)
        super().parse_tasks()


def enable_colon_syntax(program_class: type[Program] = Program) -> None:
    """Let stock ``fab`` and ``inv`` accept ``task:arg`` from here on; safe to call twice.

    Call it from a fabfile or tasks.py: Invoke imports that module before it
    parses task arguments, so the patched ``parse_tasks`` is the one used.
    """
    original = program_class.parse_tasks
    if getattr(original, _PATCHED, False):
        return

    def parse_tasks(self) -> None:
        prepare(self)
        original(self)

    setattr(parse_tasks, _PATCHED, True)
    parse_tasks.__doc__ = original.__doc__
    program_class.parse_tasks = parse_tasks
