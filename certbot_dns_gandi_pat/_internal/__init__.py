"""The implementation: no public API. The plugin's page is the package docstring."""
