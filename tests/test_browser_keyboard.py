"""Keyboard only, in a real browser (Debian chromium): a requester opens a ticket and an
attendant assumes it with Tab, Shift+Tab, Enter, Space and the arrow keys, never the
mouse; every main button shows a focus ring (its computed outline or box-shadow when
focused differs from the same element unfocused and is drawn: 2 px or more, not the
browser's thin "auto" ring); the skip link is the
first stop and jumps over the menu; the opening form is walked in reading order.

Keyboard use does not depend on the database: run on SQLite only (the fixtures of the
browser are asked for after the skip, so no PostgreSQL server is served for it)."""
from __future__ import annotations

import re

import pytest

from tests.conftest import screenshot

FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  return {id: e.id, tag: e.tagName, type: e.type || '', name: e.name || '',
          href: e.getAttribute('href') || '', inMain: !!e.closest('main'),
          text: (e.innerText || e.value || '').trim().slice(0, 80),
          left: e.getBoundingClientRect().left, top: e.getBoundingClientRect().top};
}"""
# The focused element's ring, then the same element unfocused (focus is given back).
RING = """() => {
  const e = document.activeElement;
  const read = () => { const s = getComputedStyle(e);
    return {outline: s.outlineStyle + ' ' + s.outlineWidth + ' ' + s.outlineColor,
            style: s.outlineStyle, width: parseFloat(s.outlineWidth), shadow: s.boxShadow}; };
  const focused = read();
  e.blur();
  const blurred = read();
  e.focus();
  return {focused, blurred};
}"""


def press(page, key: str) -> dict | None:
    page.keyboard.press(key)
    return page.evaluate(FOCUSED)


def tab_to(page, wanted, limit: int = 80, key: str = "Tab") -> dict:
    """Tab (or Shift+Tab) until ``wanted(focused)``; the stops passed are returned."""
    seen = []
    for _ in range(limit):
        focused = press(page, key)
        if focused and wanted(focused):
            return focused
        seen.append(focused and (focused["id"] or focused["text"][:20]))
    raise AssertionError(f"never reached with {key}: {seen}")


def assert_focus_ring(page, what: str) -> None:
    ring = page.evaluate(RING)
    focused, blurred = ring["focused"], ring["blurred"]
    # a drawn ring of 2 px or more (not the browser's thin "auto" one, blue on our blue
    # buttons: Bootstrap's a:focus/.btn:focus), or a box-shadow
    visible = (focused["style"] not in ("none", "auto") and focused["width"] >= 2) \
        or focused["shadow"] != "none"
    assert visible and focused != blurred, f"{what}: no visible focus ring {ring}"


def test_a_ticket_is_opened_and_assumed_with_the_keyboard_only(backend, request):
    if backend != "sqlite":
        pytest.skip("keyboard use is the same on both backends: tested once, on SQLite")
    request.getfixturevalue("world")
    page_for = request.getfixturevalue("page_for")

    # --- the requester: skip link, the home's "Abrir chamado", the form in order ---
    requester = page_for("alfa_requester")
    requester.goto("/")
    skip = press(requester, "Tab")
    assert skip and skip["href"] == "#conteudo" and skip["text"] == "Pular para o conteúdo"
    assert skip["left"] >= 0 and skip["top"] >= 0, "the skip link stays off screen"
    assert_focus_ring(requester, "skip link")
    requester.keyboard.press("Enter")
    first = press(requester, "Tab")
    assert first and first["inMain"], f"the skip link did not jump over the menu: {first}"
    tab_to(requester, lambda f: f["href"].endswith("/cliente/abrir")
           and "Abrir chamado" in f["text"])
    assert_focus_ring(requester, "Abrir chamado (home)")
    requester.keyboard.press("Enter")
    requester.wait_for_selector("#open-ticket-form")

    tab_to(requester, lambda f: f["id"] == "department_id")
    assert_focus_ring(requester, "Departamento")
    while requester.locator("#department_id option:checked").inner_text() != "TI":
        requester.keyboard.press("ArrowDown")
    assert press(requester, "Tab")["id"] == "service_id"   # enabled by the choice
    requester.keyboard.press("ArrowDown")
    assert requester.locator("#service_id option:checked").inner_text() == "Acesso"
    radio = press(requester, "Tab")
    assert radio["name"] == "priority" and radio["type"] == "radio", radio
    assert_focus_ring(requester, "Prioridade")
    requester.keyboard.press("ArrowRight")                  # Média -> Alta
    assert requester.locator("input[name=priority]:checked").get_attribute("value") == "high"
    assert "Acesso, prioridade Alta" in requester.inner_text("#sla-hint")
    assert press(requester, "Tab")["id"] == "subject"
    requester.keyboard.type("Impressora não imprime")
    assert press(requester, "Tab")["id"] == "description"
    requester.keyboard.type("A impressora do 2º andar não imprime desde hoje cedo.")
    assert press(requester, "Tab")["id"] == "file"           # nothing attached
    back = press(requester, "Shift+Tab")                      # and back, in order
    assert back["id"] == "description"
    press(requester, "Tab")
    submit = press(requester, "Tab")
    assert submit["id"] == "open-submit", submit
    assert_focus_ring(requester, "Abrir chamado (enviar)")
    screenshot(requester, f"teclado-01-abrir-{backend}")
    requester.keyboard.press("Enter")
    requester.wait_for_selector("text=aberto. Você será avisado")
    ticket_id = int(re.search(r"/chamados/(\d+)", requester.url).group(1))

    # --- the attendant: the home's queue button, the ticket, "Assumir" -------------
    attendant = page_for("alfa_attendant")
    attendant.goto("/")
    press(attendant, "Tab")
    attendant.keyboard.press("Enter")                          # skip link
    tab_to(attendant, lambda f: f["href"].endswith("/atendente/fila")
           and "Fila de atendimento" in f["text"])
    assert_focus_ring(attendant, "Fila de atendimento")
    attendant.keyboard.press("Enter")
    attendant.wait_for_selector(f"tr[data-ticket='{ticket_id}']")
    tab_to(attendant, lambda f: f["href"].endswith(f"/chamados/{ticket_id}"))
    assert_focus_ring(attendant, "link of the ticket in the queue")
    attendant.keyboard.press("Enter")
    attendant.wait_for_selector("#submit-assume")
    tab_to(attendant, lambda f: f["id"] == "submit-assume")
    assert_focus_ring(attendant, "Assumir")
    screenshot(attendant, f"teclado-02-assumir-{backend}")
    attendant.keyboard.press("Space")
    attendant.wait_for_selector("text=Chamado assumido.")
    assert attendant.inner_text("#ticket-status") == "Assumido"
