"""``dynode bench``: the world's benchmark, scored against exact ground truth.

- :mod:`.common`: the generator, inverter and scoring every task shares (:class:`Bench`);
- :mod:`.interpolate`: dynamics vs baselines at interpolation and extrapolation;
- :mod:`.edit`: edit propagation vs the world's true edited videos;
- :mod:`.report`: tables, CSV, JSON and plots; :mod:`.cli`: the command group.
"""
