"""The admin web pages (``/admin``): login, today board, people, terminals, review, reports.

``app.mount`` adds them to the server's app; one module per page group, over ``render``,
``forms``, ``session`` and ``security``.
"""
