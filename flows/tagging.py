"""Deployment entrypoint: ``flows/tagging.py:tag_lake``.

Classifies the lake's changed datasets (column semantic types and sensitivity tags from
names and sampled values), writes suggestions and automatic approvals through the policy
layer, and publishes what changed; stewards review with ``lakeward tag ls --status
suggested`` and ``lakeward tag approve|reject``.
"""

from lakeward.orchestration._tagging import tag_lake

__all__ = ["tag_lake"]

if __name__ == "__main__":
    print(tag_lake())
