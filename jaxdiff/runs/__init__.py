"""The application layer: a run directory on disk, built on the library.

``config`` (settings, presets), ``setup`` (settings into objects), ``rundir`` (files),
``checkpoints`` (orbax), ``train``, ``draw``, ``evaluate``, ``figures``, ``progress``.
The library (``jaxdiff.*`` outside this package) never imports it; the command line
(``jaxdiff.cli``) only parses flags and calls it.
"""
