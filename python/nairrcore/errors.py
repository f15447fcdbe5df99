"""Exceptions raised by nairrcore. Both are ``ValueError`` subclasses.

``DataError``: an input file or archive is missing, truncated or malformed;
the message names the file (and line or record where there is one).
``ConfigError``: an argument or configuration value is invalid; the message
names it and the value received.
"""

from nairrcore._native import core as _core

DataError = _core.DataError
ConfigError = _core.ConfigError

__all__ = ["ConfigError", "DataError"]
