"""Shapes named on a benchmark's command line: "1:32768:2048,8:32768:2048", each a few positive integers."""

import sys


def ints(shape: str, counts: tuple) -> list:
    """One shape's integers, or exits naming the shape and what was expected."""
    parts = shape.split(":")
    if len(parts) not in counts or not all(p.isdigit() for p in parts):
        sys.exit(f"shape {shape!r}: expected {' or '.join(str(c) for c in counts)} positive integers separated by ':'")
    return [int(p) for p in parts]


def shape_list(text: str, counts: tuple) -> list:
    """Every shape of a comma-separated list (empty: none)."""
    return [ints(shape, counts) for shape in text.split(",") if shape]
