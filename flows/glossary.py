"""Deployment entrypoint: ``flows/glossary.py:glossary_match``.

Matches the new and changed columns of the catalog's datasets (metadata-only ones included)
to the business glossary from metadata only (names, types, descriptions; never a value),
stores the suggestions above the threshold, and publishes the new ones; stewards review
with ``lakeward glossary review`` and ``lakeward glossary accept|reject``.
"""

from lakeward.orchestration._glossary import glossary_match

__all__ = ["glossary_match"]

if __name__ == "__main__":
    print(glossary_match())
