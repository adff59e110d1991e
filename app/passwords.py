"""The password rule, applied wherever a password is chosen (sign-up, the member API and
screens, "Meu perfil") and checked again at login, where a weak password that predates
the rule is still accepted but the member is sent to change it.

A password is refused when it is shorter than 10 characters, only spaces, a single
repeated character, one of the 10,000 most common passwords (app/data/README.md says
where the list comes from), or made mostly of the username, the e-mail (or its part
before the @), the company name or one of its words: "mostly" meaning the value makes
at least half of the password's letters and digits ("maria12345" for maria). Every message says what to change, in Portuguese.
Nothing here touches the database or the hashes.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

MIN_LENGTH = 10
MAX_LENGTH = 256
COMMON_LIST = Path(__file__).resolve().parent / "data" / "common_passwords.txt"
_NOT_ALNUM = re.compile(r"[\W_]+")


@functools.lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().casefold() for line in lines if line.strip())


def _letters_and_digits(value: str) -> str:
    return _NOT_ALNUM.sub("", value.casefold())


def _personal_values(username, email, company) -> list[tuple[str, str]]:
    """(normalised value, what to tell the person) for each thing a password must not
    be made of."""
    values = []
    if username:
        values.append((username, "o seu nome de usuário"))
    if email:
        values.append((email, "o seu e-mail"))
        values.append((email.split("@", 1)[0], "o seu e-mail"))
    if company:
        values.append((company, "o nome da empresa"))
        values += [(word, "o nome da empresa") for word in company.split() if len(word) >= 4]
    result = []
    for raw, label in values:
        normalised = _letters_and_digits(raw)
        if len(normalised) >= 3:
            result.append((normalised, label))
    return result


def problem(password, *, username=None, email=None, company=None) -> str | None:
    """The pt-BR reason ``password`` is refused, or None when it is acceptable."""
    if not isinstance(password, str) or "\x00" in password:
        return "Senha inválida."
    if len(password) < MIN_LENGTH:
        return f"A senha deve ter pelo menos {MIN_LENGTH} caracteres."
    if len(password) > MAX_LENGTH:
        return f"A senha deve ter no máximo {MAX_LENGTH} caracteres."
    if not password.strip():
        return "A senha não pode ser feita só de espaços: use letras, números ou símbolos."
    if len(set(password)) == 1:
        return "A senha não pode repetir um único caractere: misture letras, números ou símbolos."
    if password.casefold() in common_passwords() or password.strip().casefold() in \
            common_passwords():
        return ("Esta senha está entre as mais usadas e é fácil de adivinhar: escolha outra, "
                "por exemplo uma frase com algumas palavras.")
    plain = _letters_and_digits(password)
    for value, label in _personal_values(username, email, company):
        # "maria12345" for the user maria: the name is half of what an attacker guesses.
        if value == plain or (value in plain and 2 * len(value) >= len(plain)):
            return f"A senha não pode ser parecida com {label}: escolha outra."
    return None
