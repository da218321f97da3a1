"""Deployment entrypoint: ``flows/profile_lake.py:profile_lake``.

The flow lives in :mod:`lakeward.orchestration._flows` so the installed package (and
``lakeward demo``) can run it without this checkout; this file gives Prefect deployments
their file-path entrypoint.
"""

from lakeward.orchestration._flows import profile_lake

__all__ = ["profile_lake"]

if __name__ == "__main__":
    import sys

    print(profile_lake(sys.argv[1] if len(sys.argv) > 1 else "."))
