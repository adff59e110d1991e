"""HTTP errors without a page of their own answer in Portuguese: the site's layout for
people, JSON for the API, never Werkzeug's English pages or a stack trace."""
import pytest

from tests.conftest import PASSWORD

ENGLISH = ("Not Found", "Method Not Allowed", "Bad Request", "The CSRF token",
           "Traceback")


def assert_portuguese_page(response, status, message):
    text = response.get_data(as_text=True)
    assert response.status_code == status
    assert 'id="error-page"' in text and message in text
    assert not any(word in text for word in ENGLISH), text[:500]


@pytest.mark.parametrize("logged_in", [False, True])
def test_unknown_page_is_a_portuguese_404(app, world, logged_in):
    client = app.test_client()
    if logged_in:
        client.post("/login/", data={"username": "alfa_requester", "password": PASSWORD})
    assert_portuguese_page(client.get("/nao-existe"), 404, "Página não encontrada")
    assert_portuguese_page(client.get("/chamados/abc"), 404, "Página não encontrada")


def test_unknown_api_path_and_method_answer_json_in_portuguese(app):
    client = app.test_client()
    response = client.get("/api/v1/nao-existe")
    assert response.status_code == 404
    assert response.json == {"message": "O endereço não existe ou não está disponível "
                                        "para você."}
    response = client.put("/api/v1/ticket/")
    assert response.status_code == 405
    assert response.json == {"message": "Este endereço não aceita esta operação."}


def test_wrong_method_on_a_page_is_portuguese(app):
    assert_portuguese_page(app.test_client().put("/health"), 405, "Operação não permitida")


def test_missing_csrf_token_explains_itself(app, world):
    client = app.test_client()
    client.post("/login/", data={"username": "alfa_requester", "password": PASSWORD})
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post("/cliente/abrir", data={"description": "x"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert_portuguese_page(response, 400, "O formulário expirou")


def test_body_over_the_limit_on_a_page_is_portuguese(app, world):
    import io

    client = app.test_client()
    client.post("/login/", data={"username": "alfa_requester", "password": PASSWORD})
    data = {"description": "x",
            "file": (io.BytesIO(b"a" * (app.config["MAX_CONTENT_LENGTH"] + 1)), "a.txt")}
    response = client.post("/cliente/abrir", data=data, content_type="multipart/form-data")
    assert_portuguese_page(response, 413, "Arquivo maior que o limite de")


def test_only_brazilian_portuguese_is_offered(app, world):
    """The screens have no catalogue in another language, so none is offered: no
    language menu, and asking for English is a 404 that changes nothing."""
    client = app.test_client()
    client.post("/login/", data={"username": "alfa_requester", "password": PASSWORD})
    assert "/lang/" not in client.get("/cliente/chamados").get_data(as_text=True)
    assert_portuguese_page(client.get("/lang/en"), 404, "Página não encontrada")
    assert "Meus chamados" in client.get("/cliente/chamados").get_data(as_text=True)
