"""The rules the monthly summaries are written under, each numbered in the order it shipped.

An email keeps what it said; when a rule changes what a summary says, the ones written before
still say it the older way. The audit (``services.audit.summary_emails``) reads such an email
against what the older rule printed and makes the difference a remark naming the rule, not a
problem. It may do so only for an email written before the rule: each summary's outbox row
keeps the revision of the latest rule it was written under (``OutboxMessage.rules_revision``,
set by ``services.outbox`` from the email's kind to ``SUMMARY_RULES``), and the audit allows an
older rule's reading of rule R to a row of revision D only when D < R (``written_before``). A
row written before the rules were kept (``rules_revision`` NULL) may predate any of them.

The emails' own moment (``created_at``) cannot tell: tests, simulations and catch-ups write
summaries at moments of their own. Nor can a date of shipping: two rules shipped the same day
would share it, and a row written between them would read as written under both (review). Each
rule's comment says the day it shipped, which the audit's remarks quote.

A new rule: the next number, added to ``RULES``; ``SUMMARY_RULES`` follows.
"""

from __future__ import annotations

#: The pace is judged only where one of the scope's declarations of the month was due; before,
#: a pace was judged where none was (``audit.summary_emails._pace_no_longer_judged``).
PACE_ONLY_WHEN_DUE = 1  # shipped 2026-12-05
#: A lot past its planned end, its end not recorded, has its own line in the month, its planned
#: end said passed; before, it was counted among the « clauses achevées avant » the month
#: (``_as_achieved``).
PAST_PLANNED_END_FOLLOWED = 2  # shipped 2026-12-05
#: A terminated lot's time elapsed is counted against its planned end, stopped on the
#: termination day; before, up to the termination as if it were its planned end
#: (``summaries.as_ended_at_termination``).
TERMINATION_AGAINST_PLANNED_END = 3  # shipped 2026-12-05
#: A lot terminated before the month is listed as terminated; before, it was counted among the
#: « clauses achevées avant » the month (``terminated_listed=False``).
TERMINATED_LISTED = 4  # shipped 2026-12-06
#: The pace is « à confirmer (2 déclarations non reçues) » while declarations of the months it
#: counts are owed; before, it was judged on the hours declared alone (``confirm_pace=False``).
PACE_TO_CONFIRM = 5  # shipped 2026-12-06
#: A declaration recorded for a month not asked of its company counts among the month's expected
#: and received; before, only its hours did (``_unasked_uncounted``).
UNASKED_COUNTED = 6  # shipped 2026-12-06
#: What changed since the recipient's previous summary names that summary, the declarations
#: arrived late and the months without a summary; before, « Depuis ma synthèse précédente »
#: named the corrections only, or nothing was said (``_since_last_findings``).
SINCE_LAST_NAMED = 7  # shipped 2026-12-06
#: The declarations of earlier months still expected and not due yet are one of the figures,
#: and always said; before, a paragraph below the figures (``_with_pending_paragraph``), which
#: a month whose due date a resumption pushed past the summary vanished from
#: (``_pending_unsaid``).
EARLIER_PENDING_FIGURE = 8  # shipped 2026-12-06
#: What changed since the previous summary names the declarations arrived late at 0 h (their
#: months no longer missing) and, one corrected after it arrived, the hours it arrived with;
#: before, those of 0 h were left out and a corrected one told with its hours now alone
#: (``summaries.as_before_zero_arrivals``).
SINCE_LAST_ZERO_ARRIVALS = 9  # shipped 2026-12-06
#: What changed since the previous summary says « en retard » only of the declarations that
#: arrived after the due date their company was held to, « sans retard » of the others, and
#: how many of each when they differ (« dont 2 en retard »); before, every declaration arrived
#: since was said arrived « en retard », one whose call left late (a late start's or award's
#: catch-up call) or that was never asked included (``summaries.as_before_on_time_arrivals``).
ARRIVALS_LATE_OR_NOT = 10  # shipped 2026-12-06
#: A lot whose history said it running (execution, suspended) at the end of the month, its end
#: recorded since (known at the summary's moment) on a day before the month's last, counts in
#: « Clauses par étape » and on its line as « suivi et bilan », as « Avancement par clause »
#: reads it (achieved before the month, or ended in it); before, in the stage its history said
#: then (« mise en œuvre 4 » beside « 1 clause achevée avant mars 2027 »; user trial,
#: 6 December 2026; ``summaries.as_before_stage_by_end``).
STAGE_BY_END = 11  # shipped 2026-12-06
#: The declarations of earlier months owed and whose call had not left yet (a lot recorded as
#: started after its start date, its catch-up call at the next pass; a ladder waiting for its
#: slot; a lot's months called at its resumption) are among the earlier months « attendues, pas
#: encore dues » (« appel prévu le … ») and in the pace's « à confirmer »; before, they were in
#: no figure until their call left (user trial, 7 December 2026;
#: ``summaries.as_before_earlier_calls_to_come``).
EARLIER_CALLS_TO_COME = 12  # shipped 2026-12-07

#: Every rule, the latest last.
RULES = (
    PACE_ONLY_WHEN_DUE,
    PAST_PLANNED_END_FOLLOWED,
    TERMINATION_AGAINST_PLANNED_END,
    TERMINATED_LISTED,
    PACE_TO_CONFIRM,
    UNASKED_COUNTED,
    SINCE_LAST_NAMED,
    EARLIER_PENDING_FIGURE,
    SINCE_LAST_ZERO_ARRIVALS,
    ARRIVALS_LATE_OR_NOT,
    STAGE_BY_END,
    EARLIER_CALLS_TO_COME,
)
#: The rules a summary written now follows: the number of the latest one.
SUMMARY_RULES = max(RULES)


def written_before(rules_revision: int | None, rule: int) -> bool:
    """Whether an email written under the rules numbered ``rules_revision`` may say what ``rule`` changed
    the older way: one whose row predates the rules' keeping (None) may predate any rule."""
    return rules_revision is None or rules_revision < rule
