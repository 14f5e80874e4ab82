"""The designer's side: which tune-before-test level to use, how sure, and at what cost (``lbsim design``).

* :mod:`sim.design.search`: the least stabilising ``tau`` by simulation (scan and bisection, common random
  numbers, in parallel), the designer's objective;
* :mod:`sim.design.report`: the report for one scenario, beside the theory's ``tau*``;
* :mod:`sim.design.data`: from data (a CSV or the bundled lm-harmony set): calibration and a parametric
  bootstrap;
* :mod:`sim.design.plots`: the frontier and calibration figures;
* :mod:`sim.design.cli`: the ``lbsim design`` command.

The mathematics: ``docs/model.md#the-designers-problem``.
"""

from sim.design.report import design_scenario
from sim.design.search import DesignSettings

__all__ = ["DesignSettings", "design_scenario"]
