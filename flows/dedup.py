"""Deployment entrypoint: ``flows/dedup.py:dedup``.

Finds contained datasets in the catalog, plans their deletion and proposes it; deletion
needs a second steward's approval (``lakeward dedup approve`` / ``apply``).
"""

from lakeward.orchestration._dedup import dedup

__all__ = ["dedup"]

if __name__ == "__main__":
    print(dedup())
