"""The admin web pages (``/admin``): login, today board, people, terminals, reports."""
