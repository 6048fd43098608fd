"""The dashboard's sheet upload (issue 17), pages for staff in a browser (template upload.html):

    GET  /dashboard/upload          the form: the .xlsx or .ods alone, or a .zip with its images
    GET  /dashboard/upload/template.zip  the demo as a .zip to start from
    POST /dashboard/upload          the check: every problem (sheet, row, column), or a summary
                                    and the button "Import as version N"
    POST /dashboard/upload/import   the import, once (server.uploads.import_kept)

A staff session only (the dashboard's login), each form carrying the session's CSRF token, and
the upload rate-limited per session (`rate_upload`). server.body.Guard checks the session
before reading one byte of the upload and bounds it; its refusals on these paths come back as
pages (error_page), not JSON. The work is server.uploads'.
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from app.errors import N_, DomainError

from .. import uploads
from ..body import BodyTimeout, BodyTooLarge
from ..errors import HubError
from ..hub import same_secret
from ..pages import SECURITY_HEADERS, render, request_lang, translator
from ..sheets import SheetError
from .dashboard import login, refused_page, session_of, token_in_address
from .deps import HubDep

PATH = "/dashboard/upload"
FIELD = "sheet"     # the file input's name

router = APIRouter(include_in_schema=False)

KIND_LABELS = {"colour": N_("Colour vote on projects"), "yes_no": N_("Yes or no"),
               "scale": N_("Scale of five"), "choice": N_("Choice among options"),
               "ranking": N_("Ranking"), "budget": N_("Budget to share"),
               "open": N_("Open answer"), "place": N_("Place on the map")}
LANGUAGE_NAMES = {"fr": N_("French"), "it": N_("Italian"), "en": N_("English")}


def _page(lang: str, status: int = 200, **context) -> HTMLResponse:
    context.setdefault("limit_mb", uploads.UPLOAD_MAX_BYTES // uploads.MB)
    return render("upload.html", lang, status, path=PATH, kind_labels=KIND_LABELS,
                  language_names=LANGUAGE_NAMES, **context)


def _problem_rows(problems, lang: str) -> list[dict]:
    _ = translator(lang)
    return [{"sheet": p.sheet, "row": p.row, "column": p.column, "letter": p.letter,
             "message": p.text(_, lang)} for p in problems]


def _error_text(error: DomainError, lang: str) -> str:
    if isinstance(error, SheetError):
        return error.describe(translator(lang), lang)
    return error.describe(translator(lang))


def error_page(request: Request, error: DomainError, status: int) -> HTMLResponse:
    """server.body.Guard's refusals (no session, too large, too slow) as pages."""
    lang = request_lang(request)
    if status == 401:
        return login(request.app.state.hub, lang, 401)
    if status == 413:
        error = HubError(N_("The file is too large: at most {limit} MB are accepted."),
                         status=413, limit=str(uploads.UPLOAD_MAX_BYTES // uploads.MB))
    session = session_of(request.app.state.hub, request)     # the form again, to try another
    response = _page(lang, status, csrf=session["csrf"] if session else None,
                     error=_error_text(error, lang))
    response.headers["Connection"] = "close"
    return response


@router.get(PATH, response_class=HTMLResponse)
def upload_form(request: Request, hub: HubDep):
    lang = request_lang(request)
    refused = token_in_address(request, lang)
    if refused is not None:
        return refused
    session = session_of(hub, request)
    if session is None:
        return login(hub, lang, 401)
    uploads.sweep(hub)      # expired checks go at the next visit too, not only the next upload
    return _page(lang, csrf=session["csrf"])


async def _staff(request: Request, hub) -> tuple[str, dict | None, HTMLResponse | None]:
    """The page's language and the staff session, or the page that refuses: a token in the
    address, or no session (the login page)."""
    lang = request_lang(request)
    refused = token_in_address(request, lang)
    if refused is not None:
        return lang, None, refused
    session = await run_in_threadpool(session_of, hub, request)
    if session is None:
        return lang, None, login(hub, lang, 401)
    return lang, session, None


async def _read_form(request: Request) -> dict:
    try:
        form = await request.form(max_files=1, max_fields=8)
    except (BodyTooLarge, BodyTimeout):
        raise
    except Exception:        # a malformed body is a form without fields
        return {}
    return dict(form.items())


@router.post(PATH, response_class=HTMLResponse)
async def upload_check(request: Request, hub: HubDep):
    lang, session, refused = await _staff(request, hub)
    if refused is not None:
        return refused
    try:
        await run_in_threadpool(request.app.state.limits.hit, "upload", session["id_hash"])
    except HubError as exc:
        return refused_page(lang, exc)
    form = await _read_form(request)
    csrf = form.get("csrf")
    if not isinstance(csrf, str) or not same_secret(csrf, session["csrf"]):
        return _page(lang, 403, csrf=session["csrf"],
                     error=translator(lang)(N_("The form expired: send it again.")))
    upload = form.get(FIELD)
    if not isinstance(upload, UploadFile):
        return _page(lang, 400, csrf=session["csrf"], error=translator(lang)(N_(
            "Choose the spreadsheet (.xlsx or .ods), or a .zip holding it and its images.")))
    content = await upload.read(uploads.UPLOAD_MAX_BYTES + 1)
    await upload.close()
    checked = await run_in_threadpool(uploads.check, hub, content)
    name = (upload.filename or "")[:120]
    if checked.problems:
        return _page(lang, 422, csrf=session["csrf"], filename=name,
                     problems=_problem_rows(checked.problems, lang), count=checked.count,
                     warnings=_problem_rows(checked.warnings, lang))
    token = None
    if not checked.summary["same"]:
        token = await run_in_threadpool(uploads.keep, hub, session["id_hash"], checked)
    return _page(lang, csrf=session["csrf"], filename=name, summary=checked.summary,
                 token=token, minutes=uploads.KEEP_MINUTES,
                 warnings=_problem_rows(checked.warnings, lang))


@router.post(PATH + "/import", response_class=HTMLResponse)
async def upload_import(request: Request, hub: HubDep):
    lang, session, refused = await _staff(request, hub)
    if refused is not None:
        return refused
    form = await _read_form(request)
    csrf, token = form.get("csrf"), form.get("token")
    if not isinstance(csrf, str) or not same_secret(csrf, session["csrf"]):
        return _page(lang, 403, csrf=session["csrf"],
                     error=translator(lang)(N_("The form expired: send it again.")))
    try:
        consultation_id, version, _imported_now = await run_in_threadpool(
            uploads.import_kept, hub, session["id_hash"], token)
    except DomainError as exc:
        return _page(lang, getattr(exc, "status", 409), csrf=session["csrf"],
                     error=_error_text(exc, lang))
    # After a POST, a page one can reload: the import's outcome, by its ID and version.
    return RedirectResponse(
        f"{PATH}/done?lang={lang}&consultation={consultation_id}&version={version}",
        status_code=303)


@router.get(PATH + "/template.zip")
def upload_template(request: Request, hub: HubDep):
    """The demo consultation as a .zip to start from: its spreadsheet, images and map files,
    laid out as the upload expects them."""
    session = session_of(hub, request)
    if session is None:
        return login(hub, request_lang(request), 401)
    return Response(uploads.demo_zip(), media_type="application/zip", headers={
        **SECURITY_HEADERS, "Cache-Control": "no-store",
        "Content-Disposition": 'attachment; filename="piazzetta-consultation.zip"'})


@router.get(PATH + "/done", response_class=HTMLResponse)
def upload_done(request: Request, hub: HubDep):
    lang = request_lang(request)
    session = session_of(hub, request)
    if session is None:
        return login(hub, lang, 401)
    consultation = hub.consultation(request.query_params.get("consultation", "")[:64])
    try:
        version = int(request.query_params.get("version", "0")[:12])
    except ValueError:
        version = 0
    if consultation is None or version < 1:
        return _page(lang, 404, csrf=session["csrf"], error=translator(lang)(N_("Not found.")))
    return _page(lang, csrf=session["csrf"], done={
        "id": consultation.id, "version": version, "current": consultation.version,
        "title": dict(consultation.title)})
