"""Messages people read, in Chinese and English.

The code writes every user-facing message once, in English, as ``_("template", name=value)``;
the catalogue ``corrections/translations/zh/LC_MESSAGES/messages.po`` (gettext, read with
Babel at start-up, no compile step) holds its Chinese. A message stays a ``str`` whose value is
the English rendering (logs, ``str(exc)``, code that compares or concatenates it keep working)
and carries its template and parameters, so the edge renders it in the language the client
asked for: :func:`negotiate` picks it from ``Accept-Language`` (Chinese unless the client
prefers English), :func:`translate` renders a message, or the lists and mappings of an
``errors`` member, in it.

Messages the libraries build themselves (marshmallow's "Missing data for required field.",
Werkzeug's 404 description, the HTTP status phrases) arrive as plain strings: they are looked
up in the same catalogue by their text, and those with values in them ("Length must be between
1 and 64.") by their template (``corrections/core/library_messages.py`` declares them).

At a terminal there is no Accept-Language: a command prints in Chinese unless the operator
asks for English (``CORRECTIONS_LANG=en``, or a shell locale such as ``LANG=en_US.UTF-8``;
:func:`cli_locale`): :func:`cli_render` for its output, :func:`cli_text` for its errors
(Chinese with the English in parentheses). click's own messages ("Usage:", "Error:",
"Missing argument") come from the same catalogue (:func:`install_click_messages`).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import string
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import has_request_context, request

log = logging.getLogger(__name__)

ZH, EN = "zh", "en"
SUPPORTED = (ZH, EN)  # the first one wins a tie (``*``, equal weights)
DEFAULT = ZH
# The Content-Language of a response in each: simplified Chinese as used in the mainland.
CONTENT_LANGUAGE = {ZH: "zh-CN", EN: "en"}
CATALOGUE = Path(__file__).resolve().parent.parent / "translations/zh/LC_MESSAGES/messages.po"

_FORMATTER = string.Formatter()
# Longest plain string matched against the templates (their lazy fields backtrack).
MAX_PATTERN_TEXT = 500


def placeholders(template: str) -> set[str]:
    """The names a template's ``{name}`` fields take (``{{`` and ``}}`` are literal braces)."""
    return {name for _text, name, _spec, _conv in _FORMATTER.parse(template) if name}


def _format(template: str, params: Mapping[str, Any]) -> str | None:
    """``template`` filled in; None (logged) when it and its parameters disagree, which must
    not turn an error response into a crash."""
    try:
        return template.format(**params)
    except (KeyError, IndexError, AttributeError, TypeError, ValueError):
        log.warning("message template and parameters disagree: %r", template)
        return None


def _fill(template: str, values: Mapping[str, str]) -> str:
    """``template`` with each field replaced by the text matched for it (already converted
    and formatted in the matched string: ``!r`` and ``:.4f`` are not applied again)."""
    return "".join(
        text + (values.get(name, "") if name is not None else "")
        for text, name, _spec, _conv in _FORMATTER.parse(template)
    )


class Message(str):
    """A user-facing message: its value is the English text; :meth:`render` gives another
    language's. ``zh`` set: a text with both forms at hand (data with a ``label_zh``), not
    looked up in the catalogue."""

    template: str
    params: dict[str, Any]
    zh: str | None

    def __new__(cls, template: str, params: Mapping[str, Any] | None = None, *, zh=None):
        params = dict(params or {})
        # Without parameters the template is the text, unformatted: a message that
        # marshmallow formats later (``{max}`` in a field's error message) keeps its fields.
        text = _format(template, params) if params else None
        self = super().__new__(cls, template if text is None else text)
        self.template, self.params, self.zh = template, params, zh
        return self

    def __reduce__(self):  # copy.deepcopy (marshmallow copies fields with their messages)
        return _rebuild, (self.template, self.params, self.zh)

    def format(self, *args: Any, **kwargs: Any) -> str:
        """As ``str.format``, keeping the template: marshmallow's ``make_error`` and its
        validators format the messages they are given."""
        if args:
            return str.format(self, *args, **kwargs)
        return Message(self.template, {**self.params, **kwargs}, zh=self.zh)

    def render(self, locale: str) -> str:
        """The text in ``locale`` (English when the catalogue has no entry for it)."""
        if locale == EN:
            return str.__str__(self)
        text = self.zh if self.zh is not None else catalogue().get(self.template)
        if not text:
            return str.__str__(self)
        if not self.params:
            return text
        # Only messages among the values are translated: a plain string is data (a code, a
        # name) even when it happens to spell a msgid.
        params = {
            k: v.render(locale) if isinstance(v, Message) else v for k, v in self.params.items()
        }
        rendered = _format(text, params)
        return str.__str__(self) if rendered is None else rendered


def _rebuild(template: str, params: dict[str, Any], zh: str | None) -> Message:
    return Message(template, params, zh=zh)


def _(template: str, /, **params: Any) -> Message:
    """A user-facing message: ``template`` in English with ``{name}`` fields, the catalogue's
    msgid; ``params`` the values (a :class:`Message` among them is rendered in the same
    language). The template must be a literal string (``pybabel extract`` reads it)."""
    return Message(template, params)


def N_(template: str, /) -> str:
    """Marks a string for extraction without making it a message (the libraries' own)."""
    return template


def bilingual(en: str, zh: str, /, **params: Any) -> Message:
    """A text whose two forms come from data (a rule's label and its ``label_zh``), not from
    the catalogue."""
    return Message(en, params, zh=zh)


# --- the catalogue --------------------------------------------------------------------------


@functools.cache
def catalogue() -> dict[str, str]:
    """msgid -> Chinese, for every translated, non-fuzzy entry of the catalogue."""
    from babel.messages.pofile import read_po

    with CATALOGUE.open("rb") as fh:
        po = read_po(fh, locale="zh_Hans_CN")
    return {
        m.id: m.string for m in po if m.id and isinstance(m.id, str) and m.string and not m.fuzzy
    }


@functools.cache
def _patterns() -> list[tuple[str, re.Pattern[str], str]]:
    """(literal prefix, pattern, msgstr) for each catalogue entry with fields, so that a plain
    string a library formatted ("Length must be between 1 and 64.") finds its template."""
    found = []
    own = _click_messages()  # click looks its own up by their template, never by their text
    for msgid, msgstr in catalogue().items():
        if msgid in own:
            continue
        parts, seen, literal = [], set(), ""
        for text, name, _spec, _conv in _FORMATTER.parse(msgid):
            parts.append(re.escape(text))
            literal += text
            if name is None:
                continue
            parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
            seen.add(name)
        if seen and len(literal.strip()) >= 4:
            prefix = next(iter(_FORMATTER.parse(msgid)))[0]
            found.append((prefix, re.compile("".join(parts), re.DOTALL), msgstr))
    # The longest literal text first: the most specific template wins.
    found.sort(key=lambda item: -len(item[1].pattern))
    return found


def lookup(text: str, locale: str) -> str:
    """A plain string in ``locale``: its catalogue entry, or its template's, else itself."""
    if locale == EN or not text:
        return text
    return _lookup_zh(text)


# Remembered: a text not in the catalogue is matched against every template with fields (a
# job run's errors repeat the same few texts thousands of times: hostile review, 3 s of CPU
# per request). Pure: the catalogue does not change while the process runs.
@functools.lru_cache(maxsize=4096)
def _lookup_zh(text: str) -> str:
    table = catalogue()
    if text in table:
        return table[text]
    if len(text) > MAX_PATTERN_TEXT:
        return text  # no library writes such a message; bounds the matching below
    for prefix, pattern, msgstr in _patterns():
        if text.startswith(prefix):
            match = pattern.fullmatch(text)
            if match:
                return _fill(msgstr, match.groupdict())
    return text


def lookup_stored(text: str, locale: str, sep: str = "; ") -> str:
    """A text stored as a message's English (a job run's errors, several joined by ``sep``)
    in ``locale``: the whole looked up, else each part; ids and counts in it are kept."""
    whole = lookup(text, locale)
    if whole != text or sep not in text:
        return whole
    return sep.join(lookup(part, locale) for part in text.split(sep))


def translate(value: Any, locale: str) -> Any:
    """``value`` with every message in it rendered in ``locale``: a :class:`Message`, a plain
    string (looked up), and the lists and mappings (values only: keys name fields) of an
    ``errors`` member."""
    if isinstance(value, Message):
        return value.render(locale)
    if isinstance(value, str):
        return lookup(value, locale)
    if isinstance(value, Mapping):
        return {key: translate(item, locale) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [translate(item, locale) for item in value]
    return value


# --- choosing the language ------------------------------------------------------------------


def negotiate() -> str:
    """The request's language: English when ``Accept-Language`` prefers it (``en``,
    ``en-US``...), Chinese otherwise (``zh-CN``, ``zh-Hans``, no header, only languages this
    service does not speak). Outside a request: Chinese."""
    if not has_request_context():
        return DEFAULT
    return request.accept_languages.best_match(SUPPORTED, default=DEFAULT)


# --- the operator's language at a terminal ----------------------------------------------------

# No Accept-Language at a terminal: CORRECTIONS_LANG says it (zh or en), else the locale the
# shell sets, in gettext's order (the first of these that is set).
CLI_LANGUAGE_VARIABLE = "CORRECTIONS_LANG"
LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def cli_locale() -> str:
    """The language of what a command prints: English when ``CORRECTIONS_LANG``, or else the
    shell's locale, names English (``en``, ``en_US.UTF-8``); Chinese otherwise (``zh_CN.UTF-8``,
    ``C.UTF-8``, nothing set). Read at each call: a process's environment decides."""
    for name in (CLI_LANGUAGE_VARIABLE, *LOCALE_VARIABLES):
        value = os.environ.get(name, "").strip()
        if value:
            first = value.split(":", 1)[0].strip().lower()
            return EN if first == EN or first[:3] in ("en_", "en-", "en.", "en@") else ZH
    return DEFAULT


def cli_render(value: Any) -> str:
    """A line for the operator (a count, a summary, a table's heading) in their language
    (:func:`cli_locale`): Chinese unless they ask for English."""
    text = translate(value, cli_locale())
    return text if isinstance(text, str) else str(value)


def cli_column(text: Any, width: int) -> str:
    """``text`` padded to ``width`` columns of a terminal, where a Chinese character takes
    two (``f"{text:<10}"`` counts it as one, and a table's columns drift apart)."""
    text = str(text)
    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - used)


def cli_text(value: Any) -> str:
    """An error for the operator at a terminal: in Chinese, then the English in parentheses
    (which log searches and manuals use); in English alone when they ask for it
    (:func:`cli_locale`)."""
    if cli_locale() == EN:
        return cli_render(value)
    zh, en = translate(value, ZH), translate(value, EN)
    if not isinstance(zh, str):
        return str(value)
    return zh if zh == en else f"{zh} ({en})"


# --- click's own messages ---------------------------------------------------------------------


@functools.cache
def _click_messages() -> frozenset[str]:
    from corrections.core.library_messages import CLICK_MESSAGES

    return frozenset(CLICK_MESSAGES)


def click_gettext(message: str) -> str:
    """click's ``gettext``: its message ("Usage:", "Error: {message}", "Missing argument") in
    the operator's language; click fills in the values afterwards."""
    if cli_locale() == EN:
        return message
    return catalogue().get(message) or message


def click_ngettext(singular: str, plural: str, n: int) -> str:
    """click's ``ngettext``: the form for ``n``, in the operator's language (the catalogue
    holds both English forms; Chinese has one)."""
    return click_gettext(singular if n == 1 else plural)


def install_click_messages() -> None:
    """Make click speak the operator's language. Each click module imported ``gettext`` and
    ``ngettext`` from the standard library under its own names, which it looks up at each
    call; they are pointed at :func:`click_gettext` and :func:`click_ngettext`. (Binding the
    standard library's global ``messages`` domain instead would need a compiled catalogue,
    take the language from LANG alone and change argparse's messages too.) Idempotent."""
    import gettext
    import importlib
    import sys

    for name in ("click", "click.shell_completion", "click._termui_impl"):
        importlib.import_module(name)
    for name, module in list(sys.modules.items()):
        if name != "click" and not name.startswith("click."):
            continue
        if getattr(module, "_", None) is gettext.gettext:
            module._ = click_gettext
        if getattr(module, "ngettext", None) is gettext.ngettext:
            module.ngettext = click_ngettext
