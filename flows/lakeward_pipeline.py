"""Deployment entrypoint: ``flows/lakeward_pipeline.py:lakeward_pipeline``."""

from lakeward.orchestration._flows import lakeward_pipeline

__all__ = ["lakeward_pipeline"]
