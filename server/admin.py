"""The hub's command line: `python -m server` serves; its subcommands are the staff's tools.

    python -m server [serve]                       start the hub (settings from the environment)
    python -m server serve --workers N             N hub processes on the port (PostgreSQL only)
    python -m server migrate-to-postgres --from HUB.sqlite3 --to URL   an SQLite hub's database
                                                   copied into an empty PostgreSQL one
    python -m server admin-token                   print the staff token for the admin API
    python -m server create-site ID --name "…" [--name-it "…"] [--town T]
    python -m server import-bundle FOLDER          import (or update) a consultation bundle
    python -m server consultations                 list consultations
    python -m server draft upload FOLDER --device ID [--device ID …]   a draft version tried
                                                   only by these tablets, in rehearsal; the
                                                   published version is untouched
    python -m server draft list | draft remove CONSULTATION_ID
    python -m server enroll-code [--site ID] [--device DEVICE_ID] [--minutes 15] [--png FILE]
                                                   --device: a staff code for that device only,
                                                   which enrolls it again (revoked, or under
                                                   credentials the tablet lost)
    python -m server devices                       list devices
    python -m server revoke DEVICE_ID              revoke a device at once
    python -m server reinstate DEVICE_ID           lift a revocation
    python -m server relay-move DEVICE_ID --relay RELAY_ID   a device's events now come
                                                   through that room hub (hub to hub)
    python -m server ideas [--consultation ID]     list ideas with moderation and answer
    python -m server answer-idea ID_OR_CODE --status accepted [--text "…"]
                                                   a short code several ideas share is refused
                                                   with their IDs: answer by ID
    python -m server export results|ideas --consultation ID [--format csv|json] [--output F]
                                                   ideas: approved ones, as published; --all
                                                   for staff: every idea with its moderation
    python -m server export places|areas --consultation ID [--format geojson|csv] [--output F]
                                                   places: answers per point rounded to the
                                                   map's export_decimals (GeoJSON), approved
                                                   ideas in Decidim's import columns (CSV);
                                                   areas: the perimeter with counts per area
    python -m server export decidim --consultation ID
                                   [--file proposals|answers|paper_ballots|meeting]
                                                   Decidim's import files, the closing report
    python -m server export consul --consultation ID [--file results|recounts] [--lang L]
                                                   per booth and date, as CONSUL's officers
                                                   enter them (docs/connectors.md)
    python -m server decidim-close-meeting --consultation ID [--lang fr|it|en]
                                                   closeMeeting, else the closing report
    python -m server conflicts                     events kept for review
    python -m server import-online-counts FILE --consultation ID   online votes per question
    python -m server counts --consultation ID      paper, show-of-hands and online counts
    python -m server cards print --consultation ID --count N [--lang fr|it] -o CARDS.pdf
                                                   participation cards to hand out at the
                                                   door (QR + typed code, 8 an A4 page)
    python -m server cards export --consultation ID -o CARDS.json | cards import CARDS.json
                                                   issued cards (public keys) for another hub
    python -m server cards quota [--consultation ID --site ID --count N|--default]
                                                   cards a site's room hub may make, and made
    python -m server cards count --consultation ID cards printed, made for confirmed sign-ups,
                                                   handed out, void (never handed out)
    python -m server closing make --meeting ID [--consultation ID] | --site ID --day YYYY-MM-DD
                   [-o FILE]                       the signed, chained closing record (JSON)
    python -m server closing verify FILE... [--key PUB]   offline: each file exactly as signed,
                                                   by PUB (default: the key it names), and
                                                   several files chained one after the other
    python -m server closing list | chain | show ID [-o FILE] | pdf ID --lang fr|it -o F.pdf
                                                   chain: every stored closing verified
    python -m server relay-code --site ID          a code that enrolls a room hub (hub to hub,
                                                   server/room.py)
    python -m server relays [--format csv|json]    what each room hub forwarded, and when
    python -m server upstream enroll --url URL --code CODE | status   a room's laptop
    python -m server room [--port P] [--site ID]   the room kit (docs/deploy.md)
    python -m server bundle build SHEET.xlsx|SHEET.ods [--images DIR] --out FOLDER [--lang fr|it|en]
                                                   a consultation from its spreadsheet; exit
                                                   code 0 (warnings printed), 1 problems
    python -m server bundle sheet FOLDER --out SHEET.xlsx   the spreadsheet of a bundle
    python -m server map build AREAS.geojson --name PROP [--id PROP] [--layer F.geojson]
                   [--attribution "…"] [--out map]   a consultation's map from its GeoJSON:
                                                   base map drawn offline, map/map.json
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from app.errors import DomainError
from app.qr import qr_ascii, qr_image

from .settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m server", description="Piazzetta hub",
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__)
    parser.add_argument("--data-dir", default=None, help="overrides PIAZZETTA_HUB_DATA_DIR")
    parser.add_argument("--database-url", default=None,
                        help="overrides PIAZZETTA_HUB_DATABASE_URL")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="start the hub")
    # Answered before parsing (main): listed here for --help.
    sub.add_parser("map", help="a consultation's map from GeoJSON: map build (map --help)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--log-level", default="warning")
    serve.add_argument("--workers", type=int, default=1,
                       help="hub processes on the port (PostgreSQL only; docs/deploy.md)")
    sub.add_parser("admin-token", help="print the staff token")
    move = sub.add_parser("migrate-to-postgres",
                          help="copy a stopped SQLite hub's database into an empty PostgreSQL one")
    move.add_argument("--from", dest="source", required=True, help="the hub's SQLite file")
    move.add_argument("--to", dest="target", required=True,
                      help="postgresql+psycopg://user:password@host/dbname")
    site = sub.add_parser("create-site", help="create or update a site")
    site.add_argument("id")
    site.add_argument("--name", required=True, help="name in French")
    site.add_argument("--name-it", default=None)
    site.add_argument("--name-en", default=None)
    site.add_argument("--town", default="")
    # Authoring tools that need no hub: main() hands their arguments on before this parser
    # reads them; listed here so that --help names them.
    sub.add_parser("bundle", add_help=False,
                   help="a consultation from its spreadsheet (.xlsx, .ods) and back: "
                        "python -m server bundle --help")
    imp = sub.add_parser("import-bundle", help="import a consultation bundle folder")
    imp.add_argument("path", type=Path)
    sub.add_parser("consultations", help="list consultations")
    draft = sub.add_parser("draft", help="draft versions tried on chosen tablets in rehearsal")
    draft_sub = draft.add_subparsers(dest="draft_command", required=True)
    draft_upload = draft_sub.add_parser("upload", help="a bundle folder as a draft version")
    draft_upload.add_argument("path", type=Path)
    draft_upload.add_argument("--device", action="append", required=True, dest="device_ids",
                              help="a tablet's device ID (again for each tablet)")
    draft_sub.add_parser("list", help="the drafts and the tablets trying them")
    draft_remove = draft_sub.add_parser("remove", help="drop a consultation's draft")
    draft_remove.add_argument("consultation_id")
    code = sub.add_parser("enroll-code", help="make an enrollment code (and its QR)")
    code.add_argument("--site", default=None)
    code.add_argument("--device", default=None, dest="device_id",
                      help="a staff code for this device ID only (lifts a revocation)")
    code.add_argument("--minutes", type=int, default=15)
    code.add_argument("--png", type=Path, default=None, help="also save the QR as this PNG")
    code.add_argument("--no-qr", action="store_true", help="do not draw the QR in the terminal")
    sub.add_parser("devices", help="list devices")
    rev = sub.add_parser("revoke", help="revoke a device")
    rev.add_argument("device_id")
    back = sub.add_parser("reinstate", help="lift a device's revocation")
    back.add_argument("device_id")
    move = sub.add_parser("relay-move", help="a device's events now come through that room hub")
    move.add_argument("device_id")
    move.add_argument("--relay", required=True, dest="relay_id")
    ideas = sub.add_parser("ideas", help="list ideas")
    ideas.add_argument("--consultation", default=None)
    ans = sub.add_parser("answer-idea", help="set the status and public answer of an idea")
    ans.add_argument("proposal")
    ans.add_argument("--status", required=True,
                     choices=("received", "under_study", "accepted", "rejected", "done"))
    ans.add_argument("--text", default=None)
    exp = sub.add_parser("export", help="export results or ideas (no personal data)")
    exp.add_argument("what", choices=("results", "ideas", "places", "areas", "decidim",
                                      "consul"))
    exp.add_argument("--consultation", required=True)
    exp.add_argument("--format", choices=("csv", "json", "geojson"), default=None,
                     help="results, ideas: csv (default) or json; places, areas: geojson "
                          "(default) or csv")
    exp.add_argument("--output", type=Path, default=None)
    exp.add_argument("--file", choices=("proposals", "answers", "paper_ballots", "meeting",
                                        "results", "recounts"), default=None,
                     dest="platform_file",
                     help="decidim: an import file in the columns of Decidim's importers "
                          "(proposals, the default; answers), or the meeting's closing report; "
                          "consul: per booth and date, the answers' amounts (results, the "
                          "default) or white/null/total (recounts) (docs/connectors.md)")
    exp.add_argument("--lang", choices=("fr", "it", "en"), default="fr",
                     help="consul: the language of questions and answers")
    close = sub.add_parser("decidim-close-meeting",
                           help="the meeting's outcome to Decidim (closeMeeting), else its "
                                "closing report on standard output")
    close.add_argument("--consultation", required=True)
    close.add_argument("--lang", choices=("fr", "it", "en"), default="fr")
    exp.add_argument("--all", action="store_true", dest="all_ideas",
                     help="ideas: every idea (pending, rejected…) with its moderation and "
                          "original text, for staff; still no contact")
    sub.add_parser("conflicts", help="events kept for review")
    online = sub.add_parser("import-online-counts",
                            help="the central platform's online votes, per question (JSON file)")
    online.add_argument("file", type=Path)
    online.add_argument("--consultation", required=True)
    counts = sub.add_parser("counts", help="paper, show-of-hands and online counts")
    counts.add_argument("--consultation", required=True)
    # Participation cards (server/card_sheet.py).
    cards = sub.add_parser("cards", help="participation cards of the identified ballot mode")
    cards_sub = cards.add_subparsers(dest="cards_command", required=True)
    cards_print = cards_sub.add_parser("print", help="issue cards and write them as a PDF")
    cards_print.add_argument("--consultation", required=True)
    cards_print.add_argument("--count", type=int, required=True)
    cards_print.add_argument("--lang", choices=("fr", "it"), default="fr")
    cards_print.add_argument("-o", "--output", type=Path, required=True)
    cards_export = cards_sub.add_parser(
        "export", help="issued cards' public keys, for another hub (no secrets)")
    cards_export.add_argument("--consultation", required=True)
    cards_export.add_argument("-o", "--output", type=Path, required=True)
    cards_count = cards_sub.add_parser(
        "count", help="cards printed, made for sign-ups, handed out, and void (never handed out)")
    cards_count.add_argument("--consultation", required=True)
    cards_import = cards_sub.add_parser("import", help="another hub's issued cards (export)")
    cards_import.add_argument("file", type=Path)
    cards_quota = cards_sub.add_parser(
        "quota", help="cards a site's room hub may make for a consultation (and has made)")
    cards_quota.add_argument("--consultation")
    cards_quota.add_argument("--site")
    quota_value = cards_quota.add_mutually_exclusive_group()
    quota_value.add_argument("--count", type=int, help="the quota")
    quota_value.add_argument("--default", action="store_true",
                             help="back to PIAZZETTA_HUB_ROOM_CARD_QUOTA")
    # Closing records (server/closing.py).
    closing = sub.add_parser("closing", help="closing records of meetings and site days")
    closing_sub = closing.add_subparsers(dest="closing_command", required=True)
    closing_make = closing_sub.add_parser("make", help="close a meeting or a site's day")
    closing_make.add_argument("--meeting")
    closing_make.add_argument("--consultation")
    closing_make.add_argument("--site")
    closing_make.add_argument("--day")
    closing_make.add_argument("-o", "--output", type=Path)
    closing_verify = closing_sub.add_parser("verify", help="check closing files offline")
    closing_verify.add_argument("files", type=Path, nargs="+")
    closing_verify.add_argument("--key", help="the hub's closing public key (hex)")
    closing_sub.add_parser("list", help="the closings this hub made")
    closing_sub.add_parser("chain", help="verify every stored closing and their chain")
    closing_show = closing_sub.add_parser("show", help="a stored closing's file")
    closing_show.add_argument("id")
    closing_show.add_argument("-o", "--output", type=Path)
    closing_pdf = closing_sub.add_parser("pdf", help="the sheet a facilitator signs (PDF)")
    closing_pdf.add_argument("id")
    closing_pdf.add_argument("--lang", choices=("fr", "it"), default="fr")
    closing_pdf.add_argument("-o", "--output", type=Path, required=True)
    # Hub to hub: relay-code, relays, upstream, room (server/room.py).
    from .room import add_commands as add_room_commands
    add_room_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bundle"]:            # authoring: needs no hub and no data folder
        from .sheets import main_bundle
        return main_bundle(argv[1:])
    if argv[:1] == ["map"]:               # authoring too (server/mapbuild.py)
        from .mapbuild import main_map
        return main_map(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "closing" and args.closing_command == "verify":   # offline: no hub
        return verify_closing_files(args.files, args.key)
    overrides = {k: v for k, v in (("data_dir", args.data_dir),
                                   ("database_url", args.database_url)) if v}
    command = args.command or "serve"
    from .room import COMMANDS as ROOM_COMMANDS     # hub to hub (server/room.py)
    if command in ROOM_COMMANDS:
        from .room import main as room_main
        return room_main(command, args, overrides, serve=serve)
    if command == "migrate-to-postgres":       # no hub: two databases
        from .pgmigrate import MigrationRefused, migrate_to_postgres
        try:
            migrate_to_postgres(args.source, args.target)
        except MigrationRefused as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print("copied: start the hubs with PIAZZETTA_HUB_DATABASE_URL set to it", flush=True)
        return 0
    if command == "serve":
        overrides.update({k: v for k, v in (("host", getattr(args, "host", None)),
                                            ("port", getattr(args, "port", None))) if v})
        settings = Settings.from_env(**overrides)
        if getattr(args, "workers", 1) > 1:
            from .workers import serve_workers
            return serve_workers(settings, args.workers, getattr(args, "log_level", "warning"))
        return serve(settings, getattr(args, "log_level", "warning"))
    from .hub import Hub
    hub = Hub(Settings.from_env(**overrides))
    try:
        return _run(hub, command, args)
    except DomainError as exc:
        print(f"error: {exc.describe()}", file=sys.stderr)
        return 2
    finally:
        hub.close()


def serve(settings: Settings, log_level: str = "warning", on_start=None) -> int:
    """Serve with uvicorn, bounded against slow and many clients (docs/deploy.md, "Limits"):

    - timeout_keep_alive: closes a connection idle between two requests (not a fresh one);
    - header_timeout (server.body.guarded_protocol): a request's head must be complete that
      many seconds after the connection opens or the previous answer ends;
    - body_timeout (server.body.Guard): each chunk of a body within that many seconds, else 408;
    - limit_concurrency: 503 to requests while that many connections or tasks are open;
      max_connections also closes connections over it as they come (descriptors stay bounded),
      and max_connections_per_address those of one address over its share (trusted proxies
      excepted): one client cannot hold them all;
    - h11_max_incomplete_event_size: a request head over 16 KiB is refused (h11 only);
    - the error logs, ours and uvicorn's, at most log_burst lines per kind and log_interval.

    A hub with an upstream (a room's laptop) also runs its forwarder (server.upstream), a
    thread of this process; `on_start(app)` is called before serving (`room`'s status line).
    """
    import uvicorn

    if os.environ.get("PIAZZETTA_HUB_REUSE_PORT") and settings.database_url.startswith("sqlite"):
        # Two processes on one SQLite file would each keep their own tallies and write lock.
        print("error: PIAZZETTA_HUB_REUSE_PORT needs PostgreSQL (PIAZZETTA_HUB_DATABASE_URL): "
              "an SQLite hub runs one process (docs/deploy.md, \"Several processes\")",
              file=sys.stderr)
        return 2
    from .api import create_app
    from .body import guarded_protocol
    from .limits import bound_logs
    app = create_app(settings)
    from .upstream import start_forwarder       # hub to hub: idle until enrolled upstream
    app.state.forwarder = start_forwarder(app.state.hub)
    from .connectors.outbox import start_outbox  # a central hub's Decidim: idle without its file
    app.state.decidim = start_outbox(app.state.hub)
    if on_start is not None:
        on_start(app)
    scheme = "https" if settings.tls_cert else "http"
    print(f"Piazzetta hub on {scheme}://{settings.host}:{settings.port} "
          f"(public URL {settings.public_url}), data in {settings.data_dir}", flush=True)
    # A room hub serves TLS itself, with the certificate it made (server/tls.py); a central
    # hub sits behind a TLS reverse proxy instead (docs/deploy.md).
    tls = {"ssl_certfile": settings.tls_cert, "ssl_keyfile": settings.tls_key} \
        if settings.tls_cert else {}
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level=log_level, access_log=False,
        timeout_graceful_shutdown=5, timeout_keep_alive=settings.keep_alive_timeout,
        limit_concurrency=settings.max_connections, h11_max_incomplete_event_size=16 * 1024,
        http=guarded_protocol(settings.header_timeout, settings.max_connections,
                              settings.max_connections_per_address, settings.trusted_proxies),
        # uvicorn would believe X-Forwarded-For from 127.0.0.1 (FORWARDED_ALLOW_IPS): any local
        # client could then pick its own address for the rate limits. The hub reads it itself,
        # only from PIAZZETTA_HUB_TRUSTED_PROXIES (server.limits.client_address).
        proxy_headers=False, **tls)
    bound_logs(settings.log_burst, settings.log_interval)   # after Config set uvicorn's logging
    server = uvicorn.Server(config)
    from .workers import SignupElsewhere, reuse_port_socket, tell_ready
    if os.environ.get("PIAZZETTA_HUB_READY_FILE"):
        # A process of `serve --workers` (server.workers): SIGHUP is its parent's (the rolling
        # restart). Sent to the whole group (a terminal's hang-up, `kill -HUP -<group>`), its
        # default would kill every process at once, the sign-up one without writing the
        # confirmations it holds (a card shown again from the next one).
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    # A worker of `serve --workers N` (server.workers): the port shared with the others, and
    # the sign-up pages left to the one process that serves them.
    sockets = [reuse_port_socket(settings.host, settings.port)] \
        if os.environ.get("PIAZZETTA_HUB_REUSE_PORT") else None
    if sockets:
        config.app = SignupElsewhere(app)
    tell_ready(server)
    handle_exit = server.handle_exit

    def stop(sig, frame) -> None:
        # The confirmations waiting in memory written first, before /readyz says 503 and the
        # listener closes: the balancer then sends the sign-up pages to another process at
        # once, and a link confirmed here and opened again there must find its card shown.
        try:
            app.state.hub.participation.write_confirmations()
        except Exception:      # noqa: BLE001 - written again when the hub closes
            pass
        # Open results streams end now rather than hold the graceful shutdown to its timeout.
        app.state.streams.close_all()
        handle_exit(sig, frame)
    server.handle_exit = stop
    server.run(sockets=sockets)
    return 0


def _print_json(value) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=1))


def _run(hub, command: str, args) -> int:
    if command == "admin-token":
        print(hub.settings.admin_token)
    elif command == "create-site":
        name = {"fr": args.name}
        if args.name_it:
            name["it"] = args.name_it
        if args.name_en:
            name["en"] = args.name_en
        _print_json(hub.create_site(args.id, name, args.town))
    elif command == "import-bundle":
        consultation = hub.import_bundle(args.path)
        print(f"imported {consultation.id} version {consultation.version}")
    elif command == "consultations":
        _print_json(hub.consultations())
    elif command == "draft":
        if args.draft_command == "upload":
            consultation = hub.content.import_draft(args.path, args.device_ids)
            print(f"draft {consultation.id} version {consultation.version} for "
                  f"{', '.join(sorted(set(args.device_ids)))} (in rehearsal only)")
        elif args.draft_command == "list":
            _print_json(hub.content.drafts())
        elif not hub.content.remove_draft(args.consultation_id):
            print(f"no draft of {args.consultation_id}", file=sys.stderr)
            return 1
    elif command == "enroll-code":
        made = hub.make_enrollment_code(args.site, args.minutes, args.device_id)
        only = f", for device {made['device_id']} only" if made["device_id"] else ""
        print(f"Enrollment code: {made['code']}  (site {made['site_id'] or '-'}{only}, "
              f"valid until {made['expires_at']} UTC, single use)")
        print(f"QR payload: {made['qr']}")
        if not args.no_qr:
            sys.stdout.write(qr_ascii(made["qr"]))
        if args.png:
            args.png.parent.mkdir(parents=True, exist_ok=True)
            save_code_png(made, args.png)
            print(f"QR saved to {args.png}")
    elif command == "devices":
        _print_json(hub.devices())
    elif command == "revoke":
        hub.revoke(args.device_id)
        print(f"revoked {args.device_id}")
    elif command == "reinstate":
        hub.reinstate(args.device_id)
        print(f"reinstated {args.device_id}")
    elif command == "relay-move":
        from .relay import move_registration
        _print_json(move_registration(hub, args.device_id, args.relay_id))
    elif command == "ideas":
        _print_json(hub.proposals(args.consultation))
    elif command == "answer-idea":
        _print_json(hub.answer_proposal(args.proposal, args.status, args.text))
    elif command == "export":
        wrong = {"decidim": ("results", "recounts"),
                 "consul": ("proposals", "answers", "paper_ballots", "meeting")}
        if args.platform_file and (args.what not in wrong
                                   or args.platform_file in wrong[args.what]):
            print(f"error: --file {args.platform_file} is not a file of export {args.what}",
                  file=sys.stderr)
            return 2
        if args.what == "decidim":
            from .connectors.files import import_file, config_for
            text = import_file(hub, config_for(hub, args.consultation),
                               args.platform_file or "proposals")
        elif args.what == "consul":
            from .connectors.consul import consul_file
            from .connectors.files import config_for
            config_for(hub, args.consultation)          # an unknown consultation: refused
            text = consul_file(hub, args.consultation, args.platform_file or "results",
                               args.lang)
        elif args.what in ("places", "areas"):
            from .exports import export_places
            text = export_places(hub, args.what, args.consultation, args.format or "geojson")
        else:
            text = export(hub, args.what, args.consultation,
                          "json" if args.format in ("json", "geojson") else "csv",
                          all_ideas=args.all_ideas)
        from .exports import write_out
        write_out(text, args.output)
    elif command == "decidim-close-meeting":
        from .connectors.files import config_for
        from .connectors.decidim import DecidimRefused, DecidimUnavailable
        from .connectors.meeting import close_meeting
        try:
            done = close_meeting(hub, config_for(hub, args.consultation), args.lang)
        except (DecidimRefused, DecidimUnavailable) as exc:
            print(f"error: Decidim: {exc}", file=sys.stderr)
            return 2
        if done["sent"]:
            print("closed in Decidim")
        else:
            print("this Decidim takes no closeMeeting: paste this closing report into the "
                  "meeting's closing form", file=sys.stderr)
            print(done["report"])
    elif command == "conflicts":
        _print_json(hub.reviews())
    elif command == "import-online-counts":
        from . import channels
        try:
            data = json.loads(args.file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            print(f"error: {args.file}: {exc}", file=sys.stderr)
            return 2
        _print_json(channels.import_online_counts(hub, args.consultation, data))
    elif command == "counts":
        from . import channels
        from .errors import HubError
        from app.errors import N_
        if hub.consultation(args.consultation) is None:
            raise HubError(N_("Unknown consultation."), status=404, code="consultation_unknown")
        _print_json(channels.counts_of(hub, args.consultation))
    elif command == "cards" and args.cards_command == "export":
        rows = hub.participation.export_cards(args.consultation)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps({"cards": rows}, indent=0), encoding="utf-8")
        print(f"{len(rows)} issued cards of {args.consultation}: {args.output}")
    elif command == "cards" and args.cards_command == "quota":
        if args.count is not None or args.default:
            if not (args.consultation and args.site):
                print("error: --consultation and --site name the quota to set", file=sys.stderr)
                return 2
            hub.participation.set_card_quota(args.consultation, args.site,
                                             None if args.default else args.count)
        _print_json({"default": hub.settings.room_card_quota,
                     "quotas": hub.participation.room_cards(args.consultation)})
    elif command == "cards" and args.cards_command == "count":
        # Another process: the running hub's pool is not known here ("waiting" is 0, such
        # cards count as not handed out).
        _print_json(hub.participation.card_counts(args.consultation))
    elif command == "cards" and args.cards_command == "import":
        try:
            data = json.loads(args.file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            print(f"error: {args.file}: {exc}", file=sys.stderr)
            return 2
        _print_json(hub.participation.import_cards(
            data.get("cards") if isinstance(data, dict) else None))
    elif command == "cards":
        from .card_sheet import print_cards
        from .participation import MAX_PRINT
        if not 1 <= args.count <= MAX_PRINT:
            print(f"error: --count must be between 1 and {MAX_PRINT}", file=sys.stderr)
            return 2
        pages = print_cards(hub, args.consultation, args.count, args.lang, args.output)
        print(f"{args.count} participation cards issued for {args.consultation}: "
              f"{args.output} ({pages} pages). Print it, then delete the file.")
    elif command == "closing":
        return closing_command(hub, args)
    return 0


def verify_closing_files(files: list[Path], key: str | None) -> int:
    """`closing verify`: 0 when every file is a closing exactly as signed (by `key`, else the
    key it names) and, several, they chain; 1 with the reason on stderr."""
    from .closing import VerificationError, verify_chain, verify_document
    try:
        texts = [f.read_bytes().decode("utf-8") for f in files]
        records = ([verify_document(texts[0], key)] if len(texts) == 1
                   else verify_chain(texts, key))
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except VerificationError as exc:
        print(f"NOT VERIFIED: {exc}", file=sys.stderr)
        return 1
    for record in records:
        by = key or record["hub"]["public_key"]
        print(f"verified: closing {record['number']} of {record['hub']['url']} "
              f"({record['scope']['kind']}), signed by {by}"
              + ("" if key else " (the key it names: compare it with the hub's published "
                                "GET /api/v1/closing-key)"))
    return 0


def closing_command(hub, args) -> int:
    from . import closing
    sub = args.closing_command
    if sub == "make":
        row = closing.make_for(hub, meeting_id=args.meeting, consultation_id=args.consultation,
                               site_id=args.site, day=args.day)
        from .exports import write_out
        write_out(row["document"] + "\n", args.output)
        print(f"closing {row['number']} ({row['id']}) of {row['scope']}",
              file=sys.stderr if args.output is None else sys.stdout)
    elif sub == "list":
        _print_json(closing.closings(hub))
    elif sub == "chain":
        try:
            records = closing.verify_chain(closing.documents(hub), closing.hub_public_key(hub))
        except closing.VerificationError as exc:
            print(f"NOT VERIFIED: {exc}", file=sys.stderr)
            return 1
        print(f"verified: {len(records)} closings, chained")
    else:
        row = closing.closing(hub, args.id)
        if row is None:
            print(f"error: no closing {args.id}", file=sys.stderr)
            return 2
        if sub == "show":
            from .exports import write_out
            write_out(row["document"] + "\n", args.output)
        else:
            from .closing_sheet import write_pdf
            pages = write_pdf(hub, row, args.lang, args.output)
            print(f"{args.output} ({pages} pages)")
    return 0


def save_code_png(made: dict, path: Path) -> None:
    """The QR with the code written under it, large, for printing or showing on a screen."""
    from PIL import Image, ImageDraw, ImageFont
    qr = qr_image(made["qr"], box_size=10, border=4).convert("RGB")
    try:
        font = ImageFont.load_default(size=48)
    except TypeError:      # an older Pillow without sized default fonts
        font = ImageFont.load_default()
    canvas = Image.new("RGB", (qr.width, qr.height + 80), "white")
    canvas.paste(qr, (0, 0))
    draw = ImageDraw.Draw(canvas)
    width = draw.textlength(made["code"], font=font)
    draw.text(((qr.width - width) / 2, qr.height + 8), made["code"], fill="black", font=font)
    canvas.save(str(path))


IDEA_COLUMNS = ("id", "short_code", "consultation_id", "site_id", "meeting_id", "theme", "title",
                "text", "status", "answer_status", "answer_text", "created_at", "lang")
# --all: the moderation list for staff (what was refused and why, what the resident wrote).
MODERATION_COLUMNS = IDEA_COLUMNS + ("reason", "original_title", "original_text")


def export(hub, what: str, consultation_id: str, fmt: str, *, all_ideas: bool = False) -> str:
    """Results or ideas as CSV or JSON. Never personal data: ideas go without contacts, results
    are tallies only. Ideas are the approved ones, with the moderator's corrected text (what is
    published); `all_ideas` gives staff every idea with its moderation."""
    from .errors import HubError
    from app.errors import N_
    if hub.consultation(consultation_id) is None:
        raise HubError(N_("Unknown consultation."), status=404, code="consultation_unknown")
    if what == "ideas":
        columns = MODERATION_COLUMNS if all_ideas else IDEA_COLUMNS
        rows = [{k: p[k] for k in columns}
                for p in hub.proposals(consultation_id, public=not all_ideas)]
        if fmt == "json":
            return json.dumps(rows, ensure_ascii=False, indent=1) + "\n"
        from .tabular import csv_text
        return csv_text(columns, rows)
    _etag, body = hub.read_results(consultation_id)
    results = json.loads(body)
    if fmt == "json":
        return json.dumps(results, ensure_ascii=False, indent=1) + "\n"
    lines = [("consultation_id", "version", "question_id", "kind", "item", "measure", "value")]
    for qid, result in results["questions"].items():
        breakdown = result.pop("channels", None) or {}
        for item, measure, value in _flatten(result):
            lines.append((consultation_id, results["version"], qid, result["kind"], item,
                          measure, value))
        # The breakdown per channel: the same measures, prefixed "tablet:", "paper:"…
        for channel, own in breakdown.items():
            for item, measure, value in _flatten(own):
                lines.append((consultation_id, results["version"], qid, result["kind"],
                              item, f"{channel}:{measure}", value))
    for channel, people in (results.get("channels") or {}).items():
        lines.append((consultation_id, results["version"], "", "", channel, "participants",
                      people))
    from .tabular import csv_lines
    return csv_lines(lines)


def _flatten(result: dict):
    """(item, measure, value) rows of one question's tally result."""
    yield "", "ballots", result.get("ballots", 0)
    for key, value in result.items():
        if key in ("question", "kind", "ballots"):
            continue
        if isinstance(value, dict):
            for item, inner in value.items():
                if isinstance(inner, dict):
                    for measure, v in inner.items():
                        if isinstance(v, dict):
                            for sub, vv in v.items():
                                yield item, f"{measure}.{sub}", vv
                        else:
                            yield item, measure, v
                else:
                    yield item, key, inner
        elif isinstance(value, list):
            for position, entry in enumerate(value, start=1):
                if isinstance(entry, list) and len(entry) == 2:
                    yield entry[0], key, entry[1]
                else:
                    yield entry, key, position
        else:
            yield "", key, value
