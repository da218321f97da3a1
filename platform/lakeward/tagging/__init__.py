"""Dataset tagging: column semantic types and sensitivity tags from names and sampled values.

- ``_sample``: the Spark sampling job (a bounded, seeded sample of every leaf column).
"""
