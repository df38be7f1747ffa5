"""What the bench scripts' command lines share: ``--smoke`` and where histories are cached."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def add_cache_dir(parser: argparse.ArgumentParser, default: Path) -> None:
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=default,
        help="where generated histories are kept between runs",
    )


def parse(parser: argparse.ArgumentParser, smoke: Mapping[str, Any]) -> argparse.Namespace:
    """The arguments, with ``--smoke`` added: it makes ``smoke``'s tiny sizes the defaults, so a
    run takes seconds and still prints every figure; options given on the command line win."""
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: does it still run?")
    args = parser.parse_args()
    if args.smoke:
        parser.set_defaults(**smoke)
        args = parser.parse_args()
    return args
