"""The shared core: what both model families are built on, and nothing of either.

The network and its inputs (:mod:`~jaxdiff.core.models`, :mod:`~jaxdiff.core.features`,
:mod:`~jaxdiff.core.initializers`, :mod:`~jaxdiff.core.conditions`), the data and its
files (:mod:`~jaxdiff.core.data`, :mod:`~jaxdiff.core.tables`, :mod:`~jaxdiff.core.files`),
the sample metrics (:mod:`~jaxdiff.core.metrics`), trace estimators
(:mod:`~jaxdiff.core.traces`), the reverse chain's scan (:mod:`~jaxdiff.core.chains`),
figures (:mod:`~jaxdiff.core.plotting`) and argument checks (:mod:`~jaxdiff.core.validate`).
import-linter keeps it from importing either family (``pyproject.toml``).
"""
