"""The product's app plus a bare hello-world route: the ceiling the pages are compared to.

Only the benchmark serves this module (``gunicorn bench.wsgi:app``); the product never
registers the extra route.
"""
from run import app


@app.get("/__bench/hello")
def hello():
    return "ok"
