"""Regression analysis: compare runs, find change points, judge canaries, gate CI.

Modules are imported where used: ``redline analyze changepoints`` must start fast, so nothing
here imports scipy at import time.
"""
