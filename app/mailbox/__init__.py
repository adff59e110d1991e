"""A company's own mailbox over IMAP (docs/mailbox.md).

models: the settings and state of each account's mailbox; crypto: its password kept
encrypted; settings: the administrators' use cases (validate, save, show); poller: the
``flask jobs`` loop that takes new mail; opening: what a mail that is not a reply
becomes (a ticket, or a polite refusal); views: the "Caixa de e-mail" screen.
"""
