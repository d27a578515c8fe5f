"""The one exception of the analysis package: bad or insufficient input, with a message a user can act on."""

from __future__ import annotations


class AnalysisError(ValueError):
    """Result tables that cannot be analysed as asked: missing files or columns, too few architectures, …"""
