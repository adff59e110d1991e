"""Screens: menu structure and registration."""
from flask_babel import lazy_gettext as _l


def register(appbuilder) -> None:
    from app.views.account import AccountView, SignupView
    from app.views.admin import (
        CannedReplyView,
        DepartmentView,
        MemberView,
        SectorView,
        ServiceView,
    )
    from app.views.context import install_context

    register_ticket_views(appbuilder)

    appbuilder.add_view(SectorView, "Setores", label=_l("Setores"), icon="fa-sitemap",
                        category="Estrutura", category_label=_l("Estrutura"),
                        category_icon="fa-building")
    appbuilder.add_view(MemberView, "Membros", label=_l("Membros"), icon="fa-users",
                        category="Estrutura")
    appbuilder.add_view(DepartmentView, "Departamentos", label=_l("Departamentos"),
                        icon="fa-briefcase", category="Estrutura")
    appbuilder.add_view(ServiceView, "Serviços", label=_l("Serviços"), icon="fa-wrench",
                        category="Estrutura")
    appbuilder.add_view(CannedReplyView, "Respostas prontas", label=_l("Respostas prontas"),
                        icon="fa-comment-o", category="Estrutura")
    appbuilder.add_view(AccountView, "Minha conta", label=_l("Minha conta"),
                        icon="fa-id-card", category="Conta", category_label=_l("Conta"),
                        category_icon="fa-cog")
    from app.views.notifications import NotificationsView

    appbuilder.add_view(NotificationsView, "Notificações", label=_l("Notificações"),
                        icon="fa-envelope", category="Conta")
    from app.views.calendar import CalendarView

    appbuilder.add_view(CalendarView, "Calendário de atendimento",
                        label=_l("Calendário de atendimento"), icon="fa-calendar",
                        category="Conta")
    from app.mail_in.views import InboundMailView

    appbuilder.add_view(InboundMailView, "Mensagens recebidas",
                        label=_l("Mensagens recebidas"), icon="fa-inbox", category="Conta")
    from app.mailbox.views import MailboxView

    appbuilder.add_view(MailboxView, "Caixa de e-mail", label=_l("Caixa de e-mail"),
                        icon="fa-envelope-o", category="Conta")
    from app.views.reports import ReportsView

    appbuilder.add_view(ReportsView, "Relatórios por e-mail", label=_l("Relatórios por e-mail"),
                        icon="fa-envelope-o", category="Conta")
    appbuilder.add_view_no_menu(SignupView)
    from app.views.profile import ProfileView

    appbuilder.add_view_no_menu(ProfileView)   # the user menu's "Meu perfil"
    from app.views.password_reset import PasswordResetView

    appbuilder.add_view_no_menu(PasswordResetView)   # public: "Esqueci minha senha"
    install_context(appbuilder)


def register_ticket_views(appbuilder) -> None:
    """Área do Cliente, Área do Atendente and the read-only list of every ticket."""
    from app.views.attendant import AttendantView
    from app.views.requester import RequesterView
    from app.views.tickets import TicketView

    appbuilder.add_view(RequesterView, "Abrir chamado", label=_l("Abrir chamado"),
                        icon="fa-plus-circle", category="Área do Cliente",
                        category_label=_l("Área do Cliente"), category_icon="fa-user")
    appbuilder.add_link("Meus chamados", href="RequesterView.mine", label=_l("Meus chamados"),
                        icon="fa-list", category="Área do Cliente")
    appbuilder.add_view(AttendantView, "Fila", label=_l("Fila de atendimento"),
                        icon="fa-inbox", category="Área do Atendente",
                        category_label=_l("Área do Atendente"), category_icon="fa-headphones")
    appbuilder.add_link("Meus atendimentos", href="AttendantView.mine",
                        label=_l("Meus atendimentos"), icon="fa-tasks",
                        category="Área do Atendente")
    appbuilder.add_view(TicketView, "Chamados", label=_l("Chamados"), icon="fa-ticket")
