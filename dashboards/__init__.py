"""The Painel de Atendimentos (Dash), mounted at /painel/ inside the Flask server."""


def init_dashboard(app, appbuilder) -> None:
    """Mount point for the Painel; filled in by the Painel issue."""
    return None
