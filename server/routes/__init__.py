"""The hub's HTTP routes, one module per resource, assembled by server.api.create_app:

    devices        GET /api/v1, POST /devices/enroll, GET /device
    events         POST /events
    consultations  GET /bundle, /consultations…, their bundle, files, results and approved ideas
    ideas          answers to ideas (devices), every idea and its answer (staff)
    staff          sites, bundles, enrollment codes, devices (revoke, reinstate), conflicts
    display        the projector's controls
    counts         online counts and every count (staff)
    upload         the dashboard's sheet upload: check, then "Import as version N" (pages, staff
                   session; the work is server.uploads)
    relay          hub to hub: a room hub registers its devices, forwards batches, reads the
                   answers to its devices' ideas; the dashboard's room hub exports and code
    signup         the pages a resident's phone opens: sign-up form, confirmation, card, idea
    phone          the phone's ballot pages (/v/…): the questions open to phones, one a page
    dashboard      the staff dashboard (login, figures, exports)
    health         GET /healthz and /readyz, for load balancers

Pages render through server.pages (Jinja, translator, security headers, language). Each
route reaches the hub through `HubDep`, and authenticates through `DeviceDep`, `STAFF_ONLY` or
`CallerDep` (server.routes.deps); JSON answers go through server.routes.responses.
"""
