"""Reading replies: reader markers in pt-BR and English, signatures, HTML, broken
encodings, MIME bombs (app/mail_in/parse.py; no database)."""
import pytest

from app.mail_in.parse import MailRefused, html_to_text, parse, strip_quotes


@pytest.mark.parametrize("quoted", [
    "Em ter., 1 de dez. de 2026 às 10:02, Empresa Alfa <nao-responda@gestor.local> "
    "escreveu:\n> Olá",
    "Em ter., 1 de dez. de 2026 às 10:02, Empresa Alfa <\nnao-responda@gestor.local> "
    "escreveu:\n\n> Olá",
    "Em 01/12/2026 10:02, Empresa Alfa escreveu:\nOlá, Fulano.",
    "On Tue, Dec 1, 2026 at 10:02 AM Empresa Alfa <nao-responda@gestor.local> wrote:\n> Hi",
    "-----Mensagem original-----\nDe: Empresa Alfa\nEnviada em: terça-feira\nOlá",
    "-----Original Message-----\nFrom: Empresa Alfa\nSent: Tuesday\nHi",
    "________________________________\nDe: Empresa Alfa <nao-responda@gestor.local>\n"
    "Enviado: terça-feira, 1 de dezembro de 2026 10:02\nPara: Fulano\nAssunto: [Chamado #1]",
    "De: Empresa Alfa <nao-responda@gestor.local>\nEnviado: terça-feira\nPara: Fulano\nOlá",
    "-- \nFulano da Silva\nFinanceiro, ramal 123",
    "Enviado do meu iPhone",
    "Sent from my Android",
    "> Olá, Fulano.\n> O atendente pediu um arquivo.",
])
def test_the_new_text_is_what_comes_before_the_reader_markers(quoted):
    text = f"Segue o arquivo pedido.\nObrigado!\n\n{quoted}\n"
    assert strip_quotes(text) == "Segue o arquivo pedido.\nObrigado!"


def test_inline_answers_keep_the_persons_lines_and_drop_the_quoted_ones():
    text = "> Qual o número do patrimônio?\n12345\n> E a sala?\nSala 4"
    assert strip_quotes(text) == "12345\nSala 4"


def test_a_line_that_merely_mentions_em_or_on_is_kept():
    text = "Em resumo: reiniciei e voltou.\nOn-line desde as 10h."
    assert strip_quotes(text) == text


def test_html_becomes_text_without_scripts_styles_or_the_quoted_history():
    html = ("<html><head><style>p{color:red}</style><script>alert('x')</script></head>"
            "<body><p>Olá <b>equipe</b>,</p><p>segue &lt;anexo&gt;.</p>"
            "<img src=x onerror=alert(2)><div class=\"gmail_quote\">Em ter. escreveu:"
            "<blockquote>texto antigo</blockquote></div></body></html>")
    text = html_to_text(html)
    assert text == "Olá equipe,\n\nsegue <anexo>."


def _mail(headers: str, body: bytes) -> bytes:
    return headers.replace("\n", "\r\n").encode("latin-1") + b"\r\n" + body


def test_latin1_headers_unknown_charsets_and_broken_base64_are_read_not_fatal():
    raw = _mail("From: =?iso-8859-1?q?Jo=E3o?= <joao@cliente.example>\n"
                "Subject: Relat\xf3rio de f\xe9rias\n"
                "Message-ID: <x1@cliente.example>\nMIME-Version: 1.0\n"
                "Content-Type: multipart/mixed; boundary=b\n",
                b"--b\r\nContent-Type: text/plain; charset=x-nao-existe\r\n\r\n"
                b"Ol\xe1, tudo certo\x00.\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
                b"Content-Transfer-Encoding: base64\r\n\r\n@@@n\xe3o-\xe9-base64@@@\r\n--b--\r\n")
    mail = parse(raw)
    assert mail.sender == "joao@cliente.example" and mail.sender_name == "João"
    assert mail.subject == "Relatório de férias"
    assert mail.text.startswith("Olá, tudo certo.")
    assert "\x00" not in mail.text


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"isto nao e um e-mail",
                                 b"Subject: sem remetente\r\n\r\ncorpo"])
def test_what_has_no_header_with_a_from_cannot_be_parsed(raw):
    with pytest.raises(MailRefused) as refusal:
        parse(raw)
    assert refusal.value.reason == "unparseable"


def test_thousands_of_parts_are_a_mime_bomb():
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(5000))
    raw = _mail("From: a@b.example\nContent-Type: multipart/mixed; boundary=b\n",
                parts + b"--b--\r\n")
    with pytest.raises(MailRefused) as refusal:
        parse(raw)
    assert refusal.value.reason == "mime_bomb"


def test_deep_nesting_is_a_mime_bomb():
    depth = 3000
    body = b""
    for level in range(depth):
        body += (f"--b{level}\r\nContent-Type: multipart/mixed; boundary=b{level + 1}\r\n\r\n"
                 .encode())
    body += b"x\r\n" + b"".join(f"--b{level}--\r\n".encode() for level in reversed(range(depth)))
    raw = _mail("From: a@b.example\nContent-Type: multipart/mixed; boundary=b0\n", body)
    with pytest.raises(MailRefused) as refusal:
        parse(raw)
    assert refusal.value.reason == "mime_bomb"


def test_the_same_mail_relayed_again_has_the_same_dedup_key():
    body = b"Segue.\r\n"
    first = parse(_mail("Received: from a by b; Tue, 1 Dec 2026 10:00\n"
                        "From: a@b.example\nMessage-ID: <m1@b.example>\nSubject: Oi\n", body))
    retry = parse(_mail("Received: from c by d; Tue, 1 Dec 2026 10:05\n"
                        "Received: from a by b; Tue, 1 Dec 2026 10:00\n"
                        "From: a@b.example\nMessage-ID: <m1@b.example>\nSubject: Oi\n", body))
    other = parse(_mail("From: a@b.example\nMessage-ID: <m1@b.example>\nSubject: Oi\n",
                        b"Outro texto.\r\n"))
    assert first.dedup_key == retry.dedup_key != other.dedup_key


def test_inline_images_without_a_name_are_kept_as_attachments():
    raw = _mail("From: a@b.example\nContent-Type: multipart/related; boundary=b\n",
                b"--b\r\nContent-Type: text/html\r\n\r\n<p>Veja <img src=\"cid:i1\"></p>\r\n"
                b"--b\r\nContent-Type: image/png\r\nContent-ID: <i1>\r\n"
                b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n")
    mail = parse(raw)
    assert mail.text == "Veja"
    (image,) = mail.attachments
    assert image.inline and image.filename.endswith(".png")
    assert image.data == b"\x89PNG\r\n\x1a\n"
