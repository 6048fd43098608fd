"""Hub to hub on the command line (docs/protocol.md, "Hub to hub"; docs/deploy.md, "A room's
laptop"):

    python -m server relay-code --site ID [--minutes 60]   on the central hub: a code that
                                                   enrolls a room hub for that site
    python -m server relays [--format csv|json] [--output F]   on the central hub: what each
                                                   room hub forwarded, and when
    python -m server upstream enroll --url URL --code CODE [--name "…"]   on a room's laptop
    python -m server upstream status               the central hub, events waiting, last contact
    python -m server room [--port 8765] [--host ADDR] [--site ID] [--no-demo] [--minutes 240]
                          [--phones-here]          the room kit: a hub on the laptop's LAN
                                                   address over its own TLS, the tablets'
                                                   enrollment QR, the projector's address and
                                                   a live status line; --phones-here: residents'
                                                   phones sign up on the room's own page
"""
from __future__ import annotations

import json
import socket
import sys
import threading
import time
from pathlib import Path

from app.errors import DomainError
from app.qr import qr_ascii

COMMANDS = ("relay-code", "relays", "upstream", "room")
ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "assets" / "demo"


def add_commands(sub) -> None:
    code = sub.add_parser("relay-code", help="a code that enrolls a room hub for a site")
    code.add_argument("--site", required=True)
    code.add_argument("--minutes", type=int, default=60)
    relays = sub.add_parser("relays", help="what each room hub forwarded, and when")
    relays.add_argument("--format", choices=("csv", "json"), default="csv")
    relays.add_argument("--output", type=Path, default=None)
    up = sub.add_parser("upstream", help="this hub's central hub (a room's laptop)")
    up_sub = up.add_subparsers(dest="upstream_command", required=True)
    enroll = up_sub.add_parser("enroll", help="enroll this hub with the central hub")
    enroll.add_argument("--url", required=True)
    enroll.add_argument("--code", required=True)
    enroll.add_argument("--name", default="")
    up_sub.add_parser("status", help="the central hub, events waiting, last contact")
    room = sub.add_parser("room", help="start the room kit on this laptop's LAN address")
    room.add_argument("--host", default=None, help="address to serve on (default: the LAN's)")
    room.add_argument("--port", type=int, default=None)
    room.add_argument("--site", default=None, help="the site the tablets enroll at")
    room.add_argument("--minutes", type=int, default=240, help="how long the tablets' code "
                                                                "stays valid")
    room.add_argument("--no-demo", action="store_true",
                      help="do not import the demo consultation when there is none")
    room.add_argument("--phones-here", action="store_true",
                      help="residents' phones sign up on the room's own page, on its Wi-Fi "
                           "(default: on the central hub, through their own mobile data)")
    room.add_argument("--log-level", default="warning")


def main(command: str, args, overrides: dict, *, serve) -> int:
    """Run one of COMMANDS; `serve` is server.admin's (uvicorn, bounded)."""
    from .settings import Settings
    if command == "room":
        return run_room(args, overrides, serve)
    from .hub import Hub
    hub = Hub(Settings.from_env(**overrides))
    try:
        if command == "relay-code":
            made = hub.make_enrollment_code(args.site, args.minutes, kind="relay")
            print(f"Room hub code: {made['code']}  (site {made['site_id']}, valid until "
                  f"{made['expires_at']} UTC, single use)")
            print(f"On the room's laptop: python -m server upstream enroll "
                  f"--url {hub.settings.public_url} --code {made['code']}")
        elif command == "relays":
            from .exports import write_out
            write_out(export_relays(hub, args.format), args.output)
        elif args.upstream_command == "enroll":
            from .upstream import enroll
            done = enroll(hub, args.url, args.code, args.name)
            print(f"enrolled with {done['url']} as room hub {done['relay_id']} "
                  f"(site {done['site_id']})")
        else:
            from .upstream import status
            print(json.dumps(status(hub), ensure_ascii=False, indent=1))
    except DomainError as exc:
        print(f"error: {exc.describe()}", file=sys.stderr)
        return 2
    finally:
        hub.close()
    return 0


RELAY_COLUMNS = ("relay_id", "name", "site_id", "devices", "batches", "events", "stored",
                 "duplicate", "refused", "first_arrival", "last_arrival", "last_contact",
                 "types")


def export_relays(hub, fmt: str) -> str:
    """What each room hub forwarded: no personal data, counts and times only."""
    from .relay import relay_summary
    rows = relay_summary(hub)
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=1) + "\n"
    from .tabular import csv_text
    return csv_text(RELAY_COLUMNS, ({**row, "types": json.dumps(row["types"], sort_keys=True)}
                                    for row in rows))


# -- the room kit ---------------------------------------------------------------------------------

def lan_address() -> str:
    """This laptop's address on the room's network (the interface of its default route); no
    packet is sent. 127.0.0.1 when there is no network."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))     # TEST-NET-1: routing only, nothing goes out
        return probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()


def run_room(args, overrides: dict, serve) -> int:
    from .hub import Hub
    from .settings import Settings
    from . import upstream
    address = args.host or lan_address()
    port = args.port or int(Settings.from_env(**dict(overrides)).port)
    # The address tablets and phones reach: this laptop's, whatever a hub's usual public URL
    # says (that one is for the central hub's deployment).
    public_host = lan_address() if address in ("0.0.0.0", "::") else address
    # HTTPS with the room's own certificate, pinned by the tablets through the enrollment QR:
    # what crosses the hall's Wi-Fi is worth nothing to a sniffer (server/tls.py).
    from .tls import room_certificate
    certificate = room_certificate(Settings.from_env(**dict(overrides)).data_dir,
                                   [public_host, address])
    settings = Settings.from_env(**overrides, host=address, port=port,
                                 public_url=f"https://{public_host}:{port}",
                                 tls_cert=str(certificate.cert), tls_key=str(certificate.key),
                                 tls_pin=certificate.pin, secure_cookies=True,
                                 phones_here=args.phones_here)
    hub = Hub(settings)
    try:
        values = upstream.state(hub)
        if upstream.configured(values):
            try:
                from sync.client import HubClient
                client = HubClient(values["url"], values["relay_id"], values["secret"],
                                   timeout=(5.0, 30.0))
                try:
                    pulled = upstream.pull_content(hub, client, values)
                finally:
                    client.close()
                print(f"Central hub {values['url']}: {len(pulled)} consultation(s) updated")
            except DomainError as exc:
                print(f"Central hub {values['url']} not reached ({exc}): the room works "
                      f"offline and forwards later", flush=True)
        if not hub.consultations() and not args.no_demo:
            consultation = hub.import_bundle(DEMO)
            print(f"Demo consultation imported: {consultation.id}")
        site = args.site or values.get("site_id") or _first_site(hub)
        if site is not None and site == values.get("site_id") and not hub.site_exists(site):
            # The central hub's site, before its first consultation could come down: the room
            # runs with it and keeps trying (its name follows with the bundle).
            hub.create_site(site, {"fr": site})
        made = hub.make_enrollment_code(site, args.minutes)
        from .phones import phone_signup
        phones = phone_signup(hub).get("phone_signup", {}).get("url")
    except DomainError as exc:
        print(f"error: {exc.describe()}", file=sys.stderr)
        return 2
    finally:
        hub.close()
    print_kit(settings.public_url, made, certificate.pin, phones)

    def started(app) -> None:
        forwarder = getattr(app.state, "forwarder", None)
        threading.Thread(target=status_line, args=(app.state.hub, forwarder),
                         name="piazzetta-room-status", daemon=True).start()
    return serve(settings, args.log_level, on_start=started)


def _first_site(hub) -> str | None:
    """The first site the first consultation lists (the bundle's order), else the first
    site the hub knows."""
    for item in hub.consultations():
        consultation = hub.consultation(item["id"])
        if consultation is not None and consultation.sites:
            return consultation.sites[0].id
    sites = hub.sites()
    return sites[0]["id"] if sites else None


def print_kit(public_url: str, made: dict, pin: str = "", phones: str | None = None) -> None:
    from .tls import typed_pin
    print()
    until = str(made["expires_at"])[:16].replace("T", " ")
    # The address a tablet or a projector pins the room's certificate with (sync/client.py).
    address = f"{public_url}#pin={pin}" if pin else public_url
    print(f"Tablets: scan this QR on the Sync page, or type the hub {address} and the code "
          f"{made['code']} (site {made['site_id'] or '-'}, valid until {until} UTC)")
    sys.stdout.write(qr_ascii(made["qr"]))
    if pin:
        print(f"This room's certificate (SHA-256): {typed_pin(pin)}")
    print(f"Projector: python main.py projector --hub '{address}'   "
          f"(or PIAZZETTA_HUB_URL='{address}')")
    print(f"Dashboard (staff, over this room's TLS; the browser warns once about the room's "
          f"own certificate: compare its SHA-256 with the one above): {public_url}/dashboard")
    if phones:
        print(f"Residents' phones: sign-up QRs open the central hub, {phones}, through the "
              f"phones' own mobile data (--phones-here: the room's own page instead)")
    else:
        print(f"Residents' phones: sign-up QRs open this room's page, {public_url}/signup, on "
              f"the room's Wi-Fi; browsers warn about the room's certificate (TLS against a "
              f"sniffer, not against someone posing as this laptop)")
    print(flush=True)


def status_text(info: dict) -> str:
    if info.get("url"):
        upstream = (f"waiting upstream {info['waiting']} | last upstream contact "
                    f"{info.get('last_contact') or 'never'}")
        if info.get("problem"):
            upstream += f" ({info['problem']})"
    else:
        upstream = f"waiting {info['waiting']} | no central hub (python -m server upstream enroll)"
    progress = info.get("progress")
    if progress and progress["total"]:
        share = min(100, 100 * progress["sent"] // progress["total"])
        upstream += f" | forwarding {progress['sent']}/{progress['total']} ({share}%)"
    return (f"tablets seen {info['tablets_seen']}/{info['tablets_enrolled']} | {upstream}")


def status_line(hub, forwarder, period: float = 2.0) -> None:
    """The room's live status: on a terminal one line rewritten in place, else a line a
    minute (a log)."""
    from .upstream import status
    tty = sys.stdout.isatty()
    last = 0.0
    while True:
        try:
            text = status_text(status(hub, forwarder))
        except Exception as exc:    # the database busy a moment: say so, try again
            text = f"status unavailable ({type(exc).__name__})"
        if tty:
            sys.stdout.write("\r\033[K" + text)
            sys.stdout.flush()
        elif time.monotonic() - last >= 60:
            print(text, flush=True)
            last = time.monotonic()
        time.sleep(period)
