"""The workflow's typed errors: the edge (API, pages) turns them into HTTP codes or
flashed messages; nothing below it knows about HTTP."""
from __future__ import annotations


class WorkflowError(Exception):
    status = 400

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class TicketNotFound(WorkflowError):
    status = 404

    def __init__(self, message: str = "Chamado não encontrado."):
        super().__init__(message)


class Forbidden(WorkflowError):
    status = 403


class InvalidInput(WorkflowError):
    status = 400


class TransitionNotAllowed(WorkflowError):
    status = 409


class PlanExpired(WorkflowError):
    status = 403
