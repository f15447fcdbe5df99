"""How every benchmark hands over its result: JSON on stdout, and atomically
into ``--out`` when given (bench/results/ holds the committed ones)."""

from __future__ import annotations

import json

from nairrcore.files import write_text


def emit(result: dict, out: str | None) -> None:
    text = json.dumps(result, indent=2)
    print(text)
    if out:
        write_text(out, text + "\n")
