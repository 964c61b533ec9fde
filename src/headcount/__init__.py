"""headcount: tell real people from fake crowds.

A holds ledger that fakes cannot lock up, identity signals and linking,
coordinated-group detection, and real-headcount estimates, as a library with a
CLI and an HTTP service on top.
"""

__version__ = "0.1.0"
