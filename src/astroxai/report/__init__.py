"""Writers only: result objects rendered as CSV/JSON tables, PNG/PDF figures, ``results.md`` and ``report.html``."""
