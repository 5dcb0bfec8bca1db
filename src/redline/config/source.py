"""YAML with line marks: plain Python data plus where every key and value came from.

PyYAML's C composer gives nodes with marks; this module turns them into dicts,
lists and scalars while recording a :class:`SourceMap`, and reports what PyYAML
would hide: duplicate keys at any depth, tabs used for indentation, non-string
keys, tags it does not know. Aliases are converted once and shared, so an alias
bomb stays cheap; marks inside aliased and merged (``<<: *x``) content point at
where the anchor's content was written, within a budget.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import GeneratorType
from typing import Any

import yaml

from redline.config.diagnostics import Diagnostic

__all__ = ["Mark", "Path", "SourceMap", "format_path", "load_yaml"]

Path = tuple[str | int, ...]
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MAX_NODES = 200_000
_STANDARD = "tag:yaml.org,2002:"
_STR = _STANDARD + "str"
_NUMBERS = {_STANDARD + "int", _STANDARD + "float"}
# What PyYAML's resolver tags a plain `<<` or `=` with; as a value it is just that text.
_TEXT_TAGS = {_STANDARD + "merge", _STANDARD + "value"}
_REFERENCE = re.compile(r"\$\{[^}]*\}?")
_MAX_TAB_PASSES = 50


@dataclass(frozen=True)
class Mark:
    """A 1-based position in a file."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass
class SourceMap:
    """Where each value (and each mapping key) of a document was written."""

    values: dict[Path, Mark] = field(default_factory=dict)
    keys: dict[Path, Mark] = field(default_factory=dict)
    lines: dict[str, list[str]] = field(default_factory=dict)

    def value(self, path: Path) -> Mark | None:
        """The mark of ``path``'s value, or of its nearest ancestor that has one."""
        p = tuple(path)
        while True:
            mark = self.values.get(p)
            if mark is not None or not p:
                return mark
            p = p[:-1]

    def key(self, path: Path) -> Mark | None:
        """The mark of the key naming ``path``, falling back to its value, then ancestors."""
        return self.keys.get(tuple(path)) or self.value(path)

    def column_of(self, mark: Mark | None, value: str, offset: int) -> int:
        """The column of the ``${`` at ``offset`` in ``value``, a scalar written at ``mark``.

        >>> smap = SourceMap(lines={"f": ['url: "http://${HOST}:${PORT}"']})
        >>> smap.column_of(Mark("f", 1, 6), "http://${HOST}:${PORT}", 15)
        22

        The reference is looked for in the scalar's first source line; when it is not there
        (a block or multi-line scalar, escapes that change the text) this is the scalar's
        own column. 0 when ``mark`` is None.
        """
        if mark is None:
            return 0
        token = _REFERENCE.match(value, offset)
        if token is None or "\n" in value[:offset]:
            return mark.col
        text = token.group(0)
        line = self.source_line(mark)
        pos = mark.col - 1
        # The same reference may be written twice: find the one at ``offset``.
        for _ in range(value.count(text, 0, offset) + 1):
            pos = line.find(text, pos)
            if pos < 0:
                return mark.col
            pos += len(text)
        return pos - len(text) + 1

    def source_line(self, mark: Mark | None) -> str:
        if mark is None:
            return ""
        lines = self.lines.get(mark.file, [])
        return lines[mark.line - 1] if 0 < mark.line <= len(lines) else ""

    def diagnostic(
        self,
        rule: str,
        message: str,
        mark: Mark | None,
        path: str = "",
        hint: str = "",
    ) -> Diagnostic:
        """A diagnostic at ``mark`` (unknown position when None), quoting its source line."""
        return Diagnostic(
            rule,
            message,
            mark.file if mark else "",
            mark.line if mark else 0,
            mark.col if mark else 0,
            path,
            hint,
            source_line=self.source_line(mark),
        )

    def graft(self, other: SourceMap, src: Path, dst: Path) -> None:
        """Copy ``other``'s marks under ``src`` to sit under ``dst`` (for overrides)."""
        n = len(src)
        for table, mine in ((other.values, self.values), (other.keys, self.keys)):
            moved = [(dst + p[n:], m) for p, m in table.items() if p[:n] == src]
            mine.update(moved)
        self.lines.update(other.lines)


def format_path(path: Path) -> str:
    """``("services", "api", "checks", 0)`` -> ``services.api.checks[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class _Builder:
    def __init__(
        self, file: str, smap: SourceMap, diags: list[Diagnostic], tab_lines: set[int]
    ) -> None:
        self.file = file
        self.tab_lines = tab_lines
        self.smap = smap
        self.diags = diags
        self.constructor = yaml.constructor.SafeConstructor()
        self.seen: dict[int, Any] = {}
        # Where each node was first built, so aliased content can borrow its marks.
        self.origin: dict[int, Path] = {}
        self.count = 0
        self.copy_budget = _MAX_NODES
        self.aside = 0

    def mark(self, node: yaml.Node) -> Mark:
        m = node.start_mark
        line, col = m.line + 1, m.column + 1
        if line in self.tab_lines:
            col = _original_col(self.smap.lines[self.file][line - 1], col)
        return Mark(self.file, line, col)

    def build(self, node: yaml.Node, path: Path) -> Any:
        key = id(node)
        if key in self.seen:
            self.smap.values.setdefault(path, self.mark(node))
            self._copy_marks(self.seen[key], self.origin[key], path)
            return self.seen[key]
        self.count += 1
        if self.count > _MAX_NODES:
            raise _TooLarge
        self.smap.values[path] = self.mark(node)
        self.origin[key] = path
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = self.seen[key] = self._scalar(node, path)
            return value
        if node.tag not in self.constructor.yaml_constructors:
            self._unknown_tag(node, path)
        if isinstance(node, yaml.MappingNode):
            value = self.seen[key] = {}
            self._mapping(node, path, value)
        else:
            value = self.seen[key] = []
            value.extend(self.build(item, (*path, i)) for i, item in enumerate(node.value))
        return value

    def _scalar(self, node: yaml.ScalarNode, path: Path) -> Any:
        tag = node.tag
        if tag == _STR or tag in _TEXT_TAGS:
            return node.value  # most scalars: skip the constructor's bookkeeping
        construct = self.constructor.yaml_constructors.get(tag)
        if construct is None:
            self._unknown_tag(node, path)
            return node.value
        if tag in _NUMBERS and ":" in node.value:
            return node.value  # YAML 1.1 reads 1:20 as base 60 (80); let the schema say no
        try:
            value = construct(self.constructor, node)
        except Exception:  # KeyError for `!!bool maybe`, AttributeError for `!!timestamp x`
            # A standard tag that does not fit its text (`!!int abc`, `2024-13-45`): the
            # schema judges the text, so the one mistake is reported once.
            return node.value
        if isinstance(value, GeneratorType):
            return node.value  # a collection tag (`!!map`) on a scalar
        return value

    def _unknown_tag(self, node: yaml.Node, path: Path) -> None:
        tag = str(node.tag)
        shown = "!!" + tag[len(_STANDARD) :] if tag.startswith(_STANDARD) else tag
        self.diags.append(
            self.diag(
                node,
                path,
                "wrong-type",
                f"unknown YAML tag '{shown}'",
                "remove the tag; redline.yaml uses plain YAML",
            )
        )

    def _mapping(self, node: yaml.MappingNode, path: Path, out: dict[str, Any]) -> None:
        first_seen: dict[str, yaml.Node] = {}
        merged: dict[str, tuple[Any, Path]] = {}
        for knode, vnode in node.value:
            if knode.tag == "tag:yaml.org,2002:merge":
                merged.update(self._merge_source(vnode, path))
                continue
            if not isinstance(knode, yaml.ScalarNode):
                self.diags.append(
                    self.diag(
                        knode,
                        path,
                        "wrong-type",
                        "a key must be a plain string",
                        "write the key as text, e.g. `name:`",
                    )
                )
                continue
            name = str(knode.value)
            if name in first_seen:
                first = first_seen[name].start_mark.line + 1
                self.diags.append(
                    self.diag(
                        knode,
                        (*path, name),
                        "duplicate-key",
                        f"key '{name}' appears twice in this mapping (first at line {first})",
                        "remove one of them; YAML tools differ on which one wins",
                    )
                )
                continue
            first_seen[name] = knode
            child = (*path, name)
            self.smap.keys[child] = self.mark(knode)
            out[name] = self.build(vnode, child)
        for name, (value, origin) in merged.items():
            if name in out:
                continue
            out[name] = value
            child = (*path, name)
            if origin in self.smap.keys:
                self.smap.keys[child] = self.smap.keys[origin]
            self._copy_marks(value, origin, child)

    def _merge_source(self, vnode: yaml.Node, path: Path) -> dict[str, tuple[Any, Path]]:
        """What ``<<`` merges: each key's value and the path its marks were recorded under."""
        sources = vnode.value if isinstance(vnode, yaml.SequenceNode) else [vnode]
        result: dict[str, tuple[Any, Path]] = {}
        for src in reversed(sources):
            origin = self.origin.get(id(src))
            if origin is None:
                # An inline source is built aside (negative indexes never name data), so its
                # marks do not overwrite those of the mapping it merges into.
                self.aside -= 1
                origin = (*path, self.aside)
                value = self.build(src, origin)
            else:
                value = self.seen[id(src)]
            if isinstance(value, dict):
                result.update({k: (v, (*origin, k)) for k, v in value.items()})
            else:
                self.diags.append(
                    self.diag(
                        src,
                        path,
                        "wrong-type",
                        "'<<' must merge a mapping or a list of them",
                        "merge an anchored mapping, e.g. `<<: *defaults`",
                    )
                )
        return result

    def _copy_marks(self, value: Any, src: Path, dst: Path) -> None:
        """Give ``dst`` and what lies under it the marks recorded under ``src``."""
        values, keys = self.smap.values, self.smap.keys
        stack = [(value, src, dst)]
        visited: set[int] = set()
        while stack and self.copy_budget > 0:
            v, s, d = stack.pop()
            self.copy_budget -= 1
            if s in values:
                values.setdefault(d, values[s])
            if d != dst and s in keys:
                keys.setdefault(d, keys[s])
            if isinstance(v, (dict, list)):
                if id(v) in visited:
                    continue  # a recursive alias
                visited.add(id(v))
                items = v.items() if isinstance(v, dict) else enumerate(v)
                stack.extend((child, (*s, k), (*d, k)) for k, child in items)

    def diag(
        self, node: yaml.Node, path: Path, rule: str, message: str, hint: str = ""
    ) -> Diagnostic:
        return self.smap.diagnostic(rule, message, self.mark(node), format_path(path), hint)


class _TooLarge(Exception):
    pass


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _tab_at(line: str, col: int) -> int:
    """The column of the tab that PyYAML stopped at on ``line`` (0 if it was not a tab)."""
    if "\t" in _indent(line):
        return _indent(line).index("\t") + 1
    return col if line[col - 1 : col] == "\t" else 0


def _untab(line: str, col: int) -> str:
    """``line`` with the tabs of its indentation as two spaces, and those around ``col`` as one.

    Two spaces per indenting tab is the likeliest reading of a file indented with tabs;
    :func:`_original_col` maps columns back to the line as written.
    """
    lead = _indent(line)
    start = max(col - 1, len(lead))
    while start > len(lead) and line[start - 1] in " \t":
        start -= 1
    end = max(col - 1, len(lead))
    while end < len(line) and line[end] in " \t":
        end += 1
    rest = line[len(lead) : start] + line[start:end].replace("\t", " ") + line[end:]
    return lead.replace("\t", "  ") + rest


def _original_col(written: str, col: int) -> int:
    """The column in ``written`` of column ``col`` of ``_untab(written, ...)``."""
    lead = _indent(written)
    wide = len(lead) + lead.count("\t")
    if col > wide:
        return col - lead.count("\t")
    seen = 0
    for i, ch in enumerate(lead):
        seen += 2 if ch == "\t" else 1
        if seen >= col:
            return i + 1
    return col


def _tab_diagnostic(file: str, line: str, lineno: int, col: int) -> Diagnostic:
    return Diagnostic(
        "tab-indent",
        "a tab is used for indentation; YAML allows only spaces",
        file,
        lineno,
        col,
        "",
        "replace the tab with spaces (two per level is usual)",
        source_line=line,
    )


def _compose(
    text: str, file: str, lines: list[str], diags: list[Diagnostic], tab_lines: set[int]
) -> yaml.Node | None:
    """The root node (None for an empty document), reading on past tabs used for indentation.

    The text as written is parsed first, so a tab that YAML allows (inside a block
    scalar, in a flow collection) is never reported. Only when PyYAML stops at a tab is
    that line reported (once), added to ``tab_lines`` and parsed again with spaces for
    its tabs. Raises :class:`_Unreadable` when the text cannot be read on.
    """
    work = text.splitlines(keepends=True)
    passes = 0
    while True:
        try:
            node: yaml.Node | None = yaml.compose("".join(work), Loader=_Loader)
            return node
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            lineno, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
            tab = _tab_at(work[lineno - 1], col) if 0 < lineno <= len(work) else 0
            passes += 1
            if tab and passes <= _MAX_TAB_PASSES:
                if lineno not in tab_lines:
                    tab_lines.add(lineno)
                    diags.append(_tab_diagnostic(file, lines[lineno - 1], lineno, tab))
                work[lineno - 1] = _untab(work[lineno - 1], col)
                continue
            if passes == _MAX_TAB_PASSES + 1 and _untab_all(work, lines, file, diags, tab_lines):
                continue
            if lineno not in tab_lines:  # else it is most likely the tab's consequence
                diags.append(_syntax_diagnostic(exc, file, lines, lineno, col))
            raise _Unreadable from None


def _untab_all(
    work: list[str], lines: list[str], file: str, diags: list[Diagnostic], tab_lines: set[int]
) -> bool:
    """Many tabs: rather than a parse per line, take every indenting tab at once."""
    changed = False
    for n, line in enumerate(work, 1):
        if "\t" in _indent(line) and n not in tab_lines:
            tab_lines.add(n)
            col = _indent(line).index("\t") + 1
            diags.append(_tab_diagnostic(file, lines[n - 1], n, col))
            work[n - 1] = _untab(line, col)
            changed = True
    return changed


class _Unreadable(Exception):
    pass


def _syntax_diagnostic(
    exc: yaml.MarkedYAMLError, file: str, lines: list[str], line: int, col: int
) -> Diagnostic:
    problem = (exc.problem or str(exc)).strip()
    context = f" ({exc.context.strip()})" if exc.context else ""
    message = f"{problem}{context}"
    hint = _syntax_hint(problem)
    if problem.startswith("but found another document"):
        message = (
            f"the file holds more than one YAML document ('---' starts another at line {line})"
        )
        hint = "keep one document: remove this '---' and what follows, or merge the two"
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    return Diagnostic("yaml-syntax", message, file, line, col, "", hint, source_line=source)


def _reader_diagnostic(exc: yaml.reader.ReaderError, text: str, file: str) -> Diagnostic:
    """A character YAML does not allow (a control character, say), at its line and column."""
    char = chr(exc.character) if isinstance(exc.character, int) else str(exc.character)
    # libyaml counts the position in UTF-8 bytes; finding the character itself is simpler.
    at = text.find(char) if len(char) == 1 else -1
    if at < 0:
        return Diagnostic("yaml-syntax", str(exc).splitlines()[0], file, 1, 1)
    line = text.count("\n", 0, at) + 1
    col = at - (text.rfind("\n", 0, at) + 1) + 1
    lines = text.splitlines()
    return Diagnostic(
        "yaml-syntax",
        f"character U+{ord(char):04X} is not allowed in YAML ({exc.reason})",
        file,
        line,
        col,
        "",
        "remove it; inside double quotes a control character is written as an escape, e.g. \\t",
        source_line=lines[line - 1] if line <= len(lines) else "",
    )


def load_yaml(text: str, file: str) -> tuple[Any, SourceMap, list[Diagnostic]]:
    """Parse ``text``: the data (``None`` if unreadable), its source map, and diagnostics."""
    lines = text.splitlines()
    smap = SourceMap(lines={file: lines})
    diags: list[Diagnostic] = []
    tab_lines: set[int] = set()
    try:
        root = _compose(text, file, lines, diags, tab_lines)
    except _Unreadable:
        return None, smap, diags
    except yaml.reader.ReaderError as exc:
        diags.append(_reader_diagnostic(exc, text, file))
        return None, smap, diags
    except yaml.YAMLError as exc:
        diags.append(Diagnostic("yaml-syntax", str(exc).splitlines()[0], file, 1, 1))
        return None, smap, diags
    except RecursionError:
        diags.append(Diagnostic("yaml-syntax", "the document is nested too deeply", file, 1, 1))
        return None, smap, diags
    if root is None:
        return {}, smap, diags
    builder = _Builder(file, smap, diags, tab_lines)
    try:
        data = builder.build(root, ())
    except _TooLarge:
        diags.append(
            Diagnostic("yaml-syntax", f"the document has more than {_MAX_NODES} nodes", file, 1, 1)
        )
        return None, smap, diags
    except RecursionError:
        diags.append(Diagnostic("yaml-syntax", "the document is nested too deeply", file, 1, 1))
        return None, smap, diags
    return data, smap, diags


def _syntax_hint(problem: str) -> str:
    if "expected ',' or ']'" in problem or "expected ',' or '}'" in problem:
        return "a [list] or {mapping} opened here is not closed"
    if "mapping values are not allowed" in problem:
        return "quote a value that contains ': ', or fix the indentation of the line above"
    if "found character" in problem and "that cannot start any token" in problem:
        return "quote the value: it starts with a character YAML reserves (` @ % or tab)"
    if "could not find expected ':'" in problem:
        return "a key is missing its ':' or a multi-line string is not indented"
    if "found undefined alias" in problem:
        return "define the anchor (&name) before using the alias (*name)"
    return "check the indentation and quoting on this line and the one above"
