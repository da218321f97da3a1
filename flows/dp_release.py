"""Deployment entrypoint: ``flows/dp_release.py:dp_release``.

Each period, releases the next step of every registered DP stream (see
:mod:`lakeward.orchestration._dp_flow`).
"""

from lakeward.orchestration._dp_flow import dp_release

__all__ = ["dp_release"]

if __name__ == "__main__":
    print(dp_release())
