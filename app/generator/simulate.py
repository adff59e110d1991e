"""The simulation of generated tickets: whole arrays (numpy), never one Python object
per ticket. Lifecycle timestamps are drawn as durations and cut at "now", so every
status (open ... closed, cancelled) has exactly the timestamps the workflow would have
written (``concluded_at`` is the final conclusion, NULL again after a rejection).
Services on the business clock get their due times in the account calendar's working
hours, and every ticket the working hours of each step it went through, as the
workflow stores them (``business_*_hours``). Pure: no database, no Flask."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from app.business_hours import between_many
from app.generator.working_time import add_many

SECTORS = ["Diretoria", "Financeiro", "Comercial", "Operações", "Logística", "Marketing",
           "Jurídico", "Tecnologia", "Recursos Humanos", "Atendimento ao Cliente"]
# department -> [(service, SLA hours, SLA hours when urgent or None)]
DEPARTMENTS = {
    "Tecnologia da Informação": [("Acesso a sistemas", 8, 2), ("Equipamento com defeito", 24, 4),
                                 ("Instalação de software", 16, None), ("Rede e internet", 8, 2),
                                 ("E-mail e agenda", 8, None)],
    "Recursos Humanos": [("Férias", 72, None), ("Declaração de vínculo", 48, None),
                         ("Folha de pagamento", 24, 8), ("Benefícios", 48, None)],
    "Facilities": [("Manutenção predial", 48, 8), ("Reserva de sala", 8, None),
                   ("Limpeza", 24, 4)],
    "Financeiro": [("Reembolso de despesas", 72, None), ("Pagamento a fornecedor", 48, 12),
                   ("Nota fiscal", 24, None)],
    "Jurídico": [("Revisão de contrato", 120, 24), ("Consulta jurídica", 72, None)],
}
FIRST_NAMES = ["Ana", "Bruno", "Carla", "Diego", "Eduarda", "Felipe", "Gabriela", "Heitor",
               "Isabela", "João", "Larissa", "Marcos", "Natália", "Otávio", "Paula", "Rafael",
               "Sofia", "Thiago", "Vitória", "Wagner", "Beatriz", "Caio", "Helena", "Lucas"]
LAST_NAMES = ["Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves",
              "Pereira", "Lima", "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Rocha"]
PHRASES = ["preciso de ajuda com urgência", "o problema começou hoje de manhã",
           "segue a solicitação conforme combinado", "não consigo concluir meu trabalho",
           "pedido recorrente do time", "favor verificar assim que possível",
           "detalhes no anexo enviado por e-mail", "afeta toda a equipe do setor"]
COMMENTS = [None, None, None, "Ótimo atendimento!", "Resolvido rápido.", "Demorou um pouco.",
            "Precisei reabrir, mas resolveram.", "Atendente muito atencioso."]
PRIORITY_CODES = np.array(["low", "medium", "high", "urgent"])
HOUR = 3600.0


def _local_midnights(now: dt.datetime, days: int, time_zone: str) -> tuple[np.ndarray, np.ndarray]:
    """UTC epoch seconds of each local midnight of the last ``days`` days, and whether
    each is a weekend (tickets are mostly opened on working days)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(time_zone)
    today = now.replace(tzinfo=dt.timezone.utc).astimezone(zone).date()
    dates = [today - dt.timedelta(days=days - 1 - i) for i in range(days)]
    midnights = np.array([dt.datetime.combine(d, dt.time(), zone).timestamp() for d in dates])
    return midnights, np.array([d.weekday() >= 5 for d in dates])


def _stamps(seconds: np.ndarray) -> np.ndarray:
    """Epoch seconds (NaN: never happened) -> naive-UTC datetime64[us] (NaT), floored to
    the second like the stored columns."""
    values = np.floor(np.asarray(seconds, dtype=float))
    out = np.full(values.shape, np.datetime64("NaT"), dtype="datetime64[us]")
    known = np.isfinite(values)
    out[known] = (values[known].astype(np.int64) * 1_000_000).astype("datetime64[us]")
    return out


def _seconds(stamps: np.ndarray) -> np.ndarray:
    return stamps.astype("datetime64[us]").astype(np.int64) / 1_000_000


def _lognormal(rng, median, sigma, size):
    return rng.lognormal(np.log(median), sigma, size)


def simulate(structure: dict, n: int, seed: int, months: int, now: dt.datetime,
             base_id: int, account_id: int):
    """Arrays of ``n`` tickets -> (tickets, surveys, rejections) DataFrames.

    Durations are drawn per ticket (priority and department shape them; the work takes
    about 40% of the SLA, so roughly a fifth breach), then the timeline is cut at
    ``now``: what lies in the future has not happened, which decides the status."""
    rng = np.random.default_rng(seed)
    services = structure["services"]
    now_s = now.replace(tzinfo=dt.timezone.utc).timestamp()
    days = months * 30
    midnights, weekend = _local_midnights(now, days, structure["time_zone"])
    day_weight = np.where(weekend, 0.15, 1.0) * (0.6 + 0.8 * np.arange(days) / days)
    hour_weight = np.array([.02] * 7 + [.3, 1, 1, 1, 1, .6, .9, .9, .9, .9, .8, .4] + [.08] * 5)
    opened = (midnights[rng.choice(days, n, p=day_weight / day_weight.sum())]
              + rng.choice(24, n, p=hour_weight / hour_weight.sum()) * HOUR
              + rng.integers(0, 3600, n))
    # Sorted: ids follow opening time, as in real life, and every index on the ticket
    # table then grows at its right edge (random keys made the load 5x slower).
    opened = np.sort(np.floor(np.minimum(opened, now_s - rng.integers(60, 4 * 3600, n))))

    service_weight = rng.gamma(2.0, 1.0, len(services))
    svc = rng.choice(len(services), n, p=service_weight / service_weight.sum())
    dept = services["department_id"].to_numpy()[svc]
    prio = rng.choice(4, n, p=[0.25, 0.45, 0.22, 0.08])
    sla_table = np.column_stack([services[p].fillna(services["sla"]).to_numpy(float)
                                 for p in ("low", "medium", "high", "urgent")])
    sla = sla_table[svc, prio] * HOUR
    due = opened + sla
    calendar = structure.get("calendar")
    on_business = (services["clock"].to_numpy() == "business")[svc] \
        if "clock" in services else np.zeros(n, dtype=bool)
    if on_business.any() and calendar is not None:
        due[on_business] = _seconds(add_many(
            _stamps(opened[on_business]), sla[on_business] / HOUR, calendar))

    requesters = structure["requesters"]
    requester_weight = rng.gamma(1.0, 1.0, len(requesters))
    req = rng.choice(len(requesters), n, p=requester_weight / requester_weight.sum())
    requester_ids = np.array([r[0] for r in requesters])[req]
    sectors = np.array([r[1] if r[1] is not None else -1 for r in requesters])[req]
    sector_ids = pd.array(sectors, dtype="Int64")
    sector_ids[sectors < 0] = pd.NA

    dept_ids = np.unique(services["department_id"].to_numpy())
    dept_pos = np.searchsorted(dept_ids, dept)
    factor = rng.uniform(0.6, 1.6, len(dept_ids))[dept_pos]  # some departments are slower
    assumed = opened + _lognormal(rng, 1.0, 1.0, n) * np.array([4, 2, 1, 0.3])[prio] * HOUR * factor
    started = assumed + _lognormal(rng, 0.5 * HOUR, 1.0, n)
    reopens = rng.choice(3, n, p=[0.88, 0.09, 0.03])
    concluded = started + _lognormal(rng, 0.3, 0.8, n) * sla * factor * (1 + 0.4 * reopens)
    approve_delay = _lognormal(rng, 10 * HOUR, 1.2, n)
    auto_limit = structure["auto_approve_days"] * 86400.0
    auto_approved = approve_delay > auto_limit
    closed = concluded + np.minimum(approve_delay, auto_limit)
    segment = (concluded - started) / (reopens + 1)

    cancel_at = opened + _lognormal(rng, 4 * HOUR, 1.2, n)
    cancelled = (rng.random(n) < 0.06) & (cancel_at < started + 0.7 * segment) & (cancel_at <= now_s)
    attendants = structure["attendants"]
    no_attendant = np.array([not attendants.get(d) for d in dept_ids])[dept_pos]
    assumed[no_attendant] = np.inf  # nobody can assume: stays open (or is cancelled)
    for column in (started, concluded, closed):
        column[no_attendant] = np.inf
    for column in (assumed, started, concluded, closed):
        column[cancelled & (column > cancel_at)] = np.inf

    # Rejections that already happened, and a conclusion awaiting review right now.
    reopen_count = np.zeros(n, dtype=int)
    current_conclusion = np.full(n, np.nan)
    rejection_times = {}
    for k in (1, 2):
        has = (reopens >= k) & ~cancelled & ~no_attendant
        conc_k, rej_k = started + segment * (k - 0.3), started + segment * k
        happened = has & (rej_k <= now_s)
        reopen_count += happened
        waiting = has & (conc_k <= now_s) & (rej_k > now_s)
        current_conclusion[waiting] = conc_k[waiting]
        rejection_times[f"c{k}"] = np.where(happened, conc_k, np.nan)
        rejection_times[f"r{k}"] = np.where(happened, rej_k, np.nan)

    def cut(values):
        return np.where(values <= now_s, values, np.nan)

    a, s, c, cl = cut(assumed), cut(started), cut(concluded), cut(closed)
    waiting = ~np.isnan(current_conclusion) & np.isnan(c)
    c = np.where(waiting, current_conclusion, c)
    status = np.select(
        [cancelled, ~np.isnan(cl), ~np.isnan(c), ~np.isnan(s), ~np.isnan(a)],
        ["cancelled", "closed", "concluded", "in_progress", "assumed"], "open")
    sla_met = pd.array(np.where(status == "closed", c <= due, False), dtype="boolean")
    sla_met[status != "closed"] = pd.NA

    assignee = pd.array([pd.NA] * n, dtype="Int64")
    for dep_id, people in attendants.items():
        mask = (dept == dep_id) & ~np.isnan(a)
        assignee[mask] = np.array(people)[rng.integers(0, len(people), mask.sum())]
    transitions = (~np.isnan(a)).astype(int) + ~np.isnan(s) + 2 * reopen_count \
        + ~np.isnan(c) + ~np.isnan(cl) + cancelled
    stamps = np.column_stack([opened, a, s, c, cl, np.where(cancelled, cancel_at, np.nan)])
    names = services["name"].to_numpy()[svc]
    phrase = np.array(PHRASES)[rng.integers(0, len(PHRASES), n)]

    def when(values):
        return pd.to_datetime(np.floor(values), unit="s")

    final_conclusion = np.where(np.isin(status, ["concluded", "closed"]), c, np.nan)

    def worked(earlier, later):  # working hours of the account's calendar, as stored
        return between_many(_stamps(earlier), _stamps(later), calendar)

    tickets = pd.DataFrame({
        "id": base_id + 1 + np.arange(n), "account_id": account_id,
        "requester_id": requester_ids, "assignee_id": assignee,
        "department_id": dept, "service_id": services["id"].to_numpy()[svc],
        "sector_id": sector_ids, "priority": PRIORITY_CODES[prio], "status": status,
        "description": np.char.add(np.char.add(names.astype(str), ": "), phrase),
        # The "Assunto" an opening gives a ticket typed without one (subject_of): the
        # description's first line (the generated ones have one line), cut at 120.
        "subject": np.char.add(np.char.add(names.astype(str), ": "), phrase).astype(
            "U120"),
        "opened_at": when(opened), "assumed_at": when(a), "started_at": when(s),
        "concluded_at": when(c), "closed_at": when(cl),
        "cancelled_at": when(np.where(cancelled, cancel_at, np.nan)),
        "sla_due_at": when(due), "sla_met": sla_met, "reopen_count": reopen_count,
        "auto_approved": auto_approved & (status == "closed"), "version": 1 + transitions,
        "updated_at": when(np.nanmax(stamps, axis=1)),
        "sla_paused_seconds": 0.0,
        "business_assume_hours": worked(opened, a),
        "business_start_hours": worked(a, s),
        "business_handling_hours": worked(s, final_conclusion),
        "business_approve_hours": worked(final_conclusion, cl),
    })

    filled = cl + _lognormal(rng, 3 * HOUR, 1.0, n)
    answered = (status == "closed") & (rng.random(n) < 0.65) & (filled <= now_s)
    met = np.asarray(sla_met.fillna(False), dtype=bool)
    happy = rng.choice([5, 4, 3, 2, 1], n, p=[0.55, 0.3, 0.1, 0.03, 0.02])
    unhappy = rng.choice([5, 4, 3, 2, 1], n, p=[0.12, 0.23, 0.3, 0.2, 0.15])
    score = np.where(met & (reopen_count == 0), happy, unhappy)
    comment = np.array(COMMENTS, dtype=object)[rng.integers(0, len(COMMENTS), n)]
    surveys = pd.DataFrame({"account_id": account_id, "ticket_id": tickets["id"][answered],
                            "score": score[answered], "comment": comment[answered],
                            "filled_at": when(filled[answered])})
    rejected = reopen_count > 0
    rejections = pd.DataFrame({"ticket_id": tickets["id"][rejected],
                               **{k: when(v[rejected]) for k, v in rejection_times.items()}})
    return tickets, surveys.reset_index(drop=True), rejections
