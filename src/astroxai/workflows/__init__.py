"""Glue that reads, calls and writes: the streaming reduction, training into model folders, evaluation, prediction and
explanation of files, trust tables, t-SNE maps, and ``astroxai run``.  Only this layer and :mod:`astroxai.report`
write files."""
