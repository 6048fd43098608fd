"""The pages a resident's phone opens to answer the question on screen (docs/protocol.md,
"Phones in the room"): `/v/{consultation}` (the projector's QR), one question a page, the
"counted" page. Plain HTML forms, no JavaScript, the pages' CSP (server.pages); FR/IT/EN from
`?lang=`, else Accept-Language. The work is server.phone_ballot's."""
from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from app.cards import CardError
from app.errors import N_, ValidationError
from app.kinds import kind_of
from app.model import localized

from .. import phone_ballot as pb
from ..rehearsal import REHEARSAL_OVER
from ..pages import limited, public_form, render, request_lang, translator
from .deps import HubDep

router = APIRouter(include_in_schema=False)
FORM_MAX_BYTES = 16 * 1024
WAIT_SECONDS = 10


def choices(consultation, question, lang: str) -> dict:
    """What the template draws for a question: its kind's form (app/kinds/, `form_fields`)
    with labels in `lang`."""
    return {"prompt": localized(question.prompt, lang), "help": localized(question.help, lang),
            **kind_of(question).form_fields(consultation, question, lang, translator(lang))}


def _next_question(opening, after: str | None) -> str | None:
    questions = opening.questions
    if after in questions:
        index = questions.index(after) + 1
        return questions[index] if index < len(questions) else None
    return questions[0] if questions else None


# A phone's answer keeps the side its page was shown on (the page carries `rehearsal=1` in a
# rehearsal): as a tablet's ballot, a rehearsal answer never becomes a real one, nor the reverse.
REHEARSAL_STARTED = N_("A rehearsal has started: this answer was not counted. Open the "
                       "question again.")


def _message(lang: str, title: str, text: str, status: int, **context) -> HTMLResponse:
    return render("phone_message.html", lang, status, title=title, text=text,
                  problem=status >= 400, **context)


def _rehearsing(hub, opening) -> bool:
    """Whether the opening's site is in rehearsal now: every phone page shows the band."""
    return hub.rehearsal.running(opening.site_id)


def question_page(hub, request: Request, lang: str, opening, question_id: str, *,
                  card: str = "", values: dict | None = None, error: str | None = None,
                  status: int = 200) -> HTMLResponse:
    consultation = opening.consultation
    question = consultation.question(question_id)
    position = opening.questions.index(question_id) + 1
    return render("phone.html", lang, status, consultation_id=consultation.id,
                  question_id=question_id, title=localized(consultation.title, lang),
                  q=choices(consultation, question, lang), cards=opening.cards,
                  card=card, values=values or {}, error=error, position=position,
                  count=len(opening.questions), rehearsal=_rehearsing(hub, opening))


@router.get("/v/{consultation_id}", response_class=HTMLResponse)
def phone_entry(request: Request, hub: HubDep, consultation_id: str):
    refused = limited(request, "public")
    if refused is not None:
        return refused
    lang = request_lang(request)
    opening = pb.opening(hub, consultation_id[:64])
    if opening is None:
        return _message(lang, N_("Unknown consultation."), N_("Check the address on the "
                                                              "screen."), 404)
    if not opening.open:
        return _message(lang, N_("No question is open to phones now"),
                        N_("This page looks again every few seconds: keep it open."), 200,
                        refresh=WAIT_SECONDS, rehearsal=_rehearsing(hub, opening))
    card = request.query_params.get("card", "")[:400]
    return question_page(hub, request, lang, opening, opening.questions[0], card=card)


@router.get("/v/{consultation_id}/{question_id}", response_class=HTMLResponse)
def phone_question(request: Request, hub: HubDep, consultation_id: str, question_id: str):
    refused = limited(request, "public")
    if refused is not None:
        return refused
    lang = request_lang(request)
    opening = pb.opening(hub, consultation_id[:64])
    if opening is None:
        return _message(lang, N_("Unknown consultation."), N_("Check the address on the "
                                                              "screen."), 404)
    if question_id not in opening.questions:
        return _message(lang, N_("This question is closed"), pb.CLOSED, 410,
                        entry=f"/v/{opening.consultation.id}",
                        rehearsal=_rehearsing(hub, opening))
    return question_page(hub, request, lang, opening, question_id)


@router.post("/v/{consultation_id}/{question_id}", response_class=HTMLResponse)
async def phone_answer(request: Request, hub: HubDep, consultation_id: str, question_id: str):
    refused, form, lang = await public_form(request, FORM_MAX_BYTES)
    if refused is not None:
        return refused
    opening = await run_in_threadpool(pb.opening, hub, consultation_id[:64])
    if opening is None:
        return _message(lang, N_("Unknown consultation."), N_("Check the address on the "
                                                              "screen."), 404)
    entry = f"/v/{opening.consultation.id}"
    rehearsal = await run_in_threadpool(_rehearsing, hub, opening)
    if question_id not in opening.questions:
        return _message(lang, N_("This question is closed"), pb.CLOSED, 410, entry=entry,
                        rehearsal=rehearsal)
    if (form.get("rehearsal") == "1") != rehearsal and form.get("step") != "show":
        if rehearsal:
            return _message(lang, N_("Not counted"), REHEARSAL_STARTED, 409, entry=entry,
                            rehearsal=True)
        return _message(lang, N_("Not counted"), REHEARSAL_OVER, 410, entry=entry)
    if request.headers.get("sec-fetch-site") == "cross-site":
        # Another site's page posting through a visitor's phone (no cookie sent: each visit
        # would be a new open-mode ballot from a real phone's address): never counted.
        return _message(lang, N_("Not counted"), N_("Check the address on the screen."), 403,
                        entry=entry, rehearsal=rehearsal)
    card_text = form.get("card", "")[:400]
    if form.get("step") == "show":      # the next question of a series, the card kept
        return question_page(hub, request, lang, opening, question_id, card=card_text)
    refused = limited(request, "phone")
    if refused is not None:
        return refused
    _ = translator(lang)
    consultation = opening.consultation
    question = consultation.question(question_id)
    try:
        value = pb.parse_value(consultation, question, form)
    except ValidationError as exc:
        return question_page(hub, request, lang, opening, question_id, card=card_text,
                             values=form, error=exc.describe(_), status=400)
    card = None
    cookie = request.cookies.get(pb.PHONE_COOKIE)
    set_cookie = None
    if opening.cards:
        try:
            card = await run_in_threadpool(pb.read_phone_card, hub, consultation.id,
                                           card_text)
        except CardError as exc:
            return question_page(hub, request, lang, opening, question_id, card=card_text,
                                 values=form, error=exc.describe(_), status=400)
        ballot_id = pb.card_ballot(hub, consultation.id, card.lookup)
        lookup = card.lookup
    else:
        ballot_id = pb.cookie_ballot(hub, cookie, consultation.id)
        if ballot_id is None:
            ballot_id = secrets.token_hex(16)
            set_cookie = pb.new_cookie(hub, cookie, consultation.id, ballot_id)
        lookup = None
    if rehearsal:
        response = await run_in_threadpool(_rehearsal_answer, hub, lang, opening, question_id,
                                           value, ballot_id, card_text if card else "")
        if set_cookie:
            _set_cookie(hub, request, response, set_cookie)
        return response
    used = await run_in_threadpool(pb.already_answered, hub, opening, question_id,
                                   ballot_id=ballot_id, lookup=lookup)
    try:
        if used:
            raise pb.PhoneRefused(pb.ALREADY if card else pb.ALREADY_PHONE, "already_used")
        await run_in_threadpool(pb.record_phone_answer, hub, opening, question_id, value,
                                ballot_id=ballot_id, card=card)
    except pb.PhoneRefused as exc:
        response = _message(lang, N_("Not counted"), exc.message, exc.status, entry=entry)
    else:
        following = _next_question(opening, question_id)
        response = render("phone_counted.html", lang, consultation_id=consultation.id,
                          following=following, card=card_text if card else "")
    if set_cookie:
        _set_cookie(hub, request, response, set_cookie)
    return response


def _set_cookie(hub, request: Request, response, value: str) -> None:
    response.set_cookie(pb.PHONE_COOKIE, value, max_age=pb.COOKIE_DAYS * 86400,
                        path="/v", httponly=True, samesite="lax",
                        secure=request.url.scheme == "https"
                        or hub.settings.public_url.startswith("https://"))


def _rehearsal_answer(hub, lang: str, opening, question_id: str, value, ballot_id: str,
                      card: str) -> HTMLResponse:
    """A phone's answer in the site's rehearsal: kept apart (server.rehearsal), its card
    checked (read above) but never spent, the same checks as a real answer otherwise."""
    entry = f"/v/{opening.consultation.id}"
    for check in pb.ANSWER_CHECKS:
        try:
            check(hub, opening, question_id)
        except pb.PhoneRefused as exc:
            return _message(lang, N_("Not counted"), exc.message, exc.status, entry=entry,
                            rehearsal=True)
    device = pb.phone_device(hub, opening.site_id)
    kept = hub.rehearsal.phone_answer(device["id"], opening.site_id, opening.consultation.id,
                                      question_id, value, ballot_id)
    if kept == "over":
        return _message(lang, N_("Not counted"), REHEARSAL_OVER, 410, entry=entry)
    if kept == "already":
        return _message(lang, N_("Not counted"), pb.ALREADY if card else pb.ALREADY_PHONE,
                        409, entry=entry, rehearsal=True)
    return render("phone_counted.html", lang, consultation_id=opening.consultation.id,
                  following=_next_question(opening, question_id), card=card, rehearsal=True)

