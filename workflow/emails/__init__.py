"""Every email the service sends, by family: its kinds, the context its template reads, built
from plain values (no ORM, no session: an import-linter contract keeps it so), and a sample for
previews (``clauses mail preview``) and the snapshot tests.

- ``notices``: the buyer's milestone notices;
- ``welcome``: the company's welcome at award;
- ``ladder``: the call, the reminders and the alert of a month's declaration;
- ``receipts``: the company's receipt of a declaration;
- ``digest``: the facilitator's task digest;
- ``summaries``: the monthly summaries (facilitator, buyers).

``registry.FAMILIES`` lists them. Adding a kind: its name, context and sample in a family module
here (a new family is added to ``FAMILIES``), its templates in ``templates/emails/<kind>/``; the
services that decide when it leaves read the database and call the context builder.
"""
