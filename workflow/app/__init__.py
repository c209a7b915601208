"""The application layer: every action a person can take, and every screen they can read.

Entry points (the command line, the clock, later the web pages and the JSON API) only translate:
they parse what a person typed, call one function here, and render what it returns. A *command*
(``add_buyer``, ``award_clause`` …) owns its transaction, reads the clock once, records who acts
and publishes the domain events it causes, through ``unit.unit_of_work``. A *query* (``clause_detail``,
``list_clauses`` …) reads through ``unit.reading`` and returns frozen dataclasses, never ORM rows,
so a view cannot lazily load or change the database after its session closed.

One module per area (``catalog``, ``clauses``, ``participants`` …); ``lookup`` finds a record by
what people know of it (its number, name, SIRET or market reference).
"""
