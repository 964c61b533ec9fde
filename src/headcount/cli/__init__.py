"""The `headcount` command line: a thin layer over the library."""
