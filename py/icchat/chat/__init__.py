"""The chat core: pure Python (stdlib only) so it runs unchanged in CPython and Pyodide."""
