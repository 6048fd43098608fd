"""The staff dashboard: participants, sign-ups, conversion and ideas per site and meeting, as an
HTML page and as CSV/JSON exports. Staff only: the admin token, typed once in a login form that
opens a session, or `Authorization: Bearer` for scripts. Never `?token=`: an address ends up in
proxy logs, browser history and Referer headers.

Sessions are rows of the hub's database (`staff_sessions`), not memory: several API processes
on one PostgreSQL must all know a session, and a restart must not keep a stolen one alive past
its expiry nor lose a good one. The cookie holds a random ID (its SHA-256 is stored), HttpOnly,
SameSite=Strict, Secure behind TLS (PIAZZETTA_HUB_SECURE_COOKIES). Every form carries a token
(CSRF): the login form's is also in a short-lived cookie (double submit: before login there is
no session to keep it in); the logout form's is the session's own.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import time

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import delete, select

from app.errors import N_
from app.model import localized

from .. import db
from ..errors import HubError
from ..hub import same_secret
from ..limits import client_address
from ..pages import SECURITY_HEADERS, read_form, render, request_lang, translator
from .deps import HubDep

COOKIE = "piazzetta_staff"          # the session's random ID
LOGIN_COOKIE = "piazzetta_login"    # the login form's token, until the session exists
FIGURE_COLUMNS = ("consultation_id", "site_id", "meeting_id", "participants", "signups",
                  "confirmed", "conversion", "ideas", "room_cards")


router = APIRouter(include_in_schema=False)


def _id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


def session_of(hub, request: Request) -> dict | None:
    """The live session named by the request's cookie, or None."""
    session_id = request.cookies.get(COOKIE)
    if not session_id or len(session_id) > 100:
        return None
    with hub.engine.connect() as conn:
        row = conn.execute(select(db.staff_sessions).where(
            db.staff_sessions.c.id_hash == _id_hash(session_id))).first()
    if row is None or row.expires_at <= time.time():
        return None
    return dict(row._mapping)


def is_staff(hub, request: Request) -> bool:
    if session_of(hub, request) is not None:
        return True
    authorization = request.headers.get("authorization") or ""
    return authorization.startswith("Bearer ") and same_secret(
        authorization[7:].strip(), hub.settings.admin_token)


def token_in_address(request: Request, lang: str) -> HTMLResponse | None:
    if "token" not in request.query_params:
        return None
    return render("message.html", lang, 400,
                  title=N_("The staff token does not go in the address."),
                  text=N_("Open the dashboard without it and type the token in its form."))


def _cookie(response: Response, hub, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict",
                        secure=hub.settings.secure_cookies, path="/dashboard")


def login(hub, lang: str, status: int = 200, error: str | None = None) -> HTMLResponse:
    csrf = secrets.token_urlsafe(24)
    response = render("login.html", lang, status, error=error, csrf=csrf)
    _cookie(response, hub, LOGIN_COOKIE, csrf, 3600)
    return response


def _limited(request: Request, hub, lang: str) -> HTMLResponse | None:
    try:
        request.app.state.limits.hit(
            "login", client_address(request.scope, hub.settings.trusted_proxies))
    except HubError as exc:
        return refused_page(lang, exc)
    return None


def refused_page(lang: str, exc: HubError) -> HTMLResponse:
    """A 429 as a page: the message with its seconds, and Retry-After."""
    response = render("message.html", lang, exc.status, title=exc.describe(translator(lang)),
                      text=N_("Wait a moment, then try again."))
    response.headers.update(exc.headers or {})
    return response


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, hub: HubDep):
    lang = request_lang(request)
    refused = token_in_address(request, lang)
    if refused is not None:
        return refused
    session = session_of(hub, request)
    if session is None and not is_staff(hub, request):
        return login(hub, lang, 401)
    consultation_id = request.query_params.get("consultation") or None
    rows = hub.participation.figures(consultation_id)
    sites = {s["id"]: localized(s["name"], lang) for s in hub.sites()}
    totals = {k: sum(r[k] for r in rows) for k in ("participants", "phones", "signups",
                                                   "confirmed", "ideas")}
    totals["conversion"] = (round(totals["signups"] / totals["participants"], 3)
                            if totals["participants"] else None)
    from ..relay import relay_summary     # hub to hub: the "Room hubs" section
    from .closings import dashboard_closings   # closing records (server/closing.py)
    cards = [hub.participation.card_counts(c["id"]) for c in hub.consultations()
             if consultation_id in (None, c["id"])]
    from ..connectors import outbox       # the Decidim connector's queue
    queued = outbox.queue(hub.engine, consultation_id)
    decidim = {"queue": queued, "counts": outbox.queue_counts(queued)} \
        if queued else None
    decidim_files = [c["id"] for c in hub.consultations() if consultation_id in (None, c["id"])]
    # Meetings and consultations by their titles (and a meeting's time), never their IDs.
    meetings, titles = {}, {}
    for c in hub.consultations():
        found = hub.consultation(c["id"])
        if found is not None:
            titles[found.id] = localized(found.title, lang) or found.id
            meetings.update({(found.id, m.id): m for m in found.meetings})
    return render("dashboard.html", lang, rows=rows, sites=sites, totals=totals, decidim=decidim,
                  decidim_files=decidim_files, meetings=meetings, titles=titles,
                  csrf=session["csrf"] if session else None, relays=relay_summary(hub),
                  room_cards=hub.participation.room_cards(consultation_id),
                  cards=[c for c in cards if c["printed"] or c["pool_made"]],
                  closing_section=dashboard_closings(hub, consultation_id))


@router.post("/dashboard/login", response_class=HTMLResponse)
async def do_login(request: Request, hub: HubDep):
    lang = request_lang(request)
    refused = token_in_address(request, lang) or _limited(request, hub, lang)
    if refused is not None:
        return refused
    form = await read_form(request)
    expected = request.cookies.get(LOGIN_COOKIE) or ""
    if not expected or not same_secret(form.get("csrf", ""), expected):
        return login(hub, lang, 403, N_("The form expired: send it again."))
    if not same_secret(form.get("token", "").strip(), hub.settings.admin_token):
        return login(hub, lang, 401, N_("This staff token is not right."))
    session_id, now = secrets.token_urlsafe(32), time.time()
    hours = max(1, hub.settings.session_hours)
    with hub.writer.begin() as conn:
        conn.execute(delete(db.staff_sessions).where(db.staff_sessions.c.expires_at <= now))
        conn.execute(db.staff_sessions.insert(), [{
            "id_hash": _id_hash(session_id), "csrf": secrets.token_urlsafe(24),
            "expires_at": now + hours * 3600}])
    response = RedirectResponse(f"/dashboard?lang={lang}", status_code=303)
    _cookie(response, hub, COOKIE, session_id, hours * 3600)
    response.delete_cookie(LOGIN_COOKIE, path="/dashboard")
    return response


@router.post("/dashboard/logout", response_class=HTMLResponse)
async def do_logout(request: Request, hub: HubDep):
    lang = request_lang(request)
    session = session_of(hub, request)
    form = await read_form(request)
    if session is None or not same_secret(form.get("csrf", ""), session["csrf"]):
        return login(hub, lang, 403, N_("The form expired: send it again."))
    with hub.writer.begin() as conn:
        conn.execute(delete(db.staff_sessions).where(
            db.staff_sessions.c.id_hash == session["id_hash"]))
    response = RedirectResponse(f"/dashboard?lang={lang}", status_code=303)
    response.delete_cookie(COOKIE, path="/dashboard")
    return response


@router.post("/dashboard/closings", response_class=HTMLResponse)
async def dashboard_close(request: Request, hub: HubDep):
    """The dashboard's \"Close the meeting\" button (server/closing.py)."""
    from ..closing import make_for
    lang = request_lang(request)
    session = session_of(hub, request)
    form = await read_form(request, 4096)
    if session is None or not same_secret(form.get("csrf", ""), session["csrf"]):
        return login(hub, lang, 403, N_("The form expired: send it again."))
    try:
        row = make_for(hub, meeting_id=form.get("meeting_id") or None,
                       consultation_id=form.get("consultation_id") or None,
                       site_id=form.get("site_id") or None, day=form.get("day") or None)
    except HubError as exc:
        return render("message.html", lang, exc.status, title=exc.describe(translator(lang)),
                      text=N_("Go back to the dashboard and try again."))
    return RedirectResponse(f"/closing/{row['id']}?lang={lang}", status_code=303,
                            headers=SECURITY_HEADERS)


@router.get("/dashboard/figures.{fmt}")
def export(request: Request, hub: HubDep, fmt: str):
    if "token" in request.query_params:
        return Response("the staff token does not go in the address\n", status_code=400,
                        media_type="text/plain", headers=SECURITY_HEADERS)
    if not is_staff(hub, request):
        return Response("staff only\n", status_code=401, media_type="text/plain",
                        headers=SECURITY_HEADERS)
    rows = hub.participation.figures(request.query_params.get("consultation") or None)
    response = figures_response(rows, fmt)
    response.headers.update({**SECURITY_HEADERS, "Cache-Control": "no-store"})
    return response


def figures_response(rows: list[dict], fmt: str) -> Response:
    if fmt == "json":
        return Response(json.dumps({"figures": rows}, ensure_ascii=False, indent=1),
                        media_type="application/json")
    if fmt == "csv":
        return Response(figures_csv(rows), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="figures.csv"'})
    return Response("csv or json\n", status_code=404, media_type="text/plain")


def figures_csv(rows: list[dict]) -> str:
    from ..tabular import csv_text
    return csv_text(FIGURE_COLUMNS, ({k: "" if row.get(k) is None else row[k]
                                      for k in FIGURE_COLUMNS} for row in rows),
                    lineterminator="\n")


@router.get("/dashboard/decidim/{consultation_id}/{name}")
def decidim_file(request: Request, hub: HubDep, consultation_id: str, name: str):
    """An import file for the consultation's Decidim (server/connectors/files.py)."""
    from ..connectors.files import FILES, config_for, import_file
    if "token" in request.query_params:
        return Response("the staff token does not go in the address\n", status_code=400,
                        media_type="text/plain", headers=SECURITY_HEADERS)
    if not is_staff(hub, request):
        return Response("staff only\n", status_code=401, media_type="text/plain",
                        headers=SECURITY_HEADERS)
    which, _dot, extension = name.partition(".")
    if which not in FILES or extension != ("html" if which == "meeting" else "csv") \
            or hub.consultation(consultation_id) is None:
        return Response("not found\n", status_code=404, media_type="text/plain",
                        headers=SECURITY_HEADERS)
    text = import_file(hub, config_for(hub, consultation_id), which)
    media = "text/html" if which == "meeting" else "text/csv"
    return Response(text, media_type=f"{media}; charset=utf-8",
                    headers={**SECURITY_HEADERS, "Cache-Control": "no-store",
                             "Content-Disposition":
                                 f'attachment; filename="decidim-{consultation_id}-{name}"'})


@router.get("/dashboard/consul/{consultation_id}/{name}")
def consul_file_download(request: Request, hub: HubDep, consultation_id: str, name: str):
    """Per booth and date, what CONSUL's officers enter (server/connectors/consul.py)."""
    from ..connectors.consul import FILES, consul_file
    if "token" in request.query_params:
        return Response("the staff token does not go in the address\n", status_code=400,
                        media_type="text/plain", headers=SECURITY_HEADERS)
    if not is_staff(hub, request):
        return Response("staff only\n", status_code=401, media_type="text/plain",
                        headers=SECURITY_HEADERS)
    which, _dot, extension = name.partition(".")
    if which not in FILES or extension != "csv" or hub.consultation(consultation_id) is None:
        return Response("not found\n", status_code=404, media_type="text/plain",
                        headers=SECURITY_HEADERS)
    lang = request_lang(request)
    return Response(consul_file(hub, consultation_id, which, lang),
                    media_type="text/csv; charset=utf-8",
                    headers={**SECURITY_HEADERS, "Cache-Control": "no-store",
                             "Content-Disposition":
                                 f'attachment; filename="consul-{consultation_id}-{name}"'})
