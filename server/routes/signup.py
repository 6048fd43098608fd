"""The pages a resident's phone opens: the sign-up form (`/signup?t=…`), its confirmation link,
the participation card, and an idea's public page (`/ideas/{short_code}`).

Plain HTML forms in FR/IT/EN (Jinja2, autoescaped; strings from the gettext catalogs), mobile
first, usable without JavaScript. The language comes from `?lang=`, else Accept-Language.
"""
from __future__ import annotations

import logging
import re
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from markupsafe import Markup

from app.errors import N_, DomainError, ValidationError
from app.identifiers import is_record_id
from app.model import localized
from app.qr import qr_svg as make_qr_svg
from app.signup import AGE_BRACKET_LABELS, AGE_BRACKETS, SignupTokenError

from ..connectors.outbox import city_answer
from ..ideas import ideas_by_code
from ..pages import LANGS, limited, public_form, render, request_lang, translator
from ..participation import Participation
from ..register import BROWSER_COOKIE, BROWSER_MARKS, MAIL_OUTCOMES, CodeNeeded
from .deps import HubDep

log = logging.getLogger("piazzetta.hub.signup")
_SHORT_CODE = re.compile(r"^[A-Za-z0-9]{1,20}$")
_ALIAS = re.compile(r"^[a-z2-7]{1,32}$")
ANSWER_LABELS = {"received": N_("Received"), "under_study": N_("Under study"),
                 "accepted": N_("Accepted"), "rejected": N_("Not retained"), "done": N_("Done")}
MODERATION_LABELS = {"pending": N_("Awaiting moderation"), "approved": N_("Published"),
                     "rejected": N_("Not published")}
FORM_MAX_BYTES = 16 * 1024
# How the error summary names each field (the labels of the form, consent its own).
FIELD_LABELS = {"name": N_("Name or pseudonym"), "contact": N_("Email or phone number"),
                "age_bracket": N_("Age bracket (optional)"),
                "neighbourhood": N_("Neighbourhood (optional)"), "consent": N_("Consent")}

def qr_svg(text: str) -> Markup:
    """An inline SVG QR code (app.qr), hidden from screen readers (the page says the code)."""
    return Markup(make_qr_svg(text).replace("<svg ", '<svg role="img" aria-hidden="true" ', 1))


router = APIRouter(include_in_schema=False)


def link_state(parts: Participation, token: str | None) -> tuple[dict | None, str | None]:
    """(claims, problem msgid): no token is no problem, only no attribution."""
    if not token:
        return None, None
    try:
        return parts.check_link(token), None
    except SignupTokenError as exc:
        return None, exc.message


def form_context(hub, lang: str, claims: dict | None, token: str | None, problem: str | None,
                 values: dict, errors: dict, key: str) -> dict:
    config = hub.participation.config((claims or {}).get("consultation"))
    consultation = hub.consultation(claims["consultation"]) if claims and claims.get(
        "consultation") else None
    site = consultation.site(claims["site"]) if consultation and claims.get("site") else None
    _ = translator(lang)
    summary = [(field, _("{field}: {message}").format(field=_(FIELD_LABELS[field]),
                                                      message=message)
                if field in FIELD_LABELS else message) for field, message in errors.items()]
    return {"token": token if claims else "", "problem": problem, "values": values,
            "errors": errors, "summary": summary, "key": key,
            "consultation_title": localized(consultation.title, lang) if consultation else "",
            "site_name": localized(site.name, lang) if site else "",
            "age_brackets": [(a, _(AGE_BRACKET_LABELS[a])) for a in AGE_BRACKETS]
            if config.age_bracket else [],
            "neighbourhoods": [(h, localized(name, lang)) for h, name in
                               config.neighbourhoods]}


THANKS_HOURS = 2


def signed_up_page(hub, lang: str, mail: str, code: str | None = None) -> HTMLResponse:
    """After the form: what happens next, as it is — an email sent, or not and why
    (server.register.MAIL_OUTCOMES). No card here: a card goes to a confirmed contact (the
    email's link), or is handed out at the meeting. `code`: the confirmation code (never
    emailed), asked for when the link is opened in another browser. Its language links carry
    a signed, short-lived reference to the same outcome and code (nothing personal), so that
    the page shows again in another language (GET /signup/thanks)."""
    from ..signing import sign
    ref = sign({"purpose": "signed-up", "mail": mail if mail in MAIL_OUTCOMES else "",
                "code": code or ""}, hub.settings.secret_key, THANKS_HOURS * 3600)
    return render("signed_up.html", lang, mail=mail, ref=ref, code=code)


def remember_browser(request: Request, response: HTMLResponse, parts: Participation,
                     signup_id: str) -> None:
    """The sign-up's browser keeps a mark of it (HttpOnly, SameSite=Lax, path /signup, Secure
    when the hub is https), so that its confirmation's POST needs no code; a mail scanner,
    which has no such cookie, cannot take the card."""
    marks = [m for m in (request.cookies.get(BROWSER_COOKIE) or "").split(".")
             if re.fullmatch(r"[0-9a-f]{24}", m)]
    mark = parts.browser_mark(signup_id)
    marks = ([m for m in marks if m != mark] + [mark])[-BROWSER_MARKS:]
    hours = parts.hub.settings.confirm_link_hours
    response.set_cookie(BROWSER_COOKIE, ".".join(marks), max_age=hours * 3600 + 600,
                        path="/signup", httponly=True, samesite="lax",
                        secure=parts.hub.settings.public_url.startswith("https://"))


def card_page(parts: Participation, lang: str, card) -> HTMLResponse:
    """The page with the card (nothing keeps it). Its language links post the card back
    (/signup/card), so that changing language keeps it shown."""
    import base64
    text = parts.card_text(card)
    svg = str(qr_svg(text)).replace('role="img" aria-hidden="true" ', "", 1)
    image = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    return render("card.html", lang, code=card.typed, qr=qr_svg(text), card_text=text,
                  consultation=card.consultation_id, image=image)


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request, hub: HubDep):
    refused = limited(request, "public")
    if refused is not None:
        return refused
    lang = request_lang(request)
    token = request.query_params.get("t")
    claims, problem = link_state(hub.participation, token)
    return render("signup.html", lang, **form_context(
        hub, lang, claims, token, problem, {}, {}, secrets.token_urlsafe(18)))


@router.post("/signup", response_class=HTMLResponse)
async def signup_submit(request: Request, hub: HubDep):
    parts = hub.participation
    lang = request_lang(request)
    body = await request.body()
    if len(body) > FORM_MAX_BYTES:
        return render("message.html", lang, 413, title=N_("The form is too large."),
                      text=N_("Go back and shorten what you typed."))
    try:
        form = await request.form()
    except Exception:   # a malformed body: the resident only needs a clear page
        form = {}
    values = {k: form.get(k) if isinstance(form.get(k), str) else None
              for k in ("name", "contact", "consent", "age_bracket", "neighbourhood", "t",
                        "k", "lang", "switch_lang")}
    lang = values["lang"] if values["lang"] in LANGS else lang
    token = values["t"] or None
    claims, problem = link_state(parts, token)
    if values["switch_lang"] in LANGS:
        # A language button of the form: the same form in that language, with what was
        # typed; nothing is recorded.
        refused = limited(request, "public")
        if refused is not None:
            return refused
        lang = values["switch_lang"]
        key = values["k"] if is_record_id(values["k"], min_length=16) else secrets.token_urlsafe(18)
        return render("signup.html", lang, **form_context(
            hub, lang, claims, token, problem, values, {}, key))
    refused = limited(request, "signup")
    if refused is not None:
        return refused
    if claims and claims.get("device"):     # one tablet's QR, photographed and replayed
        refused = limited(request, "signup_device", "device:" + str(claims["device"]))
        if refused is not None:
            return refused
    key = values["k"] or ""
    if not is_record_id(key, min_length=16):
        key = secrets.token_urlsafe(18)
        _ = translator(lang)
        return render("signup.html", lang, 400, **form_context(
            hub, lang, claims, token, problem, values,
            {"form": _(N_("The form expired: send it again."))}, key))
    try:
        # In a worker thread: the confirmation email is sent before the page says so.
        row, created, mail = await run_in_threadpool(
            parts.register, values, submission_key=key, claims=claims, lang=lang,
            mail_limit=lambda who: request.app.state.limits.hit("cards", "contact:" + who))
    except ValidationError as exc:
        # Every field at fault at once (signup_problems), else the one the hub refused.
        from app.signup import signup_problems
        config = parts.config((claims or {}).get("consultation"))
        problems = signup_problems(config, values) or [exc]
        if not any(p.field == exc.field for p in problems):
            problems.insert(0, exc)
        errors = {}
        for found in problems:
            errors.setdefault(found.field or "form", found.describe(translator(lang)))
        return render("signup.html", lang, 422, **form_context(
            hub, lang, claims, token, problem, values, errors, key))
    log.info("sign-up recorded (site %s, %s)", row["site_id"] or "none",
             "new" if created else "repeated form")
    if row["contact_kind"] != "email":
        return signed_up_page(hub, lang, mail)
    response = signed_up_page(hub, lang, mail, code=parts.confirm_code(row["id"]))
    remember_browser(request, response, parts, row["id"])
    return response


@router.get("/signup/thanks", response_class=HTMLResponse)
def signed_up_again(request: Request, hub: HubDep):
    """The page after the form, in another language: `r` names only what became of the
    email (signed by this hub, a few hours); nothing is read or written."""
    from ..signing import TokenError, verify
    refused = limited(request, "public")
    if refused is not None:
        return refused
    lang = request_lang(request)
    try:
        claims = verify(request.query_params.get("r"), hub.settings.secret_key)
        if claims.get("purpose") != "signed-up" or claims.get("mail") not in (
                *MAIL_OUTCOMES, ""):
            raise TokenError(N_("This link is not valid."))
    except TokenError as exc:
        return render("message.html", lang, 400, title=exc.message,
                      text=N_("To vote where one vote per person is asked, ask for a "
                              "participation card at the meeting."))
    code = claims.get("code")
    return signed_up_page(hub, lang, claims["mail"],
                          code=code if isinstance(code, str) and code.isalnum() else None)


CONFIRM_PROBLEM = N_("Confirmation links are valid for a few hours only. Sign up again from "
                     "the QR code, or ask the facilitator.")


@router.get("/signup/confirm", response_class=HTMLResponse)
def confirm_page(request: Request, hub: HubDep):
    """The emailed link: a page with one button, and nothing else happens. Mail scanners open
    links before the resident does; only the button's POST confirms and shows the card."""
    refused = limited(request, "public")
    if refused is not None:
        return refused
    lang = request_lang(request)
    token = request.query_params.get("t")
    try:
        signup_id = hub.participation.confirmation_claims(token)
    except DomainError as exc:
        return render("message.html", lang, 400, title=exc.message, text=CONFIRM_PROBLEM)
    same_browser = hub.participation.may_confirm(
        signup_id, request.cookies.get(BROWSER_COOKIE), None)
    return render("confirm.html", lang, token=token, need_code=not same_browser)


@router.post("/signup/card", response_class=HTMLResponse)
async def card_again(request: Request, hub: HubDep):
    """The card page in another language: the page posts back the card it shows (its QR
    text, signed by this hub), and gets it again. Nothing is read or written: a card
    that is not this hub's, or not of that consultation, gets a notice."""
    from app.cards import CardError, read_card
    refused, form, lang = await public_form(request, FORM_MAX_BYTES)
    if refused is not None:
        return refused
    try:
        card = read_card(form.get("card"), str(form.get("c") or "")[:64],
                         hub.participation.public_key)
    except CardError as exc:
        return render("message.html", lang, 400, title=exc.message,
                      text=N_("Your participation card is on the page you had open. If you "
                              "lost it, ask for one at the meeting."))
    return card_page(hub.participation, lang, card)


@router.post("/signup/confirm", response_class=HTMLResponse)
async def confirm(request: Request, hub: HubDep):
    refused, form, lang = await public_form(request, FORM_MAX_BYTES)
    if refused is not None:
        return refused
    try:
        done = await run_in_threadpool(
            lambda: hub.participation.confirm(form.get("t"), gate=True, code=form.get("code"),
                                              marks=request.cookies.get(BROWSER_COOKIE)))
    except CodeNeeded as exc:
        problem = None
        if str(form.get("code") or "").strip():
            # A wrong code: counted per sign-up (a link's code cannot be guessed in its life).
            refused = limited(request, "login", "confirm-code:" + exc.signup_id)
            if refused is not None:
                return refused
            problem = N_("This code is not the one shown after your sign-up. Check it, or "
                         "ask for a participation card at the meeting.")
        return render("confirm.html", lang, 400 if problem else 200, token=form.get("t"),
                      need_code=True, problem=problem)
    except DomainError as exc:
        return render("message.html", lang, getattr(exc, "status", 400), title=exc.message,
                      text=CONFIRM_PROBLEM)
    asked = form.get("lang")
    lang = asked if asked in LANGS else done.row["lang"]
    if done.card is not None:
        return card_page(hub.participation, lang, done.card)
    text = {"already_shown": N_("Your participation card was already shown once from this "
                                "link and cannot be shown again. If you never saw it, your "
                                "mailbox's security filter may have opened the link "
                                "automatically before you: ask for a card at the meeting and "
                                "say so. If you lost it, ask for one at the meeting too."),
            "contact_has_card": N_("A participation card was already given for this email "
                                   "address. If you lost it, ask for one at the meeting."),
            }.get(done.status, N_("To vote where one vote per person is asked, ask for a "
                                  "participation card at the meeting."))
    return render("message.html", lang, title=N_("Your email address is confirmed"),
                  text=text)


@router.get("/ideas/{short_code}", response_class=HTMLResponse)
def idea_page(request: Request, hub: HubDep, short_code: str):
    refused = limited(request, "public")
    if refused is not None:
        return refused
    lang = request_lang(request)
    found = []
    if _SHORT_CODE.match(short_code):
        # `d`: the alias of the tablet that printed the receipt, for a code another tablet
        # also made (codes are made offline).
        alias = request.query_params.get("d")
        found = ideas_by_code(
            hub, short_code, alias if alias and _ALIAS.match(alias) else None)
    if not found:
        return render("message.html", lang, 404, title=N_("Unknown idea."),
                      text=N_("Check the code on your receipt: it has 6 letters and "
                              "digits."))
    if len(found) > 1:
        return render("message.html", lang, 409, title=N_("Several ideas have this code."),
                      text=N_("Scan the QR code of your receipt to open your own idea, or ask "
                              "the facilitator."))
    idea = found[0]
    consultation = hub.consultation(idea["consultation_id"])
    # The city's answer as made in Decidim, in the reader's language where it has one.
    answer_text = city_answer(hub.engine, idea["id"], lang, idea["lang"]) \
        or idea["answer_text"]
    return render("idea.html", lang, idea=idea, answer_text=answer_text,
                  public=idea["status"] == "approved",
                  consultation_title=localized(consultation.title, lang)
                  if consultation else "",
                  moderation=MODERATION_LABELS.get(idea["status"], ""),
                  answer=ANSWER_LABELS.get(idea["answer_status"] or "", ""))
