"""A Decidim instance as the hub sees it: its configuration per consultation, its version and
what that version's API takes, sign-in, and the few GraphQL documents the connector sends
(docs/connectors.md).

What each call relies on, read from Decidim's own source (github.com/decidim/decidim):
- sign-in: `POST /api/sign_in` with the form fields `api_user[key]` and `api_user[secret]`;
  the JWT comes back in the `Authorization` header and in the JSON body's `jwt_token`
  (decidim-api/app/controllers/decidim/api/sessions_controller.rb, decidim-api/docs/usage.md);
  mutations need the scope `api:write` (decidim-api/lib/decidim/api/mutation_type.rb);
- the version: `query { decidim { version } }`
  (decidim-core/lib/decidim/api/types/decidim_type.rb);
- mutations hang off `component(id:)`, a union whose proposals member is `ProposalsMutation`
  (decidim-api/lib/decidim/api/component_mutation_type.rb,
  decidim-proposals/lib/decidim/api/mutations/proposals_mutation_type.rb); every mutation is
  a graphql-ruby RelayClassicMutation, so its arguments travel in one `input:`
  (decidim-api/lib/decidim/api/types/base_mutation.rb);
- `createProposal(input: {locale, attributes: {title, body, address, latitude, longitude,
  taxonomies}})` (0.32: decidim-proposals/lib/decidim/api/mutations/create_proposal_type.rb,
  proposal_attributes.rb), `updateProposal` likewise on `proposal(id:)`
  (update_proposal_type.rb);
- `answer(input: {attributes: {state, answerContent}})` on `proposal(id:)` (0.31:
  answer_proposal_type.rb, answer_proposal_attributes.rb: state `accepted`, `rejected` or
  `evaluating`);
- reading a component's proposals: `component(id:) { ... on Proposals { proposals(first:,
  after:) { nodes { id state body answer } } } }` with `TranslatedField.translations`
  (decidim-proposals/lib/decidim/api/proposals_type.rb, proposal_type.rb,
  decidim-core/lib/decidim/api/types/translated_field_type.rb).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import socket
import threading
import time
import weakref
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

log = logging.getLogger("piazzetta.hub.decidim")

TIMEOUT = 30.0          # seconds for one request to the instance
DEADLINE = 3            # one request in all (connect, headers, whole body): this many timeouts
MAX_ANSWER = 16 * 1024 * 1024   # bytes of one answer read at most (a page of 50 proposals)
PAGE = 50               # proposals per page when the connector lists a component's
MAX_PAGES = 4000        # pages read at most in one listing (200,000 proposals)


class DecidimUnavailable(Exception):
    """The instance did not answer usably (down, 5xx, 429, a timeout, a cut response): the
    outbox waits and tries again; nothing is lost or refused for it."""


class DecidimRefused(Exception):
    """The instance answered and said no (GraphQL errors: validation, permission): kept with
    Decidim's own message, for staff to read; not retried until the idea changes."""


@dataclass(frozen=True)
class DecidimConfig:
    """One consultation's Decidim: where, with which credentials, into which component."""
    consultation_id: str
    url: str                                  # the instance, e.g. https://decidim.example.org
    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    proposals_component: str                  # the proposals component's ID
    space: dict = field(default_factory=dict)           # {"type": ..., "id": ...}, informative
    meetings_component: str | None = None
    meeting_id: str | None = None
    locales: dict = field(default_factory=lambda: {"fr": "fr", "it": "it", "en": "en"})
    taxonomies: dict = field(default_factory=dict)      # theme ID → [taxonomy IDs]
    projects: dict = field(default_factory=dict)        # budget project ID → Decidim project ID
    version: str | None = None                # set: skip detection (a test's or an admin's word)
    timeout: float = TIMEOUT                  # seconds for one request
    marker_key: str = field(default="", repr=False)     # the hub's secret: markers' tags

    def locale(self, lang: str | None) -> str:
        """The Decidim locale for a Piazzetta language (the idea's)."""
        return self.locales.get(lang or "", "") or next(iter(self.locales.values()), "fr")

    def lang(self, locale: str) -> str | None:
        """The Piazzetta language for a Decidim locale."""
        return next((lang for lang, loc in self.locales.items() if loc == locale), None)


_WARNED: set[str] = set()


def load_configs(settings) -> dict[str, DecidimConfig]:
    """Each consultation's Decidim, from settings.decidim_file (JSON, read by the hub only):

        {"instances": {"city": {"url": "...", "api_key": "...", "api_secret": "..."}},
         "consultations": {"<consultation id>": {"instance": "city",
             "proposals_component": "12", "space": {"type": "ParticipatoryProcess", "id": "4"},
             "meetings_component": "13", "meeting_id": "7",
             "locales": {"fr": "fr", "it": "it"}, "taxonomies": {"<theme>": ["31"]},
             "projects": {"<budget project>": "<Decidim budget project ID>"}}}}

    Credentials missing there come from PIAZZETTA_HUB_DECIDIM_API_KEY/_SECRET. No file: no
    connector (an empty map)."""
    path = Path(settings.decidim_file) if settings.decidim_file else None
    if path is None or not path.is_file():
        return {}
    if path.stat().st_mode & 0o077 and str(path) not in _WARNED:
        _WARNED.add(str(path))       # once per process: the file is read every round
        log.warning("%s is readable by other users of this machine: it holds API credentials",
                    path)
    data = json.loads(path.read_text(encoding="utf-8"))
    instances = data.get("instances") or {}
    out = {}
    for consultation_id, item in (data.get("consultations") or {}).items():
        instance = {**instances.get(item.get("instance"), {}), **item}
        out[consultation_id] = DecidimConfig(
            consultation_id=consultation_id, url=str(instance["url"]).rstrip("/"),
            api_key=str(instance.get("api_key") or settings.decidim_api_key),
            api_secret=str(instance.get("api_secret") or settings.decidim_api_secret),
            proposals_component=str(instance["proposals_component"]),
            space=dict(instance.get("space") or {}),
            meetings_component=_opt(instance.get("meetings_component")),
            meeting_id=_opt(instance.get("meeting_id")),
            locales=dict(instance.get("locales") or {"fr": "fr", "it": "it", "en": "en"}),
            taxonomies={str(k): [str(t) for t in (v if isinstance(v, list) else [v])]
                        for k, v in (instance.get("taxonomies") or {}).items()},
            projects={str(k): str(v) for k, v in (instance.get("projects") or {}).items()},
            version=_opt(instance.get("version")),
            timeout=float(instance.get("timeout") or TIMEOUT),
            marker_key=settings.secret_key)
    return out


def _opt(value) -> str | None:
    return None if value in (None, "") else str(value)


# -- versions -------------------------------------------------------------------------------------

def version_tuple(version: str) -> tuple[int, int, int]:
    numbers = [int(n) for n in re.findall(r"\d+", version or "")[:3]]
    return tuple((numbers + [0, 0, 0])[:3])  # type: ignore[return-value]


def capabilities(version: str) -> frozenset[str]:
    """What an instance of this version takes through its API; the rest goes to files."""
    v = version_tuple(version)
    can = set()
    if v >= (0, 31, 0):
        can.add("answer")
    if v >= (0, 32, 0):
        can.update({"create_proposal", "update_proposal", "update_meeting"})
    if v >= (0, 33, 0):         # the development branch after 0.32
        can.add("close_meeting")
    return frozenset(can)


# -- the documents the connector sends -------------------------------------------------------------

VERSION = "query Version { decidim { version } }"

CREATE_PROPOSAL = """
mutation CreateProposal($component: ID!, $input: CreateProposalInput!) {
  component(id: $component) {
    ... on ProposalsMutation { createProposal(input: $input) { id } }
  }
}"""

UPDATE_PROPOSAL = """
mutation UpdateProposal($component: ID!, $id: ID!, $input: UpdateProposalInput!) {
  component(id: $component) {
    ... on ProposalsMutation { proposal(id: $id) { updateProposal(input: $input) { id } } }
  }
}"""

LIST_PROPOSALS = """
query Proposals($component: ID!, $after: String) {
  component(id: $component) {
    ... on Proposals {
      proposals(first: %d, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes {
          id state
          body { translations { locale text } }
          answer { translations { locale text } }
        }
      }
    }
  }
}""" % PAGE

DOCUMENTS = {"VERSION": VERSION, "CREATE_PROPOSAL": CREATE_PROPOSAL,
             "UPDATE_PROPOSAL": UPDATE_PROPOSAL, "LIST_PROPOSALS": LIST_PROPOSALS}

MARKER = "Piazzetta #{}"
MARKED = re.compile(r"Piazzetta #([0-9A-Za-z_-]{1,64})/([0-9a-f]{16})")


def marker_tag(proposal_id: str, key: str) -> str:
    return hmac.new(key.encode(), b"piazzetta-decidim-marker:" + proposal_id.encode(),
                    hashlib.sha256).hexdigest()[:16]


def marker(proposal_id: str, key: str | None = None) -> str:
    """The line each proposal's body ends with: how a retry finds a proposal Decidim made
    though its answer never reached the hub (a cut response), instead of making a second, and
    how a proposal imported from the file is linked to its idea. An idea's ID is public (the
    approved ideas' list) and anyone may write a proposal in the city's Decidim: the line
    carries a tag made with the hub's secret (`key`, DecidimConfig.marker_key), so that no one
    else's proposal is taken for the idea (its answer shown on the idea's receipt, the idea
    left out of the import file). Without a key: the line's start, to search for in tests."""
    start = MARKER.format(proposal_id)
    return start if key is None else f"{start}/{marker_tag(proposal_id, key)}"


def marked_ideas(text: str | None, key: str) -> list[str]:
    """The idea IDs whose marker, tagged with this hub's key, a proposal's body carries."""
    return [found for found, tag in MARKED.findall(text or "")
            if hmac.compare_digest(tag, marker_tag(found, key))]


def plain_text(html: str | None) -> str:
    """Decidim's rich text as the receipt page shows it."""
    if not html:
        return ""
    text = re.sub(r"<\s*(br|/p|/li)\s*/?>", "\n", html, flags=re.I)
    return re.sub(r"\n{3,}", "\n\n", unescape(re.sub(r"<[^>]+>", "", text))).strip()


class DecidimClient:
    """One instance's API, signed in with the consultation's credentials."""

    def __init__(self, config: DecidimConfig):
        self.config = config
        self.timeout = config.timeout
        self.session = requests.Session()
        # Every connection the session opens, so that a request's deadline can shut the one
        # it waits on, whether it waits for the headers or the body.
        self._connections: weakref.WeakSet = weakref.WeakSet()
        adapter = _TrackingAdapter(self._connections)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.token: str | None = None
        self._version = config.version

    def close(self) -> None:
        self.session.close()

    def sign_in(self) -> str:
        try:
            answer = self._post(
                "/api/sign_in",
                data={"api_user[key]": self.config.api_key,
                      "api_user[secret]": self.config.api_secret},
                headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise DecidimUnavailable(f"sign-in: {exc.__class__.__name__}") from exc
        if answer.is_redirect:
            raise DecidimUnavailable(f"sign-in: HTTP {answer.status_code}, a redirect not "
                                     f"followed: check the instance's address")
        if answer.status_code >= 500 or answer.status_code == 429:
            raise DecidimUnavailable(f"sign-in: HTTP {answer.status_code}")
        token = (answer.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        if not token:
            try:
                token = answer.json().get("jwt_token") or ""
            except ValueError:
                token = ""
        if answer.status_code != 200 or not token:
            # Not the idea's fault: the outbox waits (and shows this) until staff fix them.
            raise DecidimUnavailable(f"sign-in refused (HTTP {answer.status_code}): check the "
                                     f"API credentials")
        self.token = token
        return token

    def _post(self, path: str, **kwargs) -> requests.Response:
        """One POST to the instance, its answer read whole (at most MAX_ANSWER bytes, within a
        few timeouts in all). Redirects are never followed: requests would send the form's
        API secret again to whatever address a 307/308 names (another host, plain http), and
        a 302 to an internal address would be fetched from the hub (SSRF)."""
        if not _private_transport(self.config.url):
            raise DecidimUnavailable("not https: the API secret and token would travel in "
                                     "clear; set the instance's https:// address")
        # One deadline for the whole request, connect, headers and body: a slow instance (or
        # one sending its headers or its body a byte now and then, each within the timeout
        # between reads) would otherwise hold the connector's only thread, every
        # consultation's sending with it. Past DEADLINE timeouts, the connection is shut (the
        # read ends, whichever it is) and the answer dropped.
        fired = threading.Event()      # set before the shut: the reader knows why it failed
        done = threading.Event()
        watchdog = threading.Thread(
            target=_watch, args=(DEADLINE * self.timeout, self._connections, fired, done),
            name="piazzetta-decidim-deadline", daemon=True)
        watchdog.start()
        answer = None
        try:
            answer = self.session.post(self.config.url + path, timeout=self.timeout,
                                       allow_redirects=False, stream=True, **kwargs)
            body = bytearray()
            for chunk in answer.iter_content(65536):
                body += chunk
                if len(body) > MAX_ANSWER:
                    raise DecidimUnavailable(f"HTTP {answer.status_code}: answer too large")
                if fired.is_set():
                    break
            answer._content = bytes(body)
        except DecidimUnavailable:
            raise
        except Exception as exc:       # noqa: BLE001 - shut under the read: any error may come
            if not fired.is_set():
                raise
            raise DecidimUnavailable(f"{_status(answer)}answer too slow") from exc
        finally:
            done.set()
            if answer is not None:
                answer.close()
        if fired.is_set():
            raise DecidimUnavailable(f"{_status(answer)}answer too slow")
        return answer

    def execute(self, document: str, variables: dict | None = None) -> dict:
        """The data of one GraphQL request; signs in first, and once more when the token
        expired (401)."""
        for attempt in (0, 1):
            if self.token is None:
                self.sign_in()
            try:
                answer = self._post(
                    "/api", json={"query": document, "variables": variables or {}},
                    headers={"Authorization": f"Bearer {self.token}",
                             "Accept": "application/json"})
            except requests.RequestException as exc:
                raise DecidimUnavailable(exc.__class__.__name__) from exc
            if answer.is_redirect:
                raise DecidimUnavailable(f"HTTP {answer.status_code}: a redirect not followed")
            if answer.status_code == 401 and attempt == 0:
                self.token = None
                continue
            if answer.status_code >= 500 or answer.status_code in (408, 429):
                raise DecidimUnavailable(f"HTTP {answer.status_code}")
            try:
                body = answer.json()
            except ValueError as exc:       # a cut or foreign answer (a proxy's page)
                raise DecidimUnavailable(f"HTTP {answer.status_code}: not JSON") from exc
            errors = body.get("errors") if isinstance(body, dict) else None
            if errors:
                raise DecidimRefused("; ".join(str(e.get("message", e)) for e in errors)[:2000])
            if answer.status_code != 200 or not isinstance(body.get("data"), dict):
                raise DecidimRefused(f"HTTP {answer.status_code}")
            return body["data"]
        raise DecidimRefused("the API credentials were refused")

    def version(self) -> str:
        if self._version is None:
            self._version = str((self.execute(VERSION).get("decidim") or {}).get("version")
                                or "0")
        return self._version

    def capabilities(self) -> frozenset[str]:
        return capabilities(self.version())

    def create_proposal(self, locale: str, attributes: dict) -> str:
        data = self.execute(CREATE_PROPOSAL, {
            "component": self.config.proposals_component,
            "input": {"locale": locale, "attributes": attributes}})
        made = ((data.get("component") or {}).get("createProposal") or {})
        if not made.get("id"):
            raise DecidimRefused("createProposal returned no proposal")
        return str(made["id"])

    def update_proposal(self, decidim_id: str, locale: str, attributes: dict) -> None:
        data = self.execute(UPDATE_PROPOSAL, {
            "component": self.config.proposals_component, "id": decidim_id,
            "input": {"locale": locale, "attributes": attributes}})
        proposal = (data.get("component") or {}).get("proposal")
        if not proposal or not proposal.get("updateProposal"):
            raise DecidimRefused(f"proposal {decidim_id} cannot be updated")

    def proposals(self):
        """Every proposal of the component: (id, state, {locale: body}, {locale: answer})."""
        after, seen = None, set()
        while len(seen) < MAX_PAGES:
            data = self.execute(LIST_PROPOSALS, {"component": self.config.proposals_component,
                                                 "after": after})
            component = data.get("component")
            page = component.get("proposals") if isinstance(component, dict) else None
            nodes = page.get("nodes") if isinstance(page, dict) else None
            for node in nodes if isinstance(nodes, list) else []:
                if not isinstance(node, dict) or not isinstance(node.get("id"), (str, int)):
                    continue            # a malformed node: not ours to read, the rest go on
                state = node.get("state")
                yield (str(node["id"]), state if isinstance(state, str) else None,
                       _translations(node.get("body")), _translations(node.get("answer")))
            info = (page.get("pageInfo") if isinstance(page, dict) else None) or {}
            if not isinstance(info, dict):
                return
            if not info.get("hasNextPage") or not info.get("endCursor") \
                    or str(info["endCursor"]) in seen:
                return          # the end, or a cursor seen before (an endless listing)
            after = str(info["endCursor"])
            seen.add(after)

    def find_marked(self, proposal_id: str) -> str | None:
        """The Decidim ID of the proposal whose body carries this idea's marker, if any."""
        wanted = marker(proposal_id, self.config.marker_key)
        for decidim_id, _state, body, _answer in self.proposals():
            if any(wanted in (text or "") for text in body.values()):
                return decidim_id
        return None


def _status(answer: requests.Response | None) -> str:
    return f"HTTP {answer.status_code}: " if answer is not None else "no headers: "


def _watch(deadline: float, connections: weakref.WeakSet, fired: threading.Event,
           done: threading.Event) -> None:
    """A request's deadline: past it, its connections shut, and again every SHUT_AGAIN
    seconds until the request ends — one still resolving the instance's name or connecting
    (several addresses, each tried for a timeout) has no socket yet to shut, and would then
    wait for a trickle of headers for ever."""
    if done.wait(deadline):
        return
    while True:
        _shut(connections, fired)
        if done.wait(SHUT_AGAIN):
            return


SHUT_AGAIN = 0.2


def _shut(connections: weakref.WeakSet, fired: threading.Event) -> None:
    """Shut a client's connections from the watchdog's thread: a connect, a header read or a
    body read blocked on one ends (`fired` set first, so that the reader takes its error for
    what it is). The client sends one request at a time: an idle kept-alive connection shut
    with it is only opened again."""
    fired.set()
    for connection in list(connections):
        sock = getattr(connection, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _TrackedHTTPConnection(HTTPConnection):
    tracker: weakref.WeakSet

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tracker.add(self)


class _TrackedHTTPSConnection(HTTPSConnection):
    tracker: weakref.WeakSet

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tracker.add(self)


class _TrackingAdapter(HTTPAdapter):
    """requests' adapter whose pools' connections enter `tracker` as they are made."""

    def __init__(self, tracker: weakref.WeakSet, **kwargs):
        self._tracker = tracker
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        tracker = self._tracker
        plain = type("_Conn", (_TrackedHTTPConnection,), {"tracker": tracker})
        secure = type("_TLSConn", (_TrackedHTTPSConnection,), {"tracker": tracker})
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("_Pool", (HTTPConnectionPool,), {"ConnectionCls": plain}),
            "https": type("_TLSPool", (HTTPSConnectionPool,), {"ConnectionCls": secure})}


def _private_transport(url: str) -> bool:
    """https, or plain http to this machine only (a stand-in, a tunnel's local end)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and (parts.hostname or "") in ("127.0.0.1", "::1",
                                                                   "localhost")


def _translations(field_value) -> dict[str, str]:
    if not isinstance(field_value, dict) or not isinstance(field_value.get("translations"),
                                                            list):
        return {}
    return {str(t["locale"]): t.get("text") if isinstance(t.get("text"), str) else ""
            for t in field_value["translations"] if isinstance(t, dict) and t.get("locale")}

