"""E-mail both ways: the signed reply addresses and thread headers of outgoing mail
(``threads``), and one intake for mail coming in (``intake.take_mail``), whatever
brought it: the HTTP endpoint an MTA pipes to (``api``) or a mailbox poller."""
