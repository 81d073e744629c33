"""``nbgrader autograde``'s own options, as ``graders autograde`` takes them.

An instructor who types ``nbgrader autograde ps1 --student bob --force`` can
type ``graders autograde`` in its place: the command line is split into the
kit's own options (argparse) and nbgrader's (``--student``, ``--notebook``,
``--db``, ``--course-dir``, ``--create``, ``--no-create``, ``--no-execute``,
``--debug``, ``--quiet`` and any ``--Class.trait=value``), which nbgrader's
own ``AutogradeApp`` parses into a traitlets ``Config``. That ``Config`` goes
over the course's ``nbgrader_config.py``, exactly as for nbgrader.

Two of nbgrader's spellings mean something else here: ``--course`` names the
course folder, as for every ``graders`` verb (nbgrader's ``--course`` is the
course id: write ``--CourseDirectory.course_id=ID``), and ``--force``/``-f``
also grade every selected submission again.
"""

from __future__ import annotations

import logging

from traitlets.config import Config

OWN = ("course", "force", "f")  # names the kit's argparse takes, before nbgrader's meaning


def _autograde_app():
    from nbgrader.apps.autogradeapp import AutogradeApp

    class GradersAutograde(AutogradeApp):
        """nbgrader's autograde options, less those the kit takes itself, plus ``--no-create``."""

        aliases = {name: trait for name, trait in AutogradeApp.aliases.items() if name not in OWN}
        flags = {
            **{name: flag for name, flag in AutogradeApp.flags.items() if name not in OWN},
            "no-create": (
                {"Autograde": {"create_student": False}},
                "Fail for a student the gradebook does not have, instead of adding them.",
            ),
        }

    return GradersAutograde


class OptionsError(ValueError):
    """An nbgrader option ``graders autograde`` cannot take as given."""


def split_arguments(argv: list[str]) -> tuple[list[str], list[str]]:
    """(the kit's own arguments, nbgrader's) of ``graders autograde``'s command line, order kept in each.

    An nbgrader alias (``--student bob`` or ``--student=bob``) takes its value
    with it; ``--Class.trait=value`` and ``--Class.trait value`` likewise.

    Raises:
        OptionsError: an nbgrader option that needs a value ends the line.
    """
    app = _autograde_app()
    aliases, flags = set(app.aliases), set(app.flags)
    own, theirs = [], []
    index = 0
    while index < len(argv):
        argument = argv[index]
        index += 1
        name = argument[2:].split("=", 1)[0] if argument.startswith("--") and len(argument) > 2 else ""
        takes_value = name in aliases or "." in name
        if not (takes_value or name in flags):
            own.append(argument)
            continue
        theirs.append(argument)
        if takes_value and "=" not in argument:
            if index >= len(argv):
                raise OptionsError(f"{argument} needs a value")
            theirs.append(argv[index])
            index += 1
    return own, theirs


def parse_nbgrader_arguments(arguments: list[str]) -> Config:
    """The traitlets ``Config`` nbgrader's ``AutogradeApp`` makes of ``arguments`` (nbgrader's options only).

    Raises:
        OptionsError: traitlets refuses an argument, or one is not an option.
    """
    if not arguments:
        return Config()
    app = _autograde_app()(log=logging.getLogger("graders.autograde"))  # not traitlets' handler on this stderr
    try:
        app.parse_command_line(arguments)
    except (ValueError, TypeError) as error:  # traitlets' ArgumentError is an Exception of its own
        raise OptionsError(str(error)) from None
    except SystemExit as stop:  # traitlets' argparse refused an argument (and said why on stderr)
        raise OptionsError(f"nbgrader's options refused: {' '.join(arguments)}") from stop
    except Exception as error:  # noqa: BLE001 (argparse's and traitlets' errors: say which, stop)
        raise OptionsError(f"{type(error).__name__}: {error}") from None
    if app.extra_args:
        raise OptionsError(f"unexpected arguments: {' '.join(app.extra_args)}")
    return app.cli_config


def configurable_classes() -> dict[str, type]:
    """Every class whose options ``nbgrader autograde`` reads, by name: the app's, the course directory's, the
    converters', nbgrader's preprocessors and plugins, and the nbconvert and nbclient classes they build on."""
    import inspect

    import nbgrader.converters
    import nbgrader.coursedir
    import nbgrader.plugins
    import nbgrader.preprocessors
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from traitlets.config import Configurable

    found = {}
    modules = (nbgrader.converters, nbgrader.coursedir, nbgrader.plugins, nbgrader.preprocessors)
    roots = [
        _autograde_app(),
        ClearMetadataPreprocessor,
        *(value for module in modules for value in vars(module).values() if inspect.isclass(value)),
    ]
    for root in roots:
        for cls in root.__mro__ if issubclass(root, Configurable) else ():
            if issubclass(cls, Configurable) and cls.class_traits(config=True):
                found.setdefault("AutogradeApp" if cls is roots[0] else cls.__name__, cls)
    return found


def unknown_options(config: Config) -> list[str]:
    """A line for each option of ``config`` that names a known class but none of its options (a typo that
    nbgrader warns about and would otherwise go unnoticed), with the closest names."""
    import difflib

    classes, lines = configurable_classes(), []
    for section in sorted(config):
        cls = classes.get(section)
        if cls is None or not hasattr(config[section], "keys"):
            continue
        names = sorted(cls.class_trait_names(config=True))
        for name in sorted(config[section]):
            if name not in names:
                near = difflib.get_close_matches(name, names, n=3)
                hint = f"; did you mean {', '.join(f'{section}.{other}' for other in near)}?" if near else ""
                lines.append(f"{section}.{name} is not an option of {section}, and is ignored{hint}")
    return lines


def nbgrader_help() -> str:
    """nbgrader's autograde options and their help, as ``nbgrader autograde --help-all`` lists them: flags,
    aliases, then every class's options."""
    import contextlib
    import io

    buffer = io.StringIO()
    app = _autograde_app()(log=logging.getLogger("graders.autograde"))
    with contextlib.redirect_stdout(buffer):
        app.print_flag_help()
        app.print_alias_help()
        for name, cls in sorted(configurable_classes().items()):
            if name != "AutogradeApp":
                cls.class_print_help()
    return buffer.getvalue()
