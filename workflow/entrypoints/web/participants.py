"""A lot's participants and their outcomes (/clauses/{N}/participants), with the forms of
what the field tells the facilitator: « Ajouter un participant » (``clauses participant add``),
« Enregistrer une sortie » (``clauses participant outcome``: another one is added, one a day)
and « Corriger ou retirer une sortie » (``outcome-fix``, ``outcome-remove``, with a reason).

Each form calls the application function the command calls (through ``app.web_participants``,
which reads the form's text as the command reads its options) with the signed-in user as the
actor, so it leaves the command's rows. Success redirects (303) to the page with ``?fait=``
naming what was recorded, read back from its row; a refusal shows the page again with what was
typed and the French message naming the field (422), nothing written; a POST without the
session's CSRF token does nothing (403).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.app import web_participants
from workflow.bootstrap import App
from workflow.entrypoints.web.pages import Pages
from workflow.entrypoints.web.signed_in import Guard
from workflow.errors import ConcurrentChange, DatabaseTrouble, InputRefused, NotFound

NBSP = "\u00a0"
#: A clause's N° in an address: beyond any real one, the French « Page introuvable » (404), never
#: a database error on a number it cannot hold.
ClauseNumber = Annotated[int, Path(ge=1, le=2_000_000_000)]
REPLACE_BOX = "Corriger la seule sortie déjà enregistrée"
#: Where the page corrects or withdraws one outcome.
FIX_SECTION = "Corriger ou retirer une sortie"

#: The command line's words in a service's message, and what the form offers instead.
COMMAND_WORDS = (
    (
        re.compile(r"recommencez avec --replace\."),
        f"cochez «{NBSP}{REPLACE_BOX}{NBSP}» et renvoyez le formulaire.",
    ),
    (
        re.compile(
            r"--replace ne sait pas laquelle corriger\..*"
            r"«\s*clauses participant outcome-fix[^»]*»\."
        ),
        f"la case «{NBSP}{REPLACE_BOX}{NBSP}» ne sait pas laquelle corriger. Corrigez celle qui "
        f"est fausse par son N°{NBSP}: formulaire «{NBSP}{FIX_SECTION}{NBSP}» ci-dessous.",
    ),
    (
        re.compile(r"corrigez-la\s*:\s*«\s*clauses participant outcome-fix[^»]*»\."),
        f"corrigez-la avec le formulaire «{NBSP}{FIX_SECTION}{NBSP}» ci-dessous.",
    ),
    (
        re.compile(r"retirez-la\s*:\s*«\s*clauses participant outcome-remove[^»]*»\."),
        f"retirez-la avec le formulaire «{NBSP}{FIX_SECTION}{NBSP}» ci-dessous.",
    ),
    (re.compile(r"\s*\(--reason\)"), ""),
    (re.compile(r"\s*Les numéros\s*:\s*«\s*clauses participant list\s*»\."), ""),
    (
        re.compile(
            r"Pour le compléter ou le corriger\s*:.*«\s*clauses participant validate[^»]*»\."
        ),
        f"Pour le compléter, le corriger ou valider son éligibilité{NBSP}: sa fiche, page "
        f"«{NBSP}Corrections{NBSP}».",
    ),
    (re.compile(r"\s*La liste\s*:\s*«\s*clauses participant list\s*»\."), ""),
)

#: The fields of each form, as their ``name`` attributes send them.
ADD_FIELDS = ("reference", "criterion", "sex", "birth_year", "proof", "validated_on")
OUTCOME_FIELDS = ("participant", "type", "on")
FIX_FIELDS = ("numero", "type", "on", "reason")
REMOVE_FIELDS = ("numero", "reason")


def web_words(message: str) -> str:
    """A service message as the form reads it: the form's box, not the command's option."""
    for command, words in COMMAND_WORDS:
        message = command.sub(words, message)
    return message


def typed(form: Any, name: str) -> str:
    return str(form.get(name) or "").strip()[:1000]


def router(app: App, pages: Pages) -> APIRouter:
    routes = APIRouter()
    guard = Guard(app, pages)
    call, user_of, to_login = guard.call, guard.user_of, guard.to_login

    def missing(request: Request, clause_id: int) -> Response:
        return guard.refused(
            request,
            "Clause introuvable",
            f"Aucune clause n'a le N°{NBSP}{clause_id}. La liste des clauses{NBSP}: page "
            f"«{NBSP}Clauses{NBSP}».",
            status=404,
        )

    def trouble(request: Request, error: ConcurrentChange | DatabaseTrouble) -> Response:
        """Nothing was recorded (the transaction was rolled back): she may try again."""
        return guard.refused(request, "Rien n'a été enregistré", error.message, status=503)

    async def page(
        request: Request,
        user: Any,
        clause_id: int,
        *,
        added: dict[str, str] | None = None,
        auto: bool = False,
        add_error: str | None = None,
        outcome: dict[str, str] | None = None,
        replace: bool = False,
        outcome_error: str | None = None,
        fix: dict[str, str] | None = None,
        fix_error: str | None = None,
        removal: dict[str, str] | None = None,
        remove_error: str | None = None,
        done: str | None = None,
    ) -> Response:
        try:
            lot = await call(web_participants.lot_participants, clause_id)
        except NotFound:
            return missing(request, clause_id)
        choices = await call(web_participants.outcome_choices)
        refused = any(e is not None for e in (add_error, outcome_error, fix_error, remove_error))
        asked = request.query_params.get("participant", "")
        return pages.render(
            request, "participants_lot.html", status_code=422 if refused else 200, user=user,
            lot=lot, choices=choices, criteria=web_participants.CRITERIA,
            added=added or dict.fromkeys(ADD_FIELDS, ""), auto=auto, add_error=add_error,
            outcome=outcome or {**dict.fromkeys(OUTCOME_FIELDS, ""), "participant": asked},
            replace=replace, outcome_error=outcome_error, done=done, replace_box=REPLACE_BOX,
            fix=fix or dict.fromkeys(FIX_FIELDS, ""), fix_error=fix_error,
            removal=removal or dict.fromkeys(REMOVE_FIELDS, ""), remove_error=remove_error,
            fix_section=FIX_SECTION,
        )  # fmt: skip

    async def confirmation(clause_id: int, said: str) -> str | None:
        """The message ``?fait=`` names: « sortie-12-enregistree », « participant-7 »."""
        if found := re.fullmatch(r"sortie-(\d{1,9})-(enregistree|corrigee|deja)", said):
            return await call(web_participants.outcome_done, clause_id, int(found[1]), found[2])
        if found := re.fullmatch(r"retrait-(\d{1,9})-deja", said):
            return await call(web_participants.already_removed_done, clause_id, int(found[1]))
        if found := re.fullmatch(r"historique-(\d{1,9})", said):
            return await call(web_participants.edit_done, clause_id, int(found[1]))
        if found := re.fullmatch(r"participant-(\d{1,9})", said):
            done = await call(web_participants.participant_done, int(found[1]))
            return done.message if done is not None else None
        return None

    @routes.get("/clauses/{clause_id:int}/participants", response_class=HTMLResponse)
    async def show(request: Request, clause_id: ClauseNumber) -> Response:
        user = await user_of(request)
        if user is None:
            return to_login(request)
        done = await confirmation(clause_id, request.query_params.get("fait", ""))
        return await page(request, user, clause_id, done=done)

    @routes.post("/clauses/{clause_id:int}/participants/ajout", response_class=HTMLResponse)
    async def add(request: Request, clause_id: ClauseNumber) -> Response:
        checked = await guard.signed_post(request)
        if isinstance(checked, Response):
            return checked  # not signed in, or no valid CSRF token: nothing done
        user, form = checked
        values = {name: typed(form, name) for name in ADD_FIELDS}
        auto = bool(form.get("auto"))
        if not await call(web_participants.lot_exists, clause_id):
            return missing(request, clause_id)  # nothing recorded from a lot that is not
        try:
            done = await call(web_participants.add_from_form, auto=auto, actor=user.name, **values)
        except (ConcurrentChange, DatabaseTrouble) as error:
            return trouble(request, error)
        except InputRefused as error:
            return await page(
                request, user, clause_id, added=values, auto=auto,
                add_error=web_words(error.message),
            )  # fmt: skip
        return RedirectResponse(
            f"/clauses/{clause_id}/participants?fait=participant-{done.participant_id}#message",
            status_code=303,
        )

    @routes.post("/clauses/{clause_id:int}/participants/sortie", response_class=HTMLResponse)
    async def outcome(request: Request, clause_id: ClauseNumber) -> Response:
        checked = await guard.signed_post(request)
        if isinstance(checked, Response):
            return checked  # not signed in, or no valid CSRF token: nothing done
        user, form = checked
        values = {name: typed(form, name) for name in OUTCOME_FIELDS}
        replace = bool(form.get("replace"))
        try:
            recorded = await call(
                web_participants.record_from_form, clause_id, reference=values["participant"],
                outcome_type=values["type"], on=values["on"], replace=replace, actor=user.name,
            )  # fmt: skip
        except (ConcurrentChange, DatabaseTrouble) as error:
            return trouble(request, error)
        except InputRefused as error:
            # An unknown clause (NotFound) is answered 404 by the page itself.
            return await page(
                request, user, clause_id, outcome=values, replace=replace,
                outcome_error=web_words(error.message),
            )  # fmt: skip
        said = f"sortie-{recorded.outcome_id}-{web_participants.outcome_change_code(recorded)}"
        return RedirectResponse(
            f"/clauses/{clause_id}/participants?fait={said}#message", status_code=303
        )

    async def edited(
        request: Request, clause_id: int, *, fields: tuple[str, ...], removal: bool
    ) -> Response:
        """A correction or a withdrawal of one outcome by its N°, with the other forms'
        answers: a redirect naming the history row that keeps it, or the page with the
        refusal and what was typed (422), nothing written."""
        checked = await guard.signed_post(request)
        if isinstance(checked, Response):
            return checked  # not signed in, or no valid CSRF token: nothing done
        user, form = checked
        values = {name: typed(form, name) for name in fields}
        if not await call(web_participants.lot_exists, clause_id):
            return missing(request, clause_id)
        try:
            if removal:
                edit = await call(
                    web_participants.remove_from_form, clause_id, number=values["numero"],
                    reason=values["reason"], actor=user.name,
                )  # fmt: skip
            else:
                edit = await call(
                    web_participants.fix_from_form, clause_id, number=values["numero"],
                    outcome_type=values["type"], on=values["on"], reason=values["reason"],
                    actor=user.name,
                )  # fmt: skip
        except (ConcurrentChange, DatabaseTrouble) as error:
            return trouble(request, error)
        except InputRefused as error:
            message = web_words(error.message)
            if removal:
                return await page(request, user, clause_id, removal=values, remove_error=message)
            return await page(request, user, clause_id, fix=values, fix_error=message)
        # Post/Redirect/Get, as every answer of these forms: the page's words, read again.
        if edit.already is not None:
            said = f"retrait-{edit.outcome_id}-deja"
        elif not edit.changed:
            said = f"sortie-{edit.outcome_id}-deja"
        else:
            said = f"historique-{edit.history_id}"
        return RedirectResponse(
            f"/clauses/{clause_id}/participants?fait={said}#message", status_code=303
        )

    @routes.post(
        "/clauses/{clause_id:int}/participants/sortie-correction", response_class=HTMLResponse
    )
    async def fix(request: Request, clause_id: ClauseNumber) -> Response:
        return await edited(request, clause_id, fields=FIX_FIELDS, removal=False)

    @routes.post(
        "/clauses/{clause_id:int}/participants/sortie-retrait", response_class=HTMLResponse
    )
    async def remove(request: Request, clause_id: ClauseNumber) -> Response:
        return await edited(request, clause_id, fields=REMOVE_FIELDS, removal=True)

    return routes
