"""A Decidim stand-in for the connector's tests: a real HTTP service on 127.0.0.1 with Decidim's
API sign-in and a GraphQL schema written from Decidim's own type definitions (0.32, with the
development branch's additions where said). Every request is parsed and validated against that
schema with graphql-core before anything runs; the documents and their validation errors are
kept (`documents`, `invalid`) for the tests to read.

Sources (github.com/decidim/decidim):
- sign-in: decidim-api/app/controllers/decidim/api/sessions_controller.rb (form fields
  `api_user[key]`, `api_user[secret]`; the JWT in `Authorization` and in `jwt_token`; a refusal
  is 401 with `jwt_token: null`), decidim-api/docs/usage.md;
- Query.decidim, Decidim.version: decidim-core/lib/decidim/api/types/decidim_type.rb;
- Query.component, ComponentInterface: decidim-core/lib/decidim/api/types/component_type.rb;
- TranslatedField, LocalizedString: decidim-core/lib/decidim/api/types/translated_field_type.rb,
  localized_string_type.rb;
- Proposals, Proposal: decidim-proposals/lib/decidim/api/proposals_type.rb, proposal_type.rb
  (the fields the connector reads, and a few beside them);
- Mutation.component (scope api:write), ComponentMutation:
  decidim-api/lib/decidim/api/mutation_type.rb, component_mutation_type.rb;
- ProposalsMutation, ProposalMutation: decidim-proposals/lib/decidim/api/mutations/
  proposals_mutation_type.rb, proposal_mutation_type.rb;
- MeetingsMutation, MeetingMutation.close, CloseMeetingInput, CloseMeetingAttributes (the
  development branch after 0.32): decidim-meetings/lib/decidim/api/mutations/
  meetings_mutation_type.rb, meeting_mutation_type.rb, close_meeting_type.rb,
  close_meeting_attributes.rb; a closed meeting cannot be closed again (its `authorized?`);
- CreateProposalInput (locale, toggleTranslations, attributes), ProposalAttributes,
  UpdateProposalInput: mutations/create_proposal_type.rb, proposal_attributes.rb,
  update_proposal_type.rb; AnswerInput, AnswerProposalAttributes: answer_proposal_type.rb,
  answer_proposal_attributes.rb; the `input:` wrapper and `clientMutationId`:
  decidim-api/lib/decidim/api/types/base_mutation.rb (GraphQL::Schema::RelayClassicMutation).
The length rules on title and body are decidim-proposals' ProposalForm's (title 15 to 150
characters, body at least 15), with its messages' wording.

Faults between the hub and the stand-in come from tests/integration/faultproxy.py in front of
it; `rate_limit(n)` makes the next n requests answer 429 here.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from graphql import (OperationType, build_schema, get_operation_ast, graphql_sync, parse,
                     validate)

VERSION_032 = "0.32.2"

SDL = """
schema { query: Query mutation: Mutation }

scalar JSON
scalar DateTime

type Query {
  decidim: Decidim
  component(id: ID!): ComponentInterface
}

type Decidim {
  applicationName: String!
  version: String
}

interface ComponentInterface {
  id: ID!
  name: TranslatedField!
  weight: Int!
}

type TranslatedField {
  translation(locale: String!): String
  translations(locales: [String!]): [LocalizedString!]!
}

type LocalizedString {
  locale: String!
  text: String
}

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

type Coordinates {
  latitude: Float
  longitude: Float
}

type Proposals implements ComponentInterface {
  id: ID!
  name: TranslatedField!
  weight: Int!
  proposals(first: Int, after: String, last: Int, before: String): ProposalConnection
  proposal(id: ID!): Proposal
}

type ProposalConnection {
  edges: [ProposalEdge]
  nodes: [Proposal]
  pageInfo: PageInfo!
}

type ProposalEdge {
  cursor: String!
  node: Proposal
}

type Proposal {
  id: ID!
  title: TranslatedField
  body: TranslatedField
  address: String
  coordinates: Coordinates
  state: String
  answer: TranslatedField
  answeredAt: String
  publishedAt: String
  reference: String
  withdrawn: Boolean
}

type Mutation {
  component(id: ID!): ComponentMutation!
}

union ComponentMutation = ProposalsMutation | MeetingsMutation

type MeetingsMutation {
  meeting(id: ID!): MeetingMutation
}

type MeetingMutation {
  close(input: CloseMeetingInput!): Meeting
}

type Meeting {
  id: ID!
  closed: Boolean
  closingReport: TranslatedField
  attendeesCount: Int
}

input CloseMeetingAttributes {
  attendeesCount: Int!
  closedAt: DateTime
  closingReport: String!
  proposalIds: [ID]
}

input CloseMeetingInput {
  clientMutationId: String
  attributes: CloseMeetingAttributes!
  locale: String!
  toggleTranslations: Boolean = false
}

type ProposalsMutation {
  proposal(id: ID!): ProposalMutation
  createProposal(input: CreateProposalInput!): Proposal
}

type ProposalMutation {
  answer(input: AnswerInput!): Proposal
  updateProposal(input: UpdateProposalInput!): Proposal
}

input ProposalAttributes {
  address: String
  body: String!
  latitude: Float
  longitude: Float
  taxonomies: [ID]
  title: String!
}

input CreateProposalInput {
  clientMutationId: String
  attributes: ProposalAttributes!
  locale: String!
  toggleTranslations: Boolean = false
}

input UpdateProposalInput {
  clientMutationId: String
  attributes: ProposalAttributes!
  locale: String!
  toggleTranslations: Boolean = false
}

input AnswerProposalAttributes {
  answerContent: JSON
  cost: Float
  costReport: JSON
  executionPeriod: JSON
  state: String
}

input AnswerInput {
  clientMutationId: String
  attributes: AnswerProposalAttributes!
}
"""

SCHEMA = build_schema(SDL)
JWT_SECONDS = 2 * 3600


class GraphQLRefusal(Exception):
    """What Decidim's resolvers raise (AttributeValidationError, MutationNotAuthorizedError):
    a GraphQL error with its message."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class DecidimStandIn:
    """The stand-in's state: API users, one proposals component, its proposals."""

    def __init__(self, *, version: str = VERSION_032, component_id: str = "12",
                 meetings_component_id: str = "13", meeting_ids: tuple[str, ...] = ("7",),
                 locales: tuple[str, ...] = ("fr", "it", "en"),
                 users: dict[str, str] | None = None):
        self.version = version
        self.component_id = component_id
        self.meetings_component_id = meetings_component_id
        self.meetings = {m: {"id": m, "closed": False, "closingReport": None,
                             "attendeesCount": None, "proposalIds": []} for m in meeting_ids}
        self.locales = locales
        self.users = dict(users or {"piazzetta-key": "piazzetta-secret"})
        self.secret = b"stand-in signing key"
        self.lock = threading.Lock()
        self.proposals: dict[str, dict] = {}
        self.next_id = 100
        self.documents: list[str] = []
        self.invalid: list[str] = []          # validation errors, each request's
        self.sign_ins = 0
        self.mutations = 0
        self.rate_limited = 0
        self.header_pause = 0.0     # set: headers sent a byte at a time, this long between
        self.hung_up = 0            # slow answers the client hung up on before their end
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def rate_limit(self, requests: int) -> None:
        with self.lock:
            self.rate_limited = requests

    # -- tokens -------------------------------------------------------------------------------

    def token(self, key: str) -> str:
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps({"sub": key, "scp": "api_user", "scope": "api:read api:write",
                                "exp": int(time.time()) + JWT_SECONDS}).encode())
        signature = hmac.new(self.secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{_b64(signature)}"

    def bearer(self, header: str | None) -> dict | None:
        if not header or not header.startswith("Bearer "):
            return None
        try:
            head, body, signature = header[7:].split(".")
            wanted = hmac.new(self.secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(_b64(wanted), signature):
                return None
            claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        return claims if claims.get("exp", 0) > time.time() else None

    # -- what the city's staff do in Decidim's admin ----------------------------------------------

    def answer(self, decidim_id: str, state: str, texts: dict[str, str]) -> None:
        """An admin answers a proposal (the `answer` mutation's effect)."""
        with self.lock:
            proposal = self.proposals[decidim_id]
            proposal["state"] = state
            proposal["answer"] = dict(texts)
            proposal["answeredAt"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def marked(self, marker: str) -> list[dict]:
        return [p for p in self.proposals.values()
                if any(marker in text for text in p["body"].values())]

    # -- GraphQL ----------------------------------------------------------------------------

    def execute(self, query: str, variables: dict, claims: dict | None) -> dict:
        try:
            document = parse(query)
        except Exception as exc:        # graphql.GraphQLError: a syntax error
            self.invalid.append(str(exc))
            return {"errors": [{"message": str(exc)}]}
        errors = validate(SCHEMA, document)
        with self.lock:
            self.documents.append(query)
            if errors:
                self.invalid.extend(e.message for e in errors)
        if errors:
            return {"errors": [{"message": e.message} for e in errors]}
        root = self._root(claims)
        operation = get_operation_ast(document)
        if operation is not None and operation.operation == OperationType.MUTATION:
            root = {"component": root["mutation_component"]}   # Mutation.component
        result = graphql_sync(SCHEMA, query, root_value=root, variable_values=variables)
        out: dict = {"data": result.data}
        if result.errors:
            out["errors"] = [{"message": e.message, "path": e.path} for e in result.errors]
        return out

    def _translated(self, texts: dict[str, str] | None) -> dict | None:
        if texts is None:
            return None
        return {"translation": lambda _info, locale: texts.get(locale),
                "translations": lambda _info, locales=None: [
                    {"locale": k, "text": v} for k, v in texts.items()
                    if locales is None or k in locales]}

    def _proposal(self, p: dict) -> dict:
        return {"id": p["id"], "title": self._translated(p["title"]),
                "body": self._translated(p["body"]), "address": p.get("address"),
                "coordinates": {"latitude": p.get("latitude"), "longitude": p.get("longitude")},
                "state": p.get("state"), "answer": self._translated(p.get("answer")),
                "answeredAt": p.get("answeredAt"), "publishedAt": p["publishedAt"],
                "reference": f"d-prop-{p['id']}", "withdrawn": False}

    def _root(self, claims: dict | None) -> dict:
        def component(_info, id):
            if str(id) != self.component_id:
                return None
            return {"__typename": "Proposals", "id": self.component_id,
                    "name": self._translated({"fr": "Propositions"}), "weight": 0,
                    "proposals": proposals, "proposal": lambda _i, id: (
                        self._proposal(self.proposals[str(id)])
                        if str(id) in self.proposals else None)}

        def proposals(_info, first=None, after=None, last=None, before=None):
            with self.lock:
                ordered = sorted(self.proposals.values(), key=lambda p: int(p["id"]))
            start = int(after) if after else 0
            size = min(first or 50, 50)
            page = ordered[start:start + size]
            end = start + len(page)
            return {"nodes": [self._proposal(p) for p in page],
                    "edges": [{"cursor": str(start + i + 1), "node": self._proposal(p)}
                              for i, p in enumerate(page)],
                    "pageInfo": {"hasNextPage": end < len(ordered),
                                 "hasPreviousPage": start > 0,
                                 "startCursor": str(start + 1) if page else None,
                                 "endCursor": str(end) if page else None}}

        def mutation_component(_info, id):
            # MutationType: required_scopes "api:write"
            if claims is None or "api:write" not in claims.get("scope", ""):
                raise GraphQLRefusal("You are not authorized to perform this action")
            if str(id) == self.meetings_component_id:
                return {"__typename": "MeetingsMutation",
                        "meeting": lambda _i, id: self._closable(str(id), claims)}
            if str(id) != self.component_id:
                raise GraphQLRefusal(f"Couldn't find Decidim::Component with 'id'={id}")
            return {"__typename": "ProposalsMutation", "createProposal": create,
                    "proposal": lambda _i, id: self._mutable(str(id))}

        def create(_info, input):
            attributes, locale = input["attributes"], input["locale"]
            self._check(attributes, locale)
            with self.lock:
                self.mutations += 1
                self.next_id += 1
                decidim_id = str(self.next_id)
                self.proposals[decidim_id] = {
                    "id": decidim_id, "title": {locale: attributes["title"]},
                    "body": {locale: attributes["body"]}, "address": attributes.get("address"),
                    "latitude": attributes.get("latitude"),
                    "longitude": attributes.get("longitude"),
                    "taxonomies": list(attributes.get("taxonomies") or []),
                    "state": None, "answer": None, "author": claims["sub"],
                    "publishedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "versions": 1}
                return self._proposal(self.proposals[decidim_id])

        return {"decidim": {"applicationName": "Stand-in", "version": self.version},
                "component": component, "mutation_component": mutation_component}

    def _closable(self, meeting_id: str, claims: dict) -> dict | None:
        meeting = self.meetings.get(meeting_id)
        if meeting is None:
            return None

        def close(_info, input):
            attributes, locale = input["attributes"], input["locale"]
            if locale not in self.locales:
                raise GraphQLRefusal(f"{locale} is not a valid locale")
            with self.lock:
                if meeting["closed"]:
                    raise GraphQLRefusal("You are not authorized to perform this action")
                unknown = [p for p in attributes.get("proposalIds") or []
                           if str(p) not in self.proposals]
                if unknown:
                    raise GraphQLRefusal("Proposals are invalid")
                self.mutations += 1
                meeting.update(closed=True, attendeesCount=attributes["attendeesCount"],
                               closingReport={locale: attributes["closingReport"]},
                               proposalIds=[str(p) for p in attributes.get("proposalIds") or []])
                return {"id": meeting_id, "closed": True,
                        "closingReport": self._translated(meeting["closingReport"]),
                        "attendeesCount": meeting["attendeesCount"]}

        return {"close": close}

    def _mutable(self, decidim_id: str) -> dict | None:
        proposal = self.proposals.get(decidim_id)
        if proposal is None:
            return None

        def update_proposal(_info, input):
            attributes, locale = input["attributes"], input["locale"]
            self._check(attributes, locale)
            with self.lock:
                self.mutations += 1
                proposal["title"] = {locale: attributes["title"]}
                proposal["body"] = {locale: attributes["body"]}
                for key in ("address", "latitude", "longitude"):
                    proposal[key] = attributes.get(key)
                proposal["versions"] += 1
                return self._proposal(proposal)

        def answer(_info, input):
            attributes = input["attributes"]
            state = attributes.get("state", proposal["state"])
            if state not in ("accepted", "rejected", "evaluating", None):
                raise GraphQLRefusal("State is not included in the list")
            self.answer(decidim_id, state, attributes.get("answerContent") or {})
            return self._proposal(proposal)

        return {"updateProposal": update_proposal, "answer": answer}

    def _check(self, attributes: dict, locale: str) -> None:
        if locale not in self.locales:       # BaseMutation#set_locale
            raise GraphQLRefusal(f"{locale} is not a valid locale")
        title, body = attributes["title"], attributes["body"]
        problems = []
        if len(title) < 15:
            problems.append("Title is too short (under 15 characters)")
        if len(title) > 150:
            problems.append("Title is too long (over 150 characters)")
        if len(body) < 15:
            problems.append("Body is too short (under 15 characters)")
        if problems:
            raise GraphQLRefusal(", ".join(problems))

    # -- HTTP ----------------------------------------------------------------------------------

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                if standin.header_pause:
                    return self._send_slowly(status, data, headers)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _send_slowly(self, status: int, data: bytes, headers: dict | None) -> None:
                """A slow instance (or a slowloris in front of it): each header byte
                within any timeout between reads, the whole far past it."""
                head = [f"HTTP/1.1 {status} OK", "Content-Type: application/json",
                        f"Content-Length: {len(data)}"]
                head += [f"{name}: {value}" for name, value in (headers or {}).items()]
                head += [f"X-Padding-{n}: {'-' * 20}" for n in range(20)]
                try:
                    for byte in ("\r\n".join(head) + "\r\n\r\n").encode():
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(standin.header_pause)
                    self.wfile.write(data)
                except OSError:
                    with standin.lock:
                        standin.hung_up += 1
                    self.close_connection = True

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with standin.lock:
                    if standin.rate_limited > 0:
                        standin.rate_limited -= 1
                        return self._send(429, {"error": "Too many requests"},
                                          {"Retry-After": "1"})
                if self.path == "/api/sign_in":
                    form = parse_qs(raw.decode())
                    key = (form.get("api_user[key]") or [""])[0]
                    secret = (form.get("api_user[secret]") or [""])[0]
                    if key not in standin.users or not hmac.compare_digest(
                            standin.users[key], secret):
                        return self._send(401, {"jwt_token": None, "avatar": None})
                    standin.sign_ins += 1
                    token = standin.token(key)
                    return self._send(200, {"id": 1, "name": "Piazzetta", "nickname": None,
                                            "jwt_token": token, "avatar": None},
                                      {"Authorization": f"Bearer {token}"})
                if self.path != "/api":
                    return self._send(404, {"error": "Not found"})
                auth = self.headers.get("Authorization")
                claims = standin.bearer(auth)
                if auth and claims is None:     # devise-jwt: a revoked or expired token
                    return self._send(401, {"error": "Signature has expired"})
                try:
                    request = json.loads(raw)
                except ValueError:
                    return self._send(400, {"errors": [
                        {"message": "Unexpected end of input"}]})
                query = request.get("query") or ""
                variables = request.get("variables") or {}
                return self._send(200, standin.execute(query, variables, claims))

        return Handler

