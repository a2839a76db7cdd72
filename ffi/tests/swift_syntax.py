"""Parses Swift files with tree-sitter-swift and fails on any syntax error.

Usage: swift_syntax.py FILE.swift...

Two valid constructs that tree-sitter-swift 0.7 does not parse are blanked out first (replaced
by spaces of the same length, so lines and columns in messages stay right):
- the `@_documentation(visibility: private)` attribute uniffi puts on internal declarations;
- the empty tuple expression in a closure `{ () }`, which uniffi writes for a callback method
  that returns nothing; `{    }` is the same empty closure returning Void.
Anything else the grammar rejects fails the check: any ERROR or MISSING node, with its line
and column.
"""

import re
import sys

import tree_sitter_swift
from tree_sitter import Language, Parser

UNKNOWN_ATTRIBUTES = re.compile(rb"@_documentation\s*\(\s*visibility\s*:\s*\w+\s*\)")
EMPTY_TUPLE_CLOSURE = re.compile(rb"\{(\s*)\(\)(\s*)\}")


def normalise(source):
    """Blanks out the valid constructs the grammar does not know (see the module doc)."""
    source = UNKNOWN_ATTRIBUTES.sub(lambda m: b" " * len(m.group(0)), source)
    return EMPTY_TUPLE_CLOSURE.sub(lambda m: b"{" + m.group(1) + b"  " + m.group(2) + b"}", source)


def problems(tree):
    """Yields (kind, node) for every ERROR or MISSING node, depth first."""
    cursor = tree.walk()
    while True:
        node = cursor.node
        if node.is_error or node.is_missing:
            yield ("MISSING " + node.type if node.is_missing else "ERROR"), node
        if cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return


def main(paths):
    if not paths:
        print("no Swift files given", file=sys.stderr)
        return 2
    parser = Parser(Language(tree_sitter_swift.language()))
    failed = 0
    for path in paths:
        with open(path, "rb") as f:
            source = f.read()
        source = normalise(source)
        tree = parser.parse(source)
        found = list(problems(tree))
        lines = source.count(b"\n") + 1
        if found:
            failed += 1
            print(f"FAIL {path}: {len(found)} syntax error(s)")
            for kind, node in found[:20]:
                row, col = node.start_point
                text = source.splitlines()[row].decode("utf-8", "replace").strip() if row < lines - 1 else ""
                print(f"  {path}:{row + 1}:{col + 1}: {kind}: {text[:120]}")
        else:
            print(f"ok   {path} ({lines} lines)")
    print(f"swift syntax: {len(paths) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
