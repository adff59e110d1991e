"""Run a `flask` command in a process whose clock is off (a worker host whose NTP
failed): ``GESTOR_TEST_CLOCK_SKEW=400 python tests/skewed_clock.py --app run jobs``.

The app reads the wall clock through one helper, ``app.models.utcnow`` (and the
standard library's ``time.time``); both are moved ``GESTOR_TEST_CLOCK_SKEW`` seconds
ahead (negative: behind) before any other app module imports them. Only the
database's clock stays true. (Replacing ``datetime.datetime`` itself crashes C
extensions that check its size.) Used by tests/test_worker_lifecycle.py: the sender
must lease and stamp mails by the database's clock, so the skew changes nothing."""
import datetime as _dt
import os
import sys
import time

SKEW = float(os.environ.get("GESTOR_TEST_CLOCK_SKEW", "0"))

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.remove(os.path.dirname(os.path.abspath(__file__)))
    import app.models

    def skewed_utcnow() -> _dt.datetime:
        return _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=SKEW)

    app.models.utcnow = skewed_utcnow
    _real_time = time.time
    time.time = lambda: _real_time() + SKEW
    from flask.cli import main

    sys.argv = ["flask", *sys.argv[1:]]
    main()
