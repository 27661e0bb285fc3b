"""The device probe: what compute this runtime has, whether gputrain can run on it, and if not, why
and the one thing to do. It loads the vendor driver libraries with ctypes and reads /sys and /proc, so
it works in a build without any GPU backend, never creates a GPU context, and never raises because a
driver is missing or broken. The public calls live in api.py and import the rest on first use, keeping
`import gputrain` cheap.

Test hooks, set only by the test suite (tests/test_probe_*.py); users have no reason to set them:
  GPUTRAIN_PROBE_ROOT=DIR          read /sys, /proc, /dev, /etc and marker files under DIR instead of /
  GPUTRAIN_PROBE_LIBCUDA=FILE      load FILE instead of libcuda.so.1
  GPUTRAIN_PROBE_LIBNVML=FILE      load FILE instead of libnvidia-ml.so.1
  GPUTRAIN_PROBE_LIBHIP=FILE       load FILE instead of libamdhip64.so
GPUTRAIN_PROBE_TIMEOUT=SECONDS (default 30) bounds each driver layer; a hung driver is reported.
"""
