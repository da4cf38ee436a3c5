"""The command-line tools' argument parser: every option's help line ends with its default."""
from __future__ import annotations

import argparse


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends '(default: X)' to an option's help where there is a default worth saying (not None, not a flag's)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or isinstance(action.default, bool) and action.nargs == 0:
            return action.help or ""
        return super()._get_help_string(action)


def argument_parser(description: str) -> argparse.ArgumentParser:
    """An ArgumentParser whose help shows each option's default."""
    return argparse.ArgumentParser(description=description, formatter_class=DefaultsHelpFormatter)
