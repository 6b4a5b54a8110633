"""What works on a model of either family: the one place that imports both.

Training (:mod:`~jaxdiff.engine.training`, :mod:`~jaxdiff.engine.fitting`,
:mod:`~jaxdiff.engine.stopping`, :mod:`~jaxdiff.engine.ensembles`,
:mod:`~jaxdiff.engine.parallel`), sampling (:mod:`~jaxdiff.engine.samplers`),
likelihood (:mod:`~jaxdiff.engine.likelihood`) and imputation
(:mod:`~jaxdiff.engine.imputation`). It never imports the application
(:mod:`jaxdiff.runs`) or the command line (:mod:`jaxdiff.cli`).
"""
