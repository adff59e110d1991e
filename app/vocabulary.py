"""Words a person reads for the product's codes: statuses, priorities, actions, history
events and notification events, in Brazilian Portuguese.

Vocabulary, not engine: the workflow, the notifications, the screens and the Painel
import these tables, so a label is written once and no module needs another's
internals for a word.
"""
from __future__ import annotations

STATUS_LABELS = {
    "open": "Aberto", "assumed": "Assumido", "in_progress": "Em atendimento",
    "waiting": "Aguardando solicitante", "concluded": "Concluído (aguardando aprovação)",
    "closed": "Encerrado", "cancelled": "Cancelado",
}
# Lists and charts: "Concluído" alone reads better in a narrow column.
SHORT_STATUS_LABELS = {**STATUS_LABELS, "concluded": "Concluído"}
PRIORITY_LABELS = {"low": "Baixa", "medium": "Média", "high": "Alta", "urgent": "Urgente"}
ACTION_LABELS = {
    "assume": "Assumir", "start": "Iniciar atendimento", "wait": "Aguardar solicitante",
    "resume": "Retomar atendimento", "release": "Devolver à fila",
    "reassign": "Passar a outro atendente", "transfer": "Transferir chamado",
    "conclude": "Concluir atendimento",
    "approve": "Aprovar encerramento", "reject": "Reprovar encerramento",
    "cancel": "Cancelar chamado", "survey": "Pesquisa de satisfação",
}
# ticket_event.type -> how the history names it
HISTORY_LABELS = {
    "opened": "Chamado aberto", "assumed": "Atendimento assumido",
    "started": "Atendimento iniciado", "waiting": "Aguardando solicitante",
    "resumed": "Atendimento retomado", "released": "Devolvido à fila",
    "reassigned": "Atendente alterado", "transferred": "Chamado transferido",
    "internal_note": "Nota interna", "concluded": "Atendimento concluído",
    "approved": "Encerramento aprovado", "rejected": "Encerramento reprovado",
    "cancelled": "Chamado cancelado", "auto_approved": "Aprovado automaticamente",
    "auto_cancelled": "Cancelado automaticamente",
    "message": "Mensagem", "survey": "Pesquisa de satisfação respondida",
}
# notification event -> its name in the settings matrix and in mail subjects
NOTIFICATION_LABELS = {
    "ticket_opened": "Chamado aberto",
    "ticket_assumed": "Chamado assumido",
    "ticket_started": "Atendimento iniciado",
    "requester_message": "Nova mensagem do solicitante",
    "attendant_message": "Nova mensagem do atendente",
    "ticket_concluded": "Atendimento concluído",
    "conclusion_reviewed": "Conclusão avaliada",
    "survey_filled": "Pesquisa de satisfação respondida",
    "ticket_waiting": "Aguardando solicitante",
    "ticket_cancelled": "Chamado cancelado",
    "ticket_transferred": "Chamado transferido",
    "ticket_reassigned": "Chamado atribuído a você",
    "ticket_released": "Chamado devolvido à fila",
    "low_score": "Avaliação baixa (nota 1 ou 2)",
}
ASSIGNMENT_LABELS = {"manual": "Manual (o atendente assume)",
                     "round_robin": "Automática: rodízio entre os disponíveis",
                     "least_loaded": "Automática: quem tiver menos chamados"}
SLA_CLOCK_LABELS = {"24x7": "Horas corridas (24x7)",
                    "business": "Horas úteis (calendário da conta)"}


def duration_text(seconds: float) -> str:
    """"2 h 05 min" (or "45 min", "0 min"): a pause or a time left, for people."""
    minutes = int(round(max(seconds, 0) / 60))
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"

# Nouns without an article whose gender the ending does not tell ("a senha" ends in -a).
_FEMININE_ENDINGS = ("a", "ção", "são", "dade", "gem", "ie")


def required_message(label: str) -> str:
    """"<label> é obrigatório/obrigatória.", agreeing with the label's gender: its article
    when it has one ("A mensagem", "O assunto"), else the ending of its first word
    ("Descrição", "Empresa": feminine; "Nome da empresa", "Usuário": masculine)."""
    words = label.split()
    first = words[0].lower() if words else ""
    if first in ("a", "as"):
        feminine = True
    elif first in ("o", "os"):
        feminine = False
    else:
        feminine = first.endswith(_FEMININE_ENDINGS)
    plural = first in ("as", "os")
    ending = ("obrigatórias" if plural else "obrigatória") if feminine else (
        "obrigatórios" if plural else "obrigatório")
    verb = "são" if plural else "é"
    return f"{label} {verb} {ending}."

# Brazil's time zones by the names people use (account settings), Brasília first.
BRAZIL_TIME_ZONES = {
    "America/Sao_Paulo": "Horário de Brasília (DF, Sul, Sudeste, Nordeste, Goiás, Pará, "
                         "Amapá, Tocantins) — UTC−3",
    "America/Noronha": "Fernando de Noronha — UTC−2",
    "America/Manaus": "Manaus (Amazonas) — UTC−4",
    "America/Cuiaba": "Cuiabá (Mato Grosso) — UTC−4",
    "America/Campo_Grande": "Campo Grande (Mato Grosso do Sul) — UTC−4",
    "America/Porto_Velho": "Porto Velho (Rondônia) — UTC−4",
    "America/Boa_Vista": "Boa Vista (Roraima) — UTC−4",
    "America/Rio_Branco": "Rio Branco (Acre) — UTC−5",
}


def time_zone_name(code: str | None) -> str:
    """"Horário de Brasília", "Manaus"...: the short common name of a zone."""
    code = code or "America/Sao_Paulo"
    label = BRAZIL_TIME_ZONES.get(code)
    return label.split(" (")[0].split(" —")[0] if label else code
