"""``astroxai view``: a survey of millions of explained spectra, explored in the browser.

:mod:`astroxai.view.table` holds what the views show, in numpy: the survey's columns read once with pyarrow and
shared by every browser session, the filters, box and lasso selections, nearest objects, the inspection queues,
one object's spectrum and attribution map, the verdicts and the exported selections.
:mod:`astroxai.view.app` draws it with a Bokeh server and datashader (the map is re-rendered at full resolution on
every pan, zoom and filter).  Nothing here computes a result the survey has not: a map the survey did not store is
computed with the survey's own model and settings, as ``astroxai explain`` would.
"""

from astroxai.view.table import Filter, SurveyTable, VerdictBook

__all__ = ["Filter", "SurveyTable", "VerdictBook"]
