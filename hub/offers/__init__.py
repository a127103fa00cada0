"""Help offers: where citizens get help with each skill category (for a district or the whole
city), how they reach the kiosks in their configs, and their outcomes (people who came, per
offer and month). offers.py holds it all; `civic offer ...` and the admin pages call it.
"""
