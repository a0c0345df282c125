"""The explorer: one self-contained HTML page in which a run's trained model runs in plain JavaScript.

`aelab explore RUN_FOLDER` writes `explorer.html` into the run folder: draw a digit and watch the
reconstruction and the code, walk the code space, interpolate between two images, look at the
encoder's weights — for every family with a decoder, on images or 1-D samples — offline, from
`file://`, with nothing fetched. Modules, one job each: export.py (the model as a list of layers),
trace.py (which layers encode and decode run), content.py (the test images, codes and principal
directions the page shows), page.py (the HTML, its policy and its escaping), command.py (the
command: read the run, build the page, write it under the run's lock).
"""

from aelab.explorer.command import EXPLORER_HTML, explore

__all__ = ["EXPLORER_HTML", "explore"]
