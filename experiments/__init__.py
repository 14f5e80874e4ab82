"""Scripts that regenerate the project's figures and tables into ``results/``.

``python -m experiments.all`` (or ``lbsim reproduce``) runs every one of
:data:`experiments.all.EXPERIMENTS`; ``python -m experiments.<name>`` runs one.
See :mod:`experiments.common` for what an experiment module declares.
"""
