"""Progress bars: tqdm's notebook widget inside Jupyter when ipywidgets is
installed, its text bar in a terminal, and none in a kernel that cannot show a
widget (a headless run: its output then holds the notebook's own lines, not
a bar's redraws)."""

from __future__ import annotations

import importlib.util
import sys


def progress_bar(**kwargs):
    widgets = importlib.util.find_spec("ipywidgets") is not None
    if widgets:
        from tqdm.auto import tqdm  # a widget in Jupyter
    else:
        from tqdm.std import tqdm  # a text bar
    headless = "ipykernel" in sys.modules and not widgets
    return tqdm(dynamic_ncols=True, disable=headless, **kwargs)
