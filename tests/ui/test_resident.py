"""A resident's whole session on the real window, for every kind of question, driven by taps
and typing; what the store holds is the proof."""
import pytest

from tests.ui.conftest import step


def start(k):
    assert k.root.current == "welcome"
    k.tap(k.root.welcome.ids.start)
    assert k.root.current == "question"
    return k.session.ballot_id


def kind_is(k, kind):
    assert k.session.question.kind == kind, k.session.question.kind
    return k.body()


def cards(body):
    return body.cards


def answer_everything(k):
    """Answer all eight demo questions by tapping; returns what the resident chose."""
    q = k.root.question
    # colour: one project after another, a tap each
    body = kind_is(k, "colour")
    for colour in ("green", "orange", "red", "green", "green", "red"):
        k.tap(body.ids[colour])
    # yes / no
    body = kind_is(k, "yes_no")
    k.tap(body.ids.no)
    # scale: tap the 4
    body = kind_is(k, "scale")
    four = [c for c in body.ids.grid.children if c.value == 4][0]
    k.tap(four)
    # choice, several (max 2): the third one is refused by the disabled card
    body = kind_is(k, "choice")
    k.tap(cards(body)["health"])
    k.tap(cards(body)["infrastructure"])
    assert cards(body)["economy"].disabled
    k.tap(q.ids.next)
    # ranking, tap in order, undo the last, tap another
    body = kind_is(k, "ranking")
    options = list(body.question.option_ids)
    k.tap(cards(body)[options[2]])
    k.tap(cards(body)[options[0]])
    k.tap(body.ids.undo)
    k.tap(cards(body)[options[1]])
    assert cards(body)[options[2]].badge == "1" and cards(body)[options[1]].badge == "2"
    k.tap(q.ids.next)
    # budget: + twice on the market, + on the bus until the bar says no
    body = kind_is(k, "budget")
    for _ in range(2):
        k.tap(body.rows["p-market"].ids.plus, frames=1)
    for _ in range(6):
        k.tap(body.rows["p-market"].ids.plus, frames=1) \
            if not body.rows["p-market"].ids.plus.disabled else None
    assert body.rows["p-market"].ids.plus.disabled      # the project's cost is reached
    k.tap(body.rows["p-market"].ids.minus, frames=1)
    k.tap(q.ids.next)
    # open text
    body = kind_is(k, "open")
    k.type(body.ids.field, "Un train de nuit Nice–Gênes 🚆")
    k.tap(q.ids.next)
    # place, from the list of communes (a tap records it and goes on)
    body = kind_is(k, "place")
    k.tap(body.area_cards["menton"])
    return {"q-colour": {"p-bus": "green", "p-bike": "orange", "p-market": "red",
                         "p-coworking": "green", "p-telehealth": "green", "p-services": "red"},
            "q-ticket": "no", "q-cooperation": 4, "q-themes": ["infrastructure", "health"],
            "q-services": [options[2], options[1]], "q-budget": {"p-market": 50000},
            "q-missing": "Un train de nuit Nice–Gênes 🚆", "q-place": {"area": "menton"}}


def test_a_full_session_of_every_kind(kiosk):
    k = kiosk
    ballot = start(k)
    expected = answer_everything(k)
    assert k.root.current == "thanks"
    assert k.store.answers_of(ballot) == expected       # on disk before the thanks
    k.tap(k.root.thanks.ids.finish)
    assert k.root.current == "welcome"
    status = k.store.conn.execute("SELECT status FROM ballots WHERE id = ?", (ballot,))
    assert status.fetchone()[0] == "finished"
    assert k.session.ballot_id is None


def test_each_colour_is_recorded_at_the_tap(kiosk):
    k = kiosk
    ballot = start(k)
    body = kind_is(k, "colour")
    k.tap(body.ids.orange)
    assert k.store.answers_of(ballot) == {"q-colour": {"p-bus": "orange"}}
    assert body.project.id == "p-bike"
    k.tap(k.root.question.ids.back)          # back to the bus: its colour shows as chosen
    assert body.project.id == "p-bus" and body.chosen == "orange"
    assert body.ids.orange.selected and not body.ids.green.selected


def test_back_skip_and_progress(kiosk):
    k = kiosk
    start(k)
    q = k.root.question
    assert q.ids.back.disabled                # the first project of the first question
    for _ in range(6):
        k.tap(q.ids.skip)                     # skip the six projects
    assert kind_is(k, "yes_no") and q.position == 2
    assert "2" in q.ids.progress_label.text and "8" in q.ids.progress_label.text
    k.tap(k.body().ids.abstain)
    assert q.position == 3
    k.tap(q.ids.back)
    assert kind_is(k, "yes_no").chosen == "abstain"
    assert not q.ids.next.disabled            # answered: Next just goes on
    k.tap(q.ids.next)
    assert kind_is(k, "scale")
    k.tap(q.ids.back)
    k.tap(q.ids.back)
    assert k.body().project.id == "p-services"   # back into the colour question, at its end


def test_budget_cannot_go_below_zero(kiosk):
    k = kiosk
    start(k)
    k.session.index = 5
    k.root.question.show()
    step(3)
    body = kind_is(k, "budget")
    order = ["p-bus", "p-bike", "p-telehealth", "p-coworking", "p-market", "p-services"]
    taps = 0
    for project in order:
        plus = body.rows[project].ids.plus
        while not plus.disabled:
            k.tap(plus, frames=1)
            taps += 1
    assert body.left == 0 and sum(body.amounts.values()) == 500000
    assert all(row.ids.plus.disabled for row in body.rows.values())
    assert body.ids.left.text.startswith("Il reste") or "0" in body.ids.left.text
    k.tap(k.root.question.ids.next)
    assert sum(k.store.answers_of(k.session.ballot_id)["q-budget"].values()) == 500000


def test_budget_fund_fully_and_remove_in_one_tap(kiosk):
    """The bus (240,000 in steps of 10,000) takes one tap instead of 24; when less is left
    than a project costs, the same button gives all that is left; it is then a selected toggle
    ("Funded", ticked) that a second tap takes back. The bar fills with what is given."""
    k = kiosk
    start(k)
    k.session.index = 5
    k.root.question.show()
    step(3)
    body = kind_is(k, "budget")
    bus, bike, health = (body.rows[p] for p in ("p-bus", "p-bike", "p-telehealth"))
    plus_x = bus.ids.plus.x
    assert bus.ids.quick.text == "Financer en entier" and not bus.ids.quick.selected
    assert body.ids.why_not_next.text and k.root.question.ids.next.disabled
    k.tap(bus.ids.quick)
    assert not body.ids.why_not_next.text
    assert body.amounts["p-bus"] == 240000 and body.left == 260000
    assert bus.ids.quick.text == "Financé" and bus.ids.quick.selected and bus.ids.plus.disabled
    assert bus.ids.plus.x == plus_x            # the + did not move when the label changed
    k.tap(bike.ids.quick)
    assert body.left == 80000
    assert health.ids.quick.text == "Ajouter tout le reste"
    k.tap(health.ids.quick)
    assert body.amounts["p-telehealth"] == 80000 and body.left == 0
    assert body.ids.left.text.endswith("Reste\u00a0: 0\u00a0€")
    untouched = [body.rows[p] for p in ("p-market", "p-coworking", "p-services")]
    assert all(row.ids.quick.disabled and row.ids.plus.disabled for row in untouched)
    assert health.ids.quick.selected       # nothing left to add: it can only take back
    k.tap(bus.ids.quick)
    assert body.amounts["p-bus"] == 0 and body.left == 240000
    assert bus.ids.quick.text == "Financer en entier"
    assert health.ids.quick.text == "Financer en entier"   # 70,000 more fund it fully now
    tr_lang_before = bus.ids.quick.text
    from screens.i18n import tr
    tr.lang = "it"
    step(2)
    assert bus.ids.quick.text != tr_lang_before and bus.ids.quick.text == "Finanziare per intero"
    k.touch_targets()
    k.tap(k.root.question.ids.next)
    assert k.store.answers_of(k.session.ballot_id)["q-budget"] == {"p-bike": 180000,
                                                                   "p-telehealth": 80000}


def test_single_choice_records_at_the_tap(kiosk, demo):
    from dataclasses import replace
    k = kiosk
    start(k)
    # The demo's choice question is multiple; the same body serves a single choice.
    single = replace(demo.question("q-themes"), multiple=False, max_choices=1)
    from screens.vote_choice import ChoiceBody
    body = ChoiceBody(question=single, screen=k.root.question)
    k.root.question.ids.body_box.clear_widgets()
    k.root.question.ids.body_box.add_widget(body)
    k.root.question.body = body
    k.session.index = 3
    body.load()
    step(2)
    k.tap(body.cards["economy"])
    assert k.store.answers_of(k.session.ballot_id)["q-themes"] == ["economy"]
    assert k.session.question.kind == "ranking"


def test_open_answer_refused_when_too_long_changes_nothing(kiosk):
    k = kiosk
    start(k)
    k.session.index = 6
    k.root.question.show()
    step(3)
    body = kind_is(k, "open")
    k.type(body.ids.field, "x" * 600)
    k.tap(k.root.question.ids.next)
    assert k.root.question.error            # a clear message …
    assert "500" in k.root.question.error
    assert k.store.answers_of(k.session.ballot_id) == {}   # … and nothing written
    assert k.root.current == "question"


def test_facilitated_mode_waits_for_the_unlock(kiosk_factory):
    k = kiosk_factory(ballot_mode="facilitated")
    start_button = k.root.welcome.ids.start
    assert start_button.disabled
    k.session.unlock()
    k.root.go("welcome")
    step(2)
    assert not start_button.disabled
    k.tap(start_button)
    assert k.root.current == "question"
    mode = k.store.conn.execute("SELECT mode FROM ballots").fetchone()[0]
    assert mode == "facilitated"
