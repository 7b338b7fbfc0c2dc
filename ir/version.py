"""The package version, low in the import graph so every layer can stamp it on what it writes."""
__version__ = "0.1.0"
