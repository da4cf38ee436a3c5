"""Benchmarks that print figures (ratios against baselines run in the same process)."""

import sys

if sys.argv[:1] == ["-m"]:  # python -m benchmarks.NAME: the same quiet output as core's tools
    from core.quiet import filter_native_logs

    filter_native_logs()
