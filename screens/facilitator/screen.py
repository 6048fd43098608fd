"""Facilitator mode's shell (behind the PIN): the navigation, the page shown, and the ways back
to the kiosk or out of the application. What each page shows and does is its own class
(screens/facilitator/<page>.py beside its .kv); the shell only knows them through `PAGES` and
`add_page`, and through the FacilitatorPage hooks (refresh, opened, closed).

A page is built the first time it is shown or asked for (`pages[name]`, or the page manager's
`get_screen(name)`): an unlock builds the page it shows, not all seven. Its navigation button
exists from the start. `pages` holds the pages built so far; going over it never builds one."""
from kivy.properties import NumericProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen, ScreenManager

from screens import load_kv
from screens.facilitator.counts import CountsPage
from screens.facilitator.display import DisplayPage
from screens.facilitator.figures import FiguresPage
from screens.facilitator.ideas import IdeasPage
from screens.facilitator.projector import ProjectorPage
from screens.facilitator.session import SessionPage
from screens.facilitator.sync import SyncPage
from screens.i18n import tr
from screens.widgets import ToggleCard

# The pages, in the order of the navigation. A new page: a FacilitatorPage subclass in its own
# module (with `page_name` and `title`), and its class here.
PAGES = (SessionPage, FiguresPage, IdeasPage, CountsPage, ProjectorPage, DisplayPage, SyncPage)


class Pages(dict):
    """page_name -> FacilitatorPage, for the pages built so far; asking for one not built yet
    builds it (its class registered by `add_page`). `items()`, `values()`, `get()` and `in`
    see the built pages only."""

    def __init__(self, build):
        super().__init__()
        self._build = build

    def __missing__(self, name):
        return self._build(name)


class PageManager(ScreenManager):
    """The shell's page manager: `get_screen` of a page not built yet builds it."""
    shell = ObjectProperty(None, allownone=True)

    def get_screen(self, name):
        if self.shell is not None and not self.has_screen(name) \
                and name in self.shell.page_classes:
            return self.shell.pages[name]
        return super().get_screen(name)


class NavButton(ToggleCard):
    """A page's entry in the navigation; its label is the page's title, translated."""
    msgid = StringProperty("")


class FacilitatorScreen(Screen):
    session = ObjectProperty(None, allownone=True)     # app.kiosk.KioskSession
    controller = ObjectProperty(None, allownone=True)  # screens.kiosk.KioskRoot
    sync = ObjectProperty(None, allownone=True)        # sync.service.SyncService, or None
    page = StringProperty("")                          # the page_name of the page shown
    nav_words = NumericProperty(0)    # the widest word of the pages' names, as drawn
    cue_room = NumericProperty(0)     # the strip under the page for its "More below" pill

    def __init__(self, pages=PAGES, **kwargs):
        super().__init__(**kwargs)
        self.confirm_quit = None   # the "Quit the application?" dialog, while it is open
        self.page_classes = {}    # page_name -> FacilitatorPage subclass, in the nav's order
        self.pages = Pages(self._build_page)   # page_name -> FacilitatorPage, once built
        self.nav_buttons = {}     # page_name -> NavButton
        self.ids.pages.shell = self
        for page_class in pages:
            self.add_page(page_class)
        self.page = pages[0].page_name
        tr.bind(lang=self.refresh)

    def add_page(self, page_class):
        """Give a page its place: a button in the navigation now, and the page behind it when
        it is first shown or asked for (`pages[name]`)."""
        name = page_class.page_name
        self.page_classes[name] = page_class
        button = NavButton(msgid=page_class.title)
        button.bind(on_release=lambda _b: self.show_page(name))
        button.fbind("text", self._measure_nav)
        button.fbind("font_size", self._measure_nav)
        self.nav_buttons[name] = button
        self._measure_nav()
        self.ids.nav_pages.add_widget(button)
        return button

    def _build_page(self, name):
        """Build a page (its .kv rules read the current language and theme as they build); it
        shows the session's state when opened, as every page does."""
        page = self.page_classes[name](name=name, shell=self)
        dict.__setitem__(self.pages, name, page)
        self.ids.pages.add_widget(page)
        return page

    def _measure_nav(self, *_args):
        from screens.widgets import longest_word_width
        self.nav_words = max((longest_word_width(b.text, b.font_size, True)
                              for b in self.nav_buttons.values()), default=0)

    @property
    def current_page(self):
        return self.pages[self.page]

    @property
    def settings(self):
        return self.session.settings

    @property
    def is_shown(self) -> bool:
        return self.manager is not None and self.manager.current == self.name

    def show_page(self, name):
        self.page = name

    def on_page(self, _screen, name):
        page = self.pages[name]            # built now if it is shown for the first time
        previous = self.ids.pages.current_screen
        if self.is_shown and previous is not None and previous.name != name:
            previous.closed()
        self.ids.pages.current = page.name
        self._host_cue(name)
        for key, button in self.nav_buttons.items():
            button.selected = key == name
        if self.is_shown:
            self.current_page.opened()

    def _host_cue(self, name):
        """The shown page's scroll draws its pill in the strip under the pages (the others
        none: a page not shown draws nothing). Only built pages: one not built draws nothing."""
        from screens.widgets import CueScroll
        for key, page in self.pages.items():
            scroll = next((w for w in page.walk(restrict=True) if isinstance(w, CueScroll)),
                          None)
            if scroll is None:
                continue
            if key == name:
                scroll.cue_host = self.ids.cue_strip
                scroll.fbind("more_below", self._measure_cue_room, scroll)
                scroll.fbind("cue_height", self._measure_cue_room, scroll)
                self._measure_cue_room(scroll)
            else:
                scroll.cue_host = None
                scroll.funbind("more_below", self._measure_cue_room, scroll)
                scroll.funbind("cue_height", self._measure_cue_room, scroll)
        if not any(isinstance(w, CueScroll) for w in self.pages[name].walk(restrict=True)):
            self.cue_room = 0

    def _measure_cue_room(self, scroll, *_args):
        if scroll.cue_host is self.ids.cue_strip:
            self.cue_room = scroll.cue_height if scroll.more_below else 0

    def on_pre_enter(self, *_args):
        self.current_page.opened()

    def on_leave(self, *_args):
        self.current_page.closed()

    def refresh(self, *_args):
        """Show the current page again (the language changed)."""
        if self.session is not None and self.is_shown:
            self.current_page.refresh()

    def settings_changed(self):
        """A page changed a kiosk setting: the kiosk applies it at once."""
        if self.controller is not None:
            self.controller.settings_changed()

    def back_to_kiosk(self):
        if self.controller is not None:
            self.controller.back_to_kiosk()

    def quit(self):
        """Ask first: Quit sits next to Back to the kiosk, and a slip would stop the kiosk."""
        from screens.widgets import ConfirmQuit
        self.confirm_quit = ConfirmQuit(when_confirmed=self.quit_now)
        self.confirm_quit.open()

    def quit_now(self):
        if self.controller is not None:
            self.controller.quit()

    def dispose(self):
        """Stop every page built and stop following the language (the kiosk is dropped)."""
        tr.unbind(lang=self.refresh)
        for page in list(self.pages.values()):
            page.closed()


load_kv(__file__)
