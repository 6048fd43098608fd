"""The staff dashboard: participants, sign-ups, conversion and ideas per site and meeting, as an
HTML page and as CSV/JSON exports. Staff only: the admin token, typed once in a login form
(kept in an HttpOnly cookie), or given as `?token=` / `Authorization: Bearer`."""
from __future__ import annotations

import csv
import io
import json
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.errors import N_
from app.model import localized

from .hub import same_secret
from .routes.deps import HubDep
from .signup import render, request_lang

COOKIE = "piazzetta_staff"
FIGURE_COLUMNS = ("consultation_id", "site_id", "meeting_id", "participants", "signups",
                  "confirmed", "conversion", "ideas")


router = APIRouter(include_in_schema=False)


def is_staff(hub, request: Request) -> bool:
    token = (request.query_params.get("token") or request.cookies.get(COOKIE) or "")
    if not token and (request.headers.get("authorization") or "").startswith("Bearer "):
        token = request.headers["authorization"][7:].strip()
    return same_secret(token, hub.settings.admin_token)


def login(lang: str, status: int = 200, error: str | None = None) -> HTMLResponse:
    return render("login.html", lang, status, error=error)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, hub: HubDep):
    lang = request_lang(request)
    if not is_staff(hub, request):
        return login(lang, 401)
    consultation_id = request.query_params.get("consultation") or None
    rows = hub.participation.figures(consultation_id)
    sites = {s["id"]: localized(s["name"], lang) for s in hub.sites()}
    totals = {k: sum(r[k] for r in rows) for k in ("participants", "signups", "confirmed",
                                                   "ideas")}
    totals["conversion"] = (round(totals["signups"] / totals["participants"], 3)
                            if totals["participants"] else None)
    return render("dashboard.html", lang, rows=rows, sites=sites, totals=totals)


@router.post("/dashboard/login", response_class=HTMLResponse)
async def do_login(request: Request, hub: HubDep):
    lang = request_lang(request)
    form = await request.form()
    token = form.get("token") if isinstance(form.get("token"), str) else ""
    if not same_secret(token.strip(), hub.settings.admin_token):
        return login(lang, 401, N_("This staff token is not right."))
    response = RedirectResponse(f"/dashboard?lang={lang}", status_code=303)
    response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict",
                        secure=hub.settings.public_url.startswith("https://"),
                        max_age=12 * 3600)
    return response


@router.get("/dashboard/figures.{fmt}")
def export(request: Request, hub: HubDep, fmt: str):
    if not is_staff(hub, request):
        return Response("staff only\n", status_code=401, media_type="text/plain")
    rows = hub.participation.figures(request.query_params.get("consultation") or None)
    return figures_response(rows, fmt)


def figures_response(rows: list[dict], fmt: str) -> Response:
    if fmt == "json":
        return Response(json.dumps({"figures": rows}, ensure_ascii=False, indent=1),
                        media_type="application/json")
    if fmt == "csv":
        return Response(figures_csv(rows), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="figures.csv"'})
    return Response("csv or json\n", status_code=404, media_type="text/plain")


def figures_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, FIGURE_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in FIGURE_COLUMNS})
    return out.getvalue()
