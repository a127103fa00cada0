"""Alerts: the rules that open and close them (rules.py) and the background loop that applies
the rules while the hub runs (service.py). The Alerts page only reads what they keep.
"""
