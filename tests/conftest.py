"""Test-wide settings: tiny models run fastest on one thread, and a second thread only fights with
whatever else the 2-core machine is doing (a background training run, the app under test)."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
