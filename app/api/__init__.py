"""REST API registration (shared/API.md)."""


def register(appbuilder) -> None:
    from app.api.account import AccountApi, SignupApi
    from app.api.structure import (
        CannedReplyApi,
        DepartmentApi,
        MemberApi,
        SectorApi,
        ServiceApi,
    )
    from app.api.tickets import AttachmentApi, TicketApi

    for api in (SignupApi, AccountApi, SectorApi, DepartmentApi, ServiceApi, MemberApi,
                CannedReplyApi, TicketApi, AttachmentApi):
        appbuilder.add_api(api)
    from app.api.notifications import NotificationSettingsApi

    appbuilder.add_api(NotificationSettingsApi)
    from app.api.painel import PainelApi

    appbuilder.add_api(PainelApi)
    from app.api.calendar import CalendarApi

    appbuilder.add_api(CalendarApi)
    from app.mailbox.api import MailboxApi

    appbuilder.add_api(MailboxApi)
    from app.mail_in.api import InboundMailApi

    appbuilder.add_api(InboundMailApi)   # bearer INBOUND_MAIL_TOKEN, not a login
    from app.api.reports import ReportSubscriptionApi

    appbuilder.add_api(ReportSubscriptionApi)  # /api/v1/painel/report-subscription
