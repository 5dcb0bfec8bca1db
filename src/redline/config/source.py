"""YAML with line marks: plain Python data plus where every key and value came from.

PyYAML's C composer gives nodes with marks; this module turns them into dicts,
lists and scalars while recording a :class:`SourceMap`, and reports what PyYAML
would hide: duplicate keys at any depth, tabs used for indentation, non-string
keys. Aliases are converted once and shared, so an alias bomb stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from redline.config.diagnostics import Diagnostic

__all__ = ["Mark", "Path", "SourceMap", "format_path", "load_yaml"]

Path = tuple[str | int, ...]
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MAX_NODES = 200_000
_STR = "tag:yaml.org,2002:str"


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
    def __init__(self, file: str, smap: SourceMap, diags: list[Diagnostic]) -> None:
        self.file = file
        self.smap = smap
        self.diags = diags
        self.constructor = yaml.constructor.SafeConstructor()
        self.seen: dict[int, Any] = {}
        self.count = 0

    def mark(self, node: yaml.Node) -> Mark:
        m = node.start_mark
        return Mark(self.file, m.line + 1, m.column + 1)

    def build(self, node: yaml.Node, path: Path) -> Any:
        key = id(node)
        if key in self.seen:
            self.smap.values.setdefault(path, self.mark(node))
            return self.seen[key]
        self.count += 1
        if self.count > _MAX_NODES:
            raise _TooLarge
        self.smap.values[path] = self.mark(node)
        value: Any
        if isinstance(node, yaml.MappingNode):
            value = self.seen[key] = {}
            self._mapping(node, path, value)
        elif isinstance(node, yaml.SequenceNode):
            value = self.seen[key] = []
            value.extend(self.build(item, (*path, i)) for i, item in enumerate(node.value))
        elif node.tag == _STR:
            value = self.seen[key] = node.value  # most scalars: skip the constructor's bookkeeping
        else:
            try:
                construct = self.constructor.yaml_constructors.get(node.tag)
                if construct is None:
                    value = self.constructor.construct_object(node, deep=True)
                else:
                    value = construct(self.constructor, node)
            except (yaml.YAMLError, ValueError, OverflowError) as exc:
                self.diags.append(self.diag(node, path, "wrong-type", f"cannot read scalar: {exc}"))
                value = node.value
            self.seen[key] = value
        return value

    def _mapping(self, node: yaml.MappingNode, path: Path, out: dict[str, Any]) -> None:
        first_seen: dict[str, yaml.Node] = {}
        merged: dict[str, Any] = {}
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
        for name, value in merged.items():
            out.setdefault(name, value)

    def _merge_source(self, vnode: yaml.Node, path: Path) -> dict[str, Any]:
        sources = vnode.value if isinstance(vnode, yaml.SequenceNode) else [vnode]
        result: dict[str, Any] = {}
        for src in reversed(sources):
            value = self.build(src, path)
            if isinstance(value, dict):
                result.update(value)
            else:
                self.diags.append(
                    self.diag(
                        src, path, "wrong-type", "'<<' must merge a mapping or a list of them"
                    )
                )
        return result

    def diag(
        self, node: yaml.Node, path: Path, rule: str, message: str, hint: str = ""
    ) -> Diagnostic:
        return self.smap.diagnostic(rule, message, self.mark(node), format_path(path), hint)


class _TooLarge(Exception):
    pass


def _tab_diagnostics(file: str, lines: list[str]) -> list[Diagnostic]:
    out = []
    for i, line in enumerate(lines, 1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            out.append(
                Diagnostic(
                    "tab-indent",
                    "a tab is used for indentation; YAML allows only spaces",
                    file,
                    i,
                    indent.index("\t") + 1,
                    "",
                    "replace the tab with spaces (two per level is usual)",
                    source_line=line,
                )
            )
    return out


def load_yaml(text: str, file: str) -> tuple[Any, SourceMap, list[Diagnostic]]:
    """Parse ``text``: the data (``None`` if unreadable), its source map, and diagnostics."""
    lines = text.splitlines()
    smap = SourceMap(lines={file: lines})
    diags = _tab_diagnostics(file, lines)
    tab_lines = {d.line for d in diags}
    if diags:
        # Read on as if each tab were two spaces, so later problems are reported too.
        text = "\n".join(
            line.replace("\t", "  ") if i in tab_lines else line for i, line in enumerate(lines, 1)
        )
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        if line not in tab_lines:
            col = mark.column + 1 if mark else 0
            problem = (exc.problem or str(exc)).strip()
            context = f" ({exc.context.strip()})" if exc.context else ""
            diags.append(
                Diagnostic(
                    "yaml-syntax",
                    f"{problem}{context}",
                    file,
                    line,
                    col,
                    "",
                    _syntax_hint(problem),
                    source_line=smap.source_line(Mark(file, line, col)),
                )
            )
        return None, smap, diags
    except yaml.YAMLError as exc:
        diags.append(Diagnostic("yaml-syntax", str(exc).splitlines()[0], file, 1, 1))
        return None, smap, diags
    except RecursionError:
        diags.append(Diagnostic("yaml-syntax", "the document is nested too deeply", file, 1, 1))
        return None, smap, diags
    if root is None:
        return {}, smap, diags
    builder = _Builder(file, smap, diags)
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
