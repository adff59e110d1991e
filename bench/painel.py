"""``python -m bench painel``: the Painel at a million tickets on PostgreSQL.

Starts its own PostgreSQL, builds the schema with the app's migrations, generates the
tickets (in a child process, as ``flask generate`` would run apart from the web
server), then times, median of ``--repeat`` runs, the whole KPI set the API answers
and each query of the Painel beside the same aggregate written by hand in raw SQL
through the bare driver (the ceiling), and prints the ratio and the peak memory of
the serving process. Then the same data on both clocks: the KPI set, the summary and
the step times with ``clock=24x7`` and ``clock=business`` (the mean times read from the
working hours stored on each ticket), with their ratio, and the at-risk queue (which
mixes both clocks: half the generated services count working hours).
"""
from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import resource
import statistics
import tempfile
import time

SQL_PERIOD = "account_id = %(a)s AND {col} >= %(lo)s AND {col} < %(hi)s"
RAW = {
    "summary": f"""SELECT * FROM
      (SELECT count(*), count(*) FILTER (WHERE status <> 'waiting' AND sla_due_at < %(now)s)
         FROM ticket WHERE account_id = %(a)s
         AND status IN ('open','assumed','in_progress','waiting','concluded')) b,
      (SELECT count(*) FROM ticket WHERE account_id = %(a)s AND status = 'waiting'
         AND sla_due_at < waiting_since AND sla_due_at < %(now)s) w,
      (SELECT count(*), count(*) FILTER (WHERE reopen_count > 0), coalesce(sum(reopen_count), 0)
         FROM ticket WHERE {SQL_PERIOD.format(col='opened_at')}) o,
      (SELECT avg(extract(epoch FROM started_at - opened_at)) / 3600 FROM ticket
         WHERE {SQL_PERIOD.format(col='started_at')}) s,
      (SELECT avg(extract(epoch FROM concluded_at - started_at)) / 3600,
              count(*) FILTER (WHERE sla_met = false), count(*) FILTER (WHERE sla_met = true)
         FROM ticket WHERE status = 'closed' AND {SQL_PERIOD.format(col='closed_at')}) c""",
    "satisfaction_views": """SELECT t.department_id, t.sector_id, sum(s.score), count(*)
      FROM survey s JOIN ticket t ON t.id = s.ticket_id AND t.account_id = s.account_id
      WHERE s.account_id = %(a)s AND s.filled_at >= %(lo)s AND s.filled_at < %(hi)s
      GROUP BY t.department_id, t.sector_id""",
    "step_times": f"""SELECT step, count(*), avg(x),
      percentile_cont(0.5) WITHIN GROUP (ORDER BY x),
      percentile_cont(0.9) WITHIN GROUP (ORDER BY x) FROM (
        SELECT 1 AS step, extract(epoch FROM assumed_at - opened_at) / 3600 AS x FROM ticket
          WHERE {SQL_PERIOD.format(col='assumed_at')}
        UNION ALL SELECT 2, extract(epoch FROM started_at - assumed_at) / 3600 FROM ticket
          WHERE {SQL_PERIOD.format(col='started_at')}
        UNION ALL SELECT 3, extract(epoch FROM concluded_at - started_at) / 3600 FROM ticket
          WHERE status = 'closed' AND {SQL_PERIOD.format(col='closed_at')}
        UNION ALL SELECT 4, extract(epoch FROM closed_at - concluded_at) / 3600 FROM ticket
          WHERE status = 'closed' AND {SQL_PERIOD.format(col='closed_at')}) s GROUP BY step""",
}
NAMES = {"service": ("service_id", "service", "n.name"),
         "priority": ("priority", None, None),
         "department": ("department_id", "department", "n.name"),
         "attendant": ("assignee_id", "ab_user", "n.first_name || ' ' || n.last_name"),
         "sector": ("sector_id", "sector", "n.name"),
         "requester": ("requester_id", "ab_user", "n.first_name || ' ' || n.last_name")}
for _dim, (_col, _table, _name) in NAMES.items():
    _grouped = (f"SELECT {_col} AS id, count(*) AS n FROM ticket "
                f"WHERE {SQL_PERIOD.format(col='opened_at')} GROUP BY {_col}")
    RAW[f"by_{_dim}"] = (f"{_grouped} ORDER BY n DESC" if _table is None else
                         f"SELECT g.id, {_name}, g.n FROM ({_grouped}) g LEFT JOIN {_table} n "
                         "ON n.id = g.id ORDER BY g.n DESC")
for _dim in ("department", "sector"):
    RAW[f"satisfaction_by_{_dim}"] = (
        f"SELECT g.id, n.name, g.m, g.c FROM (SELECT t.{_dim}_id AS id, avg(s.score::float) AS m,"
        " count(*) AS c FROM survey s JOIN ticket t ON t.id = s.ticket_id AND t.account_id = "
        "s.account_id WHERE s.account_id = %(a)s AND s.filled_at >= %(lo)s AND s.filled_at < "
        f"%(hi)s GROUP BY t.{_dim}_id) g LEFT JOIN {_dim} n ON n.id = g.id ORDER BY g.c DESC")
KPI_SET = ["summary"] + [f"by_{d}" for d in NAMES] + ["satisfaction_views"]


def _median_ms(fn, repeat: int) -> float:
    fn()  # warm the cache and the statement path once
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def _generate(url: str, tickets: int, seed: int, queue) -> None:
    from app import create_app
    from app.generator import generate

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        result = generate(tickets, seed=seed)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((result.account_id, result.seconds, result.timings, peak_mb))


def _app_queries(session, account_id, f, now):
    from dashboards import queries

    calls = {"summary": lambda: queries.summary(session, account_id, f, now=now),
             "step_times": lambda: queries.step_times(session, account_id, f)}
    for dim in NAMES:
        calls[f"by_{dim}"] = (lambda d=dim: queries.counts_by(session, account_id, f, d))
    for dim in ("department", "sector"):
        calls[f"satisfaction_by_{dim}"] = (
            lambda d=dim: queries.satisfaction_by(session, account_id, f, d))
    calls["satisfaction_views"] = lambda: queries.satisfaction_views(session, account_id, f)
    return calls


def run(args) -> None:
    from flask_migrate import upgrade

    from bench.pg import BenchPostgres

    server = BenchPostgres().start()
    try:
        url = server.create_database("painel_bench")
        from app import create_app
        from app.security import sync_roles_and_permissions

        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True,
                          "UPLOAD_FOLDER": tempfile.mkdtemp()})
        with app.app_context():
            upgrade()
            sync_roles_and_permissions(app.appbuilder)
        print(f"Gerando {args.tickets:,} chamados (PostgreSQL {server.port})...", flush=True)
        queue = multiprocessing.get_context("spawn").Queue()
        child = multiprocessing.get_context("spawn").Process(
            target=_generate, args=(url, args.tickets, args.seed, queue))
        child.start()
        account_id, seconds, timings, gen_peak = queue.get()
        child.join()
        phases = ", ".join(f"{k} {v:.1f}s" for k, v in timings.items())
        print(f"geração: {seconds:.1f} s ({phases}); pico de memória {gen_peak:.0f} MB")
        with app.app_context():
            _measure(app, account_id, args)
    finally:
        server.stop()


def _measure(app, account_id: int, args) -> None:
    from sqlalchemy import text

    from app.extensions import db
    from app.models import Account
    from dashboards.filters import Filters, today_in, utc_now
    from dashboards.kpis import kpi_set

    session = db.session
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    account = session.get(Account, account_id)
    counts = session.execute(text(
        "SELECT (SELECT count(*) FROM ticket), (SELECT count(*) FROM ticket_event), "
        "(SELECT count(*) FROM survey), (SELECT count(*) FROM ab_user)")).one()
    print(f"dados: {counts[0]:,} chamados, {counts[1]:,} eventos, {counts[2]:,} pesquisas, "
          f"{counts[3]:,} usuários")
    raw = db.engine.raw_connection()
    cursor = raw.cursor()
    today = today_in(account.time_zone)
    for days in args.periods:
        f = Filters(start=today - dt.timedelta(days=days - 1), end=today,
                    time_zone=account.time_zone)
        low, high = f.bounds()
        now = utc_now()
        params = {"a": account_id, "lo": low, "hi": high, "now": now}
        whole = _median_ms(lambda: kpi_set(session, account_id, f, now=now), args.repeat)

        def raw_set():
            for name in KPI_SET:
                cursor.execute(RAW[name], params)
                cursor.fetchall()

        whole_raw = _median_ms(raw_set, args.repeat)
        print(f"\nperíodo: últimos {days} dias", flush=True)
        print(f"{'consulta':28s} {'app (ms)':>9s} {'SQL puro (ms)':>14s} {'razão':>6s}")
        print(f"{'conjunto de KPIs (API)':28s} {whole:9.1f} {whole_raw:14.1f} "
              f"{whole / whole_raw:6.2f}")
        for name, call in _app_queries(session, account_id, f, now).items():
            mine = _median_ms(call, args.repeat)

            def one(sql=RAW[name]):
                cursor.execute(sql, params)
                cursor.fetchall()

            ceiling = _median_ms(one, args.repeat)
            print(f"{name:28s} {mine:9.1f} {ceiling:14.1f} {mine / ceiling:6.2f}")
        _new_figures(session, account_id, f, now, args.repeat)
        _compare_clocks(session, account_id, f, now, args.repeat)
    raw.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npico de memória do processo que serve os KPIs: {peak:.0f} MB")


def _new_figures(session, account_id: int, f, now, repeat: int) -> None:
    """The figures added on 2026-12-01 (trend, previous period, people, services,
    satisfaction), which the KPI set above now includes; no raw-SQL twin yet."""
    from dashboards import kpis, queries

    span, granularity = kpis.trend_span(session, account_id, f)
    calls = {
        f"trend ({granularity})": lambda: queries.trend(session, account_id, span, granularity,
                                                        now=now),
        "previous_headline": lambda: kpis.previous_headline(session, account_id, f, now=now),
        "attendant_table": lambda: queries.attendant_table(session, account_id, f),
        "service_table": lambda: queries.service_table(session, account_id, f),
        "department_sla": lambda: queries.department_sla(session, account_id, f),
        "satisfaction_overview": lambda: queries.satisfaction_overview(session, account_id, f),
        "low_scores": lambda: queries.low_scores(session, account_id, f),
    }
    print(f"\n{'figuras novas (no conjunto)':28s} {'app (ms)':>9s}")
    for name, call in calls.items():
        print(f"{name:28s} {_median_ms(call, repeat):9.1f}")


def _interleaved_ms(first, second, repeat: int) -> tuple[float, float]:
    """Medians of two calls run alternately (ABAB...), twice ``repeat`` samples each:
    on a shared machine, load that comes and goes then weighs on both alike."""
    first(), second()
    samples: tuple[list, list] = ([], [])
    for _ in range(2 * repeat):
        for fn, bucket in ((first, samples[0]), (second, samples[1])):
            began = time.perf_counter()
            fn()
            bucket.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples[0]), statistics.median(samples[1])


def _compare_clocks(session, account_id: int, f, now, repeat: int) -> None:
    """The same period and data with clock=24x7 and clock=business, interleaved."""
    from dashboards import queries
    from dashboards.kpis import kpi_set

    business = f.replace(clock="business")
    calls = {
        "conjunto de KPIs (API)": lambda g: kpi_set(session, account_id, g, now=now),
        "summary": lambda g: queries.summary(session, account_id, g, now=now),
        "step_times": lambda g: queries.step_times(session, account_id, g),
    }
    print(f"\n{'mesmos dados, dois relógios':28s} {'24x7 (ms)':>9s} {'business (ms)':>14s} "
          f"{'razão':>6s}")
    for name, call in calls.items():
        elapsed, working = _interleaved_ms(lambda c=call: c(f), lambda c=call: c(business),
                                           repeat)
        print(f"{name:28s} {elapsed:9.1f} {working:14.1f} {working / elapsed:6.2f}")
    risk = _median_ms(lambda: queries.tickets_at_risk(session, account_id, f, hours=48,
                                                      now=now, limit=20), repeat)
    _, total = queries.tickets_at_risk(session, account_id, f, hours=48, now=now, limit=20)
    print(f"{'em risco, 48 h (20 de ' + format(total, ',') + ')':28s} {risk:9.1f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench painel")
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--periods", type=int, nargs="+", default=[30, 365],
                        help="períodos em dias, terminando hoje")
    run(parser.parse_args(argv))
    return 0
