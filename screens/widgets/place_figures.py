"""A place question on the facilitator's figures page: how many answers each area of the
perimeter holds so far (its names in every language the bundle gives, the reader's first),
most answered first, each with a bar and its share of ballots, and the total with how many
answers are pins on the map and how many were chosen from the list. Areas nobody chose are
named in one line at the end, not listed one by one.

The place kind (screens/kinds/place.py) adds it below its card on the figures page."""
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from app.formatting import number, percent
from app.model import localized
from screens import load_kv
from screens.i18n import tr


class PlaceFigureRow(BoxLayout):
    """One area: its names, its count, a bar as long as its share of the largest count."""
    name = StringProperty("")
    figure = StringProperty("")
    share = StringProperty("")
    fraction = NumericProperty(0.0)


class PlaceFigures(BoxLayout):
    """The areas of one place question's tally, for the figures page."""
    total = StringProperty("")
    unchosen = StringProperty("")

    def show(self, consultation, result, lang: str) -> None:
        """Show `result`, a place question's tally (app.kinds.place.PlaceResult)."""
        perimeter = consultation.map
        counts, shares = result.counts, result.shares
        rows = self.ids.rows
        rows.clear_widgets()
        order = [a for a in (result.order or counts)
                 if isinstance(counts.get(a), int) and counts[a] > 0]
        biggest = max((counts[a] for a in order), default=0)
        for area_id in order:
            row = PlaceFigureRow()
            row.name = area_names(perimeter, area_id, lang)
            row.figure = number(counts[area_id], lang)
            row.share = percent(shares.get(area_id, 0), lang)
            row.fraction = counts[area_id] / biggest if biggest else 0.0
            rows.add_widget(row)
        pins, listed = result.forms["point"], result.forms["area"]
        answers = pins + listed
        self.total = (tr.ngettext("Total: {n} answer", "Total: {n} answers", answers)
                      .format(n=number(answers, lang)) + " — "
                      + tr._("pins on the map {pins} · chosen from the list {areas}").format(
                          pins=number(pins, lang), areas=number(listed, lang))
                      ) if answers else tr._("No answer yet.")
        others = [area_names(perimeter, a, lang, both=False)
                  for a in (perimeter.area_ids if perimeter else ()) if a not in order]
        self.unchosen = tr._("No answer from: {places}").format(places=", ".join(others)) \
            if order and others else ""


def area_names(perimeter, area_id: str, lang: str, both: bool = True) -> str:
    """An area's name in the reader's language, then (when `both`) its other names the
    bundle gives, where they differ: "Vintimille / Ventimiglia"."""
    area = perimeter.area(area_id) if perimeter else None
    if area is None:
        return area_id                    # an area of an older version of the bundle
    first = localized(area.name, lang)
    if not both or not isinstance(area.name, dict):
        return first
    others = [n for n in dict.fromkeys(area.name.values()) if n and n != first]
    return " / ".join([first, *others])


load_kv(__file__)
