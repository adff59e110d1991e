"""The app's pt-BR catalogue (overrides of FAB's strings): the compiled .mo that Flask-Babel
reads says exactly what the .po says, and no entry is empty or fuzzy. No app needed."""
import os

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

FOLDER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "app", "translations", "pt_BR", "LC_MESSAGES")


def test_compiled_catalogue_matches_its_source():
    with open(os.path.join(FOLDER, "messages.po"), "rb") as source:
        po = {m.id: m.string for m in read_po(source) if m.id}
    with open(os.path.join(FOLDER, "messages.mo"), "rb") as compiled:
        mo = {m.id: m.string for m in read_mo(compiled) if m.id}
    assert po == mo, "run: pybabel compile -d app/translations"
    assert all(po.values())
    assert po["Select Value"] == "Selecione" and po["Added Row"] == "Registro incluído."
