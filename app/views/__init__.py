"""Screens: menu structure and registration."""
from flask_babel import lazy_gettext as _l


def register(appbuilder) -> None:
    from app.views.account import AccountView, SignupView
    from app.views.admin import DepartmentView, MemberView, SectorView, ServiceView
    from app.views.context import install_context

    appbuilder.add_view(SectorView, "Setores", label=_l("Setores"), icon="fa-sitemap",
                        category="Estrutura", category_label=_l("Estrutura"),
                        category_icon="fa-building")
    appbuilder.add_view(MemberView, "Membros", label=_l("Membros"), icon="fa-users",
                        category="Estrutura")
    appbuilder.add_view(DepartmentView, "Departamentos", label=_l("Departamentos"),
                        icon="fa-briefcase", category="Estrutura")
    appbuilder.add_view(ServiceView, "Serviços", label=_l("Serviços"), icon="fa-wrench",
                        category="Estrutura")
    appbuilder.add_view(AccountView, "Minha conta", label=_l("Minha conta"),
                        icon="fa-id-card", category="Conta", category_label=_l("Conta"),
                        category_icon="fa-cog")
    appbuilder.add_view_no_menu(SignupView)
    install_context(appbuilder)
