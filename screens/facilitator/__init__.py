"""Facilitator mode (behind the PIN): the session (consultation, site, meeting, ballot mode,
unlocking a ballot), local figures and tallies, moderation of the ideas collected here, paper
and show-of-hands counts, the room's projector, display settings, and sync. One module and one
.kv per page, each page a FacilitatorPage (page.py) that owns its state; the shell that shows
them is screen.py. Everything goes through the services given; nothing here knows SQL or HTTP."""
from screens.facilitator.screen import PAGES, FacilitatorScreen

__all__ = ["PAGES", "FacilitatorScreen"]
