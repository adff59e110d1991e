"""The data generator writes what the workflow would have written: consistent lifecycle
timestamps per status, a history whose ids follow time, surveys only for closed
tickets, members with the right profiles, and never a mail in the outbox."""
import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import func, select, text


@pytest.fixture
def generated(app):
    from app.extensions import db
    from app.generator import generate

    with app.app_context():
        result = generate(1500, seed=11, months=3)
        db.session.remove()
    return result


def frame(sql, **params):
    from app.extensions import db

    result = db.session.execute(text(sql), params)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def test_lifecycle_timestamps_match_each_status(app, generated):
    with app.app_context():
        tickets = frame("SELECT * FROM ticket WHERE account_id = :a ORDER BY id",
                        a=generated.account_id)
    assert len(tickets) == 1500 and generated.tickets == 1500
    assert set(tickets["status"]) >= {"open", "closed", "cancelled", "in_progress"} or \
        set(tickets["status"]) >= {"closed", "cancelled"}
    present = {c: tickets[c].notna() for c in
               ("assumed_at", "started_at", "concluded_at", "closed_at", "cancelled_at")}
    closed = tickets["status"] == "closed"
    assert (present["closed_at"] == closed).all()
    assert (present["cancelled_at"] == (tickets["status"] == "cancelled")).all()
    assert present["concluded_at"][tickets["status"].isin(["concluded", "closed"])].all()
    assert not present["concluded_at"][tickets["status"].isin(["open", "assumed"])].any()
    assert present["started_at"][tickets["status"] == "in_progress"].all()
    assert tickets["assignee_id"].notna().eq(present["assumed_at"]).all()
    times = tickets[closed]
    for earlier, later in (("opened_at", "assumed_at"), ("assumed_at", "started_at"),
                           ("started_at", "concluded_at"), ("concluded_at", "closed_at")):
        assert (pd.to_datetime(times[earlier]) <= pd.to_datetime(times[later])).all()
    met = pd.to_datetime(times["concluded_at"]) <= pd.to_datetime(times["sla_due_at"])
    assert (times["sla_met"].astype(bool) == met).all()
    assert tickets.loc[~closed, "sla_met"].isna().all()
    assert 0 < (~times["sla_met"].astype(bool)).sum() < len(times) / 2   # some breach
    assert (tickets["reopen_count"] > 0).any()
    assert pd.to_datetime(tickets["opened_at"]).is_monotonic_increasing  # ids follow time


def test_history_and_surveys_are_consistent(app, generated):
    with app.app_context():
        account = generated.account_id
        events = frame("SELECT e.id, e.ticket_id, e.type, e.actor_id, e.created_at, "
                       "t.reopen_count FROM ticket_event e JOIN ticket t ON t.id = e.ticket_id "
                       "WHERE e.account_id = :a ORDER BY e.ticket_id, e.id", a=account)
        surveys = frame("SELECT s.*, t.status FROM survey s JOIN ticket t "
                        "ON t.id = s.ticket_id WHERE s.account_id = :a", a=account)
        outbox = frame("SELECT count(*) AS n FROM outbox_mail")
    assert (events.groupby("ticket_id")["type"].first() == "opened").all()
    assert events["ticket_id"].nunique() == 1500
    stamps = pd.to_datetime(events["created_at"], utc=True)
    assert (stamps.groupby(events["ticket_id"]).diff().dropna() >= pd.Timedelta(0)).all()
    rejected = events[events["type"] == "rejected"].groupby("ticket_id").size()
    reopen = events.drop_duplicates("ticket_id").set_index("ticket_id")["reopen_count"]
    assert (rejected == reopen[rejected.index]).all()
    assert reopen[reopen > 0].index.isin(rejected.index).all()
    assert len(surveys) > 0 and (surveys["status"] == "closed").all()
    assert surveys["score"].between(1, 5).all()
    assert (events["type"] == "survey").sum() == len(surveys)
    assert outbox["n"].iloc[0] == 0


def test_generated_people_have_their_profiles(app, generated):
    from app.extensions import db
    from app.models import Department, Member
    from app.tenancy import account_scope

    with app.app_context(), account_scope(generated.account_id):
        members = db.session.scalars(select(Member)).all()
        codes = [m.profile_codes() for m in members]
        assert sum("attendant" in c for c in codes) >= 10
        assert sum("manager" in c for c in codes) >= 3
        assert sum(c == {"requester"} for c in codes) >= 20
        for department in db.session.scalars(select(Department)):
            assert department.attendants
            assert all(m.has_profile("attendant") for m in department.attendants)
        admin = db.session.scalar(select(Member).where(
            Member.username == generated.admin_username))
        assert admin.has_profile("admin")


def test_demo_population_adds_tickets_to_an_existing_account(app, world):
    from app.extensions import db
    from app.generator import populate_account
    from app.models import Ticket

    with app.app_context():
        written = populate_account(world.account_id, n_tickets=400, months=2, seed=3)
        count = db.session.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.account_id == world.account_id))
        oldest = db.session.scalar(select(func.min(Ticket.opened_at)).where(
            Ticket.account_id == world.account_id))
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=dt.timezone.utc)
    assert written == 400 and count == 400
    assert oldest > dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=62)


def test_flask_generate_command(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["generate", "--tickets", "50", "--months", "1"])
    assert result.exit_code == 0, result.output
    assert "50 chamados gerados" in result.output
    bad = runner.invoke(args=["generate", "--tickets", "0"])
    assert bad.exit_code != 0


def test_business_columns_and_due_times_are_what_the_workflow_would_store(app, generated):
    """The four working-hours columns equal ``calendars.working_hours`` recomputed per
    ticket (a sample of every status), and every other service counts its SLA in
    working hours: its due time is ``business_hours.add`` of the opening, the others'
    the opening plus the target."""
    from app import business_hours, calendars
    from app.extensions import db
    from app.models import Service, Ticket
    from app.tenancy import account_scope

    steps = (("business_assume_hours", "opened_at", "assumed_at"),
             ("business_start_hours", "assumed_at", "started_at"),
             ("business_handling_hours", "started_at", "concluded_at"),
             ("business_approve_hours", "concluded_at", "closed_at"))
    with app.app_context(), account_scope(generated.account_id):
        calendar = calendars.calendar_for(generated.account_id)
        services = {s.id: s for s in db.session.scalars(select(Service))}
        clocks = [s.sla_clock for s in sorted(services.values(), key=lambda s: s.id)]
        assert clocks[1::2] == ["business"] * len(clocks[1::2])
        assert set(clocks[0::2]) == {"24x7"}
        tickets = db.session.scalars(select(Ticket).order_by(Ticket.id)).all()
        sample = tickets[::7]
        assert {t.status for t in sample} >= {"open", "in_progress", "closed", "cancelled"}
        checked = {column: 0 for column, _, _ in steps}
        for t in sample:
            for column, earlier, later in steps:
                stored = getattr(t, column)
                start, end = getattr(t, earlier), getattr(t, later)
                if t.status not in ("concluded", "closed") and later == "concluded_at":
                    end = None  # a conclusion undone by a rejection is not stored
                expected = calendars.working_hours(start, end, calendar)
                if expected is None:
                    assert stored is None, (t.id, column)
                else:
                    assert stored == pytest.approx(expected, abs=1e-6), (t.id, column)
                    checked[column] += 1
            service = services[t.service_id]
            hours = service.sla_hours_for(t.priority)
            clock = calendars.clock_for(service, calendar)
            assert clock is (calendar if service.sla_clock == "business" else None)
            due = business_hours.add(t.opened_at.replace(tzinfo=dt.timezone.utc)
                                     if t.opened_at.tzinfo is None else t.opened_at,
                                     hours, clock)
            stored_due = t.sla_due_at if t.sla_due_at.tzinfo else \
                t.sla_due_at.replace(tzinfo=dt.timezone.utc)
            assert stored_due == due, (t.id, service.sla_clock)
        assert min(checked.values()) > 20
        on_business = [t for t in sample if services[t.service_id].sla_clock == "business"]
        assert len(on_business) > 20
        # Working hours are never more than the elapsed time, and often less.
        assert any(t.business_assume_hours is not None and t.business_assume_hours < (
            (t.assumed_at - t.opened_at).total_seconds() / 3600 - 1e-6) for t in sample)



def test_generated_tickets_have_the_subject_an_opening_would_give(app, generated):
    """Every generated ticket has an "Assunto": the description's first line, as
    `subject_of` gives a ticket opened without one (it was empty: the lists titled
    every demo ticket by its service, "Férias · Férias · RH")."""
    from app.extensions import db
    from app.models import Ticket
    from app.workflow import subject_of

    with app.app_context():
        rows = db.session.execute(select(Ticket.subject, Ticket.description)
                                  .execution_options(skip_tenancy=True)).all()
        db.session.remove()
    assert len(rows) == 1500
    assert all(r.subject and r.subject == subject_of(None, r.description) for r in rows)


def test_a_ticket_stored_without_subject_is_titled_by_its_description(app, world, web):
    from app.extensions import db
    from tests.helpers import make_ticket

    ticket_id = make_ticket(app, world, description="Impressora do 2º andar sem toner.\nUrgente")
    with app.app_context():
        db.session.execute(text("UPDATE ticket SET subject = '' WHERE id = :id"),
                           {"id": ticket_id})
        db.session.commit()
        db.session.remove()
    page = web("alfa_manager").get("/chamados/").get_data(as_text=True)
    assert 'class="ticket-title">Impressora do 2º andar sem toner.</a>' in page
